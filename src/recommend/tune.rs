//! Choosing a model: candidates, validation folds fitting the data (next-item with timestamps,
//! random without), per-fold results, and the rule that serves popularity over a winner within
//! the folds' noise.

use super::dataset::Dataset;
use super::{Algorithm, Candidates, RecommendError, fit};
use crate::cf::{Model, als, eval};

/// Picks among ALS settings, EASE, item-kNN and popularity (see [`candidates`]) on validation
/// splits carved from the training data; returns the winner, its reason and every candidate's
/// metrics.
pub fn tune(
    ds: &Dataset,
    k: usize,
    seed: u64,
    protocol: Protocol,
    progress: impl FnMut(&str, &eval::Metrics),
) -> Result<(Algorithm, String, Candidates), RecommendError> {
    let protocol = protocol.resolve(ds);
    tune_among(ds, k, candidates(ds, seed, protocol), protocol, progress)
}

/// How tuning carves validation folds out of the training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Next-item when the events have real timestamps, random otherwise.
    Auto,
    /// Each user's last, second-last and third-last event held out (the model predicts what
    /// comes next): for data with times, served as "what next".
    NextItem,
    /// One random event per user held out, three seeds: for data without times.
    Random,
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "next-item" => Ok(Self::NextItem),
            "random" => Ok(Self::Random),
            o => Err(format!("protocol must be auto, next-item or random, got {o:?}")),
        }
    }
}

impl Protocol {
    /// `Auto` made concrete for a dataset.
    pub fn resolve(self, ds: &Dataset) -> Self {
        match self {
            Self::Auto if eval::has_timestamps(&ds.events) => Self::NextItem,
            Self::Auto => Self::Random,
            p => p,
        }
    }
}

/// The settings [`tune`] tries: popularity; item-kNN and EASE (on the most interacted items
/// when the catalogue is over EASE's item limit), each with and without recency
/// weighting when the events have real times; implicit's ALS defaults and a 27-point ALS grid.
pub fn candidates(ds: &Dataset, seed: u64, protocol: Protocol) -> Vec<Algorithm> {
    // The item-item models are tried with and without recency weighting of the history: the
    // half-life changes only scoring, so each fit serves all its half-lives (see tune_among).
    // Without timestamps "recent" would mean "late in the file": not a signal to trust.
    let timed = protocol.resolve(ds) == Protocol::NextItem && eval::has_timestamps(&ds.events);
    let half_lives: &[Option<f32>] =
        if timed { &[None, Some(2.0), Some(5.0), Some(20.0), Some(100.0)] } else { &[None] };
    let mut candidates = vec![Algorithm::Popularity];
    for neighbours in [50, 200] {
        candidates.extend(half_lives.iter().map(|&half_life| Algorithm::ItemKnn { neighbours, half_life }));
    }
    // Over its item limit EASE fits the most interacted items (see baselines::EASE_HEAD), so it
    // stays a candidate that can be installed on the whole catalogue.
    for lambda in [50.0, 200.0, 500.0] {
        candidates.extend(half_lives.iter().map(|&half_life| Algorithm::Ease { lambda, half_life }));
    }
    // implicit's defaults are a candidate, so tuning cannot choose below them on validation.
    candidates.push(Algorithm::Als(als::AlsParams { seed, ..als::AlsParams::default() }));
    for factors in [32, 64, 128] {
        for regularization in [0.01, 0.1, 1.0] {
            for alpha in [1.0, 10.0, 40.0] {
                candidates.push(Algorithm::Als(als::AlsParams {
                    factors,
                    regularization,
                    alpha,
                    iterations: 15,
                    solver: als::Solver::Cg { steps: 3 },
                    seed,
                }));
            }
        }
    }
    // With item features, the hybrid at the ALS settings the grid centres on, at three weights
    // of a feature against an event (on the demo graph, 1 and 4 lost to plain ALS in
    // validation: broad category rows can blur tastes the interactions already show).
    if !ds.item_features.is_empty() {
        for feature_weight in [0.25, 1.0, 4.0] {
            candidates.push(Algorithm::Hybrid(crate::cf::hybrid::HybridParams {
                als: als::AlsParams { factors: 64, seed, ..als::AlsParams::default() },
                feature_weight,
                feature_ridge: crate::cf::hybrid::DEFAULT_RIDGE,
            }));
        }
    }
    candidates
}

/// Validation users scored per fold at most. Scoring every item for every user costs users x
/// items per candidate and fold: on 100,000 users x 50,000 items that, not the fits, made
/// tuning take hours. 5,000 users put the standard error of a fold's nDCG near 0.004 at
/// MovieLens-like levels, under the gaps tune has to tell apart; smaller data sets are
/// scored whole.
pub const MAX_VALIDATION_USERS: usize = 5_000;

/// [`tune`] over a given candidate list.
pub fn tune_among(
    ds: &Dataset,
    k: usize,
    candidates: Vec<Algorithm>,
    protocol: Protocol,
    mut progress: impl FnMut(&str, &eval::Metrics),
) -> Result<(Algorithm, String, Candidates), RecommendError> {
    // Three validation folds carved from the training data. With times (next-item): each
    // user's last, second-last and third-last event held out with only the events before it to
    // learn from, which asks what a leave-last-out test asks (random holdouts once favoured
    // EASE, which then lost to ALS on the time-ordered test). Without times: one random event
    // per user, three seeds (a "last" event there is only the file's order, and folds built on
    // it rewarded whatever order the file had). Three, because one fold was too noisy to rank
    // models 10% apart on MovieLens-100k.
    let (u, i) = (ds.users.len(), ds.items.len());
    let protocol = protocol.resolve(ds);
    let splits = match protocol {
        Protocol::Random => [
            eval::leave_one_random_out(&ds.events, u, i, 11),
            eval::leave_one_random_out(&ds.events, u, i, 22),
            eval::leave_one_random_out(&ds.events, u, i, 33),
        ],
        Protocol::NextItem | Protocol::Auto => [
            eval::leave_kth_last_out(&ds.events, u, i, 0),
            eval::leave_kth_last_out(&ds.events, u, i, 1),
            eval::leave_kth_last_out(&ds.events, u, i, 2),
        ],
    };
    let mut splits = splits;
    for (k, s) in splits.iter_mut().enumerate() {
        eval::sample_test_users(s, MAX_VALIDATION_USERS, 101 + k as u64);
    }
    let features = (!ds.item_features.is_empty()).then(|| ds.features());
    let mut results = Vec::new();
    // Models fitted for the previous candidate, one per split, with what was fitted.
    let mut fitted: Option<(Algorithm, Vec<Model>)> = None;
    for alg in candidates {
        let key = alg.without_half_life();
        if fitted.as_ref().is_none_or(|f| f.0 != key) {
            let models = splits
                .iter()
                .map(|s| fit(&key, &s.train, features.as_ref(), |_, _| {}))
                .collect::<Result<Vec<_>, _>>()?;
            fitted = Some((key, models));
        }
        let models = &mut fitted.as_mut().ok_or(RecommendError::NoModel)?.1;
        let mut mean = eval::Metrics { k, ..eval::Metrics::default() };
        let mut folds = Vec::with_capacity(splits.len());
        for (split, model) in splits.iter().zip(models.iter_mut()) {
            model.set_half_life(alg.half_life());
            let m = eval::evaluate(model, split, k);
            folds.push(m.ndcg);
            let n = splits.len() as f64;
            mean.users += m.users;
            mean.precision += m.precision / n;
            mean.recall += m.recall / n;
            mean.ndcg += m.ndcg / n;
            mean.map += m.map / n;
            mean.hit_rate += m.hit_rate / n;
            mean.coverage += m.coverage / n;
        }
        progress(&format!("{alg:?}"), &mean);
        results.push((alg, mean, folds));
    }
    let best = results.iter().max_by(|a, b| a.1.ndcg.total_cmp(&b.1.ndcg)).cloned().ok_or(RecommendError::NoModel)?;
    let best_of =
        |pred: &dyn Fn(&Algorithm) -> bool| results.iter().filter(|r| pred(&r.0)).map(|r| r.1.ndcg).fold(0.0, f64::max);
    let folds_name = match protocol {
        Protocol::Random => "random held-out events (no timestamps)",
        _ => "time-ordered next-item folds",
    };
    let mut reason = format!(
        "highest mean nDCG@{k} over three {folds_name} of the training data: {:.4} ({}); popularity {:.4}, \
         best ALS {:.4}, best without recency weighting {:.4}",
        best.1.ndcg,
        describe(&best.0),
        best_of(&|a| *a == Algorithm::Popularity),
        best_of(&|a| matches!(a, Algorithm::Als(_))),
        best_of(&|a| a.half_life().is_none()),
    );
    // A winner that does not beat popularity by more than the folds disagree among themselves
    // is noise: popularity is the safer model to serve.
    let mut chosen = best.0.clone();
    if let Some(pop) = results.iter().find(|r| r.0 == Algorithm::Popularity)
        && best.0 != Algorithm::Popularity
    {
        let (mean, spread) = gap_over_folds(&best.2, &pop.2);
        if mean <= spread {
            chosen = Algorithm::Popularity;
            reason = format!(
                "popularity: the best candidate ({}, {:.4}) beats it by {mean:.4} on average, within the spread of \
                 that gap over the folds ({spread:.4}); serving the safer model",
                describe(&best.0),
                best.1.ndcg
            );
        }
    }
    Ok((chosen, reason, results))
}

/// Mean and sample standard deviation over folds of `a - b` (paired by fold).
pub fn gap_over_folds(a: &[f64], b: &[f64]) -> (f64, f64) {
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = diffs.len().max(1) as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let spread = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    (mean, spread)
}

/// A candidate in words, for the reason a model was chosen.
fn describe(a: &Algorithm) -> String {
    let recency = |h: &Option<f32>| h.map_or(String::new(), |h| format!(", history half-life {h} events"));
    match a {
        Algorithm::Als(p) => format!(
            "als, {} factors, regularization {}, alpha {}, {} iterations",
            p.factors, p.regularization, p.alpha, p.iterations
        ),
        Algorithm::Ease { lambda, half_life } => format!("ease, lambda {lambda}{}", recency(half_life)),
        Algorithm::ItemKnn { neighbours, half_life } => {
            format!("item_knn, {neighbours} neighbours{}", recency(half_life))
        }
        Algorithm::Popularity => "popularity".into(),
        Algorithm::Hybrid(h) => format!(
            "hybrid, {} factors, regularization {}, alpha {}, {} iterations, feature weight {}",
            h.als.factors, h.als.regularization, h.als.alpha, h.als.iterations, h.feature_weight
        ),
    }
}
