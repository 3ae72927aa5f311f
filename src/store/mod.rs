//! The one owner of oxigraph calls: opening the store, queries with timeout and row limits,
//! updates, bulk and transactional loads, the Graph Store operations, dumps and backups.

mod bind;
pub mod formats;
mod gsp;
pub mod guard;
mod heartbeat;
mod update;
mod validate;
mod watchdog;
mod write;

pub use spargebra::Update as ParsedUpdate;
pub use update::{UpdateDataset, WriteScope, parse_update, write_scope};
pub use validate::{Check, touched_nodes};

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::{GraphName, GraphNameRef, NamedNode, NamedOrBlankNode, Quad, Term};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};
use oxigraph::sparql::{CancellationToken, QueryEvaluationError, QueryResults, SparqlEvaluator};
use oxigraph::store::{LoaderError, StorageError, Store as OxStore};
use spargebra::algebra::GraphPattern;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use oxigraph::io::RdfFormat as GraphFormat;
pub use oxigraph::model;
pub use oxigraph::sparql::results::QueryResultsFormat as ResultsFormat;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SPARQL query or update does not parse.
    #[error("SPARQL syntax error: {0}")]
    Syntax(String),
    /// The query parsed but cannot be evaluated (unsupported SERVICE, bad substitution, ...).
    #[error("SPARQL evaluation error: {0}")]
    Evaluation(String),
    /// The query ran past its time limit and was cancelled.
    #[error("query cancelled after exceeding the {0:?} time limit")]
    Timeout(Duration),
    /// The server's resident memory passed its limit while the query ran; it was cancelled.
    #[error(
        "query cancelled: the server's memory passed its limit of {0} MiB while it ran; narrow the query (property paths with * or +, cartesian products)"
    )]
    MemoryBudget(u64),
    /// The query produced more rows than allowed.
    #[error("query result exceeds the limit of {0} rows; add a LIMIT or raise max_result_rows")]
    TooManyRows(usize),
    /// Uploaded or loaded RDF does not parse; nothing of it was written.
    #[error("RDF syntax error: {0}")]
    RdfSyntax(String),
    /// A named graph that does not exist.
    #[error("graph {0} does not exist")]
    GraphNotFound(String),
    /// A parameter is not a valid IRI.
    #[error("invalid IRI {0:?}")]
    InvalidIri(String),
    /// The operation is not allowed (SERVICE to an outside endpoint, a read-only store).
    #[error("{0}")]
    Forbidden(String),
    /// The client accepts none of the formats this answer can be written in.
    #[error("none of the accepted media types can carry this answer; offered: {0}")]
    NotAcceptable(String),
    /// RocksDB or the file system failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A validated write breaks the SHACL shapes; nothing of it was written.
    #[error("the write does not conform to the shapes ({} result(s)); nothing was written", .0.results.len())]
    Invalid(Box<crate::shacl::ValidationReport>),
    /// The shapes graph holds a malformed or unsupported shape.
    #[error("{0}")]
    Shapes(String),
}

impl From<StorageError> for StoreError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<LoaderError> for StoreError {
    fn from(e: LoaderError) -> Self {
        match e {
            LoaderError::Parsing(p) => Self::RdfSyntax(p.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

fn eval_error(e: QueryEvaluationError, timeout: Duration) -> StoreError {
    match e {
        QueryEvaluationError::Cancelled => StoreError::Timeout(timeout),
        QueryEvaluationError::Dataset(d) => StoreError::Storage(d.to_string()),
        QueryEvaluationError::Unexpected(d) => StoreError::Storage(d.to_string()),
        // Only the refusal of outside endpoints is a 403; our own services (sg:recommend, ...)
        // fail on what the query asked of them, which is a bad request.
        QueryEvaluationError::Service(s) if s.is::<ServiceRefused>() => StoreError::Forbidden(s.to_string()),
        QueryEvaluationError::Service(s) => StoreError::Evaluation(s.to_string()),
        other => StoreError::Evaluation(other.to_string()),
    }
}

/// The inferred graph's IRI (kept equal to `ontology::vocab::GRAPH_INFERRED`, which the store
/// cannot import; a test checks it).
pub const INFERRED_GRAPH: &str = "https://w3id.org/shopgraph/graph/inferred";

/// Limits and dataset of one query.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Cancelled after this long.
    pub timeout: Duration,
    /// Error once more rows than this are produced.
    pub max_rows: usize,
    /// Protocol `default-graph-uri` values. With `named_graphs`, they replace the query's
    /// FROM and FROM NAMED; either alone defines the whole dataset (SPARQL 1.1 Protocol 2.1.4).
    pub default_graphs: Vec<String>,
    /// Protocol `named-graph-uri` values (see `default_graphs`).
    pub named_graphs: Vec<String>,
    /// Treat the default graph as the union of all graphs.
    pub union_default_graph: bool,
    /// Add the inferred graph to the default graph (`infer=true`), unless the request names
    /// its own dataset.
    pub infer: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_rows: 1_000_000,
            default_graphs: Vec::new(),
            named_graphs: Vec::new(),
            union_default_graph: false,
            infer: false,
        }
    }
}

/// How results of a query should be written.
#[derive(Debug, Clone, Copy)]
pub struct OutputFormats {
    /// For SELECT and ASK; `None` when the client accepts none of them.
    pub results: Option<QueryResultsFormat>,
    /// For CONSTRUCT and DESCRIBE; `None` when the client accepts none of them.
    pub graph: Option<RdfFormat>,
}

/// A serialised query answer.
#[derive(Debug)]
pub struct QueryOutput {
    /// Media type of `body`.
    pub content_type: &'static str,
    /// The serialised results.
    pub body: Vec<u8>,
    /// Solutions or triples written (1 for ASK).
    pub rows: usize,
}

/// What a load wrote.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LoadStats {
    /// Quads read from the input (duplicates included).
    pub quads: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// Counts shown by `shopgraph stats` and /metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStats {
    /// All quads.
    pub quads: usize,
    /// Named graphs with their sizes.
    pub graphs: Vec<(String, usize)>,
    /// Quads in the default graph.
    pub default_graph: usize,
}

/// The store: oxigraph plus the evaluator holding every extension function.
#[derive(Clone)]
pub struct Store {
    inner: OxStore,
    evaluator: SparqlEvaluator,
    watchdog: Arc<watchdog::Watchdog>,
    memory_limit: Option<u64>,
    /// Bumped after every write that commits: lets callers cache what they derive from the
    /// data (the extraction lexicon) and recompute it only after a write.
    writes: Arc<std::sync::atomic::AtomicU64>,
    /// Told of every commit, after it (reasoning keeps its graph current with it).
    listener: Arc<std::sync::RwLock<Option<Listener>>>,
}

/// What a commit changed.
#[derive(Debug)]
pub enum Delta<'a> {
    /// Exactly these quads were written and removed. Inserts, swaps and SPARQL data updates
    /// list only what changed; bulk loads, Graph Store additions and [`Store::remove`] may list
    /// quads that were already there, or already absent.
    Exact {
        /// Inserted.
        added: &'a [Quad],
        /// Removed.
        removed: &'a [Quad],
    },
    /// Something changed in these graphs (any graph: `None`) that the store cannot list: a
    /// graph replaced or cleared, an update with patterns, a file streamed in.
    Unknown {
        /// The graphs that may have changed.
        graphs: Option<Vec<GraphName>>,
    },
}

/// Called after each commit with what it changed.
pub type Listener = Arc<dyn Fn(&Delta<'_>) + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Refuses every SERVICE that has no handler of ours: a user's query must never make the
/// server call out to another address.
struct RejectOutsideServices;

#[derive(Debug, thiserror::Error)]
#[error("SERVICE <{0}> is refused: shopgraph does not call outside endpoints")]
struct ServiceRefused(String);

impl oxigraph::sparql::DefaultServiceHandler for RejectOutsideServices {
    type Error = ServiceRefused;
    fn handle(
        &self,
        service_name: &NamedNode,
        _pattern: &GraphPattern,
        _base_iri: Option<&oxiri::Iri<String>>,
    ) -> Result<oxigraph::sparql::QuerySolutionIter<'static>, Self::Error> {
        Err(ServiceRefused(service_name.as_str().into()))
    }
}

/// The block cache of a store opened without a configuration; `config`'s `store_cache_mb`
/// defaults to the same (config depends on nothing of ours, so a test checks they agree).
pub const DEFAULT_CACHE_MB: usize = 32;

impl Store {
    /// An in-memory store (tests, `--memory`).
    pub fn memory() -> Result<Self, StoreError> {
        Ok(Self::wrap(OxStore::new()?))
    }

    /// Opens (or creates) the RocksDB store under `dir`, with the default block cache
    /// ([`DEFAULT_CACHE_MB`]).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_MB << 20)
    }

    /// Opens (or creates) the RocksDB store under `dir` with one block cache of `cache_bytes`
    /// shared by every column family (a setting oxigraph gains from the patch in vendor/).
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let options = oxigraph::store::StoreOptions::default().with_block_cache_size(cache_bytes);
        let inner = OxStore::open_with_options(dir, options).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("LOCK") || msg.contains("lock") {
                StoreError::Storage(format!("{msg} (is another shopgraph process using {}?)", dir.display()))
            } else {
                StoreError::Storage(msg)
            }
        })?;
        // A load killed mid-way leaves its SST files behind; nothing refers to them. The lock
        // is ours now, so no other process can be writing one.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with("bulk-") && name.ends_with(".sst") {
                    match std::fs::remove_file(e.path()) {
                        Ok(()) => log::info!("removed {name}, left by an interrupted bulk load"),
                        Err(err) => log::warn!("could not remove {name}: {err}"),
                    }
                }
            }
        }
        Ok(Self::wrap(inner))
    }

    fn wrap(inner: OxStore) -> Self {
        Self {
            inner,
            evaluator: SparqlEvaluator::new().with_default_service_handler(RejectOutsideServices),
            watchdog: Arc::new(watchdog::Watchdog::start()),
            memory_limit: None,
            writes: Arc::default(),
            listener: Arc::default(),
        }
    }

    /// How many writes have committed since open: equal generations mean nothing was written
    /// in between.
    pub fn generation(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Records a commit: bumps the generation and tells the listener what changed.
    fn wrote(&self, delta: Delta<'_>) {
        self.writes.fetch_add(1, std::sync::atomic::Ordering::Release);
        let listener = self.listener.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(l) = listener {
            l(&delta);
        }
    }

    /// Sets the function told of every commit (one; a second call replaces the first).
    pub fn set_listener(&self, listener: Listener) {
        *self.listener.write().unwrap_or_else(|e| e.into_inner()) = Some(listener);
    }

    /// Cancels running queries while the process's resident memory is above `bytes`; they
    /// answer [`StoreError::MemoryBudget`].
    pub fn with_memory_limit(mut self, bytes: Option<u64>) -> Self {
        self.watchdog.set_memory_limit(bytes);
        self.memory_limit = bytes;
        self
    }

    /// A timeout caused by the memory watch is reported as such.
    fn why_cancelled<T>(&self, r: Result<T, StoreError>, guard: &watchdog::Guard) -> Result<T, StoreError> {
        match r {
            Err(StoreError::Timeout(_)) if guard.over_memory() => {
                Err(StoreError::MemoryBudget(self.memory_limit.unwrap_or(0) >> 20))
            }
            other => other,
        }
    }

    /// Replaces the evaluator's configuration (extension functions, services); the outside
    /// SERVICE refusal is always put back on top.
    pub fn with_evaluator(mut self, f: impl FnOnce(SparqlEvaluator) -> SparqlEvaluator) -> Self {
        self.evaluator = f(self.evaluator).with_default_service_handler(RejectOutsideServices);
        self
    }

    fn cancellable(&self, timeout: Duration) -> (SparqlEvaluator, watchdog::Guard) {
        let token = CancellationToken::new();
        let guard = self.watchdog.arm(Instant::now() + timeout, token.clone());
        let beat = token.clone();
        let ev = self.evaluator.clone().with_cancellation_token(token).with_custom_function(
            NamedNode::new_unchecked(heartbeat::HEARTBEAT),
            move |_| {
                if beat.is_cancelled() {
                    std::panic::panic_any(heartbeat::Cancelled);
                }
                None
            },
        );
        (ev, guard)
    }

    /// Runs a query and serialises its answer. Parameters are bound as RDF terms on the algebra
    /// (a VALUES block joined under the projection), never pasted into the text.
    pub fn query(
        &self,
        text: &str,
        bindings: &[(String, Term)],
        opts: &QueryOptions,
        formats: OutputFormats,
    ) -> Result<QueryOutput, StoreError> {
        let start = Instant::now();
        let mut parsed = parse_query(text)?;
        if !bindings.is_empty() {
            bind::substitute(&mut parsed, bindings)?;
        }
        heartbeat::insert(&mut parsed);
        let (ev, guard) = self.cancellable(opts.timeout);
        let mut prepared = ev.for_query(parsed);
        let ds = prepared.dataset_mut();
        if !opts.default_graphs.is_empty() || !opts.named_graphs.is_empty() {
            ds.set_default_graph(
                opts.default_graphs.iter().map(|g| parse_iri(g).map(GraphName::NamedNode)).collect::<Result<_, _>>()?,
            );
            ds.set_available_named_graphs(
                opts.named_graphs
                    .iter()
                    .map(|g| parse_iri(g).map(NamedOrBlankNode::NamedNode))
                    .collect::<Result<_, _>>()?,
            );
        }
        if opts.union_default_graph && opts.default_graphs.is_empty() {
            ds.set_default_graph_as_union();
        } else if opts.infer && opts.default_graphs.is_empty() && opts.named_graphs.is_empty() {
            ds.set_default_graph(vec![
                GraphName::DefaultGraph,
                GraphName::NamedNode(NamedNode::new_unchecked(INFERRED_GRAPH)),
            ]);
        }
        let deadline = start + opts.timeout;
        let r = catch_cancelled(opts.timeout, || {
            let results = prepared.on_store(&self.inner).execute().map_err(|e| eval_error(e, opts.timeout))?;
            serialize(results, opts, formats, deadline)
        });
        self.why_cancelled(r, &guard)
    }

    /// Runs a SELECT for the engine's own use and returns the terms, row by row, in the order
    /// of `vars` (unbound as `None`).
    pub fn select_terms(
        &self,
        text: &str,
        bindings: &[(String, Term)],
        vars: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
        let mut parsed = parse_query(text)?;
        if !bindings.is_empty() {
            bind::substitute(&mut parsed, bindings)?;
        }
        heartbeat::insert(&mut parsed);
        let (ev, guard) = self.cancellable(timeout);
        let r = catch_cancelled(timeout, || {
            let results = ev.for_query(parsed).on_store(&self.inner).execute().map_err(|e| eval_error(e, timeout))?;
            let QueryResults::Solutions(solutions) = results else {
                return Err(StoreError::Evaluation("expected a SELECT query".into()));
            };
            let mut rows = Vec::new();
            for s in solutions {
                let s = s.map_err(|e| eval_error(e, timeout))?;
                rows.push(vars.iter().map(|v| s.get(*v).cloned()).collect());
            }
            Ok(rows)
        });
        self.why_cancelled(r, &guard)
    }

    /// IRIs of every named graph.
    pub fn graph_names(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for g in self.inner.named_graphs() {
            if let NamedOrBlankNode::NamedNode(n) = g? {
                out.push(n.into_string());
            }
        }
        Ok(out)
    }

    /// Whether the store holds the quad.
    pub fn contains(&self, quad: &Quad) -> Result<bool, StoreError> {
        Ok(self.inner.contains(quad)?)
    }

    /// Serialises everything (`shopgraph dump`); the operator's own command, so unbounded.
    pub fn dump_all(&self, format: RdfFormat, writer: impl Write) -> Result<(), StoreError> {
        if !format.supports_datasets() {
            return Err(StoreError::Forbidden(format!(
                "{} cannot hold named graphs; dump the whole store as N-Quads or TriG",
                format.name()
            )));
        }
        self.inner
            .dump_to_writer(RdfSerializer::from_format(format), writer)
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        Ok(())
    }

    /// Hard-link checkpoint of the RocksDB store into `dir` (which must not exist).
    pub fn backup(&self, dir: &Path) -> Result<(), StoreError> {
        Ok(self.inner.backup(dir)?)
    }

    /// Quad counts overall and per graph.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut graphs = Vec::new();
        for g in self.inner.named_graphs() {
            let g = g?;
            let n = self.inner.quads_for_pattern(None, None, None, Some(g.as_ref().into())).count();
            graphs.push((g.to_string(), n));
        }
        graphs.sort();
        let default_graph = self.inner.quads_for_pattern(None, None, None, Some(GraphNameRef::DefaultGraph)).count();
        let quads = default_graph + graphs.iter().map(|g| g.1).sum::<usize>();
        Ok(StoreStats { quads, graphs, default_graph })
    }

    /// All quads (for tests and small exports).
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.inner.len()?)
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.inner.is_empty()?)
    }

    /// Quads matching a pattern (`None`: any), for small lookups.
    pub fn pattern(
        &self,
        subject: Option<&NamedOrBlankNode>,
        predicate: Option<&NamedNode>,
        object: Option<&Term>,
        graph: Option<&GraphName>,
    ) -> Result<Vec<Quad>, StoreError> {
        Ok(self.matching(subject, predicate, object, graph).collect::<Result<_, _>>()?)
    }

    /// The first quad matching a pattern that `keep` accepts, reading no further.
    pub fn find_first(
        &self,
        subject: Option<&NamedOrBlankNode>,
        predicate: Option<&NamedNode>,
        object: Option<&Term>,
        graph: Option<&GraphName>,
        keep: impl Fn(&Quad) -> bool,
    ) -> Result<Option<Quad>, StoreError> {
        for q in self.matching(subject, predicate, object, graph) {
            let q = q?;
            if keep(&q) {
                return Ok(Some(q));
            }
        }
        Ok(None)
    }

    fn matching(
        &self,
        subject: Option<&NamedOrBlankNode>,
        predicate: Option<&NamedNode>,
        object: Option<&Term>,
        graph: Option<&GraphName>,
    ) -> oxigraph::store::QuadIter<'static> {
        self.inner.quads_for_pattern(
            subject.map(NamedOrBlankNode::as_ref),
            predicate.map(NamedNode::as_ref),
            object.map(Term::as_ref),
            graph.map(GraphName::as_ref),
        )
    }

    /// Objects of `(subject, predicate, ?o)` in any graph, for small lookups.
    pub fn objects(&self, subject: &NamedNode, predicate: &NamedNode) -> Result<Vec<Term>, StoreError> {
        self.inner
            .quads_for_pattern(Some(subject.as_ref().into()), Some(predicate.as_ref()), None, None)
            .map(|q| q.map(|q| q.object).map_err(StoreError::from))
            .collect()
    }

    /// Quads of one graph with the given predicate (an index lookup, not a scan).
    pub fn graph_quads_with_predicate(
        &self,
        graph: &GraphName,
        predicate: &NamedNode,
    ) -> Result<Vec<Quad>, StoreError> {
        Ok(self
            .inner
            .quads_for_pattern(None, Some(predicate.as_ref()), None, Some(graph.as_ref()))
            .collect::<Result<_, _>>()?)
    }

    /// At most `n` quads of one graph.
    pub fn graph_quads_limited(&self, graph: &GraphName, n: usize) -> Result<Vec<Quad>, StoreError> {
        Ok(self.inner.quads_for_pattern(None, None, None, Some(graph.as_ref())).take(n).collect::<Result<_, _>>()?)
    }

    /// Every quad of one graph.
    pub fn graph_quads(&self, graph: &GraphName) -> Result<Vec<Quad>, StoreError> {
        Ok(self.inner.quads_for_pattern(None, None, None, Some(graph.as_ref())).collect::<Result<_, _>>()?)
    }

    /// Every quad, in any graph, whose subject or object is `node`.
    pub fn quads_touching(&self, node: &NamedNode) -> Result<Vec<Quad>, StoreError> {
        let mut out: Vec<Quad> =
            self.inner.quads_for_pattern(Some(node.as_ref().into()), None, None, None).collect::<Result<_, _>>()?;
        for q in self.inner.quads_for_pattern(None, None, Some(node.as_ref().into()), None) {
            out.push(q?);
        }
        Ok(out)
    }

    /// Subjects of `?s <predicate> <object>` in any graph.
    pub fn subjects_with(
        &self,
        predicate: &NamedNode,
        object: &NamedNode,
    ) -> Result<Vec<NamedOrBlankNode>, StoreError> {
        self.inner
            .quads_for_pattern(None, Some(predicate.as_ref()), Some(object.as_ref().into()), None)
            .map(|q| Ok(q?.subject))
            .collect()
    }

    /// Flushes memtables and compacts, so deleted quads leave the files on disk too.
    pub fn compact(&self) -> Result<(), StoreError> {
        self.inner.flush()?;
        Ok(self.inner.optimize()?)
    }

    /// What RocksDB holds in memory (block cache, memtables, table readers), for `/metrics`;
    /// `None` for an in-memory store.
    pub fn memory_usage(&self) -> Result<Option<oxigraph::store::StorageMemoryUsage>, StoreError> {
        Ok(self.inner.memory_usage()?)
    }

    /// Flushes RocksDB's memtables to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        Ok(self.inner.flush()?)
    }
}

/// Runs an evaluation, turning a cancelled heartbeat's unwinding into [`StoreError::Timeout`];
/// any other panic goes on unwinding.
fn catch_cancelled<T>(timeout: Duration, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    heartbeat::quiet_cancellations();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) if payload.is::<heartbeat::Cancelled>() => Err(StoreError::Timeout(timeout)),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

pub(crate) fn check_sparql_nesting(text: &str) -> Result<(), StoreError> {
    let depth = guard::sparql_depth(text);
    if depth > guard::MAX_SPARQL_NESTING {
        return Err(StoreError::Syntax(format!(
            "brackets nest {depth} deep; at most {} levels are accepted",
            guard::MAX_SPARQL_NESTING
        )));
    }
    Ok(())
}

/// Parses a query after the nesting check.
fn parse_query(text: &str) -> Result<spargebra::Query, StoreError> {
    check_sparql_nesting(text)?;
    spargebra::SparqlParser::new().parse_query(text).map_err(|e| StoreError::Syntax(e.to_string()))
}

/// Refuses uploads that would make a parser recurse without bound or expand entities.
fn check_upload(data: &[u8], format: RdfFormat) -> Result<(), StoreError> {
    match format {
        RdfFormat::RdfXml if guard::declares_xml_entities(data) => {
            Err(StoreError::RdfSyntax("RDF/XML with <!ENTITY> declarations is refused".into()))
        }
        RdfFormat::JsonLd { .. } => {
            let depth = guard::json_depth(data);
            if depth > guard::MAX_JSON_NESTING {
                return Err(StoreError::RdfSyntax(format!(
                    "JSON-LD nests {depth} deep; at most {} levels are accepted",
                    guard::MAX_JSON_NESTING
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Row limit and deadline of a streaming read, checked every row (the clock every 1024).
fn check_progress(rows: usize, opts: &QueryOptions, deadline: Instant) -> Result<(), StoreError> {
    if rows > opts.max_rows {
        return Err(StoreError::TooManyRows(opts.max_rows));
    }
    if rows.is_multiple_of(1024) && Instant::now() > deadline {
        return Err(StoreError::Timeout(opts.timeout));
    }
    Ok(())
}

fn parse_iri(s: &str) -> Result<NamedNode, StoreError> {
    NamedNode::new(s).map_err(|_| StoreError::InvalidIri(s.into()))
}

fn serialize(
    results: QueryResults<'_>,
    opts: &QueryOptions,
    formats: OutputFormats,
    deadline: Instant,
) -> Result<QueryOutput, StoreError> {
    // The watchdog cancels evaluation; this catches time spent in serialisation itself.
    let too_many = |rows: usize| check_progress(rows, opts, deadline);
    match results {
        QueryResults::Solutions(solutions) => {
            let format = formats
                .results
                .ok_or_else(|| StoreError::NotAcceptable(offered(formats::RESULTS_FORMATS.map(|f| f.media_type()))))?;
            let mut ser = QueryResultsSerializer::from_format(format)
                .serialize_solutions_to_writer(Vec::new(), solutions.variables().to_vec())?;
            let mut rows = 0;
            for s in solutions {
                let s = s.map_err(|e| eval_error(e, opts.timeout))?;
                rows += 1;
                too_many(rows)?;
                ser.serialize(&s)?;
            }
            Ok(QueryOutput { content_type: format.media_type(), body: ser.finish()?, rows })
        }
        QueryResults::Boolean(b) => {
            let format = formats
                .results
                .ok_or_else(|| StoreError::NotAcceptable(offered(formats::RESULTS_FORMATS.map(|f| f.media_type()))))?;
            let body = QueryResultsSerializer::from_format(format).serialize_boolean_to_writer(Vec::new(), b)?;
            Ok(QueryOutput { content_type: format.media_type(), body, rows: 1 })
        }
        QueryResults::Graph(triples) => {
            let format = formats
                .graph
                .ok_or_else(|| StoreError::NotAcceptable(offered(formats::GRAPH_FORMATS.map(|f| f.media_type()))))?;
            let mut ser = RdfSerializer::from_format(format).for_writer(Vec::new());
            let mut rows = 0;
            for t in triples {
                let t = t.map_err(|e| eval_error(e, opts.timeout))?;
                rows += 1;
                too_many(rows)?;
                ser.serialize_triple(&t)?;
            }
            Ok(QueryOutput { content_type: format.media_type(), body: ser.finish()?, rows })
        }
    }
}

fn offered<const N: usize>(media: [&str; N]) -> String {
    media.join(", ")
}
