//! Product search: the keyword index (`text`, tantivy), semantic retrieval over stored
//! embeddings (`dense`), query understanding against the graph's vocabulary (`understand`),
//! fusion, graph boosts, filters and facets. The engine feeds it product documents read from
//! the graph and keeps it in step with every write; it never reads the store itself.

mod catalogue;
pub mod dense;
mod facets;
mod rank;
pub mod text;
pub mod understand;

pub use catalogue::{Catalogue, KeyHasher, KeyMap, Meta, ProductDoc, Tree, key};
pub use facets::Facets;
pub use rank::{AspectEvidence, Tuning, Why};
pub use understand::{Interpretation, Kind, Matched, PriceRange, Vocabulary};

use dense::DenseIndex;
use rank::{Cand, RRF_K, Ranking};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use text::{TextIndex, TextQuery};

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

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "full" => Mode::Full,
            "hybrid" => Mode::Hybrid,
            "keyword" => Mode::Keyword,
            "semantic" => Mode::Semantic,
            other => return Err(format!("mode must be full, hybrid, keyword or semantic, got {other:?}")),
        })
    }
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
        self.close_untouched();
    }

    /// Records a clean stop of a session that never read the catalogue and wrote nothing that
    /// concerns products: the index is as it was when opened (the caller knows it was clean).
    pub fn close_untouched(&self) {
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

    /// Commits to the keyword index since it was opened (each a new segment).
    pub fn index_commits(&self) -> u64 {
        self.text.commits()
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
        if interp.price.is_some() && !cat.priced {
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
        // Only the page needs an order: the rest of the match set is counted, not ranked.
        let order = |a: &(u64, f32), b: &(u64, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let end = (req.offset + req.k).min(scored.len());
        if end > 0 && end < scored.len() {
            scored.select_nth_unstable_by(end - 1, order);
        }
        scored[..end].sort_unstable_by(order);
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
