//! Ranking: the weights (chosen on the development share of the query set), fusion of the
//! keyword and semantic lists, the graph's boosts and the explanation of each result.

use super::catalogue::Meta;
use super::understand::Matched;
use serde::Serialize;

/// Reciprocal-rank-fusion constant (the usual 60).
pub(super) const RRF_K: f32 = 60.0;

/// The ranking's weights. The defaults were chosen on the development share of the demo query
/// set (tests/data/search, `split = dev`); `SHOPGRAPH_SEARCH_TUNING` (JSON, any subset of the
/// fields) overrides them for experiments.
#[derive(Debug, Clone, Copy, serde::Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tuning {
    /// Weight of the keyword list in reciprocal-rank fusion.
    pub keyword_weight: f32,
    /// Weight of the semantic list.
    pub semantic_weight: f32,
    /// Factor for products in a category the query named; 0 makes the category a filter.
    pub category_boost: f32,
    /// Strength of the review-aspect boost (at most this times 0.5 either way).
    pub aspect: f32,
    /// Factor for products that have an attribute value the query named.
    pub attribute: f32,
    /// Per rating point above the catalogue's mean (ratings shrunk towards it).
    pub rating: f32,
    /// What the fields other than a word's best one add to its BM25 score (0 to 1).
    pub tie_breaker: f32,
    /// Weight of review text in BM25 (names weigh 3, descriptions 1).
    pub review_weight: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            keyword_weight: 1.0,
            semantic_weight: 0.5,
            category_boost: 2.0,
            aspect: 0.8,
            attribute: 1.25,
            rating: 0.15,
            tie_breaker: 0.5,
            review_weight: 0.6,
        }
    }
}

impl Tuning {
    /// The defaults, or `SHOPGRAPH_SEARCH_TUNING` read once.
    pub fn current() -> Tuning {
        static T: std::sync::LazyLock<Tuning> = std::sync::LazyLock::new(|| {
            std::env::var("SHOPGRAPH_SEARCH_TUNING")
                .ok()
                .and_then(|v| match serde_json::from_str(&v) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        log::warn!("SHOPGRAPH_SEARCH_TUNING ignored: {e}");
                        None
                    }
                })
                .unwrap_or_default()
        });
        *T
    }
}

/// Why a product is in the results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Why {
    /// Rank and BM25 score in the keyword results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<(usize, f32)>,
    /// Rank and cosine in the semantic results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic: Option<(usize, f32)>,
    /// Concepts of the query this product has (category, brand, attribute value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
    /// Aspects the query asked about, as its reviews judge them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aspects: Vec<AspectEvidence>,
    /// Mean rating and count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<(f64, u32)>,
    /// The recommender's normalised score for the shopper.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal: Option<f32>,
    /// The graph boost the score was multiplied by.
    pub boost: f32,
}

/// Review evidence for an aspect the query named.
#[derive(Debug, Clone, Serialize)]
pub struct AspectEvidence {
    /// Aspect IRI.
    pub aspect: String,
    /// Label.
    pub label: String,
    /// Positive mentions.
    pub positive: u32,
    /// Negative mentions.
    pub negative: u32,
}

/// A candidate's place in each list and its fused score.
#[derive(Debug, Clone, Default)]
pub(super) struct Cand {
    pub(super) fused: f32,
    pub(super) keyword: Option<(usize, f32)>,
    pub(super) semantic: Option<(usize, f32)>,
}

/// How the graph reorders candidates: review aspects the query named, attribute values,
/// ratings (shrunk to the catalogue mean), stock.
pub(super) struct Ranking<'a> {
    pub(super) tuning: Tuning,
    pub(super) named_cats: &'a [u32],
    pub(super) full: bool,
    pub(super) browse: bool,
    pub(super) aspects: Vec<&'a Matched>,
    pub(super) attributes: Vec<&'a Matched>,
    pub(super) mean_rating: f64,
}

impl Ranking<'_> {
    pub(super) fn boost(&self, m: &Meta) -> f32 {
        if !self.full {
            return 1.0;
        }
        let t = &self.tuning;
        let mut boost = 1.0f32;
        if t.category_boost > 0.0 && m.categories.iter().any(|c| self.named_cats.contains(c)) {
            boost *= t.category_boost;
        }
        for a in &self.aspects {
            let (p, n) = m.aspects.iter().find(|x| x.0 == a.iri).map_or((0, 0), |x| (x.1, x.2));
            let total = (p + n) as f32;
            let share = (p as f32 + 1.0) / (total + 2.0);
            boost *= 1.0 + t.aspect * (total / (total + 3.0)) * (share - 0.5);
        }
        for a in &self.attributes {
            if m.attributes.contains(&a.iri) {
                boost *= t.attribute;
            }
        }
        if let Some((r, c)) = m.rating {
            let bayes = (r * f64::from(c) + self.mean_rating * 5.0) / (f64::from(c) + 5.0);
            boost *= 1.0 + t.rating * (bayes - self.mean_rating) as f32;
        }
        if m.in_stock == Some(false) {
            boost *= 0.5;
        }
        boost
    }

    pub(super) fn score(&self, m: &Meta, c: &Cand) -> f32 {
        if self.browse { m.rating.map_or(0.0, |r| r.0 as f32) } else { c.fused * self.boost(m) }
    }

    pub(super) fn explain(&self, m: &Meta, c: &Cand) -> Why {
        let mut w = Why {
            keyword: c.keyword,
            semantic: c.semantic,
            rating: m.rating,
            boost: self.boost(m),
            ..Default::default()
        };
        if self.full {
            for a in &self.aspects {
                let (p, n) = m.aspects.iter().find(|x| x.0 == a.iri).map_or((0, 0), |x| (x.1, x.2));
                w.aspects.push(AspectEvidence {
                    aspect: a.iri.clone(),
                    label: a.label.clone(),
                    positive: p,
                    negative: n,
                });
            }
            for a in &self.attributes {
                if m.attributes.contains(&a.iri) {
                    w.matched.push(a.label.clone());
                }
            }
        }
        w
    }
}
