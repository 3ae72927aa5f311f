//! Command-line interface: parses flags, resolves the config, and calls the engine.

use crate::config::{Config, Overrides};
use crate::engine::{Engine, FileLoad};
use crate::ingest::mapping::Mapping;
use crate::store::{OutputFormats, formats};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// shopgraph: an embedded knowledge-graph server for e-commerce search and recommendation.
#[derive(Debug, Parser)]
#[command(name = "shopgraph", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by every command (each also readable from the config file and SHOPGRAPH_*).
#[derive(Debug, Args, Clone, Default)]
pub struct StoreArgs {
    /// Config file (TOML); default: SHOPGRAPH_CONFIG, then <data>/shopgraph.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory holding the RocksDB store, key and reports.
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Use an in-memory store (nothing is kept after exit).
    #[arg(long, global = true)]
    memory: bool,
    /// Query time limit in milliseconds.
    #[arg(long, global = true)]
    query_timeout_ms: Option<u64>,
    /// Maximum rows a query may return.
    #[arg(long, global = true)]
    max_result_rows: Option<usize>,
    /// Maximum request body in bytes.
    #[arg(long, global = true)]
    max_body_bytes: Option<usize>,
    /// Threads for queries and loads.
    #[arg(long, global = true)]
    query_threads: Option<usize>,
    /// Base IRI of minted instance IRIs.
    #[arg(long, global = true)]
    base_iri: Option<String>,
    /// Extra directory of named .rq queries.
    #[arg(long, global = true)]
    queries_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load RDF files (Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD) and tabular files
    /// (CSV, TSV, JSON Lines) through a column mapping.
    Load {
        #[command(flatten)]
        store: StoreArgs,
        /// Mapping for the tabular files; default: <file stem>.mapping.toml beside each file.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Named graph for RDF files without graphs (default graph if absent).
        #[arg(long)]
        graph: Option<String>,
        /// Files to load.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Listen address.
        #[arg(long)]
        bind: Option<String>,
        /// Load these files before serving (handy with --memory).
        #[arg(long = "load")]
        load: Vec<PathBuf>,
    },
    /// Load the shipped demo data (idempotent) and serve it.
    Demo {
        #[command(flatten)]
        store: StoreArgs,
        /// Listen address.
        #[arg(long)]
        bind: Option<String>,
        /// Directory of demo files with their mappings.
        #[arg(long, default_value = "tests/data/demo")]
        demo_dir: PathBuf,
        /// Load, print the report, and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Run a SPARQL query and print the results.
    Query {
        #[command(flatten)]
        store: StoreArgs,
        /// The query text; or use --file.
        query: Option<String>,
        /// Read the query from a file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Output format: json, xml, csv, tsv (SELECT/ASK); ttl, nt, jsonld, rdf (CONSTRUCT).
        #[arg(long)]
        format: Option<String>,
    },
    /// Run a SPARQL update.
    Update {
        #[command(flatten)]
        store: StoreArgs,
        /// The update text.
        update: String,
    },
    /// Write the store (or one graph) as RDF.
    Dump {
        #[command(flatten)]
        store: StoreArgs,
        /// Format: nq, trig (whole store); ttl, nt, jsonld, rdf too with --graph.
        #[arg(long, default_value = "nq")]
        format: String,
        /// Dump only this graph ("default" for the default graph).
        #[arg(long)]
        graph: Option<String>,
        /// Output file (stdout if absent).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Make a consistent copy of the store in TARGET (hard links where possible).
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// Directory to create.
        target: PathBuf,
    },
    /// Print quad counts per graph.
    Stats {
        #[command(flatten)]
        store: StoreArgs,
    },
}

impl StoreArgs {
    fn overrides(&self, bind: Option<String>) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data: self.data.clone(),
            memory: self.memory,
            bind,
            query_timeout_ms: self.query_timeout_ms,
            max_result_rows: self.max_result_rows,
            max_body_bytes: self.max_body_bytes,
            query_threads: self.query_threads,
            base_iri: self.base_iri.clone(),
            queries_dir: self.queries_dir.clone(),
        }
    }

    fn engine(&self, bind: Option<String>) -> Result<Arc<Engine>> {
        let config = Config::resolve(&self.overrides(bind), &|k| std::env::var(k).ok())?;
        let where_ = if config.memory {
            "memory".to_string()
        } else {
            config.data.display().to_string()
        };
        let engine =
            Engine::open(config).with_context(|| format!("opening the store ({where_})"))?;
        Ok(engine)
    }
}

/// Entry point: parses arguments and runs the command.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Load {
            store,
            mapping,
            graph,
            files,
        } => {
            let engine = store.engine(None)?;
            load_files(&engine, &files, mapping.as_deref(), graph.as_deref())?;
        }
        Command::Serve { store, bind, load } => {
            let engine = store.engine(bind)?;
            load_files(&engine, &load, None, None)?;
            serve(engine)?;
        }
        Command::Demo {
            store,
            bind,
            demo_dir,
            no_serve,
        } => {
            let engine = store.engine(bind)?;
            let files = demo_files(&demo_dir)?;
            load_files(&engine, &files, None, None)?;
            if !no_serve {
                eprintln!(
                    "demo loaded; try:\n  curl 'http://{}/queries/top-rated-products'\n  curl 'http://{0}/sparql' --data-urlencode 'query=SELECT (COUNT(*) AS ?n) {{ ?r a <https://w3id.org/shopgraph/ontology#Review> }}'",
                    engine.config.bind
                );
                serve(engine)?;
            }
        }
        Command::Query {
            store,
            query,
            file,
            format,
        } => {
            let engine = store.engine(None)?;
            let text = match (query, file) {
                (Some(q), None) => q,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
                _ => bail!("give the query text or --file, not both"),
            };
            let fmts = OutputFormats {
                results: formats::results_format(Some(format.as_deref().unwrap_or("json")), None),
                graph: formats::graph_format(Some(format.as_deref().unwrap_or("ttl")), None),
            };
            let out = engine.query(&text, &engine.query_options(), fmts)?;
            std::io::stdout().write_all(&out.body)?;
        }
        Command::Update { store, update } => {
            store.engine(None)?.update(&update)?;
        }
        Command::Dump {
            store,
            format,
            graph,
            output,
        } => {
            let engine = store.engine(None)?;
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let fmt = formats::graph_format(Some(&format), None)
                .with_context(|| format!("unknown format {format}"))?;
            match graph.as_deref() {
                None => engine.store().dump_all(fmt, &mut out)?,
                Some(g) => {
                    let name = if g == "default" {
                        oxigraph::model::GraphName::DefaultGraph
                    } else {
                        oxigraph::model::NamedNode::new(g)
                            .with_context(|| format!("{g} is not an IRI"))?
                            .into()
                    };
                    out.write_all(&engine.store().dump_graph(&name, fmt)?)?;
                }
            }
            out.flush()?;
        }
        Command::Backup { store, target } => {
            let engine = store.engine(None)?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            engine.store().backup(&target)?;
            eprintln!("backup written to {}", target.display());
        }
        Command::Stats { store } => {
            let engine = store.engine(None)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&engine.store().stats()?)?
            );
        }
    }
    Ok(())
}

fn serve(engine: Arc<Engine>) -> Result<()> {
    actix_web::rt::System::new().block_on(crate::http::serve(engine))?;
    Ok(())
}

/// Every file in the demo folder that has a mapping beside it, or is RDF.
fn demo_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "demo folder {} (run from the repository root)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            Mapping::beside(p).is_some()
                || (formats::file_format(p).is_some() && !p.to_string_lossy().ends_with(".toml"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no demo files in {}", dir.display());
    }
    Ok(files)
}

fn is_tabular(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("csv" | "tsv" | "tab" | "jsonl" | "ndjson")
    )
}

fn load_files(
    engine: &Engine,
    files: &[PathBuf],
    mapping: Option<&Path>,
    graph: Option<&str>,
) -> Result<()> {
    for f in files {
        let result: FileLoad = if is_tabular(f) {
            let mpath = match mapping {
                Some(m) => m.to_path_buf(),
                None => Mapping::beside(f).with_context(|| {
                    format!(
                        "{}: no --mapping given and no {} beside it",
                        f.display(),
                        "<stem>.mapping.toml"
                    )
                })?,
            };
            let m = Mapping::from_file(&mpath)?;
            let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            let bar = ProgressBar::new(len).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("cleaning {}", f.display()));
            let b2 = bar.clone();
            let r = engine.load_tabular(
                f,
                &m,
                engine.report_dir().as_deref(),
                Box::new(move |n| b2.set_position(n)),
            )?;
            bar.finish_and_clear();
            r
        } else {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} {pos} quads")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(format!("loading {}", f.display()));
            let b2 = bar.clone();
            let r = engine.load_rdf(f, graph, move |n| b2.set_position(n))?;
            bar.finish_and_clear();
            r
        };
        eprintln!(
            "loaded {}: {} quads in {:.1}s ({:.0} quads/s)",
            result.file,
            result.quads,
            result.seconds,
            result.quads as f64 / result.seconds.max(1e-9)
        );
        if let Some(r) = &result.report {
            eprint!("{}", r.render());
        }
        for p in &result.report_files {
            eprintln!("  saved {p}");
        }
    }
    engine.store().flush()?;
    Ok(())
}
