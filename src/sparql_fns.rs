//! The SPARQL extension table: `sg:score`, `sg:similarity` as functions, and
//! `SERVICE sg:recommend` / `SERVICE sg:similar` returning many rows, all over the live model.
//!
//! A SERVICE pattern is static (oxigraph does not correlate it with the outer query), so its
//! inputs are constants in the pattern:
//!
//! ```sparql
//! SERVICE sg:recommend {
//!   ?item sg:recommendedFor <user IRI> ; sg:score ?score ; sg:rank ?rank .
//!   sg:request sg:k 10 ; sg:inCategory <concept> ; sg:brandName "x" ;
//!              sg:minPrice 10 ; sg:maxPrice 50 ; sg:inStock true ; sg:excludeSeen false .
//! }
//! SERVICE sg:similar { ?item sg:similarTo <product IRI> ; sg:score ?score . sg:request sg:k 5 . }
//! SERVICE sg:nearest { ?node sg:nearestTo <node IRI> ; sg:score ?score . sg:request sg:k 5 . }
//! SERVICE sg:nearest { ?node sg:nearestTo "soft linen summer dress" ; sg:score ?score . }
//! ```
//!
//! `sg:textSimilarity(?a, ?b)` is the cosine of two nodes' stored text embeddings, and
//! `sg:nearest` searches them (by a node's embedding, or a text embedded on the spot).

use crate::extract::semantic::Semantic;
use crate::ontology::{Minter, product_id_from_iri, vocab};
use crate::recommend::Recommender;
use crate::recommend::facets::Filter;
use oxigraph::model::{Literal, NamedNode, Term};
use oxigraph::sparql::{QuerySolutionIter, ServiceHandler, SparqlEvaluator, Variable};
use spargebra::algebra::GraphPattern;
use spargebra::term::{NamedNodePattern, TermPattern};
use std::sync::Arc;

/// Errors raised inside a SERVICE call; they surface as query errors.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The SERVICE pattern is not of the documented shape.
    #[error("SERVICE <{service}>: {message}")]
    Pattern { service: &'static str, message: String },
    /// The recommender refused (no model, unknown item, bad k).
    #[error(transparent)]
    Recommend(#[from] crate::recommend::RecommendError),
    /// Embeddings or the encoder are not available.
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
}

fn sg(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{}{local}", vocab::SG))
}

/// IRI of the recommend service.
pub fn recommend_service() -> NamedNode {
    sg("recommend")
}

/// IRI of the similar-items service.
pub fn similar_service() -> NamedNode {
    sg("similar")
}

/// The user key (pseudonym) of a user IRI.
pub fn user_key<'a>(minter: &Minter, iri: &'a str) -> Option<&'a str> {
    iri.strip_prefix(minter.base())?.strip_prefix("user/")
}

/// Adds every shopgraph function and service to an evaluator.
pub fn register(ev: SparqlEvaluator, rec: Arc<Recommender>, minter: Minter) -> SparqlEvaluator {
    let (r1, m1) = (Arc::clone(&rec), minter.clone());
    let (r2, m2) = (Arc::clone(&rec), minter.clone());
    ev.with_custom_function(sg("score"), move |args| {
        let [Term::NamedNode(u), Term::NamedNode(i)] = args else { return None };
        let live = r1.current().ok()?;
        let user = user_key(&m1, u.as_str())?;
        let item = product_id_from_iri(&m1, i.as_str())?;
        Some(Literal::from(f64::from(live.score(user, &item).ok()?)).into())
    })
    .with_custom_function(sg("similarity"), move |args| {
        let [Term::NamedNode(a), Term::NamedNode(b)] = args else { return None };
        let live = r2.current().ok()?;
        let a = live.item_index(&product_id_from_iri(&m2, a.as_str())?)?;
        let b = live.item_index(&product_id_from_iri(&m2, b.as_str())?)?;
        Some(Literal::from(f64::from(live.similarity(a, b))).into())
    })
    .with_service_handler(
        recommend_service(),
        RecService { rec: Arc::clone(&rec), minter: minter.clone(), similar: false },
    )
    .with_service_handler(similar_service(), RecService { rec, minter, similar: true })
}

/// Adds the embedding function and the nearest-neighbour service.
pub fn register_semantic(ev: SparqlEvaluator, sem: Arc<Semantic>) -> SparqlEvaluator {
    let s1 = Arc::clone(&sem);
    ev.with_custom_function(sg("textSimilarity"), move |args| {
        let [Term::NamedNode(a), Term::NamedNode(b)] = args else { return None };
        let sim = s1.index().ok()?.similarity(a.as_str(), b.as_str())?;
        Some(Literal::from(f64::from(sim)).into())
    })
    .with_service_handler(sg("nearest"), NearestService { sem })
}

struct NearestService {
    sem: Arc<Semantic>,
}

impl ServiceHandler for NearestService {
    type Error = ServiceError;

    fn handle(
        &self,
        pattern: &GraphPattern,
        _base_iri: Option<&oxiri::Iri<String>>,
    ) -> Result<QuerySolutionIter<'static>, Self::Error> {
        let err = |m: &str| ServiceError::Pattern { service: "sg:nearest", message: m.into() };
        let GraphPattern::Bgp { patterns } = pattern else { return Err(err("expected only triple patterns")) };
        let (mut subject, mut score, mut k, mut query) = (None, None, 10usize, None);
        for t in patterns {
            let NamedNodePattern::NamedNode(p) = &t.predicate else { return Err(err("predicates must be constants")) };
            match p.as_str().strip_prefix(vocab::SG) {
                Some("nearestTo") => {
                    let TermPattern::Variable(v) = &t.subject else {
                        return Err(err("the subject of sg:nearestTo must be a variable"));
                    };
                    subject = Some(v.clone());
                    query = Some(match &t.object {
                        TermPattern::NamedNode(n) => Ok(n.as_str().to_owned()),
                        TermPattern::Literal(l) => Err(l.value().to_owned()),
                        _ => return Err(err("sg:nearestTo needs a constant IRI or a text literal")),
                    });
                }
                Some("score") => match &t.object {
                    TermPattern::Variable(v) => score = Some(v.clone()),
                    _ => return Err(err("the object of sg:score must be a variable")),
                },
                Some("k") => match &t.object {
                    TermPattern::Literal(l) => k = l.value().parse().map_err(|_| err("sg:k must be an integer"))?,
                    _ => return Err(err("sg:k needs an integer")),
                },
                _ => return Err(err(&format!("unknown predicate {p}"))),
            }
        }
        let (Some(subject), Some(query)) = (subject, query) else {
            return Err(err("missing `?node sg:nearestTo <IRI> or \"text\"`"));
        };
        if k == 0 || k > 10_000 {
            return Err(err("sg:k must be between 1 and 10000"));
        }
        let (_, hits) = self.sem.nearest(query.as_deref().map_err(String::as_str), k)?;
        let mut vars = vec![subject];
        vars.extend(score.clone());
        let rows: Vec<_> = hits
            .into_iter()
            .map(|(iri, s)| {
                let mut row: Vec<Option<Term>> = vec![Some(NamedNode::new_unchecked(iri).into())];
                if score.is_some() {
                    row.push(Some(Literal::from(f64::from(s)).into()));
                }
                Ok(row)
            })
            .collect();
        Ok(QuerySolutionIter::from_tuples(vars.into(), rows))
    }
}

/// Runs a search the way `/search` does (set by the engine once it exists: the evaluator is
/// built before it).
pub type SearchFn =
    Arc<dyn Fn(&crate::search::SearchRequest) -> Result<crate::search::SearchResponse, String> + Send + Sync>;

/// Where the engine puts its search function.
#[derive(Clone, Default)]
pub struct SearchSlot(Arc<std::sync::RwLock<Option<SearchFn>>>);

impl std::fmt::Debug for SearchSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchSlot")
    }
}

impl SearchSlot {
    /// Sets the function.
    pub fn set(&self, f: SearchFn) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    fn get(&self) -> Option<SearchFn> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Adds `SERVICE sg:search`:
///
/// ```sparql
/// SERVICE sg:search { ?product sg:matches "soft summer dress" ; sg:score ?s ; sg:rank ?r .
///                     sg:request sg:k 20 ; sg:inCategory <concept> ; sg:brandName "x" ;
///                     sg:minPrice 10 ; sg:maxPrice 50 . }
/// ```
///
/// The rows are `/search`'s results for the same request, in its order.
pub fn register_search(ev: SparqlEvaluator, slot: SearchSlot) -> SparqlEvaluator {
    ev.with_service_handler(sg("search"), SearchService { slot })
}

struct SearchService {
    slot: SearchSlot,
}

impl ServiceHandler for SearchService {
    type Error = ServiceError;

    fn handle(
        &self,
        pattern: &GraphPattern,
        _base_iri: Option<&oxiri::Iri<String>>,
    ) -> Result<QuerySolutionIter<'static>, Self::Error> {
        let err = |m: &str| ServiceError::Pattern { service: "sg:search", message: m.into() };
        let GraphPattern::Bgp { patterns } = pattern else { return Err(err("expected only triple patterns")) };
        let mut req = crate::search::SearchRequest { k: 10, ..Default::default() };
        let (mut subject, mut score, mut rank) = (None, None, None);
        let literal = |o: &TermPattern, what: &str| match o {
            TermPattern::Literal(l) => Ok(l.value().to_owned()),
            _ => Err(err(&format!("{what} needs a literal"))),
        };
        let number = |o: &TermPattern, what: &str| -> Result<f64, ServiceError> {
            literal(o, what)?.parse().map_err(|_| err(&format!("{what} must be a number")))
        };
        for t in patterns {
            let NamedNodePattern::NamedNode(p) = &t.predicate else { return Err(err("predicates must be constants")) };
            let var = |o: &TermPattern| match o {
                TermPattern::Variable(v) => Ok(v.clone()),
                _ => Err(err(&format!("the object of {p} must be a variable"))),
            };
            match p.as_str().strip_prefix(vocab::SG) {
                Some("matches") => {
                    let TermPattern::Variable(v) = &t.subject else {
                        return Err(err("the subject of sg:matches must be a variable"));
                    };
                    subject = Some(v.clone());
                    req.q = literal(&t.object, "sg:matches")?;
                }
                Some("score") => score = Some(var(&t.object)?),
                Some("rank") => rank = Some(var(&t.object)?),
                Some("k") => {
                    req.k = literal(&t.object, "sg:k")?.parse().map_err(|_| err("sg:k must be an integer"))?;
                }
                Some("inCategory") => match &t.object {
                    TermPattern::NamedNode(n) => req.categories.push(n.as_str().to_owned()),
                    _ => return Err(err("sg:inCategory needs a category IRI")),
                },
                Some("brandName") => req.brands.push(literal(&t.object, "sg:brandName")?),
                Some("minPrice") => req.min_price = Some(number(&t.object, "sg:minPrice")?),
                Some("maxPrice") => req.max_price = Some(number(&t.object, "sg:maxPrice")?),
                _ => return Err(err(&format!("unknown predicate {p}"))),
            }
        }
        let Some(subject) = subject else { return Err(err("missing `?product sg:matches \"text\"`")) };
        let Some(f) = self.slot.get() else { return Err(err("search is not ready")) };
        let resp = f(&req).map_err(|m| err(&m))?;
        let mut vars = vec![subject];
        vars.extend(score.clone());
        vars.extend(rank.clone());
        let rows: Vec<_> = resp
            .results
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let mut row: Vec<Option<Term>> = vec![Some(NamedNode::new_unchecked(h.item).into())];
                if score.is_some() {
                    row.push(Some(Literal::from(f64::from(h.score)).into()));
                }
                if rank.is_some() {
                    row.push(Some(Literal::from(i as i64 + 1).into()));
                }
                Ok(row)
            })
            .collect();
        Ok(QuerySolutionIter::from_tuples(vars.into(), rows))
    }
}

struct RecService {
    rec: Arc<Recommender>,
    minter: Minter,
    similar: bool,
}

/// What a SERVICE pattern asks for.
#[derive(Default)]
struct Request {
    subject: Option<Variable>,
    target: Option<String>,
    score: Option<Variable>,
    rank: Option<Variable>,
    k: usize,
    filter: Filter,
    exclude_seen: bool,
}

impl RecService {
    fn name(&self) -> &'static str {
        if self.similar { "sg:similar" } else { "sg:recommend" }
    }

    fn err(&self, message: impl Into<String>) -> ServiceError {
        ServiceError::Pattern { service: self.name(), message: message.into() }
    }

    fn parse(&self, pattern: &GraphPattern) -> Result<Request, ServiceError> {
        let GraphPattern::Bgp { patterns } = pattern else {
            return Err(self.err("expected only triple patterns"));
        };
        let mut r = Request { k: 10, exclude_seen: true, ..Request::default() };
        let target_pred = if self.similar { "similarTo" } else { "recommendedFor" };
        for t in patterns {
            let NamedNodePattern::NamedNode(p) = &t.predicate else {
                return Err(self.err("predicates must be constants"));
            };
            let Some(local) = p.as_str().strip_prefix(vocab::SG) else {
                return Err(self.err(format!("unknown predicate {p}")));
            };
            let literal = || match &t.object {
                TermPattern::Literal(l) => Ok(l.value().to_owned()),
                _ => Err(self.err(format!("sg:{local} needs a literal"))),
            };
            let subject_var = || match &t.subject {
                TermPattern::Variable(v) => Ok(v.clone()),
                _ => Err(self.err(format!("the subject of sg:{local} must be the item variable"))),
            };
            let object_var = || match &t.object {
                TermPattern::Variable(v) => Ok(v.clone()),
                _ => Err(self.err(format!("the object of sg:{local} must be a variable"))),
            };
            match local {
                l if l == target_pred => {
                    r.subject = Some(subject_var()?);
                    let TermPattern::NamedNode(n) = &t.object else {
                        return Err(
                            self.err(format!("sg:{l} needs a constant IRI (SERVICE patterns are not correlated)"))
                        );
                    };
                    r.target = Some(n.as_str().to_owned());
                }
                "score" => r.score = Some(object_var()?),
                "rank" => r.rank = Some(object_var()?),
                "k" => r.k = literal()?.parse().map_err(|_| self.err("sg:k must be an integer"))?,
                "inCategory" => match &t.object {
                    TermPattern::NamedNode(n) => r.filter.category = Some(n.as_str().to_owned()),
                    _ => return Err(self.err("sg:inCategory needs a category IRI")),
                },
                "brandName" => r.filter.brand = Some(literal()?),
                "minPrice" => {
                    r.filter.min_price = Some(literal()?.parse().map_err(|_| self.err("sg:minPrice must be a number"))?)
                }
                "maxPrice" => {
                    r.filter.max_price = Some(literal()?.parse().map_err(|_| self.err("sg:maxPrice must be a number"))?)
                }
                "inStock" => r.filter.in_stock = literal()? == "true",
                "excludeSeen" => r.exclude_seen = literal()? == "true",
                other => return Err(self.err(format!("unknown predicate sg:{other}"))),
            }
        }
        if r.target.is_none() {
            return Err(self.err(format!("missing `?item sg:{target_pred} <IRI>`")));
        }
        Ok(r)
    }
}

impl ServiceHandler for RecService {
    type Error = ServiceError;

    fn handle(
        &self,
        pattern: &GraphPattern,
        _base_iri: Option<&oxiri::Iri<String>>,
    ) -> Result<QuerySolutionIter<'static>, Self::Error> {
        let r = self.parse(pattern)?;
        let live = self.rec.current()?;
        let target = r.target.unwrap_or_default();
        let items = if self.similar {
            let id = product_id_from_iri(&self.minter, &target)
                .ok_or_else(|| self.err("sg:similarTo needs a product IRI"))?;
            live.similar(&id, r.k, &r.filter)?
        } else {
            let user = user_key(&self.minter, &target).ok_or_else(|| self.err("sg:recommendedFor needs a user IRI"))?;
            live.recommend(user, r.k, &r.filter, r.exclude_seen)?.0
        };
        let mut vars = Vec::new();
        vars.extend(r.subject.clone());
        vars.extend(r.score.clone());
        vars.extend(r.rank.clone());
        let minter = self.minter.clone();
        let (has_s, has_r) = (r.score.is_some(), r.rank.is_some());
        let rows: Vec<_> = items
            .into_iter()
            .enumerate()
            .map(|(rank, s)| {
                let mut row: Vec<Option<Term>> = vec![Some(minter.product(&s.item).into())];
                if has_s {
                    row.push(Some(Literal::from(f64::from(s.score)).into()));
                }
                if has_r {
                    row.push(Some(Literal::from(rank as i64 + 1).into()));
                }
                Ok(row)
            })
            .collect();
        Ok(QuerySolutionIter::from_tuples(vars.into(), rows))
    }
}
