//! Facet counts over a whole match set: categories at every level of the tree, brands, price
//! bands, rating thresholds and aspects. Each count is exactly what adding that value as a
//! filter returns.

use super::Catalogue;
use serde::Serialize;
use std::collections::HashMap;

/// Price bands: `[lo, hi)`, the last open.
pub const PRICE_BANDS: [(f64, Option<f64>); 6] = [
    (0.0, Some(25.0)),
    (25.0, Some(50.0)),
    (50.0, Some(100.0)),
    (100.0, Some(200.0)),
    (200.0, Some(500.0)),
    (500.0, None),
];

/// The highest price of a band (prices are in cents): `max_price` filters include it, so a
/// band's count is what `min_price`/`max_price` of the band return.
fn band_top(hi: f64) -> f64 {
    hi - 0.01
}

/// One count.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Count {
    /// IRI of the value (category, brand, aspect) or the band's name.
    pub value: String,
    /// Label.
    pub label: String,
    /// Products.
    pub count: usize,
    /// For categories: depth in the tree (0 at the top) and the broader categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<usize>,
    /// Broader categories (IRIs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// For price bands: bounds; for ratings: the lowest mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest price of a band (inclusive, like the `max_price` filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Count {
    fn of(value: String, label: String, count: usize) -> Self {
        Self { value, label, count, level: None, parents: Vec::new(), min: None, max: None }
    }
}

/// Facet counts of a match set.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Facets {
    /// Per category at every level.
    pub category: Vec<Count>,
    /// Per brand.
    pub brand: Vec<Count>,
    /// Per price band.
    pub price: Vec<Count>,
    /// Products rated at least 4, 3, 2, 1 on average.
    pub rating: Vec<Count>,
    /// Products whose reviews are more positive than negative about each aspect.
    pub aspect: Vec<Count>,
}

impl Facets {
    /// Counts over the products `keys`.
    pub fn count<'a>(cat: &Catalogue, keys: impl Iterator<Item = &'a u64>) -> Self {
        let mut cats = vec![0usize; cat.categories.items.len()];
        let mut brands = vec![0usize; cat.brands.items.len()];
        let mut bands = [0usize; PRICE_BANDS.len()];
        let mut ratings = [0usize; 4];
        let mut aspects: HashMap<&str, usize> = HashMap::new();
        for k in keys {
            let Some(m) = cat.products.get(k) else { continue };
            for c in &m.categories {
                cats[*c as usize] += 1;
            }
            if let Some(b) = m.brand {
                brands[b as usize] += 1;
            }
            if let Some(p) = m.price
                && let Some(i) = PRICE_BANDS.iter().position(|(lo, hi)| p >= *lo && hi.is_none_or(|h| p <= band_top(h)))
            {
                bands[i] += 1;
            }
            if let Some((r, _)) = m.rating {
                for (i, t) in [4.0, 3.0, 2.0, 1.0].iter().enumerate() {
                    if r >= *t {
                        ratings[i] += 1;
                    }
                }
            }
            for (a, p, n) in &m.aspects {
                if p > n {
                    *aspects.entry(a).or_default() += 1;
                }
            }
        }
        let label = |iri: &str| cat.tree.labels.get(iri).cloned().unwrap_or_else(|| iri.to_owned());
        let mut category: Vec<Count> = cats
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| (cat.category(i as u32), n))
            .map(|(c, n)| Count {
                level: Some(cat.tree.depth(c)),
                parents: cat.tree.parents.get(c).cloned().unwrap_or_default(),
                ..Count::of(c.to_owned(), label(c), n)
            })
            .collect();
        category.sort_by(|a, b| a.level.cmp(&b.level).then(b.count.cmp(&a.count)).then(a.label.cmp(&b.label)));
        category.truncate(200);
        let mut brand: Vec<Count> = brands
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| (cat.brand(i as u32), n))
            .map(|((iri, name), n)| Count::of(iri.to_owned(), name.to_owned(), n))
            .collect();
        brand.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
        brand.truncate(100);
        let price = PRICE_BANDS
            .iter()
            .zip(bands)
            .filter(|(_, n)| *n > 0)
            .map(|((lo, hi), n)| {
                let (value, label) = match hi {
                    Some(h) => (format!("{lo}-{h}"), format!("{lo} to {}", band_top(*h))),
                    None => (format!("{lo}+"), format!("{lo} and more")),
                };
                Count { min: Some(*lo), max: hi.map(band_top), ..Count::of(value, label, n) }
            })
            .collect();
        let rating = [4.0, 3.0, 2.0, 1.0]
            .iter()
            .zip(ratings)
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| Count { min: Some(*t), ..Count::of(format!("{t}+"), format!("{t} and up"), n) })
            .collect();
        let aspect_label: HashMap<&str, &str> =
            cat.vocab.aspects.iter().map(|a| (a.iri.as_str(), a.label.as_str())).collect();
        let mut aspect: Vec<Count> = aspects
            .into_iter()
            .map(|(a, n)| {
                Count::of(a.to_owned(), aspect_label.get(a).map_or_else(|| a.to_owned(), |l| (*l).to_owned()), n)
            })
            .collect();
        aspect.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
        Self { category, brand, price, rating, aspect }
    }
}
