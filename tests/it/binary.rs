//! The real binary: CLI commands on a RocksDB data directory, and the server on a port.

use crate::common::fixture;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shopgraph"));
    c.env("RUST_LOG", "warn");
    c
}

fn run_ok(args: &[&str]) -> Output {
    let out = bin().args(args).output().unwrap();
    assert!(out.status.success(), "shopgraph {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) struct Server(Child);

impl Server {
    /// Owns a spawned server process (killed on drop).
    pub(crate) fn from_child(child: Child) -> Self {
        Self(child)
    }

    /// SIGKILL, no chance to flush or clean up.
    pub(crate) fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `/metrics`' `shopgraph_store_memory_bytes` (block cache, pinned, memtables, table readers), if
/// the server reports them.
fn store_memory_parts(metrics: &str) -> Option<[u64; 4]> {
    let part = |name: &str| {
        let line = format!("shopgraph_store_memory_bytes{{part=\"{name}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).map(|v| v.parse().unwrap())
    };
    Some([part("block_cache")?, part("block_cache_pinned")?, part("memtables")?, part("table_readers")?])
}

pub(crate) fn start(args: &[&str], port: u16) -> Server {
    let child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{port}/health");
    while Instant::now() < deadline {
        if agent().get(&url).call().is_ok_and(|r| r.status() == 200) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server did not come up on port {port}");
}

#[test]
fn served_binary_answers_sparql_and_survives_bad_requests() {
    let port = free_port();
    let sample = fixture("reviews-sample.csv");
    let bind = format!("127.0.0.1:{port}");
    let _s = start(
        &["serve", "--memory", "--bind", &bind, "--max-body-bytes", "1000", "--load", sample.to_str().unwrap()],
        port,
    );
    let base = format!("http://{bind}");
    let a = agent();
    let q = "SELECT (COUNT(?r) AS ?n) { ?r a <https://w3id.org/shopgraph/ontology#Review> }";
    let mut r = a
        .post(&format!("{base}/sparql"))
        .header("content-type", "application/sparql-query")
        .header("accept", "text/csv")
        .send(q)
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body_mut().read_to_string().unwrap().lines().nth(1), Some("300"));
    let r = a
        .post(&format!("{base}/sparql"))
        .header("content-type", "application/sparql-update")
        .send("x".repeat(5000).as_str())
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = a
        .post(&format!("{base}/sparql"))
        .header("content-type", "application/sparql-query")
        .send("SELECT ?x {")
        .unwrap();
    assert_eq!(r.status(), 400);
    let mut r = a.get(&format!("{base}/queries/top-rated-products?min_reviews=5")).call().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.body_mut().read_to_string().unwrap().contains("mean_rating"));
    let mut r = a.get(&format!("{base}/metrics")).call().unwrap();
    let metrics = r.body_mut().read_to_string().unwrap();
    assert!(metrics.contains("status=\"413\""));
    assert_eq!(store_memory_parts(&metrics), None, "an in-memory store has no RocksDB figures");
}

#[test]
fn cli_load_query_stats_dump_backup_on_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let sample = fixture("reviews-sample.csv");
    let out = run_ok(&["load", "--data", data_s, sample.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("300 rows read, 300 kept"), "{err}");
    assert!(data.join("reports/reviews-sample.report.json").exists());
    assert!(data.join("pseudonym.key").exists());
    let q = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }";
    let n1 = String::from_utf8(run_ok(&["query", "--data", data_s, "--format", "csv", q]).stdout).unwrap();
    run_ok(&["load", "--data", data_s, sample.to_str().unwrap()]);
    let n2 = String::from_utf8(run_ok(&["query", "--data", data_s, "--format", "csv", q]).stdout).unwrap();
    assert_eq!(n1, n2, "reloading through the CLI changed the default graph");
    let stats: serde_json::Value = serde_json::from_slice(&run_ok(&["stats", "--data", data_s]).stdout).unwrap();
    assert!(stats["graphs"].as_array().unwrap().iter().any(|g| g[0] == "<https://w3id.org/shopgraph/graph/taxonomy>"));
    let dump = dir.path().join("default.nt");
    run_ok(&["dump", "--data", data_s, "--graph", "default", "--format", "nt", "-o", dump.to_str().unwrap()]);
    let lines = std::fs::read_to_string(&dump).unwrap().lines().count();
    assert_eq!(lines, n1.lines().nth(1).unwrap().trim().parse::<usize>().unwrap());
    let copy = dir.path().join("copy");
    run_ok(&["backup", "--data", data_s, copy.join("store").to_str().unwrap()]);
    let n3 =
        String::from_utf8(run_ok(&["query", "--data", copy.to_str().unwrap(), "--format", "csv", q]).stdout).unwrap();
    assert_eq!(n1, n3);
    // A second process on a data directory in use gets a clear message, not a crash.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let _server = start(&["serve", "--data", data_s, "--bind", &bind], port);
    let out = bin().args(["query", "--data", data_s, q]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another shopgraph process"), "{err}");
}

/// Regression: `load` left its batch in level-0 files, so the server's first flush set off the
/// compaction of the whole batch under live traffic, and the process kept about 20 MiB more from
/// then on (the soak's step at minute 10, benches/REPORT.md section 9). After a load, a further
/// compaction has nothing left to rewrite.
#[test]
fn a_load_leaves_the_store_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sample = fixture("reviews-sample.csv");
    run_ok(&["load", "--data", data.to_str().unwrap(), sample.to_str().unwrap()]);
    let tables = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir(data.join("store"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sst"))
            .collect()
    };
    let loaded = tables();
    assert!(!loaded.is_empty());
    shopgraph::store::Store::open(&data.join("store")).unwrap().compact().unwrap();
    assert_eq!(tables(), loaded, "a compaction after the load still had work to do");
}

/// What broke: oxigraph gave the string dictionary a 128 MiB block cache of its own beside a
/// shared 32 MiB one, and an LRU cache under its capacity keeps the blocks of files a compaction
/// deleted, so a writing server grew 20-30 MiB at each full compaction (benches/REPORT.md section
/// 9). Now every column family shares one cache of the configured size, the dictionary keeping
/// its point-lookup table options. RocksDB writes the options it opened with into the store's LOG.
#[test]
fn the_string_dictionary_has_no_block_cache_of_its_own() {
    type Open<'a> = &'a dyn Fn(&std::path::Path);
    let opened_with = |open: Open| -> (Vec<String>, Vec<u64>, usize, usize) {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path());
        let log = std::fs::read_to_string(dir.path().join("store/LOG")).unwrap();
        let field = |name: &str| -> Vec<String> {
            log.lines().filter_map(|l| l.trim().strip_prefix(name)).map(|v| v.trim().to_owned()).collect()
        };
        let caches = field("block_cache:");
        let capacities = field("capacity :").iter().map(|v| v.parse().unwrap()).collect();
        let hashed = field("data_block_index_type:").iter().filter(|v| *v == "1").count();
        let bloom = field("filter_policy:").iter().filter(|v| *v == "bloomfilter").count();
        (caches, capacities, hashed, bloom)
    };
    let engine_with_cache = |mb: usize| {
        move |dir: &std::path::Path| {
            let config = shopgraph::config::Config { data: dir.to_owned(), store_cache_mb: mb, ..Default::default() };
            drop(shopgraph::engine::Engine::open(config).unwrap());
        }
    };
    let store_default = |dir: &std::path::Path| drop(shopgraph::store::Store::open(&dir.join("store")).unwrap());
    let default_mb = shopgraph::store::DEFAULT_CACHE_MB;
    assert_eq!(default_mb, shopgraph::config::Config::default().store_cache_mb);
    // (how the store is opened, the one cache's capacity)
    let cases: [(Open, u64); 3] = [
        (&store_default, (default_mb as u64) << 20),
        (&engine_with_cache(8), 8 << 20),
        (&engine_with_cache(64), 64 << 20),
    ];
    for (open, capacity) in cases {
        let (caches, capacities, hashed, bloom) = opened_with(open);
        assert!(caches.len() >= 10, "a block cache line per column family, got {caches:?}");
        assert!(caches.iter().all(|c| *c == caches[0]), "column families with caches of their own: {caches:?}");
        assert_eq!(capacities.len(), caches.len());
        assert!(capacities.iter().all(|&c| c == capacity), "capacities {capacities:?}, wanted {capacity}");
        assert_eq!((hashed, bloom), (1, 1), "the dictionary's point-lookup options (hash index, bloom filter)");
    }
}

/// The store's memory figures (`/metrics`' `shopgraph_store_memory_bytes`) follow what RocksDB
/// does: writes fill the memtables and a flush empties them into table files; reads fill the block
/// cache up to its bound and no further.
#[test]
fn the_store_reports_its_memory_by_part() {
    use shopgraph::store::model::{GraphName, Literal, NamedNode, Quad};
    let quads: Vec<Quad> = (0..30_000)
        .map(|i| {
            Quad::new(
                NamedNode::new(format!("https://example.org/item/{i}")).unwrap(),
                NamedNode::new("https://example.org/says").unwrap(),
                Literal::new_simple_literal(format!("item {i} says something long enough to fill a block")),
                GraphName::DefaultGraph,
            )
        })
        .collect();
    for cache_mb in [1_usize, 4] {
        let dir = tempfile::tempdir().unwrap();
        let store = shopgraph::store::Store::open_with_cache(&dir.path().join("store"), cache_mb << 20).unwrap();
        let usage = || store.memory_usage().unwrap().expect("a RocksDB store has figures");
        let opened = usage();
        store.insert(&quads).unwrap();
        let written = usage();
        assert!(written.memtables > opened.memtables + (1 << 20), "{cache_mb} MiB: {opened:?} then {written:?}");
        // Each quad of the default graph is an entry in three indexes, besides its new strings.
        assert_eq!(opened.memtable_entries, 0, "{opened:?}");
        assert!(written.memtable_entries >= 3 * quads.len() as u64, "{cache_mb} MiB: {written:?}");
        store.flush().unwrap();
        let flushed = usage();
        assert!(flushed.memtables < written.memtables / 4, "{cache_mb} MiB: {written:?} then {flushed:?}");
        assert_eq!(flushed.memtable_entries, 0, "{cache_mb} MiB: {written:?} then {flushed:?}");
        assert!(flushed.table_readers > written.table_readers, "{cache_mb} MiB: {written:?} then {flushed:?}");
        assert_eq!(store.pattern(None, None, None, None).unwrap().len(), quads.len());
        let read = usage();
        assert!(read.block_cache > flushed.block_cache, "{cache_mb} MiB: {flushed:?} then {read:?}");
        assert!(read.block_cache <= (cache_mb as u64) << 20, "{cache_mb} MiB: {read:?}");
        assert!(read.block_cache_pinned <= read.block_cache, "{read:?}");
    }
    assert_eq!(shopgraph::store::Store::memory().unwrap().memory_usage().unwrap(), None);
}

#[test]
fn cli_simulate_train_serve_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let sample = fixture("reviews-sample.csv");
    run_ok(&["load", "--data", d, sample.to_str().unwrap()]);
    let out = run_ok(&["simulate", "--data", d, "--users", "120", "--seed", "5"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("SYNTHETIC"));
    assert!(data.join("reports/simulated-tastes.json").exists());
    run_ok(&["train", "--data", d, "--algorithm", "als", "--factors", "8", "--iterations", "4"]);
    let current = std::fs::read_to_string(data.join("models/CURRENT")).unwrap();
    let vdir = data.join("models").join(current.trim());
    for f in ["meta.json", "users.txt", "items.txt", "history.tsv", "user_factors.npy", "item_factors.npy"] {
        assert!(vdir.join(f).exists(), "{f} missing");
    }
    // A restarted server loads the saved model and answers at once.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let server = start(&["serve", "--data", d, "--bind", &bind], port);
    let mut r = agent().get(&format!("http://{bind}/recommend?user=sim-0001&k=4")).call().unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 4);
    assert_eq!(v["model_version"], current.trim());
    // A RocksDB store reports its memory by part; a query has read blocks into the cache.
    let q = "SELECT ?s ?o WHERE { ?s ?p ?o } LIMIT 2000";
    let r = agent().get(&format!("http://{bind}/sparql")).query("query", q).call().unwrap();
    assert_eq!(r.status(), 200);
    let metrics = agent().get(&format!("http://{bind}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    let [cache, pinned, _, readers] = store_memory_parts(&metrics).expect("RocksDB's figures in /metrics");
    assert!(cache > 0 && cache <= (shopgraph::store::DEFAULT_CACHE_MB as u64) << 20, "block cache {cache}");
    assert!(pinned <= cache && readers > 0, "pinned {pinned}, table readers {readers}");
    // So does the allocator (the binary's jemalloc keeps statistics): the block cache is inside
    // what the program has allocated.
    let allocator = |part: &str| {
        let line = format!("shopgraph_allocator_bytes{{part=\"{part}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).map(|v| v.parse::<u64>().unwrap())
    };
    let [allocated, active, resident] = ["allocated", "active", "resident"]
        .map(|p| allocator(p).unwrap_or_else(|| panic!("allocator {p} in /metrics")));
    assert!(allocated > cache && active >= allocated && resident >= active, "{allocated} {active} {resident}");
    assert!(allocator("thread_caches").is_some_and(|t| t < allocated), "{metrics}");
    drop(server);
    // Offline evaluation on a file writes its JSON and charts.
    let inter = dir.path().join("inter.tsv");
    let mut text = String::from("user\titem\tweight\ttimestamp\n");
    for u in 0..60 {
        for k in 0..8 {
            let item = (u % 6) * 5 + (k * 7 + u) % 5;
            text.push_str(&format!("u{u}\ti{item}\t1\t{}\n", u * 100 + k));
        }
    }
    std::fs::write(&inter, text).unwrap();
    let out_dir = dir.path().join("eval");
    run_ok(&[
        "eval",
        "--interactions",
        inter.to_str().unwrap(),
        "--factors",
        "8",
        "--iterations",
        "5",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let ev: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("eval.json")).unwrap()).unwrap();
    let models: Vec<&str> = ev["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(models, vec!["als", "ease", "item_knn", "popularity"]);
    assert!(std::fs::read_to_string(out_dir.join("metrics.svg")).unwrap().starts_with("<svg"));
    assert_eq!(ev["als_ndcg_by_iteration"].as_array().unwrap().len(), 5);
    // The cold-item protocol: one item of each group loses its interactions; with features the
    // hybrid (and ALS with category placement) rank the withheld item of a user's own group first.
    let (train, test, feats) =
        (dir.path().join("train.tsv"), dir.path().join("test.tsv"), dir.path().join("feats.tsv"));
    let lines = std::fs::read_to_string(&inter).unwrap();
    let (mut tr, mut te) =
        (String::from("user\titem\tweight\ttimestamp\n"), String::from("user\titem\tweight\ttimestamp\n"));
    for l in lines.lines().skip(1) {
        let item: usize = l.split('\t').nth(1).unwrap()[1..].parse().unwrap();
        if item % 5 == 4 {
            te.push_str(l)
        } else {
            tr.push_str(l)
        }
        if item % 5 == 4 { te.push('\n') } else { tr.push('\n') }
    }
    std::fs::write(&train, tr).unwrap();
    std::fs::write(&test, te).unwrap();
    std::fs::write(&feats, (0..30).map(|i| format!("i{i}\tcategory=g{}\n", i / 5)).collect::<String>()).unwrap();
    let out_dir = dir.path().join("eval-cold");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    run_ok(&[
        "eval",
        "--train",
        &path(&train),
        "--test",
        &path(&test),
        "--features",
        &path(&feats),
        "--candidates",
        "cold",
        "--factors",
        "8",
        "--iterations",
        "10",
        "--out",
        &path(&out_dir),
    ]);
    let ev: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("eval.json")).unwrap()).unwrap();
    assert_eq!(ev["candidates"], "cold");
    let ndcg = |name: &str| {
        ev["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == name)
            .unwrap_or_else(|| panic!("no {name}: {ev}"))["metrics"]["ndcg"]
            .as_f64()
            .unwrap()
    };
    assert!(ndcg("hybrid") > 0.9, "{ev}");
    assert!(ndcg("als_placed") > 0.9, "{ev}");
    assert!(ndcg("hybrid") > ndcg("als") + 0.3, "{ev}");
}

/// Run from a folder that is not the repository: the default models are built into the binary.
#[test]
fn cli_analyze_answers_every_line_and_reports_bad_ones_in_place() {
    use std::io::Write;
    let elsewhere = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["analyze", "--batch", "2"])
        .current_dir(elsewhere.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = b"Love the colour, but the fabric is thin.\n\n".to_vec();
    input.extend_from_slice(b"caf\xe9 fits\n");
    input.extend_from_slice(b"Runs small; order a size up.\r\n");
    // A long review (about 12,000 chars, one run-on sentence) is read in windows, not cut.
    let long = "the fabric is soft and the colour is lovely and ".repeat(250) + "but it runs small";
    input.extend_from_slice(long.as_bytes());
    input.push(b'\n');
    input.extend_from_slice("x".repeat(50_000).as_bytes());
    input.push(b'\n');
    input.extend_from_slice("Das Kleid ist sehr sch\u{f6}n 😍\u{7}\u{1b}[31m und bequem\n".as_bytes());
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["text"], "Love the colour, but the fabric is thin.");
    let aspects: Vec<(&str, &str, &str)> = lines[0]["aspects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["aspect"].as_str().unwrap(), a["sentiment"].as_str().unwrap(), a["method"].as_str().unwrap()))
        .collect();
    // Each aspect gets its own polarity from the words around it, not the sentence's.
    assert!(aspects.contains(&("colour", "positive", "model")), "{aspects:?}");
    assert!(aspects.contains(&("fabric", "negative", "model")), "{aspects:?}");
    assert_eq!((lines[1]["line"].as_u64(), lines[1]["error"].as_str().unwrap().contains("empty")), (Some(2), true));
    assert!(lines[2]["error"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(lines[3]["text"], "Runs small; order a size up.");
    assert_eq!(lines[3]["aspects"][0]["aspect"], "size");
    assert_eq!(lines[3]["aspects"][0]["sentiment"], "negative");
    // The end of the long text was read: its last words name size.
    let long_aspects = lines[4]["aspects"].as_array().unwrap();
    assert!(
        long_aspects.iter().any(|a| a["aspect"] == "size" && a["span"][0].as_u64().unwrap() > 11_000),
        "{long_aspects:?}"
    );
    assert_eq!(lines[4]["truncated"], false);
    assert!(lines[5]["error"].as_str().unwrap().contains("longer than the limit"), "{}", lines[5]);
    assert!(lines[6]["sentiment"]["label"].is_string(), "{}", lines[6]);
}

/// `shopgraph load` of RDF files into a fresh folder loads only the file; the next command that
/// opens the store installs the ontology. A broken file still fails the load.
#[test]
fn cli_rdf_load_into_a_fresh_folder_has_the_ontology_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let nt = dir.path().join("shop.nt");
    let lines: String = (0..5000).map(|i| format!("<http://ex.org/s{i}> <http://ex.org/p> \"{i}\" .\n")).collect();
    std::fs::write(&nt, lines).unwrap();
    run_ok(&["load", "--data", d, nt.to_str().unwrap()]);
    let stats: serde_json::Value = serde_json::from_slice(&run_ok(&["stats", "--data", d]).stdout).unwrap();
    assert_eq!(stats["default_graph"], 5000, "{stats}");
    let graphs = stats["graphs"].as_array().unwrap();
    for g in ["<https://w3id.org/shopgraph/graph/ontology>", "<https://w3id.org/shopgraph/graph/taxonomy>"] {
        assert!(graphs.iter().any(|x| x[0] == g && x[1].as_u64().unwrap() > 100), "{g} missing: {stats}");
    }
    let bad = dir.path().join("bad.nt");
    std::fs::write(&bad, "<http://ex.org/a> <http://ex.org/b> .\n").unwrap();
    let fresh = dir.path().join("fresh");
    let out = bin().args(["load", "--data", fresh.to_str().unwrap(), bad.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn cli_validate_load_validate_and_ontology_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let bad = dir.path().join("bad.ttl");
    std::fs::write(
        &bad,
        "@prefix sg: <https://w3id.org/shopgraph/ontology#> . <http://shop.example/o> a sg:Offer ; sg:price \"-1\"^^<http://www.w3.org/2001/XMLSchema#decimal> .",
    )
    .unwrap();
    // Files are checked as they would load: status 1 and a Turtle report.
    let out = bin().args(["validate", "--data", d, bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("sh:conforms false") && report.contains("MinInclusiveConstraintComponent"), "{report}");
    // A validated load refuses the file and prints the report; a plain load takes it.
    let out = bin().args(["load", "--data", d, "--validate", bad.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("sh:ValidationResult"));
    let stats: serde_json::Value = serde_json::from_slice(&run_ok(&["stats", "--data", d]).stdout).unwrap();
    assert_eq!(stats["default_graph"], 0, "{stats}");
    run_ok(&["load", "--data", d, bad.to_str().unwrap()]);
    let out = bin().args(["validate", "--data", d, "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 1, "{v}");
    // Ontology versions from the command line.
    let patch = dir.path().join("pockets.ttl");
    std::fs::write(
        &patch,
        "@prefix sg: <https://w3id.org/shopgraph/ontology#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
         sg:aspect-pockets a sg:Aspect ; rdfs:label \"pockets\"@en .",
    )
    .unwrap();
    run_ok(&["ontology", "--data", d, "apply", patch.to_str().unwrap(), "--note", "pockets"]);
    let v: serde_json::Value = serde_json::from_slice(&run_ok(&["ontology", "--data", d, "versions"]).stdout).unwrap();
    assert_eq!(v["current"]["number"], 2, "{v}");
    let diff: serde_json::Value =
        serde_json::from_slice(&run_ok(&["ontology", "--data", d, "diff", "1", "2"]).stdout).unwrap();
    assert_eq!(diff["added"]["terms"][0], "<https://w3id.org/shopgraph/ontology#aspect-pockets>");
    let ttl = run_ok(&["ontology", "--data", d, "export", "--version", "2", "--format", "ttl"]).stdout;
    assert!(String::from_utf8_lossy(&ttl).contains("aspect-pockets"));
}

/// Training ran 1.6 times slower than it could because jemalloc zeroed reused blocks by
/// faulting fresh pages in; `finetune` restarts itself with the training settings, unless the
/// operator gave their own (which win). Its workers inherit them.
#[test]
fn finetune_restarts_with_the_training_allocator_settings() {
    let cases: [(Option<&str>, &str); 2] =
        [(None, "MALLOC_CONF=thp:always"), (Some("dirty_decay_ms:20000"), "MALLOC_CONF=dirty_decay_ms:20000")];
    for (given, expected) in cases {
        let mut c = bin();
        c.env_remove("MALLOC_CONF");
        if let Some(conf) = given {
            c.env("MALLOC_CONF", conf);
        }
        // A missing labelled file ends the command once it has started training's setup.
        let out = c.args(["finetune", "--memory", "--aspects", "/nonexistent/aspects.tsv"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("/nonexistent/aspects.tsv"), "{given:?}: {err}");
        assert_eq!(err.matches("finetune: allocator settings").count(), 1, "{given:?}: {err}");
        assert!(err.contains(expected), "{given:?}: {err}");
    }
}
