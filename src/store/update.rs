//! What an update may touch, read before it runs: the graphs it can write (for the role check)
//! and the dataset the protocol request gives it.

use super::{StoreError, check_sparql_nesting};
use oxigraph::model::{GraphName, NamedNode, Quad, Term};

/// The graphs an update can write to, read from its algebra before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteScope {
    /// Only these graphs (`None` is the default graph).
    Graphs(std::collections::BTreeSet<Option<String>>),
    /// Any graph: DROP/CLEAR ALL or NAMED, or a DELETE/INSERT whose graph is a variable.
    Any,
}

impl WriteScope {
    /// Whether the update may write to a graph for which `protected` holds.
    pub fn touches(&self, protected: impl Fn(&str) -> bool) -> bool {
        match self {
            Self::Any => true,
            Self::Graphs(g) => g.iter().flatten().any(|name| protected(name)),
        }
    }
}

/// Parses an update after the nesting check; parse once, then ask [`write_scope`] and run it
/// with `Store::update_parsed`.
pub fn parse_update(text: &str) -> Result<spargebra::Update, StoreError> {
    check_sparql_nesting(text)?;
    spargebra::SparqlParser::new().parse_update(text).map_err(|e| StoreError::Syntax(e.to_string()))
}

/// Which graphs a parsed update can write.
pub fn write_scope(parsed: &spargebra::Update) -> WriteScope {
    use spargebra::GraphUpdateOperation as Op;
    use spargebra::algebra::GraphTarget;
    use spargebra::term::{GraphName as G, GraphNamePattern as P};
    let mut graphs = std::collections::BTreeSet::new();
    let named = |g: &G| match g {
        G::NamedNode(n) => Some(n.as_str().to_owned()),
        G::DefaultGraph => None,
    };
    for op in &parsed.operations {
        match op {
            Op::InsertData { data } => graphs.extend(data.iter().map(|q| named(&q.graph_name))),
            Op::DeleteData { data } => graphs.extend(data.iter().map(|q| named(&q.graph_name))),
            Op::DeleteInsert { delete, insert, .. } => {
                let patterns = delete.iter().map(|q| &q.graph_name).chain(insert.iter().map(|q| &q.graph_name));
                for g in patterns {
                    match g {
                        P::NamedNode(n) => {
                            graphs.insert(Some(n.as_str().to_owned()));
                        }
                        P::DefaultGraph => {
                            graphs.insert(None);
                        }
                        P::Variable(_) => return WriteScope::Any,
                    }
                }
            }
            Op::Load { destination, .. } => {
                graphs.insert(named(destination));
            }
            Op::Create { graph, .. } => {
                graphs.insert(Some(graph.as_str().to_owned()));
            }
            Op::Clear { graph, .. } | Op::Drop { graph, .. } => match graph {
                GraphTarget::NamedNode(n) => {
                    graphs.insert(Some(n.as_str().to_owned()));
                }
                GraphTarget::DefaultGraph => {
                    graphs.insert(None);
                }
                GraphTarget::NamedGraphs | GraphTarget::AllGraphs => return WriteScope::Any,
            },
        }
    }
    WriteScope::Graphs(graphs)
}

/// What an update's protocol request says of its dataset.
#[derive(Debug, Clone, Default)]
pub struct UpdateDataset {
    /// `using-graph-uri` values: the default graph of every DELETE/INSERT's WHERE.
    pub using_graphs: Vec<String>,
    /// `using-named-graph-uri` values: its named graphs.
    pub using_named_graphs: Vec<String>,
}

/// The quads an update of data blocks only (`INSERT DATA`, `DELETE DATA`) adds and removes;
/// `None` when it has any other operation or a blank node (renamed on insert).
pub(super) fn data_delta(parsed: &spargebra::Update) -> Option<(Vec<Quad>, Vec<Quad>)> {
    use spargebra::GraphUpdateOperation as Op;
    use spargebra::term::{GraphName as G, GroundTerm, NamedOrBlankNode as S, Term as T};
    let graph = |g: &G| match g {
        G::NamedNode(n) => GraphName::NamedNode(NamedNode::new_unchecked(n.as_str())),
        G::DefaultGraph => GraphName::DefaultGraph,
    };
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for op in &parsed.operations {
        match op {
            Op::InsertData { data } => {
                for q in data {
                    let S::NamedNode(s) = &q.subject else { return None };
                    let o: Term = match &q.object {
                        T::NamedNode(n) => NamedNode::new_unchecked(n.as_str()).into(),
                        T::Literal(l) => l.clone().into(),
                        _ => return None,
                    };
                    added.push(Quad::new(
                        NamedNode::new_unchecked(s.as_str()),
                        NamedNode::new_unchecked(q.predicate.as_str()),
                        o,
                        graph(&q.graph_name),
                    ));
                }
            }
            Op::DeleteData { data } => {
                for q in data {
                    let o: Term = match &q.object {
                        GroundTerm::NamedNode(n) => NamedNode::new_unchecked(n.as_str()).into(),
                        GroundTerm::Literal(l) => l.clone().into(),
                        #[allow(unreachable_patterns)]
                        _ => return None,
                    };
                    removed.push(Quad::new(
                        NamedNode::new_unchecked(q.subject.as_str()),
                        NamedNode::new_unchecked(q.predicate.as_str()),
                        o,
                        graph(&q.graph_name),
                    ));
                }
            }
            _ => return None,
        }
    }
    Some((added, removed))
}
