//! Recommendation service: trains cf models on interaction tables keyed by shop ids, saves them
//! versioned under the data directory, serves top-k with graph filters, folds new events in.
//!
//! Imports `cf` (maths) and nothing that touches RDF: the engine hands it rows and id sets.

pub mod dataset;
pub mod facets;
mod live;
mod persist;
pub mod simulate;
mod tune;

#[cfg(test)]
use crate::npy;
pub use live::{Live, Recommender, UserHistory};
pub use persist::{prune_versions, saved_metas, saved_versions};
pub use tune::{MAX_VALIDATION_USERS, Protocol, candidates, gap_over_folds, tune, tune_among};

use crate::cf::{self, Csr, Model, als, baselines, eval};
use dataset::Dataset;
use facets::Facets;
use std::path::PathBuf;

/// Errors of the recommendation service.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// An interactions file or request is malformed.
    #[error("{0}")]
    Input(String),
    /// The user is unknown and the request did not allow a cold start.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// The item is not in the model.
    #[error("unknown item {0:?}")]
    UnknownItem(String),
    /// No model has been trained yet.
    #[error("no recommendation model yet: load interactions and run `shopgraph train`")]
    NoModel,
    /// k outside 1..=1000.
    #[error("k must be between 1 and {max}, got {got}")]
    BadK { got: usize, max: usize },
    /// EASE could not be fitted.
    #[error(transparent)]
    Ease(#[from] baselines::EaseError),
    /// A saved model cannot be read or written.
    #[error("model files in {path}: {message}")]
    Persist { path: PathBuf, message: String },
}

/// Largest k served.
pub const MAX_K: usize = 1000;

/// Most ALS factors accepted (memory is factors x (users + items) x 4 bytes).
pub const MAX_FACTORS: usize = 1024;
/// Most ALS sweeps accepted.
pub const MAX_ITERATIONS: usize = 500;
/// Most conjugate-gradient steps per row accepted.
pub const MAX_CG_STEPS: usize = 100;
/// Most item-kNN neighbours accepted.
pub const MAX_NEIGHBOURS: usize = 10_000;

/// Which algorithm to train, with its settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Algorithm {
    /// Implicit ALS.
    Als(als::AlsParams),
    /// EASE with its L2 penalty.
    Ease {
        /// Penalty.
        lambda: f32,
        /// History recency half-life in events (`None`: every past item counts the same).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        half_life: Option<f32>,
    },
    /// Item-kNN with its neighbourhood size.
    ItemKnn {
        /// Neighbours per item.
        neighbours: usize,
        /// History recency half-life in events (`None`: every past item counts the same).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        half_life: Option<f32>,
    },
    /// Popularity.
    Popularity,
    /// ALS with what the graph knows about each item (category path, brand, attributes,
    /// aspect opinions) as extra rows: items nobody touched yet are placed by their features.
    Hybrid(cf::hybrid::HybridParams),
}

impl Algorithm {
    /// Builds an algorithm from named settings (CLI flags, HTTP parameters); unknown or
    /// malformed values are errors, absent ones take defaults.
    pub fn from_params(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        fn num<T: std::str::FromStr>(get: &dyn Fn(&str) -> Option<String>, k: &str, d: T) -> Result<T, String> {
            match get(k) {
                None => Ok(d),
                Some(v) => v.parse().map_err(|_| format!("{k} must be a number, got {v:?}")),
            }
        }
        fn half_life(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<f32>, String> {
            match get("half_life") {
                None => Ok(None),
                Some(v) => match v.parse::<f32>() {
                    Ok(h) if h > 0.0 && h.is_finite() => Ok(Some(h)),
                    _ => Err(format!("half_life must be a positive number of events, got {v:?}")),
                },
            }
        }
        fn als_params(get: &dyn Fn(&str) -> Option<String>) -> Result<als::AlsParams, String> {
            let d = als::AlsParams::default();
            Ok(als::AlsParams {
                factors: num(get, "factors", 64)?,
                regularization: num(get, "regularization", d.regularization)?,
                alpha: num(get, "alpha", d.alpha)?,
                iterations: num(get, "iterations", d.iterations)?,
                solver: match get("solver").as_deref() {
                    None | Some("cg") => als::Solver::Cg { steps: num(get, "cg_steps", 3)? },
                    Some("cholesky") => als::Solver::Cholesky,
                    Some(o) => return Err(format!("solver must be cg or cholesky, got {o:?}")),
                },
                seed: num(get, "seed", 0)?,
            })
        }
        Ok(match get("algorithm").as_deref().unwrap_or("als") {
            "als" => Algorithm::Als(als_params(get)?),
            "ease" => Algorithm::Ease { lambda: num(get, "lambda", 200.0)?, half_life: half_life(get)? },
            "item_knn" | "itemknn" | "knn" => {
                Algorithm::ItemKnn { neighbours: num(get, "neighbours", 100)?, half_life: half_life(get)? }
            }
            "popularity" | "pop" => Algorithm::Popularity,
            "hybrid" => Algorithm::Hybrid(cf::hybrid::HybridParams {
                als: als_params(get)?,
                feature_weight: num(get, "feature_weight", DEFAULT_FEATURE_WEIGHT)?,
                feature_ridge: num(get, "feature_ridge", cf::hybrid::DEFAULT_RIDGE)?,
            }),
            o => return Err(format!("algorithm must be als, ease, item_knn, popularity or hybrid, got {o:?}")),
        })
        .and_then(|a| a.validate().map(|()| a))
    }

    /// Refuses settings that cannot give a usable model or would exhaust the machine:
    /// a clear message instead of an allocation failure, a run without end, or NaN scores.
    pub fn validate(&self) -> Result<(), String> {
        fn range<T: PartialOrd + std::fmt::Display>(name: &str, v: T, lo: T, hi: T) -> Result<(), String> {
            if v < lo || v > hi { Err(format!("{name} must be between {lo} and {hi}, got {v}")) } else { Ok(()) }
        }
        fn positive(name: &str, v: f32, zero_ok: bool) -> Result<(), String> {
            if !v.is_finite() || v < 0.0 || (!zero_ok && v == 0.0) || v > 1.0e6 {
                let want = if zero_ok { "a finite number from 0" } else { "a finite positive number" };
                return Err(format!("{name} must be {want} up to 1e6, got {v}"));
            }
            Ok(())
        }
        let als = |p: &als::AlsParams| -> Result<(), String> {
            range("factors", p.factors, 1, MAX_FACTORS)?;
            range("iterations", p.iterations, 1, MAX_ITERATIONS)?;
            positive("regularization", p.regularization, false)?;
            positive("alpha", p.alpha, true)?;
            if let als::Solver::Cg { steps } = p.solver {
                range("cg_steps", steps, 1, MAX_CG_STEPS)?;
            }
            Ok(())
        };
        match self {
            Self::Hybrid(h) => {
                als(&h.als)?;
                positive("feature_weight", h.feature_weight, false)?;
                positive("feature_ridge", h.feature_ridge, false)?;
            }
            Self::Als(p) => als(p)?,
            Self::Ease { lambda, half_life } => {
                positive("lambda", *lambda, false)?;
                if let Some(h) = half_life {
                    positive("half_life", *h, false)?;
                }
            }
            Self::ItemKnn { neighbours, half_life } => {
                range("neighbours", *neighbours, 1, MAX_NEIGHBOURS)?;
                if let Some(h) = half_life {
                    positive("half_life", *h, false)?;
                }
            }
            Self::Popularity => {}
        }
        Ok(())
    }

    /// Short name, as `algorithm=` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Als(_) => "als",
            Self::Ease { .. } => "ease",
            Self::ItemKnn { .. } => "item_knn",
            Self::Popularity => "popularity",
            Self::Hybrid(_) => "hybrid",
        }
    }

    /// History recency half-life, for the models that have one.
    pub fn half_life(&self) -> Option<f32> {
        match self {
            Self::Ease { half_life, .. } | Self::ItemKnn { half_life, .. } => *half_life,
            Self::Als(_) | Self::Popularity | Self::Hybrid(_) => None,
        }
    }

    /// The same settings without recency weighting: what the fit itself depends on.
    pub fn without_half_life(&self) -> Self {
        let mut a = self.clone();
        if let Self::Ease { half_life, .. } | Self::ItemKnn { half_life, .. } = &mut a {
            *half_life = None;
        }
        a
    }
}

/// Default weight of an item-feature entry in the hybrid (an event's weight is its own).
pub const DEFAULT_FEATURE_WEIGHT: f32 = 1.0;

/// Fits an algorithm on a matrix; the hybrid also reads `features` (per item, aligned with the
/// matrix columns).
pub fn fit(
    alg: &Algorithm,
    m: &Csr,
    features: Option<&cf::hybrid::ItemFeatures>,
    on_iteration: impl FnMut(usize, &als::AlsModel),
) -> Result<Model, RecommendError> {
    Ok(match alg {
        Algorithm::Hybrid(p) => match features.filter(|f| !f.is_empty()) {
            Some(f) => Model::Hybrid(cf::hybrid::fit(m, f, p, on_iteration)),
            None => {
                return Err(RecommendError::Input(
                    "the hybrid model needs item features (categories, brands, attributes), and none were found".into(),
                ));
            }
        },
        Algorithm::Als(p) => Model::Als(als::fit(m, p, on_iteration)),
        Algorithm::Ease { lambda, half_life } => Model::Ease(baselines::Ease::fit(m, *lambda, *half_life)?),
        Algorithm::ItemKnn { neighbours, half_life } => {
            Model::ItemKnn(baselines::ItemKnn::fit(m, *neighbours, *half_life))
        }
        Algorithm::Popularity => Model::Popularity(baselines::Popularity::fit(m)),
    })
}

/// A trained model with the id maps and the history it was trained on.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model.
    pub model: Model,
    /// User keys by index.
    pub users: Vec<String>,
    /// Item keys by index.
    pub items: Vec<String>,
    /// Users x items training weights.
    pub history: Csr,
    /// Age of each pair of `history` (aligned with its indices; see [`eval::ages`]).
    pub ages: Vec<u32>,
    /// Item popularity (cold start).
    pub popularity: Vec<f32>,
    /// Metadata saved beside the model.
    pub meta: Meta,
}

/// What is known about a model version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// Version name (UTC time of training).
    pub version: String,
    /// The algorithm and settings.
    pub algorithm: Algorithm,
    /// Why this model was chosen (tune), if it was.
    pub reason: Option<String>,
    /// Validation metrics, if measured.
    pub metrics: Option<eval::Metrics>,
    /// Interactions it learned from.
    pub interactions: usize,
}

impl Trained {
    /// Trains on a dataset.
    pub fn train(
        ds: &Dataset,
        alg: &Algorithm,
        reason: Option<String>,
        on_iteration: impl FnMut(usize, &als::AlsModel),
    ) -> Result<Self, RecommendError> {
        alg.validate().map_err(RecommendError::Input)?;
        let t: Vec<(u32, u32, f32)> = ds.events.iter().map(|e| (e.user, e.item, e.weight)).collect();
        let history = Csr::from_triplets(ds.users.len(), ds.items.len(), &t);
        let ages = eval::ages(&history, &ds.events);
        let features = matches!(alg, Algorithm::Hybrid(_)).then(|| ds.features());
        let model = fit(alg, &history, features.as_ref(), on_iteration)?;
        if !model.is_finite() {
            return Err(RecommendError::Input(format!(
                "training {} gave non-finite numbers; the model was not installed (check the settings and the interaction weights)",
                model.name()
            )));
        }
        let popularity = baselines::Popularity::fit(&history).counts;
        Ok(Self {
            model,
            users: ds.users.clone(),
            items: ds.items.clone(),
            meta: Meta {
                version: chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string(),
                algorithm: alg.clone(),
                reason,
                metrics: None,
                interactions: history.nnz(),
            },
            history,
            ages,
            popularity,
        })
    }
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scored {
    /// Item key (shop product id).
    pub item: String,
    /// Model score (popularity count on cold start).
    pub score: f32,
}

/// How a recommendation list was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// From the user's history through the model.
    Model,
    /// The user has no history: most popular items (after filters).
    ColdStartPopular,
}

/// Gives ALS items without interactions a position from their graph neighbours: the mean
/// factors of interacted items in the same category, else of the same brand. Returns how many
/// items were placed.
pub fn place_cold_items(trained: &mut Trained, facets: &Facets) -> usize {
    place_cold(&mut trained.model, &trained.popularity, facets)
}

/// [`place_cold_items`] on a bare model, `popularity` telling which items had interactions.
pub fn place_cold(model: &mut Model, popularity: &[f32], facets: &Facets) -> usize {
    // The hybrid places items by their features itself; only items with neither interactions
    // nor features are left for the neighbours' mean.
    let (m, featured): (&mut als::AlsModel, Option<&cf::hybrid::ItemFeatures>) = match model {
        Model::Als(m) => (m, None),
        Model::Hybrid(cf::hybrid::HybridModel { als, features, .. }) => (als, Some(features)),
        _ => return 0,
    };
    let f = m.factors();
    let n = m.items();
    let has_features = |i: usize| featured.is_some_and(|ft| ft.items.get(i).is_some_and(|l| !l.is_empty()));
    let cold: Vec<usize> = (0..n).filter(|&i| popularity[i] == 0.0 && !has_features(i)).collect();
    let mut placed = 0;
    for &i in &cold {
        let by = |key: &dyn Fn(usize) -> Option<String>| -> Option<Vec<f32>> {
            let k = key(i)?;
            let peers: Vec<usize> = (0..n).filter(|&j| popularity[j] > 0.0 && key(j).as_ref() == Some(&k)).collect();
            if peers.is_empty() {
                return None;
            }
            let mut mean = vec![0f32; f];
            for &j in &peers {
                for (a, b) in mean.iter_mut().zip(m.item(j)) {
                    *a += b / peers.len() as f32;
                }
            }
            Some(mean)
        };
        let v = by(&|j| facets.category.get(j).cloned().flatten())
            .or_else(|| by(&|j| facets.brand.get(j).cloned().flatten()));
        if let Some(v) = v {
            m.item_factors[i * f..(i + 1) * f].copy_from_slice(&v);
            placed += 1;
        }
    }
    placed
}

/// Every tuning candidate with its mean validation metrics and its nDCG on each fold.
pub type Candidates = Vec<(Algorithm, eval::Metrics, Vec<f64>)>;

/// Re-exported for callers that only need the metric type.
pub use cf::eval::Metrics;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_hybrid_loads_with_its_features_and_refuses_to_train_without_any() {
        let mut ds = Dataset::default();
        for (u, i) in [("a", "x"), ("a", "y"), ("b", "y"), ("b", "z"), ("c", "x"), ("c", "z")] {
            ds.push(u, i, 1.0, 0);
        }
        let alg = Algorithm::from_params(&|k| (k == "algorithm").then(|| "hybrid".to_string())).unwrap();
        assert!(matches!(Trained::train(&ds, &alg, None, |_, _| {}), Err(RecommendError::Input(_))));
        for (i, f) in [("x", "category=shoes"), ("y", "category=shoes"), ("z", "brand=acme"), ("w", "brand=acme")] {
            ds.add_feature(i, f, 1.0);
        }
        let t = Trained::train(&ds, &alg, None, |_, _| {}).unwrap();
        let Model::Hybrid(h) = &t.model else { panic!("not the hybrid") };
        assert_eq!(h.features.names, ["brand=acme", "category=shoes"]);
        // "w" has no interactions: placed by its brand's row of the feature map.
        let w = ds.item_index("w").unwrap() as usize;
        assert!(h.als.item(w).iter().any(|x| *x != 0.0));
        let dir = tempfile::tempdir().unwrap();
        t.save(dir.path()).unwrap();
        let back = Trained::load_current(dir.path()).unwrap().unwrap();
        assert_eq!(back.model, t.model);
        assert_eq!(back.meta.algorithm, alg);
    }

    #[test]
    fn saved_recency_model_loads_with_its_ages_and_old_three_column_histories_still_load() {
        let mut ds = Dataset::default();
        for (k, (u, i)) in [("a", "x"), ("a", "y"), ("a", "z"), ("b", "y"), ("b", "z"), ("c", "x")].iter().enumerate() {
            // Timestamps run against file order for user a: z is a's oldest item.
            let ts = if *u == "a" { 10 - k as i64 } else { k as i64 };
            ds.push(u, i, 1.0, ts);
        }
        let alg = Algorithm::Ease { lambda: 1.0, half_life: Some(1.0) };
        let t = Trained::train(&ds, &alg, None, |_, _| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vdir = t.save(dir.path()).unwrap();
        let back = Trained::load_current(dir.path()).unwrap().unwrap();
        assert_eq!(back.model, t.model);
        assert_eq!(back.history, t.history);
        assert_eq!(back.ages, t.ages);
        assert_eq!(back.meta.algorithm, alg);
        // User a: x (ts 10) is the latest, y (9) next, z (8) the oldest.
        let live = Live::new(back, Facets::empty(3));
        let h = live.history("a");
        let age = |item: &str| h.ages[h.items.iter().position(|&i| i == live.item_index(item).unwrap()).unwrap()];
        assert_eq!((age("x"), age("y"), age("z")), (0, 1, 2));
        // A version saved before ages existed: three columns, every item then counts as recent.
        let tsv = std::fs::read_to_string(vdir.join("history.tsv")).unwrap();
        let old: String = tsv.lines().map(|l| l.rsplit_once('\t').unwrap().0.to_owned() + "\n").collect();
        std::fs::write(vdir.join("history.tsv"), old).unwrap();
        let back = Trained::load_current(dir.path()).unwrap().unwrap();
        assert_eq!(back.history, t.history);
        assert!(back.ages.iter().all(|&a| a == 0));
    }

    /// The rule that serves popularity over a winner within noise: the winner must beat it by
    /// more than the fold-to-fold spread of the gap.
    #[test]
    fn a_winner_within_the_folds_spread_of_popularity_does_not_count() {
        let cases: &[(&[f64], &[f64], bool)] = &[
            (&[0.30, 0.31, 0.29], &[0.20, 0.21, 0.19], true),  // clear, steady gap
            (&[0.30, 0.20, 0.25], &[0.22, 0.24, 0.23], false), // wins on average, loses a fold
            (&[0.21, 0.20, 0.22], &[0.20, 0.21, 0.21], false), // a hair, noisy
            (&[0.20, 0.20, 0.20], &[0.20, 0.20, 0.20], false), // a tie
        ];
        for (best, pop, beats) in cases {
            let (mean, spread) = gap_over_folds(best, pop);
            assert_eq!(mean > spread, *beats, "{best:?} vs {pop:?}: gap {mean} spread {spread}");
        }
    }

    /// Regression: `POST /train?regularization=NaN` saved a model whose meta.json held `null`;
    /// every later `serve` and CLI command then failed to open the store.
    #[test]
    fn unusable_saved_model_falls_back_to_the_previous_version_and_old_versions_are_pruned() {
        let mut ds = Dataset::default();
        for (u, i) in [("a", "x"), ("a", "y"), ("b", "y"), ("c", "x")] {
            ds.push(u, i, 1.0, 0);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut saved = Vec::new();
        for (n, lambda) in [1.0f32, 2.0, 3.0].into_iter().enumerate() {
            let mut t = Trained::train(&ds, &Algorithm::Ease { lambda, half_life: None }, None, |_, _| {}).unwrap();
            t.meta.version = format!("2026010{n}T000000.000Z");
            t.save(dir.path()).unwrap();
            saved.push(t.meta.version.clone());
        }
        let newest = dir.path().join(&saved[2]);
        type Breakage<'a> = (&'a str, Box<dyn Fn() + 'a>);
        let cases: [Breakage; 3] = [
            (
                "NaN written as null",
                Box::new(|| {
                    let m = std::fs::read_to_string(newest.join("meta.json")).unwrap();
                    std::fs::write(newest.join("meta.json"), m.replace("\"lambda\": 3.0", "\"lambda\": null")).unwrap();
                }),
            ),
            ("missing weights", Box::new(|| std::fs::remove_file(newest.join("b.npy")).unwrap())),
            (
                "non-finite weights",
                Box::new(|| std::fs::write(newest.join("b.npy"), npy::encode(&[f32::NAN; 4], 2, 2)).unwrap()),
            ),
        ];
        for (what, break_it) in cases {
            // Restore the newest version, then break it one way.
            let t = Trained::train(&ds, &Algorithm::Ease { lambda: 3.0, half_life: None }, None, |_, _| {}).unwrap();
            let mut t = t;
            t.meta.version = saved[2].clone();
            t.save(dir.path()).unwrap();
            assert_eq!(Trained::load_current(dir.path()).unwrap().unwrap().meta.version, saved[2], "{what}");
            break_it();
            let back = Trained::load_current(dir.path()).unwrap().expect(what);
            assert_eq!(back.meta.version, saved[1], "{what}");
        }
        assert_eq!(prune_versions(dir.path(), 2), 1);
        assert_eq!(saved_versions(dir.path()), saved[1..].to_vec());
    }

    #[test]
    fn settings_out_of_range_are_refused_with_their_name() {
        fn get<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        }
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("factors", "100000")], "factors"),
            (&[("factors", "0")], "factors"),
            (&[("regularization", "NaN")], "regularization"),
            (&[("regularization", "-1")], "regularization"),
            (&[("alpha", "inf")], "alpha"),
            (&[("iterations", "100000000")], "iterations"),
            (&[("cg_steps", "0")], "cg_steps"),
            (&[("algorithm", "ease"), ("lambda", "0")], "lambda"),
            (&[("algorithm", "item_knn"), ("neighbours", "0")], "neighbours"),
            (&[("algorithm", "ease"), ("half_life", "NaN")], "half_life"),
        ];
        for (pairs, name) in cases {
            let err = Algorithm::from_params(&get(pairs)).unwrap_err();
            assert!(err.contains(name), "{pairs:?}: {err}");
        }
        assert!(Algorithm::from_params(&get(&[("factors", "32"), ("iterations", "5")])).is_ok());
    }

    #[test]
    fn popularity_similarity_is_the_co_occurrence_cosine() {
        let mut ds = Dataset::default();
        for (u, i) in [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "z")] {
            ds.push(u, i, 1.0, 0);
        }
        let t = Trained::train(&ds, &Algorithm::Popularity, None, |_, _| {}).unwrap();
        let n = t.items.len();
        let live = Live::new(t, Facets::empty(n));
        let (x, y, z) = (live.item_index("x").unwrap(), live.item_index("y").unwrap(), live.item_index("z").unwrap());
        // x: {a, b, c}, y: {a, b}, z: {c}.
        assert!((live.similarity(x, y) - 2.0 / 6f32.sqrt()).abs() < 1e-6);
        assert!((live.similarity(y, z) - 0.0).abs() < 1e-6);
        assert!((live.similarity(x, z) - 1.0 / 3f32.sqrt()).abs() < 1e-6);
    }
}
