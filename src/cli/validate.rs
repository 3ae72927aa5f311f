//! `shopgraph validate`: SHACL reports on what is stored or on files, printed as Turtle or JSON.

use crate::engine::Engine;
use crate::shacl::ValidationReport;
use crate::store::model::{GraphName, NamedNode};
use crate::store::{Store, formats};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// Validates and prints the report; returns whether it conforms.
pub fn run(engine: &Engine, graph: Option<&str>, format: &str, files: &[PathBuf]) -> Result<bool> {
    if !matches!(format, "turtle" | "json") {
        bail!("--format is turtle or json, not {format:?}");
    }
    let report = if files.is_empty() {
        let g = match graph {
            None => None,
            Some("default") => Some(GraphName::DefaultGraph),
            Some(iri) => Some(GraphName::NamedNode(NamedNode::new(iri).with_context(|| format!("--graph {iri:?}"))?)),
        };
        engine.validate_stored(g.as_ref())?
    } else {
        if graph.is_some() {
            bail!("--graph selects stored data; files are checked as they would load");
        }
        let mut quads = Vec::new();
        for f in files {
            let fmt = formats::file_format(f).with_context(|| format!("{}: unknown RDF extension", f.display()))?;
            let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            let parsed = if fmt.supports_datasets() {
                Store::parse_dataset_document(&data, fmt)
            } else {
                Store::parse_document(&data, fmt, GraphName::DefaultGraph, None)
            };
            quads.extend(parsed.with_context(|| f.display().to_string())?);
        }
        engine.validate_document(&quads)?
    };
    print(&report, format)?;
    eprintln!("{}: {} result(s)", if report.conforms { "conforms" } else { "does not conform" }, report.results.len());
    Ok(report.conforms)
}

/// Prints a report to standard output.
pub fn print(report: &ValidationReport, format: &str) -> Result<()> {
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        let bytes = formats::write_triples(
            &report.to_triples(),
            crate::store::GraphFormat::Turtle,
            &[("sh", crate::shacl::SH), ("sg", crate::ontology::vocab::SG)],
        )?;
        print!("{}", String::from_utf8_lossy(&bytes));
    }
    Ok(())
}
