#!/usr/bin/env python3
"""Time and peak memory of the item-item models on large catalogues: `shopgraph train
--interactions F --algorithm ease|item_knn|als` on the seeded synthetic matrix of
als_vs_implicit.py (zipf popularity, planted groups) at 50,000 and 100,000 items, and on the
Complete Journey grocery purchases (25,643 products). EASE is fitted whole up to 20,000 items
and on the 8,000 most interacted items above that; item-kNN keeps 100 neighbours per item.
Peak memory is the process's maximum resident set (`/usr/bin/time -v`).

    cargo build --release && python3 benches/item_item_scale.py
Writes benches/results/item_item_scale.json.
"""
import json, os, pathlib, re, subprocess, sys, tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from als_vs_implicit import ensure_venv, synthetic
    ensure_venv()
    from hybrid_vs_lightfm import complete_journey, venv_extras, write
    venv_extras()
    sg = pathlib.Path(os.environ.get("SHOPGRAPH_BIN", pathlib.Path.home() / ".cache" / "shopgraph-release" / "release" / "shopgraph"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="sg-scale-"))
    sets = {"complete_journey": lambda: complete_journey()[0],
            "synthetic_50k_items": lambda: synthetic(1.0),
            "synthetic_100k_items": lambda: synthetic(2.0)}
    out = {}
    for name, load in sets.items():
        rows = load()
        path = work / f"{name}.tsv"
        write(path, [(str(u), str(i), float(w), int(t)) for u, i, w, t in rows])
        items = len({r[1] for r in rows})
        out[name] = {"rows": len(rows), "users": len({r[0] for r in rows}), "items": items}
        for alg in ("item_knn", "ease", "als"):
            r = subprocess.run(["/usr/bin/time", "-v", sg, "train", "--interactions", path, "--algorithm", alg,
                                "--export", work / f"{name}-{alg}"], capture_output=True, text=True,
                               env={**os.environ, "RUST_LOG": "warn"})
            rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) / 1024
            wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", r.stderr).group(1)
            secs = sum(float(x) * 60 ** k for k, x in enumerate(reversed(wall.split(":"))))
            out[name][alg] = {"seconds": secs, "peak_rss_mib": rss, "ok": r.returncode == 0,
                              "error": None if r.returncode == 0 else r.stderr[-500:]}
            print(name, alg, out[name][alg], flush=True)
        (ROOT / "benches" / "results" / "item_item_scale.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
