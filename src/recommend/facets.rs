//! What recommendation filters and item cold start need to know about each catalogue item,
//! aligned with the model's item indices; filled by the engine from the graph.

use std::collections::{HashMap, HashSet};

/// Per-item attributes, index = model item index.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    /// Category concept IRI.
    pub category: Vec<Option<String>>,
    /// Brand name, lowercased.
    pub brand: Vec<Option<String>>,
    /// Offer price.
    pub price: Vec<Option<f64>>,
    /// Whether the offer is in stock (None: no offer information).
    pub in_stock: Vec<Option<bool>>,
    /// Category hierarchy: concept -> its broader concepts (several where an engineer added
    /// a link, all ancestors where the inferred hierarchy was read).
    pub parent: HashMap<String, Vec<String>>,
}

/// Graph conditions a recommendation must satisfy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Category concept IRI; items in it or any descendant pass.
    pub category: Option<String>,
    /// Brand name (case-insensitive).
    pub brand: Option<String>,
    /// Lowest price.
    pub min_price: Option<f64>,
    /// Highest price.
    pub max_price: Option<f64>,
    /// Only items whose offer is in stock.
    pub in_stock: bool,
}

impl Filter {
    /// Whether the filter restricts anything.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Facets {
    /// Empty facets for `n` items.
    pub fn empty(n: usize) -> Self {
        Self {
            category: vec![None; n],
            brand: vec![None; n],
            price: vec![None; n],
            in_stock: vec![None; n],
            parent: HashMap::new(),
        }
    }

    /// Whether `concept` is `ancestor` or below it.
    pub fn is_under(&self, concept: &str, ancestor: &str) -> bool {
        let mut seen: HashSet<&str> = HashSet::from([concept]);
        let mut stack = vec![concept];
        while let Some(c) = stack.pop() {
            if c == ancestor {
                return true;
            }
            for p in self.parent.get(c).into_iter().flatten() {
                if seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        false
    }

    /// Item indices passing the filter; `None` when the filter is empty.
    pub fn allowed(&self, f: &Filter) -> Option<HashSet<u32>> {
        if f.is_empty() {
            return None;
        }
        let brand = f.brand.as_ref().map(|b| b.to_lowercase());
        Some(
            (0..self.category.len())
                .filter(|&i| {
                    f.category.as_ref().is_none_or(|c| self.category[i].as_ref().is_some_and(|ic| self.is_under(ic, c)))
                        && brand.as_ref().is_none_or(|b| self.brand[i].as_ref() == Some(b))
                        && f.min_price.is_none_or(|m| self.price[i].is_some_and(|p| p >= m))
                        && f.max_price.is_none_or(|m| self.price[i].is_some_and(|p| p <= m))
                        && (!f.in_stock || self.in_stock[i] == Some(true))
                })
                .map(|i| i as u32)
                .collect(),
        )
    }
}
