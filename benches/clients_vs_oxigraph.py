#!/usr/bin/env python3
"""Side by side: the client suites of tests/clients (SPARQLWrapper, rdflib, pyoxigraph, Jena)
against shopgraph and against the oxigraph 0.5.13 server, on the same data, in the same run.

    bash .ci/setup && cargo build --release && python3 benches/clients_vs_oxigraph.py [--writes 1000]

Both servers hold the 300-review sample (shopgraph loads the CSV; oxigraph loads shopgraph's
N-Quads dump of it). Prints one row per case (passes on oxigraph / on shopgraph) and writes
benches/results/clients_vs_oxigraph.json. The goal: every case that passes on oxigraph passes
on shopgraph, with no write lost.
"""
import argparse, json, os, pathlib, subprocess, sys, tempfile, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
from store_vs_oxigraph import oxigraph_bin, wait_up  # noqa: E402

HOME = pathlib.Path.home()
PY = pathlib.Path(os.environ.get("SHOPGRAPH_CLIENTS_PYTHON", HOME / ".cache/shopgraph/clients-venv/bin/python"))
JENA_CP = f"{HOME / '.cache/shopgraph/jena-classpath-fix'}:/usr/share/java/*"


def shopgraph_bin():
    for profile in ("release", "debug"):
        for target in (os.environ.get("CARGO_TARGET_DIR"), ROOT / "target", HOME / ".cache/shopgraph-target"):
            if target and (pathlib.Path(target) / profile / "shopgraph").exists():
                return pathlib.Path(target) / profile / "shopgraph"
    sys.exit("build shopgraph first: cargo build --release")


def run_suite(base, paths, writes):
    out = {}
    py = subprocess.run([PY, ROOT / "tests/clients/python_clients.py", base, str(writes), *paths],
                        capture_output=True, text=True, timeout=1800)
    java = subprocess.run(["java", "-cp", JENA_CP, ROOT / "tests/clients/JenaClient.java", base, str(writes), *paths],
                          capture_output=True, text=True, timeout=1800)
    for line in (py.stdout + java.stdout).splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            out[r["case"]] = r
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--writes", type=int, default=1000)
    args = ap.parse_args()
    sg, ox = shopgraph_bin(), oxigraph_bin()
    work = pathlib.Path(tempfile.mkdtemp())
    sample = ROOT / "tests/data/fixture/reviews-sample.csv"
    subprocess.run([sg, "load", "--data", work / "sg", sample], check=True, capture_output=True)
    dump = work / "sample.nq"
    subprocess.run([sg, "dump", "--data", work / "sg", "--format", "nq", "-o", dump], check=True, capture_output=True)
    subprocess.run([ox, "load", "--location", work / "ox", "--file", dump], check=True, capture_output=True)
    sgp = subprocess.Popen([sg, "serve", "--data", work / "sg", "--bind", "127.0.0.1:7512"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    oxp = subprocess.Popen([ox, "serve", "--location", work / "ox", "--bind", "127.0.0.1:7511"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up("http://127.0.0.1:7512/health", sgp)
        wait_up("http://127.0.0.1:7511/query?query=ASK%7B%7D", oxp)
        t = time.time()
        on_ox = run_suite("http://127.0.0.1:7511", ["/query", "/update", "/store"], args.writes)
        on_sg = run_suite("http://127.0.0.1:7512", ["/sparql", "/sparql", "/store"], args.writes)
        took = time.time() - t
    finally:
        sgp.kill()
        oxp.kill()
    rows = []
    for case in sorted(set(on_ox) | set(on_sg)):
        o, s = on_ox.get(case, {}), on_sg.get(case, {})
        rows.append({"case": case, "oxigraph": bool(o.get("ok")), "shopgraph": bool(s.get("ok")),
                     "oxigraph_detail": o.get("detail", "not run"), "shopgraph_detail": s.get("detail", "not run")})
    regressions = [r["case"] for r in rows if r["oxigraph"] and not r["shopgraph"]]
    for r in rows:
        print(f"{r['case']:50} oxigraph {'pass' if r['oxigraph'] else 'FAIL'}  shopgraph {'pass' if r['shopgraph'] else 'FAIL'}"
              + ("" if r["shopgraph"] else f"  ({r['shopgraph_detail'][:80]})"))
    summary = {
        "cases": len(rows),
        "pass_oxigraph": sum(r["oxigraph"] for r in rows),
        "pass_shopgraph": sum(r["shopgraph"] for r in rows),
        "pass_on_oxigraph_fail_on_shopgraph": regressions,
        "writes_per_client": args.writes,
        "seconds": round(took, 1),
        "rows": rows,
    }
    out = ROOT / "benches/results/clients_vs_oxigraph.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{summary['pass_shopgraph']}/{len(rows)} pass on shopgraph, {summary['pass_oxigraph']}/{len(rows)} on oxigraph; "
          f"passing on oxigraph but failing on shopgraph: {len(regressions)} -> {out}")


if __name__ == "__main__":
    main()
