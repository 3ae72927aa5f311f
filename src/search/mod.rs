//! Product search: the keyword index (`text`, tantivy), semantic retrieval over stored
//! embeddings (`dense`), query understanding against the graph's vocabulary (`understand`),
//! fusion, graph boosts, filters and facets. The engine feeds it product documents read from
//! the graph and keeps it in step with every write; it never reads the store itself.

pub mod dense;
mod facets;
pub mod text;
pub mod understand;

pub use facets::Facets;
pub use understand::{Interpretation, Kind, Matched, PriceRange, Vocabulary};

use dense::DenseIndex;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use text::{TextIndex, TextQuery};
use understand::PhraseTable;

/// Errors of search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index files could not be read or written.
    #[error("search index {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// tantivy refused (a corrupt or locked index).
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The request is not one search can answer (empty, too long, bad paging).
    #[error("{0}")]
    Input(String),
}

impl SearchError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

/// Longest query text read (characters).
pub const MAX_QUERY_CHARS: usize = 500;
/// Most results per page.
pub const MAX_K: usize = 100;
/// Deepest page start.
pub const MAX_OFFSET: usize = 10_000;
/// Candidates semantic retrieval adds to the match set.
pub const DENSE_CANDIDATES: usize = 200;
/// Reciprocal-rank-fusion constant (the usual 60).
const RRF_K: f32 = 60.0;

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
struct Interner<T> {
    items: Vec<T>,
    index: HashMap<String, u32>,
}

impl<T> Interner<T> {
    fn id(&mut self, key: &str, make: impl FnOnce() -> T) -> u32 {
        if let Some(i) = self.index.get(key) {
            return *i;
        }
        let i = self.items.len() as u32;
        self.items.push(make());
        self.index.insert(key.to_owned(), i);
        i
    }
    fn get(&self, key: &str) -> Option<u32> {
        self.index.get(key).copied()
    }
}

/// The in-memory side of the index: product facts, the vocabulary and the tree.
#[derive(Debug, Default, Clone)]
pub struct Catalogue {
    products: KeyMap<Meta>,
    vocab: Vocabulary,
    table: Arc<PhraseTable>,
    tree: Tree,
    mean_rating: f64,
    categories: Interner<String>,
    brands: Interner<(String, String)>,
}

impl Catalogue {
    fn meta(&mut self, doc: &ProductDoc) -> Meta {
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

    fn new(docs: &[ProductDoc], vocab: Vocabulary, tree: Tree) -> Self {
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

    fn rate(&mut self) {
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

/// Which retrieval paths a search uses (the full pipeline by default; the others for
/// comparisons).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Keywords, meaning, the graph's understanding and boosts.
    #[default]
    Full,
    /// Keywords and meaning fused, without understanding or boosts.
    Hybrid,
    /// BM25 only.
    Keyword,
    /// Embeddings only.
    Semantic,
}

/// A search request.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// What the shopper typed.
    pub q: String,
    /// Results per page.
    pub k: usize,
    /// Results skipped.
    pub offset: usize,
    /// Category filters (IRIs), descendants included; several are alternatives.
    pub categories: Vec<String>,
    /// Brand filters (IRIs or names, case-insensitive).
    pub brands: Vec<String>,
    /// Price range.
    pub min_price: Option<f64>,
    /// Price range.
    pub max_price: Option<f64>,
    /// Lowest mean rating.
    pub min_rating: Option<f64>,
    /// Aspects (IRIs) whose reviews must be more positive than negative.
    pub aspects: Vec<String>,
    /// Only products in stock.
    pub in_stock: bool,
    /// Paths used.
    pub mode: Mode,
    /// Weight of the shopper's recommender scores in the final order (0: none).
    pub personal_weight: f32,
    /// Count facets.
    pub facets: bool,
}

impl SearchRequest {
    /// Checks the paging and the text (a clear error for what search cannot answer).
    pub fn check(&self) -> Result<(), SearchError> {
        if self.q.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::Input(format!("q is longer than {MAX_QUERY_CHARS} characters")));
        }
        if self.k == 0 || self.k > MAX_K {
            return Err(SearchError::Input(format!("k must be between 1 and {MAX_K}")));
        }
        if self.offset > MAX_OFFSET {
            return Err(SearchError::Input(format!("offset must be at most {MAX_OFFSET}")));
        }
        if !(0.0..=1.0).contains(&self.personal_weight) || self.personal_weight.is_nan() {
            return Err(SearchError::Input("personal_weight must be between 0 and 1".into()));
        }
        for p in [self.min_price, self.max_price, self.min_rating].into_iter().flatten() {
            if !p.is_finite() || p < 0.0 {
                return Err(SearchError::Input("prices and ratings must be finite and not negative".into()));
            }
        }
        let browse = self.q.trim().is_empty();
        let filtered = !self.categories.is_empty() || !self.brands.is_empty() || !self.aspects.is_empty();
        if browse && !filtered {
            return Err(SearchError::Input(
                "q is empty: give words to search for, or a category or brand to browse".into(),
            ));
        }
        Ok(())
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

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Product IRI.
    pub item: String,
    /// Shop id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Final score (higher first).
    pub score: f32,
    /// Price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Why it matched.
    pub why: Why,
}

/// A search answer.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Products matching (all pages).
    pub total: usize,
    /// This page.
    pub results: Vec<Hit>,
    /// Counts over every match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
    /// How the query was read.
    pub interpretation: Interpretation,
}

/// What the engine adds to a search: the query's embedding and the shopper's scores.
#[derive(Debug, Default)]
pub struct Context {
    /// The query embedded with the encoder of the stored vectors.
    pub vector: Option<Vec<f32>>,
    /// Why there is no vector (shown in the interpretation).
    pub semantic_note: String,
    /// Recommender scores for the shopper, by product key.
    pub personal: Option<KeyMap<f32>>,
}

/// A suggestion for a prefix.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// What it is: `category`, `brand` or `product`.
    pub kind: &'static str,
    /// Text to show.
    pub label: String,
    /// IRI.
    pub iri: String,
    /// Products it covers.
    pub products: usize,
}

/// A candidate's place in each list and its fused score.
#[derive(Debug, Clone, Default)]
struct Cand {
    fused: f32,
    keyword: Option<(usize, f32)>,
    semantic: Option<(usize, f32)>,
}

/// How the graph reorders candidates: review aspects the query named, attribute values,
/// ratings (shrunk to the catalogue mean), stock.
struct Ranking<'a> {
    tuning: Tuning,
    named_cats: &'a [u32],
    full: bool,
    browse: bool,
    aspects: Vec<&'a Matched>,
    attributes: Vec<&'a Matched>,
    mean_rating: f64,
}

impl Ranking<'_> {
    fn boost(&self, m: &Meta) -> f32 {
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

    fn score(&self, m: &Meta, c: &Cand) -> f32 {
        if self.browse { m.rating.map_or(0.0, |r| r.0 as f32) } else { c.fused * self.boost(m) }
    }

    fn explain(&self, m: &Meta, c: &Cand) -> Why {
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

/// The search service: keyword index, catalogue, dense index.
#[derive(Debug)]
pub struct Search {
    text: TextIndex,
    catalogue: RwLock<Arc<Catalogue>>,
    dense: RwLock<Option<(u64, Arc<DenseIndex>)>>,
    dir: Option<PathBuf>,
    /// A catalogue was installed (before that, writes are not followed: the next open rebuilds).
    ready: AtomicBool,
    /// An update failed: the index may miss a write until the next rebuild.
    behind: AtomicBool,
}

/// Marker that the index may be behind the graph (a write between the two commits was cut).
const DIRTY: &str = "dirty";

impl Search {
    /// Opens the index in `dir` (in memory without one). The flag says it must be rebuilt from
    /// the graph: new, of another schema version, or not closed cleanly (a write may have
    /// reached the graph and not the index).
    pub fn open(dir: Option<&Path>) -> Result<(Self, bool), SearchError> {
        let (text, fresh) = TextIndex::open(dir)?;
        let dirty = dir.is_some_and(|d| d.join(DIRTY).exists());
        let s = Self {
            text,
            catalogue: Default::default(),
            dense: Default::default(),
            dir: dir.map(Path::to_path_buf),
            ready: AtomicBool::new(false),
            behind: AtomicBool::new(false),
        };
        s.mark_dirty()?;
        Ok((s, fresh || dirty))
    }

    fn mark_dirty(&self) -> Result<(), SearchError> {
        if let Some(d) = &self.dir {
            let p = d.join(DIRTY);
            let f = std::fs::File::create(&p).map_err(|e| SearchError::io(&p, e))?;
            f.sync_all().map_err(|e| SearchError::io(&p, e))?;
        }
        Ok(())
    }

    /// Records a clean stop when the index holds every write the graph holds (it followed
    /// every write since it was installed, and none failed).
    pub fn close(&self) {
        if !self.ready.load(Ordering::SeqCst) || self.behind.load(Ordering::SeqCst) {
            return;
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_file(d.join(DIRTY));
        }
    }

    /// Whether a catalogue is installed (writes are followed from then on).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Notes that an update failed: the next open rebuilds.
    pub fn fell_behind(&self) {
        self.behind.store(true, Ordering::SeqCst);
    }

    /// The category tree of the installed catalogue.
    pub fn catalogue_tree(&self) -> Tree {
        self.catalogue().tree.clone()
    }

    /// The catalogue snapshot.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        Arc::clone(&self.catalogue.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Documents in the keyword index.
    pub fn indexed(&self) -> u64 {
        self.text.len()
    }

    /// Installs a whole catalogue; `reindex` also rewrites the keyword index (otherwise the
    /// saved one is kept: it is in step with the graph).
    pub fn install(
        &self,
        docs: &[ProductDoc],
        vocab: Vocabulary,
        tree: Tree,
        reindex: bool,
    ) -> Result<(), SearchError> {
        if reindex {
            self.text.replace_all(docs)?;
        }
        *self.catalogue.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Catalogue::new(docs, vocab, tree));
        if reindex {
            self.behind.store(false, Ordering::SeqCst);
        }
        self.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Replaces some products and removes others (by IRI), in the keyword index and in memory.
    pub fn update(&self, docs: &[ProductDoc], gone: &[String]) -> Result<(), SearchError> {
        let gone_keys: Vec<u64> = gone.iter().map(|g| key(g)).collect();
        self.text.update(docs, &gone_keys)?;
        let mut slot = self.catalogue.write().unwrap_or_else(|p| p.into_inner());
        let mut next = (**slot).clone();
        for k in &gone_keys {
            next.products.remove(k);
        }
        for d in docs {
            let m = next.meta(d);
            next.products.insert(d.key, m);
        }
        next.rate();
        *slot = Arc::new(next);
        Ok(())
    }

    /// The dense index built from `source` (an id of the embedding snapshot), building it
    /// with `entries` when the snapshot changed.
    pub fn dense(&self, source: u64, entries: impl FnOnce() -> (Vec<(u64, Vec<f32>)>, usize)) -> Arc<DenseIndex> {
        if let Some((s, ix)) = self.dense.read().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *s == source
        {
            return Arc::clone(ix);
        }
        let (entries, dim) = entries();
        let ix = Arc::new(DenseIndex::new(entries, dim, dense::IVF_MIN));
        *self.dense.write().unwrap_or_else(|p| p.into_inner()) = Some((source, Arc::clone(&ix)));
        ix
    }

    /// Reads a query against the vocabulary.
    pub fn interpret(&self, q: &str) -> Interpretation {
        let c = self.catalogue();
        understand::interpret(q, &c.vocab, &c.table, &|w| self.text.doc_freq(w) <= 2)
    }

    /// Runs a search. `dense` is the semantic index (when embeddings exist).
    pub fn search(
        &self,
        req: &SearchRequest,
        ctx: &Context,
        dense: Option<&DenseIndex>,
    ) -> Result<SearchResponse, SearchError> {
        req.check()?;
        let cat = self.catalogue();
        let full = req.mode == Mode::Full;
        let rare = |w: &str| self.text.doc_freq(w) <= 2;
        let mut interp = if full {
            understand::interpret(&req.q, &cat.vocab, &cat.table, &rare)
        } else {
            Interpretation { keywords: req.q.clone(), ..Default::default() }
        };

        // Keyword hits.
        let mut keyword: Vec<(u64, f32)> = Vec::new();
        if req.mode != Mode::Semantic && !interp.keywords.trim().is_empty() {
            let expansions = interp.synonyms.iter().map(|s| (s.clone(), 0.6)).collect();
            let t = Tuning::current();
            let (hits, fuzzy) = self.text.search(&TextQuery {
                text: interp.keywords.clone(),
                expansions,
                tie_breaker: t.tie_breaker,
                review_weight: t.review_weight,
            })?;
            keyword = hits;
            interp.fuzzy.extend(fuzzy.into_iter().map(|w| format!("{w} ~ (by edit distance)")));
            keyword.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        // Semantic hits.
        let mut semantic: Vec<(u64, f32)> = Vec::new();
        interp.semantic = match (req.mode != Mode::Keyword, &ctx.vector, dense) {
            (false, _, _) => "off".into(),
            (true, Some(v), Some(ix)) if !ix.is_empty() && !req.q.trim().is_empty() => {
                semantic = ix.nearest(v, DENSE_CANDIDATES, false);
                semantic.retain(|(k, _)| cat.products.contains_key(k));
                format!(
                    "{} of {} products with embeddings{}",
                    semantic.len(),
                    ix.len(),
                    if ix.approximate() { " (cells probed)" } else { "" }
                )
            }
            (true, _, _) if !ctx.semantic_note.is_empty() => ctx.semantic_note.clone(),
            _ => "no product embeddings".into(),
        };

        // Candidates with fused scores. One list alone keeps its own scores (ranks would throw
        // away its margins); two are fused by reciprocal rank.
        let mut cands: KeyMap<Cand> = KeyMap::default();
        cands.reserve(keyword.len() + semantic.len());
        let tuning = Tuning::current();
        let fuse = !(keyword.is_empty() || semantic.is_empty()) && matches!(req.mode, Mode::Full | Mode::Hybrid);
        for (list, is_kw) in [(&keyword, true), (&semantic, false)] {
            for (rank, (k, s)) in list.iter().enumerate() {
                let c = cands.entry(*k).or_default();
                if is_kw {
                    c.keyword = Some((rank + 1, *s));
                } else {
                    c.semantic = Some((rank + 1, *s));
                }
                let w = if is_kw { tuning.keyword_weight } else { tuning.semantic_weight };
                c.fused += if fuse { w / (RRF_K + rank as f32 + 1.0) } else { *s };
            }
        }
        let browse = req.q.trim().is_empty() || (cands.is_empty() && interp.keywords.trim().is_empty());
        if browse {
            for k in cat.products.keys() {
                cands.entry(*k).or_default();
            }
        }

        // Filters: the request's, then the query's.
        let priced = cat.products.values().any(|m| m.price.is_some());
        if interp.price.is_some() && !priced {
            interp.notes.push("no product has a price: the price phrase is not applied".into());
            interp.price = None;
        }
        let price = interp.price.clone().unwrap_or_default();
        let (lo, hi) = (req.min_price.or(price.min), req.max_price.or(price.max));
        let want_cats: Vec<u32> = req.categories.iter().filter_map(|c| cat.categories.get(c)).collect();
        let want_brands: Vec<u32> = (0..cat.brands.items.len() as u32)
            .filter(|i| {
                let (iri, name) = cat.brand(*i);
                req.brands.iter().any(|b| iri == b || name.eq_ignore_ascii_case(b))
            })
            .collect();
        let passes = |m: &Meta| -> bool {
            (req.categories.is_empty() || m.categories.iter().any(|c| want_cats.contains(c)))
                && (req.brands.is_empty() || m.brand.is_some_and(|b| want_brands.contains(&b)))
                && lo.is_none_or(|l| m.price.is_some_and(|p| p >= l))
                && hi.is_none_or(|h| m.price.is_some_and(|p| p <= h))
                && req.min_rating.is_none_or(|r| m.rating.is_some_and(|(x, _)| x >= r))
                && (!req.in_stock || m.in_stock != Some(false))
                && req.aspects.iter().all(|a| m.aspects.iter().any(|(x, p, n)| x == a && p > n))
        };
        let mut kept: Vec<(u64, &Meta, &Cand)> =
            cands.iter().filter_map(|(k, c)| cat.products.get(k).filter(|m| passes(m)).map(|m| (*k, m, c))).collect();
        // The concepts the query named, as catalogue indexes.
        let named_cats: Vec<u32> = interp
            .matched
            .iter()
            .filter(|m| m.kind == Kind::Category)
            .filter_map(|m| cat.categories.get(&m.iri))
            .collect();
        let named_brands: Vec<u32> =
            interp.matched.iter().filter(|m| m.kind == Kind::Brand).filter_map(|m| cat.brands.get(&m.iri)).collect();
        if full {
            for kind in [Kind::Category, Kind::Brand] {
                let labels: Vec<&str> =
                    interp.matched.iter().filter(|m| m.kind == kind).map(|m| m.label.as_str()).collect();
                if labels.is_empty() {
                    continue;
                }
                // A named category ranks its products first without hiding the rest: "lounge
                // pants" are in Loungewear, not in Pants.
                if kind == Kind::Category && tuning.category_boost > 0.0 {
                    interp.notes.push(format!("{} ranked first", labels.join(" or ")));
                    continue;
                }
                let keep = |m: &Meta| match kind {
                    Kind::Category => m.categories.iter().any(|c| named_cats.contains(c)),
                    _ => m.brand.is_some_and(|b| named_brands.contains(&b)),
                };
                let narrowed: Vec<(u64, &Meta, &Cand)> = kept.iter().copied().filter(|(_, m, _)| keep(m)).collect();
                let labels = labels.join(" or ");
                if narrowed.is_empty() {
                    interp.notes.push(format!("nothing matched within {labels}: read as keywords only"));
                } else {
                    interp.notes.push(format!("filtered to {labels}"));
                    kept = narrowed;
                }
            }
        }

        // Graph boosts and the shopper's taste.
        let ranking = Ranking {
            tuning,
            named_cats: &named_cats,
            full,
            browse,
            aspects: interp.matched.iter().filter(|m| m.kind == Kind::Aspect).collect(),
            attributes: interp.matched.iter().filter(|m| m.kind == Kind::Attribute).collect(),
            mean_rating: cat.mean_rating,
        };
        let personal = ctx.personal.as_ref().filter(|_| req.personal_weight > 0.0);
        let (pmin, pmax) = personal.map_or((0.0, 1.0), |p| {
            kept.iter().filter_map(|(k, _, _)| p.get(k)).fold((f32::MAX, f32::MIN), |(a, b), s| (a.min(*s), b.max(*s)))
        });
        let top = kept.iter().map(|(_, _, c)| c.fused).fold(0f32, f32::max).max(1e-9);
        let personal_norm = |k: &u64| personal.map(|p| p.get(k).map_or(0.0, |s| (s - pmin) / (pmax - pmin).max(1e-9)));
        let mut scored: Vec<(u64, f32)> = kept
            .iter()
            .map(|(k, m, c)| {
                let mut s = ranking.score(m, c);
                if let Some(norm) = personal_norm(k) {
                    s = s * (1.0 - req.personal_weight) + req.personal_weight * norm * top;
                }
                (*k, s)
            })
            .collect();
        scored.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let facets = req.facets.then(|| Facets::count(&cat, scored.iter().map(|(k, _)| k)));
        let results = scored
            .iter()
            .skip(req.offset)
            .take(req.k)
            .map(|(k, s)| {
                let m = &cat.products[k];
                let c = cands.get(k).cloned().unwrap_or_default();
                let mut why = ranking.explain(m, &c);
                for n in &interp.matched {
                    let has = match n.kind {
                        Kind::Category => cat.categories.get(&n.iri).is_some_and(|i| m.categories.contains(&i)),
                        Kind::Brand => cat.brands.get(&n.iri).is_some_and(|i| m.brand == Some(i)),
                        _ => false,
                    };
                    if has {
                        why.matched.push(n.label.clone());
                    }
                }
                why.personal = personal_norm(k);
                Hit { item: m.iri.clone(), id: m.id.clone(), name: m.name.clone(), score: *s, price: m.price, why }
            })
            .collect();
        Ok(SearchResponse { total: scored.len(), results, facets, interpretation: interp })
    }

    /// Completions of a prefix: categories and brands by how many products they hold, then
    /// product names.
    pub fn suggest(&self, prefix: &str, k: usize) -> Vec<Suggestion> {
        let p = prefix.trim().to_lowercase();
        if p.is_empty() {
            return Vec::new();
        }
        let starts = |label: &str| {
            let l = label.to_lowercase();
            l.starts_with(&p) || l.split([' ', '&', '-', ',']).any(|w| !w.is_empty() && w.starts_with(&p))
        };
        let cat = self.catalogue();
        let mut per_cat = vec![0usize; cat.categories.items.len()];
        let mut per_brand = vec![0usize; cat.brands.items.len()];
        for m in cat.products.values() {
            for c in &m.categories {
                per_cat[*c as usize] += 1;
            }
            if let Some(b) = m.brand {
                per_brand[b as usize] += 1;
            }
        }
        let mut out: Vec<Suggestion> = Vec::new();
        for c in &cat.vocab.categories {
            if starts(&c.label) || c.alt.iter().any(|a| starts(a)) {
                let n = cat.categories.get(&c.iri).map_or(0, |i| per_cat[i as usize]);
                out.push(Suggestion { kind: "category", label: c.label.clone(), iri: c.iri.clone(), products: n });
            }
        }
        for b in &cat.vocab.brands {
            if starts(&b.label) {
                let n = cat.brands.get(&b.iri).map_or(0, |i| per_brand[i as usize]);
                out.push(Suggestion { kind: "brand", label: b.label.clone(), iri: b.iri.clone(), products: n });
            }
        }
        out.retain(|s| s.products > 0);
        out.sort_by(|a, b| b.products.cmp(&a.products).then(a.label.cmp(&b.label)));
        let mut products: Vec<&Meta> = cat.products.values().filter(|m| starts(&m.name)).collect();
        products
            .sort_by(|a, b| b.rating.map_or(0, |r| r.1).cmp(&a.rating.map_or(0, |r| r.1)).then(a.name.cmp(&b.name)));
        out.extend(products.into_iter().take(k).map(|m| Suggestion {
            kind: "product",
            label: m.name.clone(),
            iri: m.iri.clone(),
            products: 1,
        }));
        out.truncate(k);
        out
    }

    /// Keys in the keyword index that the catalogue lacks and the reverse (both empty when
    /// the two agree).
    pub fn drift(&self) -> Result<(usize, usize), SearchError> {
        let cat = self.catalogue();
        let keys: HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>> = self.text.keys()?.into_iter().collect();
        let extra = keys.iter().filter(|k| !cat.products.contains_key(k)).count();
        let missing = cat.products.keys().filter(|k| !keys.contains(k)).count();
        Ok((extra, missing))
    }
}
