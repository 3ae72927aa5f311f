//! A cancellation point inside aggregates and sorts.
//!
//! oxigraph checks a query's cancellation token each time it reads a quad from the store. A
//! COUNT or ORDER BY over a cartesian product computes its rows in memory, from quads read
//! long before, and so never looks at the token again: `SELECT (COUNT(*) AS ?n) { ?a ?b ?c .
//! ?d ?e ?f . ?g ?h ?i }` ran for minutes past its limit. Under every GROUP (aggregate) and
//! ORDER BY the query's algebra gets `BIND(heartbeat() AS ?_)`: the function is called once per
//! row entering the aggregate or sort, returns nothing (the variable is never projected) and,
//! once the token is cancelled, unwinds out of the evaluation with [`Cancelled`], which
//! `Store::query` turns into the usual 408.
//!
//! Not covered: rows a FILTER rejects inside a join before they reach the aggregate (a
//! cartesian product filtered to nothing still runs until its next store read).

use spargebra::algebra::{Expression, Function, GraphPattern};
use spargebra::term::{NamedNode, Variable};
use std::sync::Once;

/// The heartbeat function's IRI (not part of the public ontology).
pub(crate) const HEARTBEAT: &str = "https://w3id.org/shopgraph/internal#heartbeat";
const VARIABLE: &str = "_sg_heartbeat";

/// The payload a cancelled heartbeat unwinds with.
#[derive(Debug)]
pub(crate) struct Cancelled;

/// Silences the panic message of [`Cancelled`] (it is a cancellation, not a bug); every other
/// panic is reported by the hook that was there before.
pub(crate) fn quiet_cancellations() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Cancelled>() {
                previous(info);
            }
        }));
    });
}

/// Puts a heartbeat under every GROUP and ORDER BY of the query. Returns how many.
pub(crate) fn insert(query: &mut spargebra::Query) -> usize {
    let pattern = match query {
        spargebra::Query::Select { pattern, .. }
        | spargebra::Query::Construct { pattern, .. }
        | spargebra::Query::Describe { pattern, .. }
        | spargebra::Query::Ask { pattern, .. } => pattern,
    };
    walk(pattern)
}

fn beat(inner: &mut GraphPattern) {
    let body = std::mem::replace(inner, GraphPattern::Bgp { patterns: Vec::new() });
    *inner = GraphPattern::Extend {
        inner: Box::new(body),
        variable: Variable::new_unchecked(VARIABLE),
        expression: Expression::FunctionCall(Function::Custom(NamedNode::new_unchecked(HEARTBEAT)), Vec::new()),
    };
}

fn walk(p: &mut GraphPattern) -> usize {
    match p {
        // SERVICE patterns are read by their handlers (sg:recommend, ...): left as written.
        GraphPattern::Bgp { .. }
        | GraphPattern::Path { .. }
        | GraphPattern::Values { .. }
        | GraphPattern::Service { .. } => 0,
        GraphPattern::Join { left, right }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right }
        | GraphPattern::LeftJoin { left, right, .. } => walk(left) + walk(right),
        GraphPattern::Filter { inner, .. }
        | GraphPattern::Graph { inner, .. }
        | GraphPattern::Extend { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => walk(inner),
        GraphPattern::Group { inner, .. } | GraphPattern::OrderBy { inner, .. } => {
            let n = walk(inner);
            beat(inner);
            n + 1
        }
    }
}
