//! Command-line interface: parses flags, resolves the config, and calls the engine.

mod finetune;
mod keys;
mod load;
mod ontology;
mod queue;
mod rec;
mod search;
mod text;
mod validate;

use load::{is_tabular, load_files};
use rec::{demo_recommender, eval};
use text::{analyze_stdin, extract, train_sentiment};

use crate::config::{Config, Overrides};
use crate::engine::Engine;
use crate::ingest::mapping::Mapping;
use crate::recommend::{Algorithm, Trained, dataset::Dataset};
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
    /// Directory of model manifests (default: models).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// ONNX execution device: auto, cpu or cuda.
    #[arg(long, global = true)]
    device: Option<String>,
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
        /// Check each file against the SHACL shapes before it commits; a file with a
        /// violation is not loaded (the report is printed). Default: the config's
        /// `validate_writes`.
        #[arg(long)]
        validate: bool,
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
        /// Reviews to run extraction on before serving (each demo run reads the next batch;
        /// `shopgraph extract` reads them all). 0 skips extraction.
        #[arg(long, default_value_t = 1500)]
        extract: usize,
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
    /// Train a recommender on the graph's interactions (or on a file) and install it.
    Train {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        model: ModelArgs,
        /// Train on this `user, item, weight[, timestamp]` CSV/TSV instead of the graph.
        #[arg(long)]
        interactions: Option<PathBuf>,
        /// Write the model files (npy factors, id lists, timing.json) here instead of
        /// installing it; needs --interactions and opens no store.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Compare ALS, EASE, item-kNN and popularity on a split; write JSON and SVG charts.
    Eval {
        #[command(flatten)]
        model: ModelArgs,
        /// Interactions file (`user, item, weight[, timestamp]`).
        #[arg(long)]
        interactions: Option<PathBuf>,
        /// Given split: training file (with --test).
        #[arg(long, requires = "test")]
        train: Option<PathBuf>,
        /// Given split: test file (with --train).
        #[arg(long, requires = "train")]
        test: Option<PathBuf>,
        /// leave-last-out, time or random.
        #[arg(long, default_value = "leave-last-out")]
        split: String,
        /// Held-out share for time and random splits.
        #[arg(long, default_value_t = 0.2)]
        test_fraction: f64,
        /// Cut-off.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Output folder for eval.json, metrics.svg, als-training.svg.
        #[arg(long, default_value = "eval-out")]
        out: PathBuf,
        /// Item features (`item<TAB>feature[<TAB>weight]`): adds the hybrid, and ALS with items
        /// without interactions placed at their `category=` (else `brand=`) peers' mean.
        #[arg(long)]
        features: Option<PathBuf>,
        /// Items ranked: all, or cold (only items with no training interactions: the
        /// cold-item protocol).
        #[arg(long, default_value = "all")]
        candidates: String,
    },
    /// Search ALS settings and choose among ALS, EASE, item-kNN and popularity on a validation
    /// split carved from the training data; install the winner (trained on everything).
    Tune {
        #[command(flatten)]
        store: StoreArgs,
        /// Tune on this file instead of the graph (reports only, installs nothing).
        #[arg(long)]
        interactions: Option<PathBuf>,
        /// Item features for the hybrid candidates (`item<TAB>feature[<TAB>weight]`); the
        /// graph's own are used when tuning the store.
        #[arg(long, requires = "interactions")]
        features: Option<PathBuf>,
        /// Cut-off.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Validation folds: next-item (each user's latest events held out; needs timestamps),
        /// random (one random event per user), or auto (next-item when the events have times).
        #[arg(long, default_value = "auto")]
        protocol: String,
    },
    /// Read text lines on stdin; print one JSON analysis per line (sentiment, aspects,
    /// attributes). Uses an in-memory store for the ontology's lexicon unless --data is given.
    Analyze {
        #[command(flatten)]
        store: StoreArgs,
        /// Lines per inference batch.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Print `{"timing": ...}` (seconds from first line read to last result, units, device)
        /// on stderr at the end.
        #[arg(long)]
        timing: bool,
    },
    /// Read every review and product text in the store with the current models and write what
    /// they find (with provenance) and their embeddings. Resumable: run it again after Ctrl-C.
    Extract {
        #[command(flatten)]
        store: StoreArgs,
        /// Inference workers, one ONNX session each.
        #[arg(long)]
        workers: Option<usize>,
        /// Documents per committed chunk.
        #[arg(long, default_value_t = 64)]
        chunk: usize,
        /// Read at most this many documents now (the rest on the next run).
        #[arg(long)]
        limit: Option<usize>,
        /// Remove the facts of older versions of the same models after a complete run.
        #[arg(long)]
        replace: bool,
    },
    /// Train the sentiment head on labelled sentences and star-rated review titles; write it
    /// with its manifest and measured accuracy.
    TrainSentiment {
        #[command(flatten)]
        store: StoreArgs,
        /// `text<TAB>label` file, label 0 (negative) or 1 (positive).
        #[arg(long, default_value = "tests/data/sentiment-sentences-amazon.tsv")]
        sentences: PathBuf,
        /// Review CSV with `Title` and `Rating` columns (titles of 1-2 stars are negative,
        /// 3 neutral, 5 positive; 4 is left out as mixed).
        #[arg(long, default_value = "tests/data/demo/womens-clothing-reviews.csv")]
        reviews: PathBuf,
        /// Use at most this many review titles per label.
        #[arg(long, default_value_t = 2500)]
        per_label: usize,
        /// Share of each source held out for evaluation.
        #[arg(long, default_value_t = 0.2)]
        holdout: f64,
        /// Version written into the manifest.
        #[arg(long, default_value = "1.0.0")]
        version: String,
        /// Output folder for the weights and manifest.
        #[arg(long, default_value = "models/heads")]
        out: PathBuf,
    },
    /// Fine-tune the review model (aspects with the words that name them, each aspect's
    /// polarity, the sentence's polarity) from labelled files: low-rank adapters on the
    /// encoder plus heads, on the CPU (or a CUDA GPU with `--device cuda` in a build with
    /// `--features cuda`). Writes the trained parts, a manifest with test-share
    /// metrics, and training curves (SVG) to --out.
    Finetune(finetune::FinetuneArgs),
    /// Rebuild the inferred graph: what the ontology (subclasses, subproperties, equivalences,
    /// inverses, transitive properties, domains and ranges, SKOS broader) implies about the data.
    Reason {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Validate against the SHACL shapes (the shapes graph): what is stored (every graph, or
    /// one with --graph), or RDF files as if they were loaded (nothing is written). Prints a
    /// SHACL validation report; exits with status 1 when it has violations.
    Validate {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this graph's nodes (`default` for the default graph).
        #[arg(long)]
        graph: Option<String>,
        /// Report format: turtle or json.
        #[arg(long, default_value = "turtle")]
        format: String,
        /// RDF files to check instead of the store.
        files: Vec<PathBuf>,
    },
    /// The review queue: machine facts held for a person (list, accept, reject, export the
    /// decisions as training data).
    Queue {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        action: queue::Action,
    },
    /// Find duplicate brands and products (same GTIN; same normalised name, and brand) and
    /// propose each new pair in the review queue; accepted pairs become owl:sameAs links.
    Fuse {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Search products: keywords, meaning and the graph's vocabulary (categories, brands,
    /// attribute values, aspects, price phrases); or rebuild the index; or evaluate a labelled
    /// query set (nDCG@10, recall@100, MRR)
    Search {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        args: search::Args,
    },
    /// The ontology and shapes as numbered versions: list, diff, apply a change set, export.
    Ontology {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        action: ontology::Action,
    },
    /// Manage API keys (kept hashed in the data folder; a running server sees changes at once).
    Keys {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        action: keys::Action,
    },
    /// Add SYNTHETIC shoppers with planted tastes to the graph (demo only).
    Simulate {
        #[command(flatten)]
        store: StoreArgs,
        /// How many shoppers.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// Model settings shared by train and eval.
#[derive(Debug, Args, Clone, Default)]
pub struct ModelArgs {
    /// als, ease, item_knn, popularity or hybrid (train); eval compares them all.
    #[arg(long)]
    algorithm: Option<String>,
    /// ALS latent factors (default 64).
    #[arg(long)]
    factors: Option<usize>,
    /// ALS L2 penalty (default 0.01).
    #[arg(long)]
    regularization: Option<f32>,
    /// ALS confidence slope (default 1).
    #[arg(long)]
    alpha: Option<f32>,
    /// ALS iterations (default 15).
    #[arg(long)]
    iterations: Option<usize>,
    /// ALS solver: cg (default) or cholesky.
    #[arg(long)]
    solver: Option<String>,
    /// EASE penalty (default 200).
    #[arg(long)]
    lambda: Option<f32>,
    /// Item-kNN neighbours (default 100).
    #[arg(long)]
    neighbours: Option<usize>,
    /// EASE and item-kNN: weigh each past item by 0.5^(age / N), age = how many of the user's
    /// items came after it (default: no recency weighting).
    #[arg(long, value_name = "N")]
    half_life: Option<f32>,
    /// Hybrid: weight of an item-feature entry against an event's weight (default 1).
    #[arg(long)]
    feature_weight: Option<f32>,
    /// Seed (default 0).
    #[arg(long)]
    seed: Option<u64>,
}

impl ModelArgs {
    fn algorithm(&self, name: Option<&str>) -> Result<Algorithm> {
        let get = |k: &str| -> Option<String> {
            match k {
                "algorithm" => name.map(str::to_owned).or_else(|| self.algorithm.clone()),
                "factors" => self.factors.map(|v| v.to_string()),
                "regularization" => self.regularization.map(|v| v.to_string()),
                "alpha" => self.alpha.map(|v| v.to_string()),
                "iterations" => self.iterations.map(|v| v.to_string()),
                "solver" => self.solver.clone(),
                "lambda" => self.lambda.map(|v| v.to_string()),
                "neighbours" => self.neighbours.map(|v| v.to_string()),
                "half_life" => self.half_life.map(|v| v.to_string()),
                "seed" => self.seed.map(|v| v.to_string()),
                "feature_weight" => self.feature_weight.map(|v| v.to_string()),
                _ => None,
            }
        };
        Algorithm::from_params(&get).map_err(anyhow::Error::msg)
    }
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
            models: self.models.clone(),
            device: self.device.clone(),
            extract_batch: None,
        }
    }

    fn engine(&self, bind: Option<String>) -> Result<Arc<Engine>> {
        self.engine_with(self.overrides(bind))
    }

    fn engine_with(&self, overrides: Overrides) -> Result<Arc<Engine>> {
        let config = Config::resolve(&overrides, &|k| std::env::var(k).ok())?;
        let where_ = if config.memory { "memory".to_string() } else { config.data.display().to_string() };
        let engine = Engine::open(config).with_context(|| format!("opening the store ({where_})"))?;
        OPENED.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&engine));
        Ok(engine)
    }
}

/// Engines this process opened: before it exits, a rebuild of the inferred graph a command
/// started in the background is let finish (else every short command would cut it off; the
/// rebuild's thread keeps its engine alive until then).
static OPENED: std::sync::Mutex<Vec<std::sync::Weak<Engine>>> = std::sync::Mutex::new(Vec::new());

/// Entry point: parses arguments and runs the command.
pub fn run() -> Result<()> {
    let r = run_command();
    for e in OPENED.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(std::sync::Weak::upgrade) {
        e.settle();
    }
    r
}

fn run_command() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Load { store, mapping, graph, validate, files } => {
            let mut config = Config::resolve(&store.overrides(None), &|k| std::env::var(k).ok())?;
            config.validate_writes |= validate;
            let engine = if files.iter().any(|f| is_tabular(f)) || config.validate_writes {
                Engine::open(config)
            } else {
                Engine::open_for_rdf_load(config)
            }
            .context("opening the store")?;
            OPENED.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&engine));
            load_files(&engine, &files, mapping.as_deref(), graph.as_deref())?;
            compact_after_load(&engine)?;
        }
        Command::Serve { store, bind, load } => {
            let engine = store.engine(bind)?;
            if !load.is_empty() {
                load_files(&engine, &load, None, None)?;
                compact_after_load(&engine)?;
            }
            serve(engine)?;
        }
        Command::Demo { store, bind, demo_dir, no_serve, extract: extract_limit } => {
            let engine = store.engine(bind)?;
            let files = demo_files(&demo_dir)?;
            load_files(&engine, &files, None, None)?;
            demo_recommender(&engine)?;
            if extract_limit > 0 {
                let opts = crate::engine::ExtractOptions { limit: Some(extract_limit), ..Default::default() };
                // The demo serves without extraction when the models are not installed.
                if let Err(e) = extract(&engine, &opts) {
                    eprintln!("demo: extraction skipped: {e:#}");
                }
            }
            compact_after_load(&engine)?;
            if !no_serve {
                eprintln!(
                    "demo loaded; open the console at http://{}/ or try:\n  curl 'http://{0}/search?q=soft%20sweater%20not%20itchy&k=5'\n  curl 'http://{0}/queries/top-rated-products'\n  curl 'http://{0}/sparql' --data-urlencode 'query=SELECT (COUNT(*) AS ?n) {{ ?r a <https://w3id.org/shopgraph/ontology#Review> }}'\n  curl 'http://{0}/queries/product-aspects?product=1078'\n  curl -H 'content-type: application/json' 'http://{0}/analyze' -d '{{\"text\": \"Love the colour but it runs small.\"}}'\n  curl 'http://{0}/nearest?text=soft%20linen%20summer%20dress&k=5'",
                    engine.config.bind
                );
                serve(engine)?;
            }
        }
        Command::Query { store, query, file, format } => {
            let engine = store.engine(None)?;
            let text = match (query, file) {
                (Some(q), None) => q,
                (None, Some(f)) => std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?,
                _ => bail!("give the query text or --file, not both"),
            };
            let fmts = OutputFormats {
                results: formats::results_by_name(format.as_deref().unwrap_or("json")),
                graph: formats::graph_by_name(format.as_deref().unwrap_or("ttl")),
            };
            let out = engine.query(&text, &engine.query_options(), fmts)?;
            std::io::stdout().write_all(&out.body)?;
        }
        Command::Analyze { mut store, batch, timing } => {
            if store.data.is_none() && std::env::var_os("SHOPGRAPH_DATA").is_none() {
                store.memory = true;
            }
            let overrides = Overrides { extract_batch: Some(batch), ..store.overrides(None) };
            analyze_stdin(&store.engine_with(overrides)?, batch, timing)?;
        }
        Command::Extract { store, workers, chunk, limit, replace } => {
            let engine = store.engine(None)?;
            let opts = crate::engine::ExtractOptions {
                workers: workers.unwrap_or(engine.config.extract_workers),
                chunk,
                limit,
                replace,
            };
            extract(&engine, &opts)?;
        }
        Command::TrainSentiment { store, sentences, reviews, per_label, holdout, version, out } => {
            let config = Config::resolve(&store.overrides(None), &|k| std::env::var(k).ok())?;
            train_sentiment(&config, &sentences, &reviews, per_label, holdout, &version, &out)?;
        }
        Command::Finetune(args) => finetune::run(args)?,
        Command::Reason { store } => {
            let r = store.engine(None)?.reason()?;
            eprintln!("inferred {} triples in {:.1}s", r.inferred, r.seconds);
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Command::Validate { store, graph, format, files } => {
            let conforms = validate::run(&*store.engine(None)?, graph.as_deref(), &format, &files)?;
            if !conforms {
                std::process::exit(1);
            }
        }
        Command::Queue { store, action } => queue::run(&*store.engine(None)?, action)?,
        Command::Fuse { store } => {
            let r = store.engine(None)?.propose_duplicates()?;
            eprintln!(
                "proposed {} brand and {} product pair(s) for review ({} known already); see `shopgraph queue list --kind same_as`",
                r.brands, r.products, r.known
            );
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Command::Ontology { store, action } => ontology::run(&*store.engine(None)?, action)?,
        Command::Search { store, args } => search::run(&*store.engine(None)?, args)?,
        Command::Keys { store, action } => {
            let config = Config::resolve(&store.overrides(None), &|k| std::env::var(k).ok())?;
            keys::run(&config, action)?;
        }
        Command::Update { store, update } => {
            store.engine(None)?.update(&update)?;
        }
        Command::Dump { store, format, graph, output } => {
            let engine = store.engine(None)?;
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let fmt = formats::graph_by_name(&format).with_context(|| format!("unknown format {format}"))?;
            match graph.as_deref() {
                None => engine.store().dump_all(fmt, &mut out)?,
                Some(g) => {
                    let name = if g == "default" {
                        oxigraph::model::GraphName::DefaultGraph
                    } else {
                        oxigraph::model::NamedNode::new(g).with_context(|| format!("{g} is not an IRI"))?.into()
                    };
                    out.write_all(&engine.store().dump_graph(
                        &name,
                        fmt,
                        &crate::engine::Engine::unbounded_options(),
                    )?)?;
                }
            }
            out.flush()?;
        }
        Command::Backup { store, target } => {
            let engine = store.engine(None)?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            engine.store().backup(&target)?;
            eprintln!("backup written to {}", target.display());
        }
        Command::Stats { store } => {
            let engine = store.engine(None)?;
            println!("{}", serde_json::to_string_pretty(&engine.store().stats()?)?);
        }
        Command::Train { store, model, interactions, export } => {
            rec::train(&store, &model, interactions.as_deref(), export.as_deref())?;
        }
        Command::Eval { model, interactions, train, test, split, test_fraction, k, out, features, candidates } => {
            let how = rec::EvalHow {
                split: &split,
                test_fraction,
                k,
                features: features.as_deref(),
                candidates: &candidates,
            };
            eval(&model, interactions.as_deref(), train.as_deref(), test.as_deref(), &how, &out)?;
        }
        Command::Tune { store, interactions, features, k, seed, protocol } => {
            rec::tune(&store, interactions.as_deref(), features.as_deref(), k, seed, &protocol)?;
        }
        Command::Simulate { store, users, seed } => {
            let engine = store.engine(None)?;
            let (n, tastes) = engine.simulate(users, seed)?;
            eprintln!("wrote {n} SYNTHETIC events for {} simulated shoppers", tastes.len());
            if let Some(dir) = engine.report_dir() {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("simulated-tastes.json"), serde_json::to_vec_pretty(&tastes)?)?;
                eprintln!("  planted tastes saved to {}", dir.join("simulated-tastes.json").display());
            }
            compact_after_load(&engine)?;
        }
    }
    Ok(())
}

/// After a batch of writes (a load, the demo, a simulation): flush and compact once, as
/// oxigraph advises after bulk loads. Otherwise the server's first flush sets off the
/// compaction of the whole batch under live traffic, and the process keeps about 20 MiB more
/// from then on (benches/REPORT.md section 9).
fn compact_after_load(engine: &Engine) -> Result<()> {
    // The inferred graph's rebuild, started by the load, writes too: compact after it.
    engine.settle();
    let t = std::time::Instant::now();
    engine.store().compact().context("compacting the store after the load")?;
    log::info!("store compacted after the load in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn serve(engine: Arc<Engine>) -> Result<()> {
    // Read the search catalogue now, so that every write from here on is followed.
    if let Err(e) = engine.ensure_search() {
        log::error!("search index not read ({e}); searches will try again");
    }
    engine.start_housekeeping(std::time::Duration::from_secs(60), std::time::Duration::from_secs(10));
    match crate::memory::keep_freed_pages_for(crate::memory::SERVE_DIRTY_DECAY_MS) {
        Ok(true) => log::debug!("freed pages go back to the kernel after {} ms", crate::memory::SERVE_DIRTY_DECAY_MS),
        Ok(false) => log::info!("MALLOC_CONF sets dirty_decay_ms; serve leaves it"),
        Err(e) => log::warn!("allocator setting not applied: {e}"),
    }
    actix_web::rt::System::new().block_on(crate::http::serve(engine))?;
    Ok(())
}

/// Every file in the demo folder that has a mapping beside it, or is RDF.
fn demo_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("demo folder {} (run from the repository root)", dir.display()))?
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
