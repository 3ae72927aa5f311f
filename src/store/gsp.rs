//! Graph Store operations: parsing uploads completely before anything is written, replacing
//! and adding graphs or the whole dataset in one transaction (validated first when asked),
//! deleting graphs, and serialising them under the query limits.

use super::validate::Check;
use super::{Delta, QueryOptions, Store, StoreError, check_progress, check_upload};
use oxigraph::io::{RdfFormat, RdfParser, RdfSerializer};
use oxigraph::model::{GraphName, GraphNameRef, Quad};
use std::time::Instant;

impl Store {
    /// Parses an RDF document completely, so that a syntax error is found before anything is written.
    pub fn parse_document(
        data: &[u8],
        format: RdfFormat,
        graph: GraphName,
        base_iri: Option<&str>,
    ) -> Result<Vec<Quad>, StoreError> {
        check_upload(data, format)?;
        let mut parser = RdfParser::from_format(format).with_default_graph(graph).rename_blank_nodes();
        if let Some(b) = base_iri {
            parser = parser.with_base_iri(b).map_err(|e| StoreError::InvalidIri(e.to_string()))?;
        }
        if format.supports_datasets() {
            // A graph-level upload may not smuggle quads into other graphs.
            parser = parser.without_named_graphs();
        }
        parser.for_slice(data).map(|q| q.map_err(|e| StoreError::RdfSyntax(e.to_string()))).collect()
    }

    /// Parses an N-Quads / TriG document for the whole dataset (GSP without a graph).
    pub fn parse_dataset_document(data: &[u8], format: RdfFormat) -> Result<Vec<Quad>, StoreError> {
        check_upload(data, format)?;
        RdfParser::from_format(format)
            .rename_blank_nodes()
            .for_slice(data)
            .map(|q| q.map_err(|e| StoreError::RdfSyntax(e.to_string())))
            .collect()
    }

    /// GSP PUT without a graph: the dataset becomes exactly these quads, in one transaction.
    pub fn replace_dataset(&self, quads: &[Quad], check: Option<&Check<'_>>) -> Result<(), StoreError> {
        let mut tx = self.inner.start_transaction()?;
        tx.clear()?;
        tx.extend(quads.iter());
        self.commit_checked(tx, check, Delta::Unknown { graphs: None })
    }

    /// GSP POST without a graph: adds quads to their graphs in one transaction.
    pub fn add_to_dataset(&self, quads: &[Quad], check: Option<&Check<'_>>) -> Result<(), StoreError> {
        let mut tx = self.inner.start_transaction()?;
        tx.extend(quads.iter());
        self.commit_checked(tx, check, Delta::Exact { added: quads, removed: &[] })
    }

    /// GSP PUT: replaces a graph with the given quads in one transaction. Returns whether it existed.
    pub fn replace_graph(
        &self,
        graph: &GraphName,
        quads: &[Quad],
        check: Option<&Check<'_>>,
    ) -> Result<bool, StoreError> {
        self.write_graph(graph, quads, check, true)
    }

    /// GSP POST: adds quads to a graph in one transaction. Returns whether it existed.
    pub fn add_to_graph(
        &self,
        graph: &GraphName,
        quads: &[Quad],
        check: Option<&Check<'_>>,
    ) -> Result<bool, StoreError> {
        self.write_graph(graph, quads, check, false)
    }

    fn write_graph(
        &self,
        graph: &GraphName,
        quads: &[Quad],
        check: Option<&Check<'_>>,
        replace: bool,
    ) -> Result<bool, StoreError> {
        let existed = self.graph_exists(graph)?;
        let mut tx = self.inner.start_transaction()?;
        if replace {
            tx.clear_graph(graph.as_ref())?;
        }
        if let GraphName::NamedNode(n) = graph {
            tx.insert_named_graph(n.as_ref());
        }
        tx.extend(quads.iter());
        let delta = if replace {
            Delta::Unknown { graphs: Some(vec![graph.clone()]) }
        } else {
            Delta::Exact { added: quads, removed: &[] }
        };
        self.commit_checked(tx, check, delta)?;
        Ok(existed)
    }

    /// Makes a named graph exist (empty if new); the default graph always does.
    pub fn create_graph(&self, graph: &GraphName) -> Result<(), StoreError> {
        if let GraphName::NamedNode(n) = graph
            && !self.graph_exists(graph)?
        {
            self.inner.insert_named_graph(n.as_ref())?;
        }
        Ok(())
    }

    /// GSP DELETE: removes a named graph, or empties the default graph.
    pub fn delete_graph(&self, graph: &GraphName) -> Result<(), StoreError> {
        if !self.graph_exists(graph)? {
            return Err(StoreError::GraphNotFound(graph.to_string()));
        }
        match graph {
            GraphName::DefaultGraph => self.inner.clear_graph(GraphNameRef::DefaultGraph)?,
            GraphName::NamedNode(n) => {
                self.inner.remove_named_graph(n.as_ref())?;
            }
            GraphName::BlankNode(b) => {
                self.inner.remove_named_graph(b.as_ref())?;
            }
        }
        self.wrote(Delta::Unknown { graphs: Some(vec![graph.clone()]) });
        Ok(())
    }

    /// Whether a graph exists (the default graph always does).
    pub fn graph_exists(&self, graph: &GraphName) -> Result<bool, StoreError> {
        Ok(match graph {
            GraphName::DefaultGraph => true,
            GraphName::NamedNode(n) => self.inner.contains_named_graph(n.as_ref())?,
            GraphName::BlankNode(b) => self.inner.contains_named_graph(b.as_ref())?,
        })
    }

    /// Serialises one graph (GSP GET), under the same row limit and deadline as a query.
    pub fn dump_graph(&self, graph: &GraphName, format: RdfFormat, opts: &QueryOptions) -> Result<Vec<u8>, StoreError> {
        if !self.graph_exists(graph)? {
            return Err(StoreError::GraphNotFound(graph.to_string()));
        }
        let deadline = Instant::now() + opts.timeout;
        let mut ser = RdfSerializer::from_format(format).for_writer(Vec::new());
        for (n, q) in self.inner.quads_for_pattern(None, None, None, Some(graph.as_ref())).enumerate() {
            check_progress(n + 1, opts, deadline)?;
            ser.serialize_triple(q?.as_ref())?;
        }
        Ok(ser.finish()?)
    }

    /// Serialises the whole dataset as N-Quads or TriG (GSP GET without a graph), under the
    /// same row limit and deadline as a query.
    pub fn dump_dataset(&self, format: RdfFormat, opts: &QueryOptions) -> Result<Vec<u8>, StoreError> {
        let deadline = Instant::now() + opts.timeout;
        let mut ser = RdfSerializer::from_format(format).for_writer(Vec::new());
        for (n, q) in self.inner.iter().enumerate() {
            check_progress(n + 1, opts, deadline)?;
            ser.serialize_quad(q?.as_ref())?;
        }
        Ok(ser.finish()?)
    }
}
