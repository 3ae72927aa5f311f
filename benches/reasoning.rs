//! Reasoning cost on RocksDB stores: the demo (23,486 real reviews, real categories, 2,000
//! SYNTHETIC shoppers) and a generated store of about 1M triples (SYNTHETIC products, brands,
//! reviews and users over the real taxonomy). For each: full materialisation (time, inferred
//! triples by rule); the cost of a small write (INSERT DATA / DELETE DATA of a product and its
//! category) before the inferred graph exists and with it kept current, side by side; and two
//! catalogue queries answered from the inferred graph against the asserted-only query a user
//! would write instead (property paths), with their answers checked equal.
//! `cargo bench --bench reasoning`; writes benches/results/reasoning.json.

use shopgraph::config::Config;
use shopgraph::engine::Engine;
use shopgraph::ingest::mapping::Mapping;
use shopgraph::store::{OutputFormats, QueryOptions, ResultsFormat};
use std::io::Write;
use std::time::Instant;

const SG: &str = "https://w3id.org/shopgraph/ontology#";
const TAX: &str = "https://w3id.org/shopgraph/taxonomy/google/";
const PREFIXES: &str =
    "PREFIX sg: <https://w3id.org/shopgraph/ontology#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n";

fn open(dir: &std::path::Path) -> std::sync::Arc<Engine> {
    let config =
        Config { data: dir.to_path_buf(), query_timeout_ms: 600_000, max_result_rows: usize::MAX, ..Config::default() };
    Engine::open(config).expect("engine")
}

fn count(e: &Engine, q: &str, infer: bool) -> (u64, f64) {
    let opts = QueryOptions { infer, ..e.query_options() };
    let fmts = OutputFormats { results: Some(ResultsFormat::Json), graph: None };
    let mut best = f64::MAX;
    let mut n = 0;
    // Best of 5: the machine is shared and noisy.
    for _ in 0..5 {
        let t = Instant::now();
        let out = e.query(&format!("{PREFIXES}{q}"), &opts, fmts).expect("query");
        best = best.min(t.elapsed().as_secs_f64());
        let v: serde_json::Value = serde_json::from_slice(&out.body).expect("json");
        n = v["results"]["bindings"][0]["n"]["value"].as_str().expect("n").parse().expect("number");
    }
    (n, best)
}

/// Mean seconds per write of `n` INSERT DATA then DELETE DATA pairs.
fn writes(e: &Engine, tag: &str, leaves: &[u32], n: usize) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        let p = format!("<http://bench.example/{tag}/p{i}>");
        let c = format!("<{TAX}{}>", leaves[i % leaves.len()]);
        e.update(&format!("INSERT DATA {{ {p} a <{SG}Product> ; <{SG}category> {c} }}")).expect("insert");
        e.update(&format!("DELETE DATA {{ {p} <{SG}category> {c} }}")).expect("delete");
    }
    t.elapsed().as_secs_f64() / (2 * n) as f64
}

fn measure(name: &str, e: &Engine, leaves: &[u32]) -> serde_json::Value {
    let triples = e.store().len().expect("len");
    eprintln!("[{name}] {triples} quads; small writes without an inferred graph ...");
    let plain = writes(e, "plain", leaves, 100);
    eprintln!("[{name}] full materialisation ...");
    let report = e.reason().expect("reason");
    eprintln!("[{name}] {} inferred in {:.1}s; small writes keeping it current ...", report.inferred, report.seconds);
    let kept = writes(e, "kept", leaves, 100);
    let counts = e.maintenance_counts();
    assert_eq!(counts.rebuilds, 0, "data-block writes must be followed incrementally");
    let under = format!("<{TAX}166>");
    let queries = [
        (
            "products under Apparel & Accessories",
            format!("SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:category ?c . ?c skos:broaderTransitive {under} }}"),
            format!(
                "SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:category ?c . GRAPH <https://w3id.org/shopgraph/graph/taxonomy> {{ ?c skos:broader+ {under} }} }}"
            ),
        ),
        (
            "schema:Product instances",
            "SELECT (COUNT(DISTINCT ?p) AS ?n) { ?p a <http://schema.org/Product> }".to_string(),
            "SELECT (COUNT(DISTINCT ?p) AS ?n) { ?p a ?t . GRAPH <https://w3id.org/shopgraph/graph/ontology> { ?t (<http://www.w3.org/2002/07/owl#equivalentClass>|^<http://www.w3.org/2002/07/owl#equivalentClass>|<http://www.w3.org/2000/01/rdf-schema#subClassOf>)+ <http://schema.org/Product> } }".to_string(),
        ),
    ];
    let mut q = Vec::new();
    for (what, inferred, asserted) in &queries {
        let (a, ta) = count(e, inferred, true);
        let (b, tb) = count(e, asserted, false);
        assert_eq!(a, b, "{what}: the inferred and asserted queries disagree");
        eprintln!("[{name}] {what}: {a} rows; inferred {ta:.4}s, asserted paths {tb:.4}s");
        q.push(serde_json::json!({
            "query": what, "answer": a, "with_inferences_s": ta, "asserted_paths_s": tb,
            "asserted_over_inferred": tb / ta,
        }));
    }
    serde_json::json!({
        "store": name,
        "quads_before": triples,
        "materialisation_s": report.seconds,
        "inferred": report.inferred,
        "by_rule": report.by_rule,
        "small_write_plain_s": plain,
        "small_write_kept_current_s": kept,
        "write_cost_ratio": kept / plain,
        "rebuild_over_incremental_write": report.seconds / kept,
        "queries": q,
    })
}

/// About 1M triples of SYNTHETIC shop data over the real taxonomy, as N-Triples.
fn synthetic(path: &std::path::Path, leaves: &[u32]) -> usize {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("file"));
    let mut n = 0;
    let mut t = |w: &mut std::io::BufWriter<std::fs::File>, s: String, p: &str, o: String| {
        writeln!(w, "{s} <{p}> {o} .").expect("write");
        n += 1;
    };
    let id = "https://w3id.org/shopgraph/id/";
    let rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
    for b in 0..1_000 {
        t(&mut w, format!("<{id}brand/b{b}>"), rdf_type, format!("<{SG}Brand>"));
        t(&mut w, format!("<{id}brand/b{b}>"), &format!("{SG}name"), format!("\"Brand {b}\""));
    }
    for u in 0..20_000 {
        t(&mut w, format!("<{id}user/u{u}>"), rdf_type, format!("<{SG}User>"));
    }
    // A fixed stride walks the catalogue the same way on every run.
    for p in 0..100_000usize {
        let s = format!("<{id}product/p{p}>");
        t(&mut w, s.clone(), rdf_type, format!("<{SG}Product>"));
        t(&mut w, s.clone(), &format!("{SG}productId"), format!("\"p{p}\""));
        t(&mut w, s.clone(), &format!("{SG}name"), format!("\"Product {p}\""));
        t(&mut w, s.clone(), &format!("{SG}category"), format!("<{TAX}{}>", leaves[(p * 7919) % leaves.len()]));
        t(&mut w, s, &format!("{SG}brand"), format!("<{id}brand/b{}>", p % 1_000));
    }
    for r in 0..100_000usize {
        let s = format!("<{id}review/r{r}>");
        t(&mut w, s.clone(), rdf_type, format!("<{SG}Review>"));
        t(&mut w, s.clone(), &format!("{SG}reviewOf"), format!("<{id}product/p{}>", (r * 31) % 100_000));
        t(
            &mut w,
            s.clone(),
            &format!("{SG}rating"),
            format!("\"{}\"^^<http://www.w3.org/2001/XMLSchema#integer>", 1 + r % 5),
        );
        t(&mut w, s, &format!("{SG}author"), format!("<{id}user/u{}>", r % 20_000));
    }
    n
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let entries = shopgraph::ontology::parse_taxonomy(shopgraph::ontology::TAXONOMY_TXT).expect("taxonomy");
    // Apparel leaves (the demo's categories live there), so both queries have answers.
    let leaves: Vec<u32> =
        entries.iter().filter(|e| e.path.first().is_some_and(|r| r == "Apparel & Accessories")).map(|e| e.id).collect();

    let demo = open(&tmp.path().join("demo"));
    let csv = root.join("tests/data/demo/womens-clothing-reviews.csv");
    let mapping = Mapping::from_file(&Mapping::beside(&csv).expect("mapping")).expect("mapping");
    demo.load_tabular(&csv, &mapping, None, Box::new(|_| {})).expect("load");
    demo.simulate(2000, 11).expect("simulate");
    let demo_result = measure("demo", &demo, &leaves);
    drop(demo);

    let nt = tmp.path().join("synthetic.nt");
    let n = synthetic(&nt, &leaves);
    eprintln!("[1M] generated {n} triples");
    let big = open(&tmp.path().join("big"));
    big.load_rdf(&nt, None, |_| {}).expect("load");
    let big_result = measure("1M synthetic", &big, &leaves);

    let out = serde_json::json!({ "demo": demo_result, "synthetic_1m": big_result });
    let path = root.join("benches/results/reasoning.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out).expect("json")).expect("write");
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
