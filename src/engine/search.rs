//! Product search over the graph: product documents and the vocabulary read from the store,
//! the index kept in step with every commit (the products a write touched are re-read and
//! re-indexed before the write returns), the query's embedding, the shopper's scores.

use super::{Engine, EngineError};
use crate::ontology::{product_id_from_iri, vocab};
use crate::search::{self, Context, ProductDoc, SearchRequest, SearchResponse, Tree, Vocabulary, understand::Concept};
use crate::store::Delta;
use crate::store::model::{GraphName, NamedNode, Quad, Term};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

fn nn(iri: &str) -> NamedNode {
    NamedNode::new_unchecked(iri)
}

fn text(t: &Option<Term>) -> Option<String> {
    match t {
        Some(Term::Literal(l)) => Some(l.value().to_owned()),
        Some(Term::NamedNode(n)) => Some(n.as_str().to_owned()),
        _ => None,
    }
}

/// More products than this touched by one write: the whole catalogue is re-read (one pass
/// over the graph is cheaper than many bound queries).
const FULL_READ_OVER: usize = 200;

/// Predicates whose subject is a product.
const PRODUCT_PREDICATES: [&str; 8] = [
    vocab::NAME,
    vocab::DESCRIPTION,
    vocab::HAS_BRAND,
    vocab::HAS_CATEGORY,
    vocab::SOURCE_CATEGORY,
    vocab::HAS_OFFER,
    vocab::PRODUCT_ID,
    vocab::HAS_ATTRIBUTE,
];

impl Engine {
    /// The search service, its catalogue read first if it is not yet.
    pub fn search_service(&self) -> Result<&Arc<search::Search>, EngineError> {
        self.ensure_search()?;
        Ok(&self.search)
    }

    /// Reads the catalogue (and rewrites the index when it is stale) unless that happened:
    /// `serve` calls it at start so that every write is followed from then on; commands that
    /// never search do not pay for it (a write before it marks the index stale).
    pub fn ensure_search(&self) -> Result<(), EngineError> {
        if self.search.is_ready() {
            return Ok(());
        }
        let _one = self.search_loading.lock().unwrap_or_else(|p| p.into_inner());
        if self.search.is_ready() {
            return Ok(());
        }
        self.rebuild_search(self.search_stale.load(std::sync::atomic::Ordering::SeqCst)).map(drop)
    }

    /// Reads the catalogue and the vocabulary from the graph; with `reindex` the keyword index
    /// is rewritten too. Run on open (rewriting when the index is new or was not closed
    /// cleanly) and by `shopgraph search --rebuild`.
    pub fn rebuild_search(&self, reindex: bool) -> Result<usize, EngineError> {
        let started = std::time::Instant::now();
        let (cats, brands, tree) = self.read_vocabulary()?;
        let docs = self.product_docs(None, &tree)?;
        let vocab = self.search_vocabulary(&docs, cats, brands, &tree)?;
        self.search.install(&docs, vocab, tree, reindex).map_err(EngineError::Search)?;
        // A graph written without the index following (another tool, or a crash before the
        // index committed) shows as products one side lacks.
        if !reindex && self.search.drift().map_err(EngineError::Search)? != (0, 0) {
            log::warn!("search: the index and the graph disagree; rewriting the index");
            return self.rebuild_search(true);
        }
        log::info!(
            "search: {} products{} in {:.1}s",
            docs.len(),
            if reindex { " indexed" } else { "" },
            started.elapsed().as_secs_f64()
        );
        Ok(docs.len())
    }

    /// Product documents: every product, or the given ones (IRIs).
    fn product_docs(&self, only: Option<&[String]>, tree: &Tree) -> Result<Vec<ProductDoc>, EngineError> {
        let mut docs: HashMap<String, ProductDoc> = HashMap::new();
        let targets: Vec<Option<&String>> = match only {
            None => vec![None],
            Some(list) => list.iter().map(Some).collect(),
        };
        for target in targets {
            let bind: Vec<(String, Term)> = target.map(|p| ("product".to_owned(), nn(p).into())).into_iter().collect();
            let cols = [
                "product",
                "id",
                "name",
                "description",
                "brand",
                "brandName",
                "category",
                "source",
                "price",
                "availability",
            ];
            for row in self.internal("search-products", &bind, &cols)? {
                let Some(Term::NamedNode(p)) = &row[0] else { continue };
                let d = docs.entry(p.as_str().to_owned()).or_insert_with(|| ProductDoc {
                    key: search::key(p.as_str()),
                    iri: p.as_str().to_owned(),
                    id: text(&row[1]).unwrap_or_default(),
                    ..Default::default()
                });
                let push = |v: &mut Vec<String>, x: Option<String>| {
                    if let Some(x) = x
                        && !v.contains(&x)
                    {
                        v.push(x);
                    }
                };
                if d.name.is_none() {
                    d.name = text(&row[2]);
                }
                if d.description.is_none() {
                    d.description = text(&row[3]);
                }
                if let (Some(b), None) = (text(&row[4]), &d.brand) {
                    let name = text(&row[5]).unwrap_or_else(|| b.rsplit('/').next().unwrap_or("").to_owned());
                    d.brand = Some((b, name));
                }
                push(&mut d.categories, text(&row[6]));
                push(&mut d.category_text, text(&row[7]));
                if let Some(p) = text(&row[8]).and_then(|p| p.parse::<f64>().ok()).filter(|p| p.is_finite()) {
                    d.price = Some(d.price.map_or(p, |q: f64| q.min(p)));
                }
                if let Some(a) = text(&row[9]) {
                    let available = a != vocab::SCHEMA_OUT_OF_STOCK;
                    d.in_stock = Some(d.in_stock.unwrap_or(false) || available);
                }
            }
            for row in self.internal("search-reviews", &bind, &["product", "title", "text", "rating"])? {
                let Some(d) = text(&row[0]).and_then(|p| docs.get_mut(&p)) else { continue };
                let review: Vec<String> = [text(&row[1]), text(&row[2])].into_iter().flatten().collect();
                if !review.is_empty() {
                    d.review_text.push(review.join(". "));
                }
                if let Some(r) = text(&row[3]).and_then(|r| r.parse::<f64>().ok()).filter(|r| r.is_finite()) {
                    d.rating_sum += r;
                    d.ratings += 1;
                }
            }
            let mut seen = std::collections::HashSet::new();
            for row in self.internal("search-facts", &bind, &["product", "aspect", "sentiment", "mention", "value"])? {
                let Some(d) = text(&row[0]).and_then(|p| docs.get_mut(&p)) else { continue };
                if let (Some(a), Some(s), Some(m)) = (text(&row[1]), text(&row[2]), text(&row[3])) {
                    if !seen.insert(m) {
                        continue;
                    }
                    let i = match d.aspects.iter().position(|x| x.0 == a) {
                        Some(i) => i,
                        None => {
                            d.aspects.push((a, 0, 0));
                            d.aspects.len() - 1
                        }
                    };
                    match s.as_str() {
                        "positive" => d.aspects[i].1 += 1,
                        "negative" => d.aspects[i].2 += 1,
                        _ => {}
                    }
                }
                if let Some(v) = text(&row[4])
                    && !d.attributes.contains(&v)
                {
                    d.attributes.push(v);
                }
            }
        }
        // Labels: the categories' (and their parents'), the attribute values'.
        let attr_labels: HashMap<String, String> =
            self.attribute_concepts()?.into_iter().map(|(c, _)| (c.iri.clone(), c.label)).collect();
        let mut out: Vec<ProductDoc> = docs.into_values().collect();
        for d in &mut out {
            let mut labels = Vec::new();
            for c in &d.categories {
                for a in tree.closure(c).into_iter().take(2) {
                    if let Some(l) = tree.labels.get(&a)
                        && !labels.contains(l)
                    {
                        labels.push(l.clone());
                    }
                }
            }
            labels.append(&mut d.category_text);
            d.category_text = labels;
            d.attribute_labels = d.attributes.iter().filter_map(|a| attr_labels.get(a).cloned()).collect();
        }
        out.sort_by(|a, b| a.iri.cmp(&b.iri));
        Ok(out)
    }

    /// Attribute values and aspects from the extraction lexicon (label, every alternative).
    fn attribute_concepts(&self) -> Result<Vec<(Concept, String)>, EngineError> {
        let mut by: HashMap<String, (Concept, String)> = HashMap::new();
        for row in self.internal("lexicon", &[], &["concept", "kind", "label", "term"])? {
            let (Some(c), Some(kind), Some(label), Some(term)) =
                (text(&row[0]), text(&row[1]), text(&row[2]), text(&row[3]))
            else {
                continue;
            };
            let e = by
                .entry(c.clone())
                .or_insert_with(|| (Concept { iri: c, label: label.clone(), alt: Vec::new() }, kind));
            if term != label && !e.0.alt.contains(&term) {
                e.0.alt.push(term);
            }
        }
        let mut v: Vec<_> = by.into_values().collect();
        v.sort_by(|a, b| a.0.iri.cmp(&b.0.iri));
        Ok(v)
    }

    /// Categories (with the tree) and brands.
    #[allow(clippy::type_complexity)]
    fn read_vocabulary(&self) -> Result<(HashMap<String, Concept>, HashMap<String, Concept>, Tree), EngineError> {
        let mut tree = Tree::default();
        let mut cats: HashMap<String, Concept> = HashMap::new();
        let mut brands: HashMap<String, Concept> = HashMap::new();
        for row in self.internal("search-vocabulary", &[], &["kind", "concept", "label", "alt", "broader"])? {
            let (Some(kind), Some(c), Some(label)) = (text(&row[0]), text(&row[1]), text(&row[2])) else { continue };
            let map = if kind == "brand" { &mut brands } else { &mut cats };
            let e = map.entry(c.clone()).or_insert_with(|| Concept {
                iri: c.clone(),
                label: label.clone(),
                alt: Vec::new(),
            });
            if let Some(a) = text(&row[3])
                && !e.alt.contains(&a)
            {
                e.alt.push(a);
            }
            if kind != "brand" {
                tree.labels.insert(c.clone(), label);
                if let Some(b) = text(&row[4]) {
                    let ps = tree.parents.entry(c).or_default();
                    if !ps.contains(&b) {
                        ps.push(b);
                    }
                }
            }
        }
        Ok((cats, brands, tree))
    }

    fn search_vocabulary(
        &self,
        docs: &[ProductDoc],
        cats: HashMap<String, Concept>,
        brands: HashMap<String, Concept>,
        tree: &Tree,
    ) -> Result<Vocabulary, EngineError> {
        // Only categories that hold products: "Bags" must not filter a clothing shop's query.
        let mut live = BTreeSet::new();
        for d in docs {
            for c in &d.categories {
                live.extend(tree.closure(c));
            }
        }
        let mut vocab = Vocabulary {
            categories: live.iter().filter_map(|c| cats.get(c).cloned()).collect(),
            brands: brands.into_values().collect(),
            ..Default::default()
        };
        vocab.brands.sort_by(|a, b| a.iri.cmp(&b.iri));
        for (c, kind) in self.attribute_concepts()? {
            if kind == "aspect" {
                vocab.aspects.push(c);
            } else {
                vocab.attributes.push((c, kind));
            }
        }
        Ok(vocab)
    }

    /// Runs a search: the query embedded for semantic retrieval when product embeddings
    /// exist, the shopper's recommender scores when `user` is given.
    pub fn search(&self, req: &SearchRequest, user: Option<&str>) -> Result<SearchResponse, EngineError> {
        req.check().map_err(EngineError::Search)?;
        self.ensure_search()?;
        let mut ctx = Context::default();
        let mut dense = None;
        if req.mode != search::Mode::Keyword && !req.q.trim().is_empty() {
            match self.dense_index() {
                Ok(ix) if !ix.is_empty() => match self.semantic.embed_text(&req.q) {
                    Ok(v) => {
                        ctx.vector = Some(v);
                        dense = Some(ix);
                    }
                    Err(e) => ctx.semantic_note = format!("off: {e}"),
                },
                Ok(_) => ctx.semantic_note = "off: no product embeddings yet (run `shopgraph extract`)".into(),
                Err(e) => ctx.semantic_note = format!("off: {e}"),
            }
        }
        if let Some(u) = user
            && req.personal_weight > 0.0
            && let Ok(live) = self.rec.current()
            && let Some(scores) = live.user_scores(&self.user_key(u))
        {
            let by_key = live
                .trained
                .items
                .iter()
                .zip(scores)
                .map(|(id, s)| (search::key(self.minter.product(id).as_str()), s))
                .collect();
            ctx.personal = Some(by_key);
        }
        self.search.search(req, &ctx, dense.as_deref()).map_err(EngineError::Search)
    }

    /// The dense index over the products' stored embeddings (rebuilt when extraction swaps in
    /// a new embedding snapshot).
    pub fn dense_index(&self) -> Result<Arc<search::dense::DenseIndex>, EngineError> {
        let ix = self.semantic.index().map_err(EngineError::Extract)?;
        let source = Arc::as_ptr(&ix) as usize as u64 ^ ix.len() as u64;
        let cat = self.search.catalogue();
        Ok(self.search.dense(source, || {
            let entries = cat.iris().filter_map(|(k, iri)| ix.get(iri).map(|v| (k, v.to_vec()))).collect();
            (entries, ix.dim)
        }))
    }

    /// Called after every commit: re-reads and re-indexes the products the write touched (or
    /// everything when the store cannot say what changed).
    pub(super) fn search_after_write(&self, delta: &Delta<'_>) {
        if !self.search.is_ready() {
            // Not read yet: a write that concerns products makes the first search rewrite the
            // index from the graph.
            let concerns = match delta {
                Delta::Exact { added, removed } => !matches!(self.touched_products(added, removed), Ok(Touched::None)),
                Delta::Unknown { .. } => true,
            };
            if concerns {
                self.search_stale.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            return;
        }
        let r = match delta {
            Delta::Exact { added, removed } => match self.touched_products(added, removed) {
                Ok(Touched::None) => return,
                Ok(Touched::Vocabulary) => self.rebuild_search(true).map(drop),
                Ok(Touched::Products(ps)) if ps.len() > FULL_READ_OVER => self.rebuild_search(true).map(drop),
                Ok(Touched::Products(ps)) => self.reindex_products(&ps),
                Err(e) => Err(e),
            },
            Delta::Unknown { graphs } => {
                let relevant = graphs.as_ref().is_none_or(|gs| {
                    gs.iter().any(|g| match g {
                        GraphName::DefaultGraph => true,
                        GraphName::NamedNode(n) => {
                            n.as_str() == vocab::GRAPH_TAXONOMY
                                || n.as_str() == vocab::GRAPH_ONTOLOGY
                                || n.as_str().starts_with(vocab::GRAPH_EXTRACTION)
                        }
                        GraphName::BlankNode(_) => false,
                    })
                });
                if !relevant {
                    return;
                }
                self.rebuild_search(true).map(drop)
            }
        };
        if let Err(e) = r {
            // The dirty mark stays: the next open rebuilds.
            self.search.fell_behind();
            log::error!("search index update failed ({e}); it is rebuilt on the next start");
        }
    }

    fn reindex_products(&self, products: &[String]) -> Result<(), EngineError> {
        let docs = self.product_docs(Some(products), &self.search.catalogue_tree())?;
        let gone: Vec<String> = products.iter().filter(|p| !docs.iter().any(|d| &d.iri == *p)).cloned().collect();
        self.search.update(&docs, &gone).map_err(EngineError::Search)
    }

    /// The products a write changed, found from its quads (a review's, an offer's or an
    /// aspect mention's product through the store and the write itself).
    fn touched_products(&self, added: &[Quad], removed: &[Quad]) -> Result<Touched, EngineError> {
        let all = || added.iter().chain(removed);
        let mut products = BTreeSet::new();
        let mut reviews = BTreeSet::new();
        let mut offers = BTreeSet::new();
        let mut mentions = BTreeSet::new();
        let mut brands = BTreeSet::new();
        for q in all() {
            let p = q.predicate.as_str();
            let subject = match &q.subject {
                crate::store::model::NamedOrBlankNode::NamedNode(n) => n.as_str().to_owned(),
                _ => continue,
            };
            let in_extraction =
                matches!(&q.graph_name, GraphName::NamedNode(g) if g.as_str().starts_with(vocab::GRAPH_EXTRACTION));
            let in_default = q.graph_name.is_default_graph();
            if !(in_default || in_extraction) {
                if matches!(&q.graph_name, GraphName::NamedNode(g) if g.as_str() == vocab::GRAPH_TAXONOMY) {
                    return Ok(Touched::Vocabulary);
                }
                continue;
            }
            if p == vocab::RDF_TYPE {
                if matches!(&q.object, Term::NamedNode(o) if o.as_str() == vocab::PRODUCT) {
                    products.insert(subject);
                } else if matches!(&q.object, Term::NamedNode(o) if o.as_str() == vocab::BRAND || o.as_str() == vocab::CATEGORY)
                {
                    return Ok(Touched::Vocabulary);
                }
            } else if PRODUCT_PREDICATES.contains(&p) {
                if p == vocab::NAME {
                    brands.insert(subject.clone());
                }
                products.insert(subject);
            } else if p == vocab::REVIEW_OF {
                if let Term::NamedNode(o) = &q.object {
                    products.insert(o.as_str().to_owned());
                }
            } else if [vocab::TITLE, vocab::TEXT, vocab::RATING].contains(&p) {
                reviews.insert(subject);
            } else if [vocab::PRICE, vocab::AVAILABILITY].contains(&p) {
                offers.insert(subject);
            } else if [vocab::HAS_ASPECT, vocab::SENTIMENT, vocab::MENTION_IN].contains(&p) {
                mentions.insert(subject);
                if p == vocab::MENTION_IN
                    && let Term::NamedNode(o) = &q.object
                {
                    reviews.insert(o.as_str().to_owned());
                }
            } else if p.starts_with(vocab::SKOS) {
                return Ok(Touched::Vocabulary);
            }
        }
        if products.is_empty() && reviews.is_empty() && offers.is_empty() && mentions.is_empty() {
            return Ok(Touched::None);
        }
        // Follow links both in the store (after the write) and in the write (what it removed).
        let objects = |s: &str, pred: &str| -> Result<Vec<String>, EngineError> {
            let mut out: Vec<String> = self
                .store
                .pattern(Some(&nn(s).into()), Some(&nn(pred)), None, None)?
                .into_iter()
                .filter_map(|q| match q.object {
                    Term::NamedNode(n) => Some(n.as_str().to_owned()),
                    _ => None,
                })
                .collect();
            out.extend(all().filter(|q| q.predicate.as_str() == pred && matches!(&q.subject, crate::store::model::NamedOrBlankNode::NamedNode(n) if n.as_str() == s)).filter_map(|q| match &q.object {
                Term::NamedNode(n) => Some(n.as_str().to_owned()),
                _ => None,
            }));
            Ok(out)
        };
        let subjects = |o: &str, pred: &str| -> Result<Vec<String>, EngineError> {
            Ok(self
                .store
                .pattern(None, Some(&nn(pred)), Some(&nn(o).into()), None)?
                .into_iter()
                .filter_map(|q| match q.subject {
                    crate::store::model::NamedOrBlankNode::NamedNode(n) => Some(n.as_str().to_owned()),
                    _ => None,
                })
                .collect())
        };
        for m in &mentions {
            reviews.extend(objects(m, vocab::MENTION_IN)?);
        }
        for r in &reviews {
            products.extend(objects(r, vocab::REVIEW_OF)?);
        }
        for o in &offers {
            products.extend(subjects(o, vocab::HAS_OFFER)?);
        }
        for b in &brands {
            products.extend(subjects(b, vocab::HAS_BRAND)?);
        }
        // Only IRIs that are (or were) products.
        let catalogue = self.search.catalogue();
        let products: Vec<String> = products
            .into_iter()
            .filter(|p| {
                catalogue.get(search::key(p)).is_some()
                    || product_id_from_iri(&self.minter, p).is_some()
                    || self
                        .store
                        .contains(&Quad::new(nn(p), nn(vocab::RDF_TYPE), nn(vocab::PRODUCT), GraphName::DefaultGraph))
                        .unwrap_or(false)
            })
            .collect();
        Ok(if products.is_empty() { Touched::None } else { Touched::Products(products) })
    }
}

enum Touched {
    None,
    Vocabulary,
    Products(Vec<String>),
}

/// One search as a shop reports it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PostedSearch {
    /// The shopper's raw id (pseudonymised here), when known.
    user: Option<String>,
    /// The text searched.
    query: String,
    /// Product ids shown, in order.
    shown: Vec<String>,
    /// The product clicked, one of `shown`.
    clicked: Option<String>,
    /// When (RFC 3339); the server's time when absent.
    timestamp: Option<String>,
}

/// What `POST /search/events` stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchEventsAccepted {
    /// Searches logged.
    pub searches: usize,
    /// Clicks also posted as click interactions (with a user).
    pub clicks: usize,
}

/// Click-through of one query (normalised: lower case, single spaces).
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryStats {
    /// The query.
    pub query: String,
    /// Times searched.
    pub searches: usize,
    /// Searches with a click.
    pub clicks: usize,
    /// Clicks per search.
    pub ctr: f64,
    /// Mean position of the clicked result.
    pub mean_click_position: Option<f64>,
    /// Searches that showed nothing.
    pub zero_results: usize,
}

/// Most searches one post may carry.
const MAX_SEARCH_EVENTS: usize = 1_000;

impl Engine {
    /// Logs searches (query, results shown, click) in the search-log graph; a click by a known
    /// shopper is also posted as a click interaction, so it feeds the recommender.
    pub fn post_search_events(self: &Arc<Self>, body: &[u8]) -> Result<SearchEventsAccepted, EngineError> {
        let events: Vec<PostedSearch> = super::json_records(body, "search event")?;
        if events.is_empty() || events.len() > MAX_SEARCH_EVENTS {
            return Err(EngineError::Input(format!("send 1 to {MAX_SEARCH_EVENTS} search events")));
        }
        let now = chrono::Utc::now();
        let g = GraphName::NamedNode(nn(vocab::GRAPH_SEARCH_LOG));
        let mut quads = Vec::new();
        let mut clicks = String::new();
        let mut clicked = 0;
        for (n, e) in events.iter().enumerate() {
            let at = |m: String| EngineError::Input(format!("search event {}: {m}", n + 1));
            let q = e.query.trim();
            if q.is_empty() || q.chars().count() > search::MAX_QUERY_CHARS {
                return Err(at(format!("query must have 1 to {} characters", search::MAX_QUERY_CHARS)));
            }
            if e.shown.len() > 1_000 {
                return Err(at("at most 1000 shown results".into()));
            }
            let position = match &e.clicked {
                None => None,
                Some(c) => Some(
                    e.shown
                        .iter()
                        .position(|s| s == c)
                        .ok_or_else(|| at(format!("clicked {c:?} is not among shown")))?
                        + 1,
                ),
            };
            let ts = match &e.timestamp {
                None => now,
                Some(s) => crate::ingest::clean::parse_timestamp(s).map_err(|m| at(format!("timestamp: {m:?}")))?,
            };
            let stamp = ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            let user = e.user.as_deref().map(|u| self.user_key(u));
            let id = blake3::hash(
                format!("{}\u{1f}{q}\u{1f}{stamp}\u{1f}{:?}\u{1f}{n}", user.as_deref().unwrap_or(""), e.clicked)
                    .as_bytes(),
            )
            .to_hex()[..24]
                .to_owned();
            let node = self.minter.search_event(&id);
            let lit = |v: String| crate::store::model::Literal::new_simple_literal(v);
            let typed = |v: String, dt: &str| crate::store::model::Literal::new_typed_literal(v, nn(dt));
            quads.push(Quad::new(node.clone(), nn(vocab::RDF_TYPE), nn(vocab::SEARCH_EVENT), g.clone()));
            quads.push(Quad::new(node.clone(), nn(vocab::QUERY_TEXT), lit(q.to_owned()), g.clone()));
            quads.push(Quad::new(
                node.clone(),
                nn(vocab::RESULT_COUNT),
                typed(e.shown.len().to_string(), vocab::XSD_INTEGER),
                g.clone(),
            ));
            quads.push(Quad::new(
                node.clone(),
                nn(vocab::SEARCHED_AT),
                typed(stamp.clone(), vocab::XSD_DATE_TIME),
                g.clone(),
            ));
            if let Some(u) = &user {
                quads.push(Quad::new(node.clone(), nn(vocab::SEARCHED_BY), self.minter.user(u), g.clone()));
            }
            if let (Some(c), Some(p)) = (&e.clicked, position) {
                quads.push(Quad::new(node.clone(), nn(vocab::CLICKED), self.minter.product(c), g.clone()));
                quads.push(Quad::new(
                    node.clone(),
                    nn(vocab::CLICK_POSITION),
                    typed(p.to_string(), vocab::XSD_INTEGER),
                    g.clone(),
                ));
                if let Some(raw) = &e.user {
                    clicks.push_str(
                        &serde_json::json!({"user": raw, "item": c, "event": "click", "timestamp": stamp}).to_string(),
                    );
                    clicks.push('\n');
                    clicked += 1;
                }
            }
        }
        // Clicks go through the event path first: an unknown product refuses the whole post
        // before anything is logged.
        if !clicks.is_empty() {
            self.post_events(clicks.as_bytes())?;
        }
        self.store.insert(&quads)?;
        Ok(SearchEventsAccepted { searches: events.len(), clicks: clicked })
    }

    /// Click-through per query, most searched first.
    pub fn search_report(&self, limit: usize) -> Result<Vec<QueryStats>, EngineError> {
        let mut by: HashMap<String, (usize, usize, usize, usize)> = HashMap::new();
        for row in self.internal("search-log", &[], &["query", "count", "position"])? {
            let Some(q) = text(&row[0]) else { continue };
            let q = q.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
            let e = by.entry(q).or_default();
            e.0 += 1;
            if text(&row[1]).and_then(|c| c.parse::<usize>().ok()) == Some(0) {
                e.3 += 1;
            }
            if let Some(p) = text(&row[2]).and_then(|p| p.parse::<usize>().ok()) {
                e.1 += 1;
                e.2 += p;
            }
        }
        let mut out: Vec<QueryStats> = by
            .into_iter()
            .map(|(query, (searches, clicks, pos, zero))| QueryStats {
                query,
                searches,
                clicks,
                ctr: clicks as f64 / searches as f64,
                mean_click_position: (clicks > 0).then(|| pos as f64 / clicks as f64),
                zero_results: zero,
            })
            .collect();
        out.sort_by(|a, b| b.searches.cmp(&a.searches).then(a.query.cmp(&b.query)));
        out.truncate(limit);
        Ok(out)
    }
}
