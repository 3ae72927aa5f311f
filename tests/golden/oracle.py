"""Computes the expected results of the golden queries straight from the fixture files with
plain Python (csv + tomllib), independently of shopgraph's loader. Run from this folder:
    python3 oracle.py
It rewrites every *.expected.json; review the diff before committing."""
import csv, json, tomllib, collections, datetime

FIX = "../data/fixture/"
TAX = "https://w3id.org/shopgraph/taxonomy/google/"
SG = "https://w3id.org/shopgraph/ontology#"

rows = list(csv.DictReader(open(FIX + "reviews-sample.csv", newline="")))
mapping = tomllib.load(open(FIX + "reviews-sample.mapping.toml", "rb"))
cats = {k.lower(): v for k, v in mapping["categories"].items()}
alias = mapping["aliases"]

def concept(r):
    path = [alias.get(" ".join(r[c].split()), " ".join(r[c].split())) for c in ("Division Name", "Department Name", "Class Name")]
    for c in reversed([p for p in path if p]):
        if c.lower() in cats:
            return cats[c.lower()]
    return None

product_concepts = collections.defaultdict(set)
for r in rows:
    c = concept(r)
    if c is not None:
        product_concepts[r["Clothing ID"]].add(c)

def write(name, rows):
    json.dump(sorted(rows, key=lambda r: json.dumps(r, sort_keys=True)), open(name + ".expected.json", "w"), indent=1, sort_keys=True)

per = collections.Counter()
for r in rows:
    for c in product_concepts[r["Clothing ID"]]:
        per[c] += 1
write("reviews-per-concept", [{"concept": TAX + str(c), "reviews": str(n)} for c, n in per.items()])

by = collections.defaultdict(list)
for r in rows:
    by[r["Clothing ID"]].append(int(r["Rating"]))
write("products-with-5-reviews", [{"id": p, "reviews": str(len(v)), "mean": str(sum(v) / len(v))} for p, v in by.items() if len(v) >= 5])

rr = collections.Counter((r["Rating"], "true" if r["Recommended IND"] == "1" else "false") for r in rows)
write("recommended-by-rating", [{"rating": a, "recommended": b, "reviews": str(n)} for (a, b), n in rr.items()])

# Interactions: the rows the mapping's rules keep (see tests/data/fixture/interactions.mapping.toml).
W = {"view": 1.0, "click": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "rating": 1.0}
T = {"view": "View", "click": "Click", "add_to_cart": "AddToCart", "purchase": "Purchase", "rating": "Rating"}
seen, agg = set(), collections.defaultdict(lambda: [0, 0.0])
for r in csv.DictReader(open(FIX + "interactions.csv", newline="")):
    ev = "".join(ch for ch in r["event"].lower() if ch.isalnum())
    ev = {"addtocart": "add_to_cart"}.get(ev, ev)
    if not r["user_id"] or ev not in W:
        continue
    try:
        ts = r["ts"]
        if ts.isdigit():
            pass
        else:
            datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        continue
    w = float(r["weight"]) if r["weight"] else W[ev]
    if w < 0 or (ev == "rating" and not (1 <= float(r["rating"] or 0) <= 5)):
        continue
    key = tuple(r.values())
    if key in seen:
        continue
    seen.add(key)
    agg[ev][0] += 1
    agg[ev][1] += w
write("interactions-per-type", [{"type": SG + T[e], "n": str(n), "weight": str(w)} for e, (n, w) in agg.items()])
