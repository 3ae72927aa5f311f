//! The engine ties the store, ontology, ingest and named queries together behind one API that
//! the CLI and the HTTP layer share. Its methods are blocking: callers on async threads go
//! through [`crate::pool::Pool`].

mod extract;
mod fusion;
mod privacy;
mod queue;
mod reason;
mod rec;
mod search;
mod validate;
mod versions;

pub use extract::{BrandLinker, ExtractOptions, ExtractReport};
pub use fusion::{FusionReport, normalise};
pub use queue::{Decision, Edit, QueueFilter, QueueItem};

pub use privacy::Forgotten;
pub use reason::{Derivation, Maintenance, MaintenanceCounts, ReasonReport};
pub use rec::{EventsAccepted, Explanation, RecommendResponse};
pub use validate::subjects;
pub use versions::{
    Change, Conflict, MergeReport, OntologyDiff, OntologyInfo, OntologyVersion, Patch, Snapshot, Terms,
};

use crate::config::Config;
use crate::extract::semantic::{ModelSettings, Semantic};
use crate::ingest::{self, CleaningReport, IngestError, mapping::Mapping, pseudonym::Pseudonymizer};
use crate::ontology::{self, Minter, OntologyError, vocab};
use crate::queries::{NamedQueries, NamedQueryError};
use crate::recommend::{RecommendError, Recommender};
use crate::store::{
    LoadStats, OutputFormats, QueryOptions, QueryOutput, Store, StoreError, UpdateDataset,
    model::{GraphName, Literal, NamedNode, Quad, Term},
};
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors of the engine: each wraps the module that failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// From the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// From tabular ingest.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// From the ontology files.
    #[error(transparent)]
    Ontology(#[from] OntologyError),
    /// From named queries.
    #[error(transparent)]
    NamedQuery(#[from] NamedQueryError),
    /// From the recommendation service.
    #[error(transparent)]
    Recommend(#[from] RecommendError),
    /// From extraction (models, input text).
    #[error(transparent)]
    Extract(crate::extract::ExtractError),
    /// A file to load has a format shopgraph cannot tell, or no mapping.
    #[error("{0}")]
    Input(String),
    /// From API key management.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// A thing named in the request does not exist (a review-queue item).
    #[error("{0}")]
    NotFound(String),
    /// From product search (its index, or a request it cannot answer).
    #[error(transparent)]
    Search(crate::search::SearchError),
}

/// Records posted as a JSON array or as JSON Lines (a single object is one line); `what`
/// names a record in errors.
fn json_records<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<Vec<T>, EngineError> {
    let text = std::str::from_utf8(body).map_err(|e| EngineError::Input(format!("body is not UTF-8: {e}")))?;
    let t = text.trim_start();
    if t.starts_with('[') {
        return serde_json::from_str(t).map_err(|e| EngineError::Input(format!("{what}s: {e}")));
    }
    t.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| EngineError::Input(format!("{what} on line {}: {e}", n + 1))))
        .collect()
}

/// What loading one file did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileLoad {
    /// The file.
    pub file: String,
    /// Quads handed to the store.
    pub quads: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// Cleaning report (tabular files only).
    pub report: Option<CleaningReport>,
    /// Where the report and the rejected rows were saved.
    pub report_files: Vec<String>,
}

/// Shared state of a running shopgraph.
#[derive(Debug)]
pub struct Engine {
    /// The resolved configuration.
    pub config: Config,
    store: Store,
    minter: Minter,
    pseudo: Pseudonymizer,
    queries: NamedQueries,
    rec: Arc<Recommender>,
    retraining: std::sync::atomic::AtomicBool,
    semantic: Arc<Semantic>,
    /// The store generation the extractor's lexicon was read at (`u64::MAX`: never).
    lexicon_generation: std::sync::atomic::AtomicU64,
    keys: crate::auth::Keys,
    audit: crate::audit::AuditLog,
    shapes_cache: std::sync::RwLock<validate::ShapesCache>,
    reasoner: std::sync::Mutex<reason::Reasoner>,
    background: reason::Background,
    search: Arc<crate::search::Search>,
    /// The search index must be rewritten from the graph when the catalogue is first read: it
    /// is new, was not closed cleanly, or a write came before the catalogue was read.
    search_stale: std::sync::atomic::AtomicBool,
    /// One catalogue read at a time.
    search_loading: std::sync::Mutex<()>,
    /// Where `SERVICE sg:search` finds the engine's search.
    search_slot: crate::sparql_fns::SearchSlot,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.search.is_ready() {
            self.search.close();
        } else if !self.search_stale.load(std::sync::atomic::Ordering::SeqCst) {
            // Opened clean, never read, nothing written that concerns products (`shopgraph query`).
            self.search.close_untouched();
        }
    }
}

/// Under continuous writes, housekeeping flushes the memtables once per this many ticks: what
/// the memtables hold between flushes is most of what a writing server's memory moves by. It was
/// ten while oxigraph's own block caches kept every compaction's blocks (each flush led to a
/// compaction, and every third tick against every tenth stepped memory up); with one bounded
/// cache (`Store::open_with_cache`) a compaction no longer raises the floor (benches/REPORT.md
/// section 9).
pub const FLUSH_AT_MOST_EVERY_TICKS: u32 = 3;

impl Engine {
    /// Opens the store the config names (RocksDB under `data`, or memory) and makes sure the
    /// current ontology is loaded.
    pub fn open(config: Config) -> Result<Arc<Self>, EngineError> {
        let (store, pseudo) = Self::open_parts(&config)?;
        Self::with_parts(config, store, pseudo)
    }

    /// Starts the server's housekeeping thread, which flushes committed writes from RocksDB's
    /// memtables to disk: oxigraph sizes the memtables for a 512 MiB write budget, so without
    /// this a busy server holds a long run of writes in memory and replays them from the log at
    /// the next start. It flushes at the first tick (`every`) with nothing new written after a
    /// write, or after [`FLUSH_AT_MOST_EVERY_TICKS`] ticks of continuous writing, or, looking
    /// every `look`, once the memtables hold `flush_memtable_entries` (so what they hold does
    /// not grow with the write rate; `look` bounds how often a fast writer is flushed). Not every
    /// tick: each flush leads to a compaction that rewrites the string dictionary's file whole
    /// (its keys are hashes). The thread ends with the engine.
    pub fn start_housekeeping(self: &Arc<Self>, every: std::time::Duration, look: std::time::Duration) {
        let weak = Arc::downgrade(self);
        let limit = self.config.flush_memtable_entries;
        let look = look.clamp(std::time::Duration::from_millis(1), every);
        let mut flushed_at = self.store.generation();
        let mut seen = flushed_at;
        let mut ticks_unflushed = 0u32;
        let mut since_tick = std::time::Duration::ZERO;
        let spawned = std::thread::Builder::new().name("shopgraph-housekeeping".into()).spawn(move || {
            loop {
                std::thread::sleep(look);
                let Some(engine) = weak.upgrade() else { return };
                since_tick += look;
                let now = engine.store.generation();
                // Entries, not bytes: the memtables' byte count steps up a whole arena block per
                // column family at the first write after a flush.
                let mut flush = limit > 0
                    && now != flushed_at
                    && engine.store.memory_usage().ok().flatten().is_some_and(|u| u.memtable_entries >= limit);
                if since_tick >= every {
                    since_tick = std::time::Duration::ZERO;
                    if now != flushed_at {
                        ticks_unflushed += 1;
                        flush |= now == seen || ticks_unflushed >= FLUSH_AT_MOST_EVERY_TICKS;
                    }
                    seen = now;
                }
                if flush {
                    match engine.store.flush() {
                        Ok(()) => {
                            flushed_at = now;
                            ticks_unflushed = 0;
                        }
                        Err(e) => log::warn!("housekeeping: flushing the memtables failed: {e}"),
                    }
                }
            }
        });
        if let Err(e) = spawned {
            log::warn!("housekeeping thread not started: {e}");
        }
    }

    fn open_parts(config: &Config) -> Result<(Store, Pseudonymizer), EngineError> {
        Ok(if config.memory {
            (Store::memory()?, Pseudonymizer::random()?)
        } else {
            (
                Store::open_with_cache(&config.data.join("store"), config.store_cache_mb << 20)?,
                Pseudonymizer::load_or_create(&config.data)?,
            )
        })
    }

    /// An engine over a given store and key (tests).
    pub fn with_parts(config: Config, store: Store, pseudo: Pseudonymizer) -> Result<Arc<Self>, EngineError> {
        let engine = Self::listening(Self::assemble(config, store, pseudo)?);
        engine.ensure_ontology()?;
        engine.load_saved_model()?;
        engine.resume_owed_rebuild()?;
        Ok(engine)
    }

    /// The engine, told of every commit to its store (reasoning keeps the inferred graph
    /// current); the store holds only a weak reference back.
    fn listening(engine: Self) -> Arc<Self> {
        let engine = Arc::new(engine);
        let weak = Arc::downgrade(&engine);
        let weak_search = Arc::downgrade(&engine);
        engine.search_slot.set(Arc::new(move |req| {
            let e = weak_search.upgrade().ok_or("the engine is closing")?;
            e.search(req, None).map_err(|x| x.to_string())
        }));
        engine.store.set_listener(Arc::new(move |delta| {
            if let Some(e) = weak.upgrade() {
                e.after_write(delta);
                e.search_after_write(delta);
            }
        }));
        engine
    }

    /// Opens the store for a load of RDF files without installing the ontology: RDF files do
    /// not need it to load (tabular files do, for their categories), and every other command,
    /// `serve` included, installs it when it opens the store (`ensure_ontology` checks a version
    /// marker). On a fresh folder the load then costs what the file costs.
    pub fn open_for_rdf_load(config: Config) -> Result<Arc<Self>, EngineError> {
        let (store, pseudo) = Self::open_parts(&config)?;
        Ok(Self::listening(Self::assemble(config, store, pseudo)?))
    }

    fn assemble(config: Config, store: Store, pseudo: Pseudonymizer) -> Result<Self, EngineError> {
        let minter = Minter::new(&config.base_iri)?;
        let queries = NamedQueries::load(config.queries_dir.as_deref())?;
        let rec = Arc::new(Recommender::default());
        let settings = ModelSettings {
            models: config.models.clone(),
            cache: config.model_cache.clone(),
            device: config.device.clone(),
            threads: config.query_threads.clamp(1, 4),
            batch: config.extract_batch,
        };
        let semantic = Arc::new(Semantic::new(settings, (!config.memory).then(|| config.data.join("embeddings"))));
        let search_dir = (!config.memory).then(|| config.data.join("search"));
        let (search, search_stale) = crate::search::Search::open(search_dir.as_deref()).map_err(EngineError::Search)?;
        let search = Arc::new(search);
        let search_slot: crate::sparql_fns::SearchSlot = Default::default();
        let store = store.with_memory_limit(config.memory_limit_bytes()).with_evaluator(|ev| {
            let ev = crate::sparql_fns::register(ev, Arc::clone(&rec), minter.clone());
            let ev = crate::sparql_fns::register_search(ev, search_slot.clone());
            crate::sparql_fns::register_semantic(ev, Arc::clone(&semantic))
        });
        let keys = if config.memory { crate::auth::Keys::memory()? } else { crate::auth::Keys::open(&config.data)? };
        let audit =
            if config.memory { crate::audit::AuditLog::memory() } else { crate::audit::AuditLog::open(&config.data) };
        Ok(Self {
            config,
            store,
            minter,
            pseudo,
            queries,
            rec,
            retraining: Default::default(),
            semantic,
            lexicon_generation: std::sync::atomic::AtomicU64::new(u64::MAX),
            keys,
            audit,
            shapes_cache: Default::default(),
            reasoner: Default::default(),
            background: Default::default(),
            search,
            search_stale: std::sync::atomic::AtomicBool::new(search_stale),
            search_loading: Default::default(),
            search_slot,
        })
    }

    /// The API keys of this data folder (or of memory).
    pub fn keys(&self) -> &crate::auth::Keys {
        &self.keys
    }

    /// The audit log of applied writes.
    pub fn audit(&self) -> &crate::audit::AuditLog {
        &self.audit
    }

    /// The store (read access for the HTTP layer's GSP and stats).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Extraction state (lazily loaded models, embeddings).
    pub fn semantic(&self) -> &Arc<Semantic> {
        &self.semantic
    }

    /// The IRI minter.
    pub fn minter(&self) -> &Minter {
        &self.minter
    }

    /// The pseudonymiser (user ids from HTTP requests go through it).
    pub fn pseudonymizer(&self) -> &Pseudonymizer {
        &self.pseudo
    }

    /// Named queries.
    pub fn named_queries(&self) -> &NamedQueries {
        &self.queries
    }

    /// Default query options from the config.
    pub fn query_options(&self) -> QueryOptions {
        QueryOptions {
            timeout: self.config.query_timeout(),
            max_rows: self.config.max_result_rows,
            ..QueryOptions::default()
        }
    }

    /// Installs the shipped ontology, vocabularies, taxonomy and shapes on a store without
    /// them (recorded as ontology version 1), or merges this binary's newer built-in ontology
    /// into the store's (see `engine::ontology`). Nothing to do when the built-in this binary
    /// carries is the one the store was last installed from.
    pub fn ensure_ontology(&self) -> Result<bool, EngineError> {
        let marker = Quad::new(
            NamedNode::new_unchecked(vocab::ONTOLOGY),
            NamedNode::new_unchecked(vocab::OWL_VERSION_INFO),
            Literal::from(vocab::ONTOLOGY_VERSION),
            NamedNode::new_unchecked(format!("{}/builtin/ontology", vocab::GRAPH_ONTOLOGY_HISTORY)),
        );
        if self.store.contains(&marker)? {
            return Ok(false);
        }
        // A store installed by a newer shopgraph is left as it is: going back would undo that
        // release's ontology.
        let builtin = NamedNode::new_unchecked(format!("{}/builtin/ontology", vocab::GRAPH_ONTOLOGY_HISTORY));
        let installed_from = self
            .store
            .pattern(
                Some(&NamedNode::new_unchecked(vocab::ONTOLOGY).into()),
                Some(&NamedNode::new_unchecked(vocab::OWL_VERSION_INFO)),
                None,
                Some(&GraphName::NamedNode(builtin)),
            )?
            .into_iter()
            .find_map(|q| if let Term::Literal(l) = q.object { Some(l.value().to_owned()) } else { None });
        if let Some(v) = installed_from
            && newer(&v, vocab::ONTOLOGY_VERSION)
        {
            log::warn!(
                "the store's ontology was installed by a newer shopgraph ({v}); this one carries {}: left as it is",
                vocab::ONTOLOGY_VERSION
            );
            return Ok(false);
        }
        let installed = !self
            .store
            .graph_quads_limited(&GraphName::NamedNode(NamedNode::new_unchecked(vocab::GRAPH_ONTOLOGY)), 1)?
            .is_empty();
        // The inferred graph (when there is one) is rebuilt once at the end, not after each of
        // the graphs an upgrade replaces.
        self.with_one_rebuild(|| {
            if installed {
                self.upgrade_ontology(ontology::ontology_quads()?).map(|_| ())
            } else {
                self.install_ontology(ontology::ontology_quads()?)
            }
        })?;
        // Installed after the shop's data (a first open after `shopgraph load`): the ontology's
        // files overlap the data's in every index, and reads would pay for it until a
        // compaction. Compact once, now.
        if !self.store.graph_quads_limited(&GraphName::DefaultGraph, 1)?.is_empty() {
            self.store.compact()?;
        }
        Ok(true)
    }

    /// Runs a SPARQL query.
    pub fn query(&self, text: &str, opts: &QueryOptions, formats: OutputFormats) -> Result<QueryOutput, EngineError> {
        Ok(self.store.query(text, &[], opts, formats)?)
    }

    /// Runs a named query with request parameters bound as RDF terms.
    pub fn named_query(
        &self,
        name: &str,
        params: &HashMap<String, String>,
        formats: OutputFormats,
    ) -> Result<QueryOutput, EngineError> {
        self.named_query_with(name, params, formats, self.config.infer)
    }

    /// A named query, with or without the inferred graph in its default graph.
    pub fn named_query_with(
        &self,
        name: &str,
        params: &HashMap<String, String>,
        formats: OutputFormats,
        infer: bool,
    ) -> Result<QueryOutput, EngineError> {
        let q = self.queries.get(name)?;
        let bindings = q.bind(params, &self.minter)?;
        Ok(self.store.query(&q.text, &bindings, &QueryOptions { infer, ..self.query_options() }, formats)?)
    }

    /// Runs a SPARQL update (atomic).
    pub fn update(&self, text: &str) -> Result<(), EngineError> {
        self.update_with(text, &UpdateDataset::default())
    }

    /// Runs a SPARQL update with the protocol's `using-graph-uri` / `using-named-graph-uri`.
    pub fn update_with(&self, text: &str, dataset: &UpdateDataset) -> Result<(), EngineError> {
        Ok(self.store.update(text, dataset, self.config.query_timeout())?)
    }

    /// [`Self::update_with`] on an update parsed already (the HTTP layer parses once to check
    /// which graphs it can write).
    pub fn update_parsed(
        &self,
        parsed: crate::store::ParsedUpdate,
        dataset: &UpdateDataset,
    ) -> Result<(), EngineError> {
        Ok(self.store.update_parsed(parsed, dataset, self.config.query_timeout(), None)?)
    }

    /// Options for the operator's own reads (`shopgraph dump`): no row limit or deadline.
    pub fn unbounded_options() -> QueryOptions {
        QueryOptions {
            timeout: std::time::Duration::from_secs(10 * 365 * 24 * 3600),
            max_rows: usize::MAX,
            ..QueryOptions::default()
        }
    }

    /// Loads an RDF file with oxigraph's parsers through the bulk loader (atomic per file).
    pub fn load_rdf(
        &self,
        path: &Path,
        graph: Option<&str>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<FileLoad, EngineError> {
        let format = crate::store::formats::file_format(path)
            .ok_or_else(|| EngineError::Input(format!("{}: unknown RDF extension", path.display())))?;
        let file = std::fs::File::open(path)
            .map_err(|e| EngineError::Input(format!("cannot open {}: {e}", path.display())))?;
        let base = format!("file://{}", std::fs::canonicalize(path).unwrap_or(path.into()).display());
        if self.config.validate_writes {
            // Validated loads go through one transaction, so the file is read into memory.
            let start = std::time::Instant::now();
            let data =
                std::fs::read(path).map_err(|e| EngineError::Input(format!("cannot read {}: {e}", path.display())))?;
            let quads = if format.supports_datasets() && graph.is_none() {
                Store::parse_dataset_document(&data, format)?
            } else {
                let g = match graph {
                    Some(g) => GraphName::NamedNode(
                        NamedNode::new(g).map_err(|_| EngineError::Input(format!("graph {g:?} is not an IRI")))?,
                    ),
                    None => GraphName::DefaultGraph,
                };
                Store::parse_document(&data, format, g, Some(&base))?
            };
            self.checked(true, &quads, |check| self.store.insert_checked(&quads, check))?;
            progress(quads.len() as u64);
            return Ok(FileLoad {
                file: path.display().to_string(),
                quads: quads.len() as u64,
                seconds: start.elapsed().as_secs_f64(),
                report: None,
                report_files: Vec::new(),
            });
        }
        let LoadStats { quads, seconds } =
            self.store.bulk_load(BufReader::new(file), format, graph, Some(&base), progress)?;
        Ok(FileLoad { file: path.display().to_string(), quads, seconds, report: None, report_files: Vec::new() })
    }

    /// Cleans a tabular file through its mapping and loads the result (atomic per file). The
    /// cleaning report and the rejected rows are saved under `report_dir` when given.
    pub fn load_tabular(
        &self,
        path: &Path,
        mapping: &Mapping,
        report_dir: Option<&Path>,
        progress: Box<dyn FnMut(u64)>,
    ) -> Result<FileLoad, EngineError> {
        let start = std::time::Instant::now();
        let cleaned = ingest::clean_file(path, mapping, &self.minter, &self.pseudo, progress)?;
        let quads = cleaned.quads.len() as u64;
        if self.config.validate_writes {
            self.checked(true, &cleaned.quads, |check| self.store.insert_checked(&cleaned.quads, check))?;
        } else {
            self.store.bulk_insert(cleaned.quads)?;
        }
        self.record_dataset(path, &cleaned.report)?;
        let mut report_files = Vec::new();
        if let Some(dir) = report_dir {
            report_files = save_report(dir, path, &cleaned.report, &cleaned.rejects)
                .map_err(|e| EngineError::Input(format!("cannot write report to {}: {e}", dir.display())))?;
        }
        Ok(FileLoad {
            file: path.display().to_string(),
            quads,
            seconds: start.elapsed().as_secs_f64(),
            report: Some(cleaned.report),
            report_files,
        })
    }

    /// Replaces the meta-graph description of a loaded file, so reloading keeps one record.
    fn record_dataset(&self, path: &Path, report: &CleaningReport) -> Result<(), EngineError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("data");
        let ds = self.minter.dataset(name);
        let g = NamedNode::new_unchecked(vocab::GRAPH_META);
        let old: Vec<Quad> = [vocab::LOADED_AT, vocab::ROW_COUNT, vocab::REJECTED_COUNT, vocab::RDF_TYPE]
            .iter()
            .map(|p| self.store.objects(&ds, &NamedNode::new_unchecked(*p)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .zip([vocab::LOADED_AT, vocab::ROW_COUNT, vocab::REJECTED_COUNT, vocab::RDF_TYPE])
            .flat_map(|(objs, p)| {
                let ds = ds.clone();
                let g = g.clone();
                objs.into_iter().map(move |o| Quad::new(ds.clone(), NamedNode::new_unchecked(p), o, g.clone()))
            })
            .collect();
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let q = |p: &str, o: Term| Quad::new(ds.clone(), NamedNode::new_unchecked(p), o, g.clone());
        self.store.swap(
            &old,
            &[
                q(vocab::RDF_TYPE, NamedNode::new_unchecked(vocab::DATASET).into()),
                q(
                    vocab::LOADED_AT,
                    Literal::new_typed_literal(now, NamedNode::new_unchecked(vocab::XSD_DATE_TIME)).into(),
                ),
                q(vocab::ROW_COUNT, Literal::from(report.rows_kept as i64).into()),
                q(vocab::REJECTED_COUNT, Literal::from(report.rows_rejected as i64).into()),
            ],
        )?;
        Ok(())
    }

    /// Where load reports go: `<data>/reports`, or none for an in-memory store.
    pub fn report_dir(&self) -> Option<PathBuf> {
        (!self.config.memory).then(|| self.config.data.join("reports"))
    }
}

/// Whether version `a` (`1.10.0`) is newer than `b` (`1.4.0`), number by number.
fn newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parts(a) > parts(b)
}

/// Writes `<stem>.report.json` and `<stem>.rejected.csv`; returns their paths.
fn save_report(
    dir: &Path,
    source: &Path,
    report: &CleaningReport,
    rejects: &[ingest::RejectedRow],
) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let stem = source.file_stem().and_then(|s| s.to_str()).unwrap_or("data");
    let rp = dir.join(format!("{stem}.report.json"));
    std::fs::write(&rp, serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?)?;
    let xp = dir.join(format!("{stem}.rejected.csv"));
    let mut w = csv::Writer::from_path(&xp).map_err(std::io::Error::other)?;
    w.write_record(["line", "rule", "reason", "row"]).map_err(std::io::Error::other)?;
    for r in rejects {
        w.write_record([r.line.to_string().as_str(), &r.rule, &r.reason, &r.row]).map_err(std::io::Error::other)?;
    }
    w.flush()?;
    drop(w);
    // Reports describe a shop's customers' rows: readable by the data folder's owner only.
    #[cfg(unix)]
    for p in [&rp, &xp] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(vec![rp.display().to_string(), xp.display().to_string()])
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_number_by_number() {
        for (a, b, want) in
            [("1.10.0", "1.4.0", true), ("1.4.0", "1.4.0", false), ("1.3.9", "1.4.0", false), ("2.0", "1.9.9", true)]
        {
            assert_eq!(super::newer(a, b), want, "{a} > {b}");
        }
    }
}
