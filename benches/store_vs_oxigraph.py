#!/usr/bin/env python3
"""Side-by-side benchmark: shopgraph against the oxigraph 0.5.13 CLI server on the same N-Triples
file, in the same run, alternating so machine noise hits both alike.

    cargo build --release && python3 benches/store_vs_oxigraph.py [--runs 5]

It fetches the oxigraph CLI from PyPI (package `oxigraph`) into ~/.cache/shopgraph-bench, builds
the N-Triples file by loading the demo reviews into a scratch shopgraph store and dumping it, then:
  1. bulk load: `shopgraph load --data A file.nt` vs `oxigraph load --location B --file file.nt`;
  2. queries: both servers up on loopback, each catalogue query sent over HTTP (SPARQL protocol,
     JSON results) alternately, median latency per query.
Ratios are oxigraph_time / shopgraph_time: above 1 means shopgraph is faster.
Writes benches/results/store_vs_oxigraph.json.
"""
import argparse, json, os, pathlib, shutil, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request, zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path.home() / ".cache" / "shopgraph-bench"

QUERIES = {
    "count_reviews": "SELECT (COUNT(?r) AS ?n) WHERE { ?r a <https://w3id.org/shopgraph/ontology#Review> }",
    "top_rated_products": """PREFIX sg: <https://w3id.org/shopgraph/ontology#>
SELECT ?p (AVG(?x) AS ?m) (COUNT(?r) AS ?n) WHERE { ?r sg:reviewOf ?p ; sg:rating ?x }
GROUP BY ?p HAVING (COUNT(?r) >= 10) ORDER BY DESC(?m) LIMIT 20""",
    "product_reviews": """PREFIX sg: <https://w3id.org/shopgraph/ontology#>
SELECT ?r ?x ?t WHERE { ?r sg:reviewOf <https://w3id.org/shopgraph/id/product/1078> ; sg:rating ?x . OPTIONAL { ?r sg:title ?t } } ORDER BY DESC(?x)""",
    "dresses_by_reviews": """PREFIX sg: <https://w3id.org/shopgraph/ontology#>
SELECT ?p (COUNT(?r) AS ?n) WHERE { ?p sg:category <https://w3id.org/shopgraph/taxonomy/google/2271> . ?r sg:reviewOf ?p }
GROUP BY ?p ORDER BY DESC(?n) LIMIT 10""",
    "text_search": """PREFIX sg: <https://w3id.org/shopgraph/ontology#>
SELECT ?r WHERE { ?r sg:text ?t FILTER(CONTAINS(LCASE(?t), "linen")) } LIMIT 50""",
}


def oxigraph_bin():
    exe = CACHE / "oxigraph-0.5.13" / "oxigraph"
    if exe.exists():
        return exe
    CACHE.mkdir(parents=True, exist_ok=True)
    d = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "oxigraph==0.5.13", "-d", d], check=True)
    whl = next(pathlib.Path(d).glob("oxigraph-0.5.13-*.whl"))
    with zipfile.ZipFile(whl) as z:
        data = z.read("oxigraph-0.5.13.data/scripts/oxigraph")
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_bytes(data)
    exe.chmod(0o755)
    return exe


def timed(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def wait_up(url, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {url}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {url}")


def ask(endpoint, q):
    data = urllib.parse.urlencode({"query": q}).encode()
    req = urllib.request.Request(endpoint, data=data,
                                 headers={"Accept": "application/sparql-results+json",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    t = time.perf_counter()
    body = urllib.request.urlopen(req, timeout=120).read()
    return time.perf_counter() - t, json.loads(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--query-reps", type=int, default=15)
    ap.add_argument("--shopgraph", default=str(ROOT / "target" / "release" / "shopgraph"))
    args = ap.parse_args()
    sg = pathlib.Path(os.environ.get("SHOPGRAPH_BIN", args.shopgraph))
    if not sg.exists():
        sys.exit(f"{sg} not found: run `cargo build --release` first (or set SHOPGRAPH_BIN)")
    ox = oxigraph_bin()
    work = pathlib.Path(tempfile.mkdtemp(prefix="sg-bench-"))
    nt = work / "shop.nt"
    print("building the N-Triples file from the demo data...", flush=True)
    subprocess.run([sg, "demo", "--data", work / "src", "--no-serve", "--demo-dir", ROOT / "tests/data/demo"],
                   check=True, stderr=subprocess.DEVNULL)
    subprocess.run([sg, "dump", "--data", work / "src", "--graph", "default", "--format", "nt", "-o", nt], check=True)
    triples = sum(1 for _ in open(nt, "rb"))
    print(f"{triples} triples, {nt.stat().st_size / 1e6:.1f} MB", flush=True)

    load = {"shopgraph": [], "oxigraph": []}
    # What a user runs on a fresh folder: one `shopgraph load` (it creates the store and loads the
    # 30k-quad ontology, then the file) against one `oxigraph load`. The ontology's share is timed
    # apart, in its own fresh folder (`shopgraph stats` creates the store and nothing else).
    init = []
    for run in range(args.runs):
        for name in (["shopgraph", "oxigraph"] if run % 2 == 0 else ["oxigraph", "shopgraph"]):
            d = work / f"{name}-{run}"
            if name == "shopgraph":
                env = {**os.environ, "RUST_LOG": "warn"}
                load[name].append(timed([sg, "load", "--data", d, nt], env=env))
                scratch = work / f"init-{run}"
                init.append(timed([sg, "stats", "--data", scratch], env=env))
                shutil.rmtree(scratch)
            else:
                load[name].append(timed([ox, "load", "--location", d, "--file", nt]))
            if run < args.runs - 1:
                shutil.rmtree(d)
        print(f"load run {run}: shopgraph {load['shopgraph'][-1]:.2f}s oxigraph {load['oxigraph'][-1]:.2f}s", flush=True)

    last = args.runs - 1
    sgp = subprocess.Popen([sg, "serve", "--data", work / f"shopgraph-{last}", "--bind", "127.0.0.1:7502"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    oxp = subprocess.Popen([ox, "serve", "--location", work / f"oxigraph-{last}", "--bind", "127.0.0.1:7501"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    queries = {}
    try:
        wait_up("http://127.0.0.1:7502/health", sgp)
        wait_up("http://127.0.0.1:7501/", oxp)
        for qname, q in QUERIES.items():
            times = {"shopgraph": [], "oxigraph": []}
            rows = {}
            for rep in range(args.query_reps + 2):
                for name, base in ([("shopgraph", "http://127.0.0.1:7502/sparql"), ("oxigraph", "http://127.0.0.1:7501/query")][:: 1 if rep % 2 == 0 else -1]):
                    t, res = ask(base, q)
                    rows[name] = len(res["results"]["bindings"])
                    if rep >= 2:  # two warm-up rounds
                        times[name].append(t)
            assert rows["shopgraph"] == rows["oxigraph"], (qname, rows)
            m = {k: statistics.median(v) for k, v in times.items()}
            queries[qname] = {"rows": rows["shopgraph"], "median_s": m, "ratio": m["oxigraph"] / m["shopgraph"]}
            print(f"{qname}: shopgraph {m['shopgraph']*1e3:.2f} ms, oxigraph {m['oxigraph']*1e3:.2f} ms, ratio {queries[qname]['ratio']:.2f}", flush=True)
    finally:
        sgp.terminate(); oxp.terminate(); sgp.wait(); oxp.wait()

    lm = {k: statistics.median(v) for k, v in load.items()}
    result = {
        "triples": triples,
        "load": {"runs_s": load, "median_s": lm,
                 "shopgraph_store_init_median_s": statistics.median(init),
                 "ratio_excluding_store_init": lm["oxigraph"] / (lm["shopgraph"] - statistics.median(init)),
                 "triples_per_s": {k: triples / v for k, v in lm.items()},
                 "ratio": lm["oxigraph"] / lm["shopgraph"]},
        "queries": queries,
        "machine": {"cpus": os.cpu_count()},
    }
    out = ROOT / "benches" / "results" / "store_vs_oxigraph.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"load ratio {result['load']['ratio']:.2f}; wrote {out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
