//! SHACL validation over the store: a [`shacl::DataGraph`] read through an oxigraph
//! transaction, so a write can be validated as it would stand after commit and refused whole.

use super::{Store, StoreError};
use crate::shacl::{self, DataGraph, Focus, ShaclError, Shapes, ValidationReport};
use oxigraph::model::{GraphName, GraphNameRef, NamedNode, NamedOrBlankNodeRef, Quad, Term, TermRef};
use oxigraph::store::Transaction;
use std::collections::HashSet;

/// What to validate a write against, and which of its nodes.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    /// The shapes.
    pub shapes: &'a Shapes,
    /// The nodes to check (targets in the whole store when [`Focus::All`]).
    pub focus: Focus,
    /// Graphs whose triples are not facts and are not read (the review queue, decisions).
    pub hidden: &'a [&'a str],
}

/// The store as a transaction sees it, minus hidden graphs; targets in `focus_graph` (any
/// visible graph when `None`).
struct View<'t, 'a> {
    tx: &'t Transaction<'a>,
    focus_graph: Option<GraphName>,
    hidden: &'t [&'t str],
}

fn data_err(e: impl std::fmt::Display) -> ShaclError {
    ShaclError::Data(e.to_string())
}

impl View<'_, '_> {
    fn visible(&self, g: &GraphName) -> bool {
        match g {
            GraphName::NamedNode(n) => !self.hidden.contains(&n.as_str()),
            _ => true,
        }
    }

    fn collect(
        &self,
        s: Option<NamedOrBlankNodeRef<'_>>,
        p: &NamedNode,
        o: Option<TermRef<'_>>,
        g: Option<GraphNameRef<'_>>,
        pick: impl Fn(Quad) -> Term,
    ) -> Result<Vec<Term>, ShaclError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for q in self.tx.quads_for_pattern(s, Some(p.as_ref()), o, g) {
            let q = q.map_err(data_err)?;
            if !self.visible(&q.graph_name) {
                continue;
            }
            let t = pick(q);
            if seen.insert(t.clone()) {
                out.push(t);
            }
        }
        Ok(out)
    }
}

fn subject_ref(t: &Term) -> Option<NamedOrBlankNodeRef<'_>> {
    match t {
        Term::NamedNode(n) => Some(n.as_ref().into()),
        Term::BlankNode(b) => Some(b.as_ref().into()),
        _ => None,
    }
}

impl DataGraph for View<'_, '_> {
    fn objects(&self, s: &Term, p: &NamedNode) -> Result<Vec<Term>, ShaclError> {
        let Some(s) = subject_ref(s) else { return Ok(Vec::new()) };
        self.collect(Some(s), p, None, None, |q| q.object)
    }
    fn subjects(&self, p: &NamedNode, o: &Term) -> Result<Vec<Term>, ShaclError> {
        self.collect(None, p, Some(o.as_ref()), None, |q| q.subject.into())
    }
    fn focus_subjects(&self, p: &NamedNode, o: Option<&Term>) -> Result<Vec<Term>, ShaclError> {
        self.collect(None, p, o.map(Term::as_ref), self.focus_graph.as_ref().map(GraphName::as_ref), |q| {
            q.subject.into()
        })
    }
    fn focus_objects(&self, p: &NamedNode) -> Result<Vec<Term>, ShaclError> {
        self.collect(None, p, None, self.focus_graph.as_ref().map(GraphName::as_ref), |q| q.object)
    }
    fn outgoing(&self, s: &Term) -> Result<Vec<(NamedNode, Term)>, ShaclError> {
        let Some(s) = subject_ref(s) else { return Ok(Vec::new()) };
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for q in self.tx.quads_for_pattern(Some(s), None, None, None) {
            let q = q.map_err(data_err)?;
            if self.visible(&q.graph_name) && seen.insert((q.predicate.clone(), q.object.clone())) {
                out.push((q.predicate, q.object));
            }
        }
        Ok(out)
    }
}

impl From<ShaclError> for StoreError {
    fn from(e: ShaclError) -> Self {
        match e {
            ShaclError::Shape { .. } => StoreError::Shapes(e.to_string()),
            ShaclError::Data(m) => StoreError::Storage(m),
        }
    }
}

/// The subjects and node objects of quads: the focus nodes of an upload.
pub fn touched_nodes(quads: &[Quad]) -> HashSet<Term> {
    let mut out = HashSet::new();
    for q in quads {
        out.insert(q.subject.clone().into());
        if !matches!(q.object, Term::Literal(_)) {
            out.insert(q.object.clone());
        }
    }
    out
}

impl Store {
    /// Validates one graph's targets (or every visible graph's with `None`) as stored.
    pub fn validate(&self, graph: Option<&GraphName>, check: &Check<'_>) -> Result<ValidationReport, StoreError> {
        let tx = self.inner.start_transaction()?;
        let view = View { tx: &tx, focus_graph: graph.cloned(), hidden: check.hidden };
        Ok(shacl::validate(check.shapes, &view, &check.focus)?)
    }

    /// Validates quads as if they were added to the store; nothing is written.
    pub fn validate_addition(&self, quads: &[Quad], check: &Check<'_>) -> Result<ValidationReport, StoreError> {
        let mut tx = self.inner.start_transaction()?;
        tx.extend(quads.iter());
        let view = View { tx: &tx, focus_graph: None, hidden: check.hidden };
        let report = shacl::validate(check.shapes, &view, &check.focus)?;
        // Dropped without commit: the transaction's writes are discarded.
        drop(tx);
        Ok(report)
    }

    /// Commits a transaction unless the check finds a violation (warnings and infos pass).
    pub(super) fn commit_checked(
        &self,
        tx: Transaction<'_>,
        check: Option<&Check<'_>>,
        delta: super::Delta<'_>,
    ) -> Result<(), StoreError> {
        if let Some(check) = check {
            let view = View { tx: &tx, focus_graph: None, hidden: check.hidden };
            let report = shacl::validate(check.shapes, &view, &check.focus)?;
            if report.results.iter().any(|r| r.result_severity.ends_with("#Violation")) {
                return Err(StoreError::Invalid(Box::new(report)));
            }
        }
        tx.commit()?;
        self.wrote(delta);
        Ok(())
    }
}
