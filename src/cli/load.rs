//! `shopgraph load` (and `serve --load`): tabular files through their mappings, RDF files
//! through the bulk loader, with progress; a file refused by validation prints its report.

use super::validate;
use crate::engine::{Engine, FileLoad};
use crate::ingest::mapping::Mapping;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

pub(super) fn is_tabular(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
        Some("csv" | "tsv" | "tab" | "jsonl" | "ndjson")
    )
}

/// A load refused by validation prints its report before the error.
fn refused(e: crate::engine::EngineError, file: &Path) -> anyhow::Error {
    if let crate::engine::EngineError::Store(crate::store::StoreError::Invalid(report)) = &e
        && let Err(p) = validate::print(report, "turtle")
    {
        eprintln!("cannot print the report: {p}");
    }
    anyhow::Error::new(e).context(format!("{}: not loaded", file.display()))
}

pub(super) fn load_files(
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
                    format!("{}: no --mapping given and no {} beside it", f.display(), "<stem>.mapping.toml")
                })?,
            };
            let m = Mapping::from_file(&mpath)?;
            let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            let bar = ProgressBar::new(len).with_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("cleaning {}", f.display()));
            let b2 = bar.clone();
            let r = engine.load_tabular(f, &m, engine.report_dir().as_deref(), Box::new(move |n| b2.set_position(n)));
            bar.finish_and_clear();
            r.map_err(|e| refused(e, f))?
        } else {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} {pos} quads")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(format!("loading {}", f.display()));
            let b2 = bar.clone();
            let r = engine.load_rdf(f, graph, move |n| b2.set_position(n));
            bar.finish_and_clear();
            r.map_err(|e| refused(e, f))?
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
