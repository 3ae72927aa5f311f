//! Collaborative filtering: pure maths on interaction matrices (faer for dense algebra, rayon
//! for parallel rows). No RDF, no I/O, nothing of ours imported.

pub mod als;
pub mod baselines;
pub mod eval;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod sparse;

pub use sparse::Csr;

/// Any trained recommender.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// Implicit ALS.
    Als(als::AlsModel),
    /// EASE.
    Ease(baselines::Ease),
    /// Item-kNN.
    ItemKnn(baselines::ItemKnn),
    /// Popularity.
    Popularity(baselines::Popularity),
}

impl Model {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Als(_) => "als",
            Self::Ease(_) => "ease",
            Self::ItemKnn(_) => "item_knn",
            Self::Popularity(_) => "popularity",
        }
    }

    /// Scores of every item for a user. `user` is the training row when the history is the
    /// training history (ALS then uses its learned factors); `None` folds the history in.
    pub fn scores(&self, user: Option<usize>, items: &[u32], weights: &[f32], out: &mut [f32]) {
        match self {
            Self::Als(m) => match user.filter(|u| *u < m.users()) {
                Some(u) => m.scores(m.user(u), out),
                None => m.scores(&m.fold_in(items, weights), out),
            },
            Self::Ease(e) => e.scores(items, out),
            Self::ItemKnn(k) => k.scores(items, out),
            Self::Popularity(p) => out.copy_from_slice(&p.counts),
        }
    }
}
