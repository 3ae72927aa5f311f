//! The in-memory side of search: product documents as read from the graph, what is kept of
//! each product for filters, facets and boosts, the category tree, and the interning of
//! categories and brands.

use super::understand::{PhraseTable, Vocabulary};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The key of a product IRI in the index (first 8 bytes of its BLAKE3 hash).
pub fn key(iri: &str) -> u64 {
    let h = blake3::hash(iri.as_bytes());
    u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}

/// Everything search knows about one product, read from the graph.
#[derive(Debug, Clone, Default)]
pub struct ProductDoc {
    /// [`key`] of the IRI.
    pub key: u64,
    /// Product IRI.
    pub iri: String,
    /// Shop id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Brand (IRI, name).
    pub brand: Option<(String, String)>,
    /// Direct categories (IRIs).
    pub categories: Vec<String>,
    /// Category labels (the direct ones and their parents) and the shop's own category paths.
    pub category_text: Vec<String>,
    /// Attribute values (IRIs) found for it.
    pub attributes: Vec<String>,
    /// Their labels.
    pub attribute_labels: Vec<String>,
    /// Review titles and texts.
    pub review_text: Vec<String>,
    /// Lowest offer price.
    pub price: Option<f64>,
    /// Stock: `Some(false)` when every offer is out of stock.
    pub in_stock: Option<bool>,
    /// Sum of review ratings.
    pub rating_sum: f64,
    /// Number of ratings.
    pub ratings: u32,
    /// Per aspect (IRI): positive and negative mentions in its reviews.
    pub aspects: Vec<(String, u32, u32)>,
}

impl ProductDoc {
    /// A name to show: the product's, else its category and id.
    pub fn display_name(&self) -> String {
        match (&self.name, self.category_text.first()) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => format!("{c} {}", self.id),
            (None, None) => format!("product {}", self.id),
        }
    }

    /// Mean rating.
    pub fn rating(&self) -> Option<f64> {
        (self.ratings > 0).then(|| self.rating_sum / f64::from(self.ratings))
    }
}

/// What search keeps of a product in memory (no text): filters, facets, boosts.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Product IRI.
    pub iri: String,
    /// Shop id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Brand (index into the catalogue's brands).
    pub brand: Option<u32>,
    /// Direct categories and every ancestor (indexes into the catalogue's categories).
    pub categories: Vec<u32>,
    /// Attribute values.
    pub attributes: Vec<String>,
    /// Lowest price.
    pub price: Option<f64>,
    /// Stock.
    pub in_stock: Option<bool>,
    /// Mean rating and count.
    pub rating: Option<(f64, u32)>,
    /// Aspect mentions: IRI, positive, negative.
    pub aspects: Vec<(String, u32, u32)>,
}

/// The category tree as search needs it.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Broader categories of each category.
    pub parents: HashMap<String, Vec<String>>,
    /// Labels.
    pub labels: HashMap<String, String>,
}

impl Tree {
    /// The category and everything above it.
    pub fn closure(&self, c: &str) -> Vec<String> {
        let mut out = vec![c.to_owned()];
        let mut i = 0;
        while i < out.len() {
            for p in self.parents.get(&out[i]).into_iter().flatten() {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            i += 1;
        }
        out
    }

    /// Steps to the root (the longest way up).
    pub fn depth(&self, c: &str) -> usize {
        fn go(t: &Tree, c: &str, seen: &mut HashSet<String>) -> usize {
            if !seen.insert(c.to_owned()) {
                return 0;
            }
            t.parents.get(c).into_iter().flatten().map(|p| 1 + go(t, p, seen)).max().unwrap_or(0)
        }
        go(self, c, &mut HashSet::new())
    }
}

/// Hashes product keys (already BLAKE3 bits) by themselves.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map by product key.
pub type KeyMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Strings numbered in order of arrival.
#[derive(Debug, Clone, Default)]
pub(super) struct Interner<T> {
    pub(super) items: Vec<T>,
    index: HashMap<String, u32>,
}

impl<T> Interner<T> {
    pub(super) fn id(&mut self, key: &str, make: impl FnOnce() -> T) -> u32 {
        if let Some(i) = self.index.get(key) {
            return *i;
        }
        let i = self.items.len() as u32;
        self.items.push(make());
        self.index.insert(key.to_owned(), i);
        i
    }
    pub(super) fn get(&self, key: &str) -> Option<u32> {
        self.index.get(key).copied()
    }
}

/// The in-memory side of the index: product facts, the vocabulary and the tree.
#[derive(Debug, Default, Clone)]
pub struct Catalogue {
    pub(super) products: KeyMap<Meta>,
    pub(super) vocab: Vocabulary,
    pub(super) table: Arc<PhraseTable>,
    pub(super) tree: Tree,
    pub(super) mean_rating: f64,
    /// Whether any product has a price (a price phrase is set aside otherwise).
    pub(super) priced: bool,
    pub(super) categories: Interner<String>,
    pub(super) brands: Interner<(String, String)>,
}

impl Catalogue {
    pub(super) fn meta(&mut self, doc: &ProductDoc) -> Meta {
        let mut categories: Vec<u32> = Vec::new();
        for c in &doc.categories {
            for a in self.tree.closure(c) {
                let i = self.categories.id(&a, || a.clone());
                if !categories.contains(&i) {
                    categories.push(i);
                }
            }
        }
        let brand = doc.brand.as_ref().map(|b| self.brands.id(&b.0, || b.clone()));
        Meta {
            iri: doc.iri.clone(),
            id: doc.id.clone(),
            name: doc.display_name(),
            brand,
            categories,
            attributes: doc.attributes.clone(),
            price: doc.price,
            in_stock: doc.in_stock,
            rating: doc.rating().map(|r| (r, doc.ratings)),
            aspects: doc.aspects.clone(),
        }
    }

    pub(super) fn new(docs: &[ProductDoc], vocab: Vocabulary, tree: Tree) -> Self {
        let table = Arc::new(PhraseTable::new(&vocab));
        let mut c = Self { vocab, table, tree, ..Default::default() };
        for d in docs {
            let m = c.meta(d);
            c.products.insert(d.key, m);
        }
        c.rate();
        c
    }

    /// The brand (IRI, name) of an index.
    pub fn brand(&self, i: u32) -> &(String, String) {
        &self.brands.items[i as usize]
    }

    /// The category IRI of an index.
    pub fn category(&self, i: u32) -> &str {
        &self.categories.items[i as usize]
    }

    /// The catalogue-wide figures a search needs: the mean rating, whether prices exist.
    pub(super) fn rate(&mut self) {
        self.priced = self.products.values().any(|m| m.price.is_some());
        let (s, n) = self
            .products
            .values()
            .filter_map(|m| m.rating)
            .fold((0.0, 0u64), |(s, n), (r, c)| (s + r * f64::from(c), n + u64::from(c)));
        self.mean_rating = if n > 0 { s / n as f64 } else { 3.0 };
    }

    /// Products held.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// A product by key.
    pub fn get(&self, key: u64) -> Option<&Meta> {
        self.products.get(&key)
    }

    /// Every product's key and IRI.
    pub fn iris(&self) -> impl Iterator<Item = (u64, &str)> {
        self.products.iter().map(|(k, m)| (*k, m.iri.as_str()))
    }
}
