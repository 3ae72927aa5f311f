//! The real binary killed with SIGKILL in the middle of a load, a stream of updates, a stream
//! of events and a training run, at several moments each, then restarted: no acknowledged write
//! is lost, no file is half loaded, the model is usable, and a backup taken under load restores.

use crate::binary::{agent, bin, free_port, start};
use crate::common::fixture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn count(base: &str, query: &str) -> usize {
    let mut r = agent()
        .post(&format!("{base}/sparql"))
        .header("content-type", "application/sparql-query")
        .header("accept", "text/csv")
        .send(query)
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    r.body_mut().read_to_string().unwrap().lines().nth(1).unwrap().trim().parse().unwrap()
}

fn run_ok(args: &[&str]) {
    let out = bin().args(args).output().unwrap();
    assert!(out.status.success(), "shopgraph {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Sends writes from a thread until stopped; returns the ids the server acknowledged.
fn stream(base: String, stop: Arc<AtomicBool>, send: fn(&str, usize) -> bool) -> std::thread::JoinHandle<Vec<usize>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            if send(&base, i) {
                acked.push(i);
            }
            i += 1;
        }
        acked
    })
}

fn send_update(base: &str, i: usize) -> bool {
    agent()
        .post(&format!("{base}/sparql"))
        .header("content-type", "application/sparql-update")
        .send(format!("INSERT DATA {{ <http://ex.org/fault/{i}> <http://ex.org/n> {i} }}").as_str())
        .is_ok_and(|r| r.status() == 204)
}

fn send_event(base: &str, i: usize) -> bool {
    let body = format!(
        r#"{{"user": "fault-user", "item": "1077", "event": "view", "timestamp": "2026-01-01T00:{:02}:{:02}Z"}}"#,
        i / 60 % 60,
        i % 60
    );
    agent()
        .post(&format!("{base}/events"))
        .header("content-type", "application/json")
        .send(body.as_str())
        .is_ok_and(|r| r.status() == 200)
}

#[test]
fn sigkill_during_writes_events_training_and_loads_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    for f in ["reviews-sample.csv", "products.jsonl", "interactions.csv"] {
        run_ok(&["load", "--data", d, fixture(f).to_str().unwrap()]);
    }
    run_ok(&["simulate", "--data", d, "--users", "200", "--seed", "3"]);
    run_ok(&["train", "--data", d, "--algorithm", "als", "--factors", "8", "--iterations", "3"]);
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let base = format!("http://{bind}");
    let serve = ["serve", "--data", d, "--bind", bind.as_str()];

    // Streams of updates and of events, killed after different times.
    let mut acked_updates: Vec<usize> = Vec::new();
    let events_stored_before = {
        let s = start(&serve, port);
        let n = count(&base, "SELECT (COUNT(*) AS ?n) { ?i a <https://w3id.org/shopgraph/ontology#Interaction> }");
        s.kill();
        n
    };
    let mut acked_events = 0;
    for ms in [150u64, 400, 900] {
        let server = start(&serve, port);
        let stop = Arc::new(AtomicBool::new(false));
        let updates = stream(base.clone(), Arc::clone(&stop), send_update);
        let events = stream(base.clone(), Arc::clone(&stop), send_event);
        std::thread::sleep(Duration::from_millis(ms));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        // Ids restart per round; offset them so rounds do not overwrite each other's triples.
        let u = updates.join().unwrap();
        let e = events.join().unwrap();
        // On a loaded 2-core CI machine a fresh server's first answers can take more than
        // 150 ms (it failed there twice once the suite grew), and with a soak running beside the
        // suite the first event took over 400 ms: such a round kills the server before any
        // acknowledgement, which is a moment worth testing too. The longest round must see
        // both streams acknowledged.
        assert!(
            ms < 900 || (!u.is_empty() && !e.is_empty()),
            "nothing was acknowledged in the {ms} ms before the kill ({} updates, {} events)",
            u.len(),
            e.len()
        );
        // Rounds reuse ids: a later round's insert of the same triple is idempotent, so the
        // check is on the set of ids acknowledged in any round.
        acked_updates.extend(u);
        acked_events = acked_events.max(e.len());
    }
    acked_updates.sort_unstable();
    acked_updates.dedup();
    let server = start(&serve, port);
    let mut r = agent()
        .post(&format!("{base}/sparql"))
        .header("content-type", "application/sparql-query")
        .header("accept", "text/csv")
        .send("SELECT ?o { ?s <http://ex.org/n> ?o }")
        .unwrap();
    let stored: std::collections::HashSet<usize> =
        r.body_mut().read_to_string().unwrap().lines().skip(1).map(|l| l.trim().parse().unwrap()).collect();
    let lost: Vec<&usize> = acked_updates.iter().filter(|i| !stored.contains(i)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged updates lost: {lost:?}", lost.len(), acked_updates.len());
    let events_now = count(&base, "SELECT (COUNT(*) AS ?n) { ?i a <https://w3id.org/shopgraph/ontology#Interaction> }");
    assert!(
        events_now - events_stored_before >= acked_events,
        "{acked_events} events acknowledged in the longest round, {} stored",
        events_now - events_stored_before
    );

    // Training killed at several moments: the server always comes back with a usable model.
    let mut server = server;
    for ms in [50u64, 300, 1000] {
        let trainer = {
            let base = base.clone();
            std::thread::spawn(move || {
                let _ = agent().post(&format!("{base}/train?algorithm=als&factors=32&iterations=200")).send_empty();
            })
        };
        std::thread::sleep(Duration::from_millis(ms));
        server.kill();
        let _ = trainer.join();
        server = start(&serve, port);
        let r = agent().get(&format!("{base}/recommend?user=sim-0001&k=5")).call().unwrap();
        assert_eq!(r.status(), 200, "no usable model after a kill {ms} ms into training");
    }
    // A backup taken under a write stream restores to a store that answers the same counts.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = stream(base.clone(), Arc::clone(&stop), send_update);
    std::thread::sleep(Duration::from_millis(200));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    let copy = dir.path().join("copy");
    run_ok(&["backup", "--data", d, copy.join("store").to_str().unwrap()]);
    let q = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }";
    let original = {
        let s = start(&serve, port);
        let n = count(&base, q);
        s.kill();
        n
    };
    let restored_port = free_port();
    let restored_bind = format!("127.0.0.1:{restored_port}");
    let s = start(&["serve", "--data", copy.to_str().unwrap(), "--bind", &restored_bind], restored_port);
    assert_eq!(count(&format!("http://{restored_bind}"), q), original);
    drop(s);

    // A load killed part-way leaves the file all or nothing, and no bulk files behind.
    let big = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo/womens-clothing-reviews.csv");
    let reviews_q = "SELECT (COUNT(*) AS ?n) { ?r a <https://w3id.org/shopgraph/ontology#Review> }";
    let (before, full) = {
        let s = start(&serve, port);
        let n = count(&base, reviews_q);
        s.kill();
        let scratch = dir.path().join("scratch");
        run_ok(&["load", "--data", scratch.to_str().unwrap(), big.to_str().unwrap()]);
        let p2 = free_port();
        let b2 = format!("127.0.0.1:{p2}");
        let s2 = start(&["serve", "--data", scratch.to_str().unwrap(), "--bind", &b2], p2);
        let full = count(&format!("http://{b2}"), reviews_q);
        s2.kill();
        (n, full)
    };
    let finished_before_the_kill = AtomicUsize::new(0);
    for ms in [300u64, 1500, 4000] {
        let mut child = bin()
            .args(["load", "--data", d, big.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        if finished {
            finished_before_the_kill.fetch_add(1, Ordering::Relaxed);
        }
        let s = start(&serve, port);
        let n = count(&base, reviews_q);
        s.kill();
        // The sample's reviews are rows of the big file (same ids): a complete load gives `full`.
        assert!(n == before || n == full, "a killed load left {n} reviews (before {before}, full {full})");
        let leftovers: Vec<_> = std::fs::read_dir(data.join("store"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("bulk-"))
            .collect();
        assert!(leftovers.is_empty(), "bulk-load files left after reopening: {leftovers:?}");
    }
    // At least one kill must have landed inside a load, or the test proved nothing about it.
    assert!(finished_before_the_kill.load(Ordering::Relaxed) < 3, "every load finished before its kill");
}
