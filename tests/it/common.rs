//! Shared fixtures: an in-memory engine with a fixed pseudonym key, loaded with real sample rows.

use shopgraph::config::Config;
use shopgraph::engine::{Engine, FileLoad};
use shopgraph::ingest::mapping::Mapping;
use shopgraph::ingest::pseudonym::Pseudonymizer;
use shopgraph::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

pub const KEY: [u8; 32] = [7; 32];

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixture").join(name)
}

pub fn config() -> Config {
    Config { memory: true, query_threads: 2, ..Config::default() }
}

pub fn engine_with(config: Config) -> Arc<Engine> {
    Engine::with_parts(config, Store::memory().unwrap(), Pseudonymizer::with_key(KEY)).unwrap()
}

pub fn empty_engine() -> Arc<Engine> {
    engine_with(config())
}

pub fn load(engine: &Engine, file: &str) -> FileLoad {
    let path = fixture(file);
    let mapping = Mapping::from_file(&Mapping::beside(&path).unwrap()).unwrap();
    engine.load_tabular(&path, &mapping, None, Box::new(|_| {})).unwrap()
}

/// Sample reviews, synthetic catalogue entries and synthetic interactions.
pub fn loaded_engine_with(config: Config) -> Arc<Engine> {
    let e = engine_with(config);
    load(&e, "reviews-sample.csv");
    load(&e, "products.jsonl");
    load(&e, "interactions.csv");
    e
}

pub fn loaded_engine() -> Arc<Engine> {
    loaded_engine_with(config())
}

/// Runs a SELECT and returns rows as variable -> lexical value.
pub fn select(engine: &Engine, q: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let out = engine
        .query(
            q,
            &engine.query_options(),
            shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None },
        )
        .unwrap();
    parse_json_results(&out.body)
}

pub fn parse_json_results(body: &[u8]) -> Vec<std::collections::BTreeMap<String, String>> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["results"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["value"].as_str().unwrap().to_owned())).collect()
        })
        .collect()
}

pub fn count(engine: &Engine, q: &str) -> usize {
    select(engine, q)[0]["n"].parse().unwrap()
}

pub const SG: &str = "PREFIX sg: <https://w3id.org/shopgraph/ontology#>\n";
