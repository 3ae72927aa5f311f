//! Writes: SPARQL updates in one transaction, bulk loads, inserts, removals and swaps, each
//! telling the store's listener what it changed.

use super::update::{self, UpdateDataset, WriteScope, parse_update, write_scope};
use super::validate::Check;
use super::{Delta, LoadStats, Store, StoreError, parse_iri};
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad};
use oxigraph::sparql::{QueryEvaluationError, UpdateEvaluationError};
use oxigraph::store::LoaderError;
use std::io::BufRead;
use std::time::{Duration, Instant};

impl Store {
    /// Runs a SPARQL update in one transaction: it applies whole or not at all. `dataset` holds
    /// the protocol's `using-graph-uri` / `using-named-graph-uri`; an update that names its own
    /// dataset (USING, USING NAMED, WITH) as well is refused. LOAD is refused: the server never
    /// fetches outside documents on a client's behalf.
    pub fn update(&self, text: &str, dataset: &UpdateDataset, timeout: Duration) -> Result<(), StoreError> {
        self.update_parsed(parse_update(text)?, dataset, timeout, None)
    }

    /// [`Self::update`] on an update parsed already (by [`parse_update`]).
    pub fn update_parsed(
        &self,
        parsed: spargebra::Update,
        dataset: &UpdateDataset,
        timeout: Duration,
        check: Option<&Check<'_>>,
    ) -> Result<(), StoreError> {
        let mut own_dataset = false;
        for op in &parsed.operations {
            match op {
                spargebra::GraphUpdateOperation::Load { source, .. } => {
                    return Err(StoreError::Forbidden(format!(
                        "LOAD <{}> is refused: shopgraph does not fetch documents on a client's behalf; \
                         send the data with the Graph Store Protocol or `shopgraph load`",
                        source.as_str()
                    )));
                }
                spargebra::GraphUpdateOperation::DeleteInsert { using, .. } => own_dataset |= using.is_some(),
                _ => {}
            }
        }
        let protocol_dataset = !dataset.using_graphs.is_empty() || !dataset.using_named_graphs.is_empty();
        if protocol_dataset && own_dataset {
            return Err(StoreError::Evaluation(
                "the update names its dataset (USING, USING NAMED or WITH) and the request gives \
                 using-graph-uri / using-named-graph-uri: give one of the two"
                    .into(),
            ));
        }
        let (ev, _guard) = self.cancellable(timeout);
        // What the commit will have changed: exact for data blocks, else the graphs it can write.
        let scope = match write_scope(&parsed) {
            WriteScope::Any => None,
            WriteScope::Graphs(g) => Some(
                g.into_iter()
                    .map(|g| g.map_or(GraphName::DefaultGraph, |n| GraphName::NamedNode(NamedNode::new_unchecked(n))))
                    .collect(),
            ),
        };
        let data_only = parsed.clone();
        let mut prepared = ev.for_update(parsed);
        if protocol_dataset {
            let default: Vec<GraphName> = dataset
                .using_graphs
                .iter()
                .map(|g| parse_iri(g).map(GraphName::NamedNode))
                .collect::<Result<_, _>>()?;
            let named: Vec<NamedOrBlankNode> = dataset
                .using_named_graphs
                .iter()
                .map(|g| parse_iri(g).map(NamedOrBlankNode::NamedNode))
                .collect::<Result<_, _>>()?;
            for ds in prepared.using_datasets_mut() {
                ds.set_default_graph(default.clone());
                ds.set_available_named_graphs(named.clone());
            }
        }
        let mut tx = self.inner.start_transaction()?;
        // Read before the update runs: what it changes, not what it states.
        let exact = match update::data_delta(&data_only) {
            Some((added, removed)) => Some((novel(&tx, &added, true)?, novel(&tx, &removed, false)?)),
            None => None,
        };
        prepared.on_transaction(&mut tx).execute().map_err(|e| match e {
            UpdateEvaluationError::Storage(s) => StoreError::Storage(s.to_string()),
            UpdateEvaluationError::Unexpected(inner) => match inner.downcast::<QueryEvaluationError>() {
                Ok(q) if matches!(*q, QueryEvaluationError::Cancelled) => StoreError::Timeout(timeout),
                Ok(q) => StoreError::Evaluation(q.to_string()),
                Err(other) => StoreError::Storage(other.to_string()),
            },
            UpdateEvaluationError::Service(s) => StoreError::Forbidden(s.to_string()),
            UpdateEvaluationError::GraphParsing(p) => StoreError::RdfSyntax(p.to_string()),
            other => StoreError::Evaluation(other.to_string()),
        })?;
        match exact {
            Some((added, removed)) => self.commit_checked(tx, check, Delta::Exact { added: &added, removed: &removed }),
            None => self.commit_checked(tx, check, Delta::Unknown { graphs: scope }),
        }
    }

    /// Bulk-loads an RDF stream. The load is atomic: on a parse error nothing is committed.
    /// `progress` is called with the number of quads loaded so far.
    pub fn bulk_load(
        &self,
        reader: impl BufRead,
        format: RdfFormat,
        graph: Option<&str>,
        base_iri: Option<&str>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<LoadStats, StoreError> {
        let start = Instant::now();
        let mut parser = RdfParser::from_format(format);
        if let Some(g) = graph {
            parser = parser.with_default_graph(parse_iri(g)?);
        }
        if let Some(b) = base_iri {
            parser = parser.with_base_iri(b).map_err(|e| StoreError::InvalidIri(e.to_string()))?;
        }
        // Counted here: the loader's own progress callback only fires every few hundred
        // thousand quads, so small files would report none.
        let mut count = 0u64;
        let quads = parser.rename_blank_nodes().for_reader(reader).inspect(|_| {
            count += 1;
            if count.is_multiple_of(100_000) {
                progress(count);
            }
        });
        let mut loader = self.inner.bulk_loader();
        loader.load_ok_quads::<oxigraph::io::RdfParseError, LoaderError>(quads)?;
        loader.commit()?;
        let graphs = match graph {
            Some(g) => Some(vec![GraphName::NamedNode(parse_iri(g)?)]),
            None if format.supports_datasets() => None,
            None => Some(vec![GraphName::DefaultGraph]),
        };
        self.wrote(Delta::Unknown { graphs });
        progress(count);
        Ok(LoadStats { quads: count, seconds: start.elapsed().as_secs_f64() })
    }

    /// Bulk-loads quads made in code (the ontology, cleaned rows). Atomic like [`Self::bulk_load`].
    pub fn bulk_insert(&self, quads: Vec<Quad>) -> Result<LoadStats, StoreError> {
        let start = Instant::now();
        let n = quads.len() as u64;
        let mut loader = self.inner.bulk_loader();
        loader.load_quads(quads.iter().cloned())?;
        loader.commit()?;
        self.wrote(Delta::Exact { added: &quads, removed: &[] });
        Ok(LoadStats { quads: n, seconds: start.elapsed().as_secs_f64() })
    }

    /// Inserts quads in one transaction (small writes: events, HTTP uploads).
    pub fn insert(&self, quads: &[Quad]) -> Result<(), StoreError> {
        self.insert_checked(quads, None)
    }

    /// [`Self::insert`], refused whole when the check finds a violation.
    pub fn insert_checked(&self, quads: &[Quad], check: Option<&Check<'_>>) -> Result<(), StoreError> {
        let mut tx = self.inner.start_transaction()?;
        // Listeners hear only what changed: an event re-states its product's type and id, and
        // re-indexing that product for search after every event is what made the soak's search
        // index commit a segment a second (benches/REPORT.md section 9).
        let added = novel(&tx, quads, true)?;
        tx.extend(quads.iter());
        self.commit_checked(tx, check, Delta::Exact { added: &added, removed: &[] })
    }

    /// Removes quads in one transaction.
    pub fn remove(&self, quads: &[Quad]) -> Result<(), StoreError> {
        let mut tx = self.inner.start_transaction()?;
        for q in quads {
            tx.remove(q);
        }
        tx.commit()?;
        self.wrote(Delta::Exact { added: &[], removed: quads });
        Ok(())
    }

    /// Removes `old` and inserts `new` in one transaction: a fact that moves, or a value that
    /// replaces another, is never half done after a crash.
    pub fn swap(&self, old: &[Quad], new: &[Quad]) -> Result<(), StoreError> {
        let mut tx = self.inner.start_transaction()?;
        let removed = novel(&tx, old, false)?;
        for q in old {
            tx.remove(q);
        }
        let added: Vec<Quad> = novel(&tx, new, true)?;
        tx.extend(new.iter());
        tx.commit()?;
        self.wrote(Delta::Exact { added: &added, removed: &removed });
        Ok(())
    }
}

/// The quads of `quads` that the transaction does not hold yet (`absent`), or those it holds
/// (`!absent`): what an insert or a removal actually changes.
fn novel(tx: &oxigraph::store::Transaction<'_>, quads: &[Quad], absent: bool) -> Result<Vec<Quad>, StoreError> {
    let mut out = Vec::new();
    for q in quads {
        if tx.contains(q)? != absent {
            out.push(q.clone());
        }
    }
    Ok(out)
}
