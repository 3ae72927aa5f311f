//! Binding named-query parameters into the query algebra: every occurrence of `?p` becomes
//! the given term (prepared-statement semantics), so BIND, FILTER, NOT EXISTS, OPTIONAL and
//! HAVING all see the value wherever they sit. Nothing is pasted into query text.

use oxigraph::model::Term;
use spargebra::algebra::{AggregateExpression, Expression, GraphPattern, OrderExpression};
use spargebra::term::{GroundTerm, NamedNodePattern, TermPattern, Variable};
use std::collections::HashMap;

use super::StoreError;

type Map = HashMap<Variable, Term>;

/// Substitutes the parameters in `query`; projected parameters are re-bound at the top.
pub(crate) fn substitute(query: &mut spargebra::Query, bindings: &[(String, Term)]) -> Result<(), StoreError> {
    let mut map = Map::new();
    for (name, term) in bindings {
        let v = Variable::new(name).map_err(|e| StoreError::Evaluation(format!("bad parameter name {name}: {e}")))?;
        if !matches!(term, Term::NamedNode(_) | Term::Literal(_)) {
            return Err(StoreError::Evaluation(format!("parameter {name} must be an IRI or literal, got {term}")));
        }
        map.insert(v, term.clone());
    }
    if let spargebra::Query::Construct { template, .. } = query {
        for t in template.iter_mut() {
            term_pattern(&mut t.subject, &map);
            named_node_pattern(&mut t.predicate, &map);
            term_pattern(&mut t.object, &map);
        }
    }
    let pattern = match query {
        spargebra::Query::Select { pattern, .. }
        | spargebra::Query::Construct { pattern, .. }
        | spargebra::Query::Describe { pattern, .. }
        | spargebra::Query::Ask { pattern, .. } => pattern,
    };
    graph_pattern(pattern, &map);
    rebind_projected(pattern, &map);
    Ok(())
}

/// A projected parameter would come out unbound once substituted: bind it under the projection.
fn rebind_projected(p: &mut GraphPattern, map: &Map) {
    match p {
        GraphPattern::Slice { inner, .. } | GraphPattern::Distinct { inner } | GraphPattern::Reduced { inner } => {
            rebind_projected(inner, map)
        }
        GraphPattern::Project { inner, variables } => {
            for v in variables.iter().filter(|v| map.contains_key(*v)) {
                let body = std::mem::replace(inner.as_mut(), GraphPattern::Bgp { patterns: Vec::new() });
                **inner =
                    GraphPattern::Extend { inner: Box::new(body), variable: v.clone(), expression: constant(&map[v]) };
            }
        }
        _ => {}
    }
}

fn constant(t: &Term) -> Expression {
    match t {
        Term::NamedNode(n) => Expression::NamedNode(n.clone()),
        Term::Literal(l) => Expression::Literal(l.clone()),
        // substitute() only admits IRIs and literals.
        _ => Expression::Bound(Variable::new_unchecked("unreachable")),
    }
}

fn term_pattern(t: &mut TermPattern, map: &Map) {
    if let TermPattern::Variable(v) = t
        && let Some(term) = map.get(v)
    {
        *t = match term {
            Term::NamedNode(n) => TermPattern::NamedNode(n.clone()),
            Term::Literal(l) => TermPattern::Literal(l.clone()),
            _ => return,
        };
    }
}

fn named_node_pattern(t: &mut NamedNodePattern, map: &Map) {
    if let NamedNodePattern::Variable(v) = t
        && let Some(Term::NamedNode(n)) = map.get(v)
    {
        *t = NamedNodePattern::NamedNode(n.clone());
    }
}

fn expression(e: &mut Expression, map: &Map) {
    match e {
        Expression::Variable(v) => {
            if let Some(t) = map.get(v) {
                *e = constant(t);
            }
        }
        Expression::Bound(v) => {
            if map.contains_key(v) {
                *e = Expression::Literal(true.into());
            }
        }
        Expression::NamedNode(_) | Expression::Literal(_) => {}
        Expression::Or(a, b)
        | Expression::And(a, b)
        | Expression::Equal(a, b)
        | Expression::SameTerm(a, b)
        | Expression::Greater(a, b)
        | Expression::GreaterOrEqual(a, b)
        | Expression::Less(a, b)
        | Expression::LessOrEqual(a, b)
        | Expression::Add(a, b)
        | Expression::Subtract(a, b)
        | Expression::Multiply(a, b)
        | Expression::Divide(a, b) => {
            expression(a, map);
            expression(b, map);
        }
        Expression::In(a, list) => {
            expression(a, map);
            list.iter_mut().for_each(|x| expression(x, map));
        }
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => expression(a, map),
        Expression::Exists(p) => graph_pattern(p, map),
        Expression::If(a, b, c) => {
            expression(a, map);
            expression(b, map);
            expression(c, map);
        }
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => {
            list.iter_mut().for_each(|x| expression(x, map))
        }
    }
}

fn graph_pattern(p: &mut GraphPattern, map: &Map) {
    match p {
        GraphPattern::Bgp { patterns } => {
            for t in patterns {
                term_pattern(&mut t.subject, map);
                named_node_pattern(&mut t.predicate, map);
                term_pattern(&mut t.object, map);
            }
        }
        GraphPattern::Path { subject, object, .. } => {
            term_pattern(subject, map);
            term_pattern(object, map);
        }
        GraphPattern::Join { left, right }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            graph_pattern(left, map);
            graph_pattern(right, map);
        }
        GraphPattern::LeftJoin { left, right, expression: e } => {
            graph_pattern(left, map);
            graph_pattern(right, map);
            if let Some(e) = e {
                expression(e, map);
            }
        }
        GraphPattern::Filter { expr, inner } => {
            expression(expr, map);
            graph_pattern(inner, map);
        }
        GraphPattern::Graph { name, inner } | GraphPattern::Service { name, inner, .. } => {
            named_node_pattern(name, map);
            graph_pattern(inner, map);
        }
        GraphPattern::Extend { inner, expression: e, .. } => {
            graph_pattern(inner, map);
            expression(e, map);
        }
        GraphPattern::Values { variables, bindings } => {
            // A VALUES block on a parameter keeps only the rows that agree with it.
            for (k, v) in variables.iter().enumerate() {
                if let Some(t) = map.get(v) {
                    let want: Option<GroundTerm> = match t {
                        Term::NamedNode(n) => Some(GroundTerm::NamedNode(n.clone())),
                        Term::Literal(l) => Some(GroundTerm::Literal(l.clone())),
                        _ => None,
                    };
                    bindings.retain(|row| row[k].is_none() || row[k] == want);
                }
            }
        }
        GraphPattern::OrderBy { inner, expression: exprs } => {
            graph_pattern(inner, map);
            for o in exprs {
                match o {
                    OrderExpression::Asc(e) | OrderExpression::Desc(e) => expression(e, map),
                }
            }
        }
        GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => graph_pattern(inner, map),
        GraphPattern::Group { inner, aggregates, .. } => {
            graph_pattern(inner, map);
            for (_, a) in aggregates {
                if let AggregateExpression::FunctionCall { expr, .. } = a {
                    expression(expr, map);
                }
            }
        }
    }
}
