//! `shopgraph ontology versions|diff|apply|export`: the store's ontology and shapes as
//! numbered versions (the same engine calls as `GET /ontology`, `GET /ontology/diff` and
//! `POST /ontology`).

use crate::engine::{Engine, Patch};
use crate::store::formats;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

/// What to do with the ontology.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// The recorded versions (JSON), and whether the live graphs moved on since the latest.
    Versions,
    /// What changed from one version to another: numbers, `latest`, `current` (the live
    /// graphs) or `builtin` (what the store was last installed from).
    Diff {
        /// The older side.
        from: String,
        /// The newer side.
        #[arg(default_value = "current")]
        to: String,
    },
    /// Apply a change set as a new version after checking it: a Turtle file (triples added
    /// to the ontology) or a SPARQL Update file (`.ru`; the ontology is its default graph, the
    /// shapes `GRAPH <https://w3id.org/shopgraph/graph/shapes>`).
    Apply {
        /// The patch file.
        patch: PathBuf,
        /// What the change is for (kept in the version's note).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Write a version out: TriG (both graphs) or Turtle / N-Triples (one, see --part).
    Export {
        /// Which version (`current` for the live graphs).
        #[arg(long, default_value = "current")]
        version: String,
        /// trig, nq, ttl or nt.
        #[arg(long, default_value = "trig")]
        format: String,
        /// For single-graph formats: ontology or shapes.
        #[arg(long, default_value = "ontology")]
        part: String,
        /// Output file (default: standard output).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

/// Runs one action.
pub fn run(engine: &Engine, action: Action) -> Result<()> {
    let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()));
    match action {
        Action::Versions => println!("{}", serde_json::to_string_pretty(&engine.ontology_versions()?)?),
        Action::Diff { from, to } => println!("{}", serde_json::to_string_pretty(&engine.ontology_diff(&from, &to)?)?),
        Action::Apply { patch, note } => {
            let text = std::fs::read_to_string(&patch).with_context(|| format!("reading {}", patch.display()))?;
            let update = matches!(patch.extension().and_then(|e| e.to_str()), Some("ru" | "rq" | "sparql" | "rup"));
            let p = if update { Patch::Update(text) } else { Patch::Turtle(text) };
            let v = engine.ontology_apply(&p, &who, &note)?;
            eprintln!("version {}: {}", v.number, v.note);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Action::Export { version, format, part, out } => {
            let f = formats::graph_by_name(&format).with_context(|| format!("unknown format {format:?}"))?;
            let bytes = engine.ontology_export(&version, f, &part)?;
            match out {
                Some(p) => std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?,
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
    }
    Ok(())
}
