"""Latency of `GET /search` over HTTP (facets on) and indexing speed, on a SYNTHETIC catalogue
of N products (names, descriptions, categories, brands, prices made up from word lists) and on
the demo store when --demo DIR is given.

    python3 benches/search_latency.py --products 100000 [--demo DIR]

Loads the catalogue through `shopgraph load` (JSON Lines + mapping) into a fresh data folder;
`shopgraph search --rebuild` then writes the search index (its log line "search: N products
indexed in S s" gives the indexing rate). Then serves it and sends each query of a mixed list 5 times from
2 client threads; reports p50/p99 per catalogue. Writes benches/results/search_latency.json.
"""
import argparse, json, os, pathlib, random, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent

COLOURS = ["black", "white", "navy", "grey", "red", "green", "ivory", "olive", "pink", "blue", "camel", "burgundy"]
MATERIALS = ["cotton", "linen", "silk", "wool", "cashmere", "denim", "leather", "velvet", "jersey", "polyester"]
STYLES = ["relaxed", "slim", "cropped", "oversized", "tailored", "wrap", "pleated", "tiered", "ribbed", "quilted"]
# (category word in the mapping, Google taxonomy id)
KINDS = [("dress", 2271), ("shirt", 212), ("blouse", 212), ("sweater", 212), ("pants", 204), ("jeans", 204),
         ("skirt", 1581), ("shorts", 207), ("jacket", 5598), ("coat", 5598), ("pajamas", 208), ("swimsuit", 211)]
BRANDS = [f"{a} {b}" for a in ["North", "Blue", "Stone", "Wild", "Silver", "Urban", "Coast", "Field"]
          for b in ["Studio", "Label", "House", "Works", "Atelier", "Supply"]]
QUERIES = ["dress", "black linen dress", "wool coat under $200", "slim jeans", "soft cashmere sweater",
           "navy blue shirt", "silk blouse between $50 and $120", "pleated skirt", "swimsuit", "leather jacket",
           "relaxed cotton pants", "cropped denim jacket for spring", "ribbed sweter", "north studio", "pajamas",
           "a tailored ivory blouse for the office", "shorts under $40", "velvet", "oversized", "green"]


def synthetic(n, path):
    rnd = random.Random(7)
    with open(path, "w") as f:
        for i in range(n):
            kind, _ = rnd.choice(KINDS)
            c, m, s = rnd.choice(COLOURS), rnd.choice(MATERIALS), rnd.choice(STYLES)
            brand = rnd.choice(BRANDS)
            name = f"{s.title()} {c} {m} {kind}"
            desc = f"A {s} {kind} in {c} {m} by {brand}. " + rnd.choice(
                ["Easy to wear every day.", "Made to last.", "Cut for a relaxed fit.", "Lined, with pockets.",
                 "Machine washable.", "Soft to the touch.", "A classic shape."])
            f.write(json.dumps({"sku": f"s{i}", "title": name, "description": desc, "brand": brand,
                                "price": round(rnd.uniform(9, 400), 2), "stock": rnd.choice(["in stock"] * 9 + ["sold out"]),
                                "category": kind}) + "\n")
    mapping = 'entity = "product"\n[columns]\nid = "sku"\nname = "title"\ndescription = "description"\nbrand = "brand"\n' \
              'price = "price"\navailability = "stock"\ncategory = "category"\n[categories]\n' + \
              "".join(f"{k} = {v}\n" for k, v in KINDS)
    pathlib.Path(str(path).replace(".jsonl", ".mapping.toml")).write_text(mapping)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def measure(binary, data, label, repeats=20):
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--data", data, "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1); break
            except Exception:
                time.sleep(0.25)
        def get(q):
            url = f"http://127.0.0.1:{port}/search?" + urllib.parse.urlencode({"q": q, "k": 20, "facets": "true"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.load(r)
            return (time.perf_counter() - t0) * 1000, body["total"]
        for q in QUERIES:  # warm-up (the encoder loads on the first query)
            get(q)
        lat, lock = [], threading.Lock()
        def worker(qs):
            for q in qs:
                ms, _ = get(q)
                with lock:
                    lat.append(ms)
        work = QUERIES * repeats
        ts = [threading.Thread(target=worker, args=(work[i::2],)) for i in range(2)]
        [t.start() for t in ts]; [t.join() for t in ts]
        lat.sort()
        out = {"catalogue": label, "requests": len(lat), "p50_ms": lat[len(lat) // 2],
               "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "max_ms": lat[-1]}
        print(json.dumps(out), file=sys.stderr)
        return out
    finally:
        server.terminate(); server.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--demo", help="a demo data folder (searched as it is)")
    ap.add_argument("--bin", default=os.environ.get("SHOPGRAPH_BIN") or str(ROOT / "target/release/shopgraph"))
    a = ap.parse_args()
    results = {"runs": []}
    if a.demo:
        results["runs"].append(measure(a.bin, a.demo, "demo (1,206 products, 23,486 reviews)"))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="sg-search-"))
    try:
        src = tmp / "catalogue.jsonl"
        synthetic(a.products, src)
        data = tmp / "data"
        t0 = time.time()
        p = subprocess.run([a.bin, "load", "--data", str(data), str(src)], capture_output=True, text=True,
                           env={**os.environ, "RUST_LOG": "info"})
        if p.returncode != 0:
            sys.exit(p.stderr[-3000:])
        load_s = time.time() - t0
        # The index is written on first use (serve reads it at start); time a rewrite alone.
        p = subprocess.run([a.bin, "search", "--data", str(data), "--rebuild"], capture_output=True, text=True,
                           env={**os.environ, "RUST_LOG": "info"})
        idx = [l for l in p.stderr.splitlines() if "indexed in" in l]
        m = re.search(r"search: (\d+) products indexed in ([\d.]+)s", idx[-1]) if idx else None
        index = {"products": int(m.group(1)), "seconds": float(m.group(2)),
                 "products_per_s": int(m.group(1)) / float(m.group(2))} if m else None
        print(json.dumps({"load_seconds": load_s, "index": index}), file=sys.stderr)
        run = measure(a.bin, str(data), f"synthetic {a.products:,} products")
        run["index"] = index
        run["load_seconds"] = load_s
        results["runs"].append(run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = ROOT / "benches/results/search_latency.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
