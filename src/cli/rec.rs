//! The recommendation commands' work: train, tune, offline evaluation, the progress bar of
//! training, the demo's recommender.

use super::*;

/// Trains with a progress bar; returns the model and the seconds per iteration (ALS: the mean
/// gap between iteration ends, so matrix building and the transpose are not counted, as
/// implicit's own per-iteration callback does not count them; other models: the whole fit).
pub(super) fn train_with_progress(ds: &Dataset, alg: &Algorithm) -> Result<(Trained, f64)> {
    let iters = match alg {
        Algorithm::Als(p) => p.iterations as u64,
        _ => 1,
    };
    let bar = ProgressBar::new(iters).with_style(
        ProgressStyle::with_template("training {msg} [{bar:30}] {pos}/{len} iterations {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("{alg:?}").chars().take(60).collect::<String>());
    let start = std::time::Instant::now();
    let b2 = bar.clone();
    let ends = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let e2 = std::sync::Arc::clone(&ends);
    let t = Trained::train(ds, alg, None, move |i, _| {
        b2.set_position(i as u64 + 1);
        if let Ok(mut e) = e2.lock() {
            e.push(std::time::Instant::now());
        }
    })?;
    let total = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let ends = ends.lock().map(|e| e.clone()).unwrap_or_default();
    let per_iter = match (ends.first(), ends.last()) {
        (Some(a), Some(b)) if ends.len() > 1 => (*b - *a).as_secs_f64() / (ends.len() - 1) as f64,
        _ => total,
    };
    Ok((t, per_iter))
}

/// Demo shoppers are SYNTHETIC: added once (when the graph has no interactions), then a model.
pub(super) fn demo_recommender(engine: &Arc<Engine>) -> Result<()> {
    if engine.interaction_dataset()?.events.is_empty() {
        let (n, tastes) = engine.simulate(1000, 42)?;
        eprintln!("added {n} SYNTHETIC events from {} simulated shoppers with planted tastes", tastes.len());
        if let Some(dir) = engine.report_dir() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("simulated-tastes.json"), serde_json::to_vec_pretty(&tastes)?)?;
        }
    }
    if engine.recommender().current().is_err() {
        let ds = engine.interaction_dataset()?;
        let alg = Algorithm::Als(crate::cf::als::AlsParams {
            factors: 32,
            regularization: 0.1,
            alpha: 10.0,
            iterations: 15,
            solver: crate::cf::als::Solver::Cg { steps: 3 },
            seed: 42,
        });
        let start = std::time::Instant::now();
        let (trained, _) = train_with_progress(&ds, &alg)?;
        let meta = engine.install(trained)?;
        eprintln!(
            "trained ALS model {} on {} interactions in {:.1}s",
            meta.version,
            meta.interactions,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// How `shopgraph eval` splits and ranks.
pub(super) struct EvalHow<'a> {
    /// leave-last-out, time or random (one interactions file).
    pub split: &'a str,
    /// Held-out share for time and random.
    pub test_fraction: f64,
    /// Cut-off.
    pub k: usize,
    /// Item features file.
    pub features: Option<&'a Path>,
    /// all or cold.
    pub candidates: &'a str,
}

pub(super) fn eval(
    model: &ModelArgs,
    interactions: Option<&Path>,
    train: Option<&Path>,
    test: Option<&Path>,
    how: &EvalHow<'_>,
    out: &Path,
) -> Result<()> {
    use crate::cf::eval;
    let (split, test_fraction, k) = (how.split, how.test_fraction, how.k);
    let (mut ds, split) = match (interactions, train, test) {
        (Some(f), None, None) => {
            let ds = Dataset::from_file(f)?;
            let s = match split {
                "leave-last-out" => eval::leave_last_out(&ds.events, ds.users.len(), ds.items.len()),
                "time" => eval::time_split(&ds.events, ds.users.len(), ds.items.len(), test_fraction),
                "random" => eval::random_split(
                    &ds.events,
                    ds.users.len(),
                    ds.items.len(),
                    test_fraction,
                    model.seed.unwrap_or(0),
                ),
                other => bail!("--split must be leave-last-out, time or random, not {other}"),
            };
            (ds, s)
        }
        (None, Some(tr), Some(te)) => {
            let (ds, n_train) = Dataset::from_train_test(tr, te)?;
            let split = eval::build(&ds.events[..n_train], &ds.events[n_train..], ds.users.len(), ds.items.len());
            (ds, split)
        }
        _ => bail!("give --interactions FILE, or --train FILE --test FILE"),
    };
    // Features name items by shop id; items only they mention have no interactions and are
    // outside the split's matrix, so they are read after it and ignored there.
    let mut placement = crate::recommend::facets::Facets::default();
    let features = match how.features {
        Some(f) => {
            let n = ds.read_features(f)?;
            // from_pairs ignores items past the matrix; so does the placement below.
            let ft = crate::cf::hybrid::ItemFeatures::from_pairs(split.train.cols, &ds.item_features);
            placement.category = vec![None; split.train.cols];
            placement.brand = vec![None; split.train.cols];
            for (i, name, _) in ds.item_features.iter().filter(|p| (p.0 as usize) < split.train.cols) {
                let i = *i as usize;
                if let Some(c) = name.strip_prefix("category=") {
                    placement.category[i].get_or_insert_with(|| c.to_owned());
                } else if let Some(b) = name.strip_prefix("brand=") {
                    placement.brand[i].get_or_insert_with(|| b.to_owned());
                }
            }
            eprintln!(
                "{n} item-feature lines: {} features kept (on two or more items), {} pairs",
                ft.len(),
                ft.pairs()
            );
            Some(ft)
        }
        None => None,
    };
    let popularity = crate::cf::baselines::Popularity::fit(&split.train).counts;
    let among: Option<Vec<bool>> = match how.candidates {
        "all" => None,
        "cold" => Some(popularity.iter().map(|&c| c == 0.0).collect()),
        o => bail!("--candidates must be all or cold, not {o}"),
    };
    if let Some(a) = &among {
        eprintln!("ranking only the {} items without training interactions", a.iter().filter(|x| **x).count());
    }
    eprintln!(
        "{} users, {} items, {} training interactions, {} users with held-out items",
        ds.users.len(),
        ds.items.len(),
        split.train.nnz(),
        split.test.iter().filter(|t| !t.is_empty()).count()
    );
    std::fs::create_dir_all(out)?;
    let mut names = vec!["als", "ease", "item_knn", "popularity"];
    if features.is_some() {
        names.extend(["als_placed", "hybrid"]);
    }
    let mut rows = Vec::new();
    let mut curve = Vec::new();
    let among = among.as_deref();
    // The per-iteration curve scores a sample of users (the final figures score them all): on
    // large data, scoring everyone after each sweep cost 20x the training.
    let mut curve_split = split.clone();
    eval::sample_test_users(&mut curve_split, crate::recommend::MAX_VALIDATION_USERS, 1);
    for name in names {
        let alg = model.algorithm(Some(if name == "als_placed" { "als" } else { name }))?;
        let start = std::time::Instant::now();
        let fitted = crate::recommend::fit(&alg, &split.train, features.as_ref(), |_, als| {
            if name == "als" {
                let mm = crate::cf::Model::Als(als.clone());
                curve.push(eval::evaluate_among(&mm, &curve_split, k, among).ndcg);
            }
        });
        let fitted = fitted.map(|mut m| {
            if name == "als_placed" {
                let placed = crate::recommend::place_cold(&mut m, &popularity, &placement);
                eprintln!("  als_placed: {placed} items without interactions placed at their category (else brand) peers' mean");
            }
            m
        });
        let m = match fitted {
            Ok(m) => m,
            Err(e) => {
                eprintln!("  {name}: skipped ({e})");
                continue;
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let metrics = eval::evaluate_among(&m, &split, k, among);
        eprintln!(
            "  {name:<10} nDCG@{k} {:.4}  P {:.4}  R {:.4}  MAP {:.4}  HR {:.4}  coverage {:.3}  ({secs:.1}s)",
            metrics.ndcg, metrics.precision, metrics.recall, metrics.map, metrics.hit_rate, metrics.coverage
        );
        rows.push((name, alg, metrics, secs));
    }
    let json = serde_json::json!({
        "k": k,
        "users": ds.users.len(),
        "items": ds.items.len(),
        "train_interactions": split.train.nnz(),
        "candidates": how.candidates,
        "models": rows.iter().map(|(n, a, m, s)| serde_json::json!({"model": n, "algorithm": a, "metrics": m, "train_seconds": s})).collect::<Vec<_>>(),
        "als_ndcg_by_iteration": curve,
    });
    std::fs::write(out.join("eval.json"), serde_json::to_vec_pretty(&json)?)?;
    let labels = ["nDCG", "precision", "recall", "MAP", "hit rate"];
    let series: Vec<(String, Vec<f64>)> = rows
        .iter()
        .map(|(n, _, m, _)| (n.to_string(), vec![m.ndcg, m.precision, m.recall, m.map, m.hit_rate]))
        .collect();
    std::fs::write(
        out.join("metrics.svg"),
        crate::chart::grouped_bars(&format!("Ranking quality at {k}"), &labels, &series),
    )?;
    if !curve.is_empty() {
        std::fs::write(
            out.join("als-training.svg"),
            crate::chart::lines(
                &format!("ALS nDCG@{k} on the held-out items (up to 5,000 users)"),
                "iteration",
                &[("als".into(), curve)],
            ),
        )?;
    }
    eprintln!("wrote {}", out.join("eval.json").display());
    Ok(())
}

/// `shopgraph train`: on a file into an export folder, on a file into the store (ids
/// pseudonymised), or on the graph.
pub(super) fn train(
    store: &StoreArgs,
    model: &ModelArgs,
    interactions: Option<&Path>,
    export: Option<&Path>,
) -> Result<()> {
    let alg = model.algorithm(None)?;
    match (interactions, export) {
        (Some(file), Some(dir)) => {
            let ds = Dataset::from_file(file)?;
            eprintln!("{} users, {} items, {} interactions", ds.users.len(), ds.items.len(), ds.events.len());
            let start = std::time::Instant::now();
            let (trained, per_iter) = train_with_progress(&ds, &alg)?;
            let secs = start.elapsed().as_secs_f64();
            std::fs::create_dir_all(dir)?;
            let vdir = trained.save(dir)?;
            for f in std::fs::read_dir(&vdir)? {
                let f = f?;
                std::fs::rename(f.path(), dir.join(f.file_name()))?;
            }
            std::fs::remove_dir(&vdir)?;
            std::fs::write(
                dir.join("timing.json"),
                serde_json::to_vec_pretty(&serde_json::json!({
                    "seconds": secs,
                    "seconds_per_iteration": per_iter,
                    "threads": rayon::current_num_threads()
                }))?,
            )?;
            eprintln!("exported to {} in {secs:.2}s", dir.display());
        }
        (None, Some(_)) => bail!("--export needs --interactions"),
        (Some(file), None) => {
            let engine = store.engine(None)?;
            let raw = Dataset::from_file(file)?;
            // Served models never hold raw user ids.
            let mut ds = Dataset::default();
            for e in &raw.events {
                ds.push(&engine.user_key(&raw.users[e.user as usize]), &raw.items[e.item as usize], e.weight, e.ts);
            }
            let (trained, _) = train_with_progress(&ds, &alg)?;
            let meta = engine.install(trained)?;
            eprintln!("installed model {} trained on {} interactions", meta.version, meta.interactions);
        }
        (None, None) => {
            let engine = store.engine(None)?;
            let ds = engine.dataset_for(&alg)?;
            let (trained, _) = train_with_progress(&ds, &alg)?;
            let meta = engine.install(trained)?;
            eprintln!("installed model {} trained on {} interactions", meta.version, meta.interactions);
        }
    }
    Ok(())
}

/// `shopgraph tune`: chooses on validation folds of a file (report only) or of the graph (the
/// choice is trained on everything, installed with its validation metrics).
pub(super) fn tune(
    store: &StoreArgs,
    interactions: Option<&Path>,
    features: Option<&Path>,
    k: usize,
    seed: u64,
    protocol: &str,
) -> Result<()> {
    let (ds, engine) = match interactions {
        Some(f) => {
            let mut ds = Dataset::from_file(f)?;
            if let Some(ff) = features {
                ds.read_features(ff)?;
            }
            (ds, None)
        }
        None => {
            let e = store.engine(None)?;
            (e.interaction_dataset_with_features()?, Some(e))
        }
    };
    let protocol: crate::recommend::Protocol = protocol.parse().map_err(anyhow::Error::msg)?;
    let (alg, reason, results) = crate::recommend::tune(&ds, k, seed, protocol, |name, m| {
        eprintln!("  {name:<70} nDCG@{} {:.4}  recall {:.4}", m.k, m.ndcg, m.recall);
    })?;
    eprintln!("chose {alg:?}\n  because: {reason}");
    let candidates: Vec<_> = results
        .iter()
        .map(|(a, m, folds)| serde_json::json!({"algorithm": a, "metrics": m, "ndcg_per_fold": folds}))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({"chosen": alg, "reason": reason, "candidates": candidates}))?
    );
    if let Some(engine) = engine {
        let mut trained = Trained::train(&ds, &alg, Some(reason), |_, _| {})?;
        // The chosen model's validation metrics travel with it (the console charts them).
        trained.meta.metrics = results.iter().find(|r| r.0 == alg).map(|r| r.1);
        let meta = engine.install(trained)?;
        eprintln!("installed model {}", meta.version);
    }
    Ok(())
}
