//! SHACL validation of the store, of documents and of writes: the shapes read from the shapes
//! graph (re-read after a write to it), the focus nodes of each kind of write, and the checks
//! the Graph Store, updates, loads and extraction pass to the store.

use super::{Engine, EngineError};
use crate::ontology::vocab;
use crate::shacl::{Focus, Shapes, ValidationReport};
use crate::store::{Check, ParsedUpdate, model::GraphName, model::NamedNode, model::Quad, model::Term};
use std::collections::HashSet;
use std::sync::Arc;

/// Graphs validation never reads: held and decided review items are not facts.
pub(crate) const HIDDEN: [&str; 2] = [vocab::GRAPH_QUEUE, vocab::GRAPH_DECISIONS];

/// The shapes as read at one store generation.
#[derive(Debug, Default)]
pub(super) struct ShapesCache {
    at: Option<(u64, Arc<Shapes>)>,
}

/// Subjects of quads: the nodes an upload says something about.
pub fn subjects(quads: &[Quad]) -> HashSet<Term> {
    quads.iter().map(|q| q.subject.clone().into()).collect()
}

impl Engine {
    /// The shapes in the shapes graph. A malformed shape is an error here (400 at the HTTP
    /// layer), so a validation never runs with part of its shapes silently dropped.
    pub fn shapes(&self) -> Result<Arc<Shapes>, EngineError> {
        let generation = self.store.generation();
        if let Some((g, s)) = &self.shapes_cache.read().unwrap_or_else(|e| e.into_inner()).at
            && *g == generation
        {
            return Ok(Arc::clone(s));
        }
        let quads = self.store.graph_quads(&GraphName::NamedNode(NamedNode::new_unchecked(vocab::GRAPH_SHAPES)))?;
        let shapes = Arc::new(Self::parse_shapes(&quads)?);
        self.shapes_cache.write().unwrap_or_else(|e| e.into_inner()).at = Some((generation, Arc::clone(&shapes)));
        Ok(shapes)
    }

    /// Reads shapes from quads (a shapes graph, or a body about to replace it).
    pub fn parse_shapes(quads: &[Quad]) -> Result<Shapes, EngineError> {
        let triples: Vec<_> = quads.iter().map(|q| q.clone().into()).collect();
        Shapes::parse(&triples).map_err(|e| EngineError::Store(e.into()))
    }

    /// Validates what is stored: one graph's targets, or every graph's (`None`).
    pub fn validate_stored(&self, graph: Option<&GraphName>) -> Result<ValidationReport, EngineError> {
        let shapes = self.shapes()?;
        let check = Check { shapes: &shapes, focus: Focus::All, hidden: &HIDDEN };
        Ok(self.store.validate(graph, &check)?)
    }

    /// Validates a document as if it were added to the store: its subjects against the
    /// shapes, reading the store for everything else (the classes of linked nodes). Nothing is
    /// written.
    pub fn validate_document(&self, quads: &[Quad]) -> Result<ValidationReport, EngineError> {
        let shapes = self.shapes()?;
        let check = Check { shapes: &shapes, focus: Focus::Only(subjects(quads)), hidden: &HIDDEN };
        Ok(self.store.validate_addition(quads, &check)?)
    }

    /// Whether a write is validated: the request's `validate=`, else the config.
    pub fn validates(&self, asked: Option<bool>) -> bool {
        asked.unwrap_or(self.config.validate_writes)
    }

    /// A Graph Store write or a load, validated when asked: refused whole (with the report)
    /// when its subjects break a shape once written.
    pub fn checked<T>(
        &self,
        validate: bool,
        quads: &[Quad],
        write: impl FnOnce(Option<&Check<'_>>) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, EngineError> {
        if !validate {
            return Ok(write(None)?);
        }
        let shapes = self.shapes()?;
        let check = Check { shapes: &shapes, focus: Focus::Only(subjects(quads)), hidden: &HIDDEN };
        Ok(write(Some(&check))?)
    }

    /// [`Self::update_parsed`], validated when asked. `INSERT DATA` / `DELETE DATA` are checked
    /// on the subjects they name; an update with patterns could touch any node, so every
    /// target in the store is checked as the update leaves it.
    pub fn update_checked(
        &self,
        parsed: ParsedUpdate,
        dataset: &crate::store::UpdateDataset,
        validate: bool,
    ) -> Result<(), EngineError> {
        if !validate {
            return self.update_parsed(parsed, dataset);
        }
        let shapes = self.shapes()?;
        let focus = update_focus(&parsed);
        let check = Check { shapes: &shapes, focus, hidden: &HIDDEN };
        Ok(self.store.update_parsed(parsed, dataset, self.config.query_timeout(), Some(&check))?)
    }
}

/// The subjects an update of data blocks only names; [`Focus::All`] when it has patterns.
fn update_focus(parsed: &ParsedUpdate) -> Focus {
    use spargebra::GraphUpdateOperation as Op;
    use spargebra::term::NamedOrBlankNode as Subject;
    let mut nodes = HashSet::new();
    for op in &parsed.operations {
        match op {
            Op::InsertData { data } => {
                for q in data {
                    if let Subject::NamedNode(n) = &q.subject {
                        nodes.insert(Term::NamedNode(NamedNode::new_unchecked(n.as_str())));
                    } else {
                        // Blank nodes of INSERT DATA are renamed on insert: find them by target.
                        return Focus::All;
                    }
                }
            }
            Op::DeleteData { data } => {
                for q in data {
                    nodes.insert(Term::NamedNode(NamedNode::new_unchecked(q.subject.as_str())));
                }
            }
            _ => return Focus::All,
        }
    }
    Focus::Only(nodes)
}
