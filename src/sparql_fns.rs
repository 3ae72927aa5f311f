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
//! ```

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
