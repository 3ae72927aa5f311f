//! Real clients against the real binary on a port: a raw socket that reuses its connection the
//! way Java's HTTP client does after offering `Upgrade: h2c`, and the Python clients people use
//! (tests/clients/python_clients.py, run by the interpreter `.ci/setup` prepares).

use crate::binary::{free_port, start};
use crate::common::fixture;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP/1.1 exchange on a kept connection, as a pooling client does it. Returns the status
/// and whether the server said it will close, or `None` when the connection died under the
/// request (the write is then lost to a client that does not retry POSTs).
fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> Option<(u16, bool)> {
    conn.get_mut().write_all(request).ok()?;
    let mut status_line = String::new();
    if conn.read_line(&mut status_line).ok()? == 0 {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let (mut length, mut close) = (0usize, false);
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "connection" => close = value.to_ascii_lowercase().contains("close"),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).ok()?;
    Some((status, close))
}

/// Regression: Jena (java.net.http) offers `Upgrade: h2c` on every request; shopgraph answered
/// `connection: upgrade` and then closed the connection, so the client's next POST on it died
/// unapplied (5 of 40 updates, 9 of 40 GSP writes lost).
#[test]
fn writes_offering_an_h2c_upgrade_are_never_lost_on_a_reused_connection() {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let _server = start(&["serve", "--memory", "--bind", &bind], port);
    let writes = 1000;
    let (mut lost, mut reconnects) = (0, 0);
    let mut conn: Option<BufReader<TcpStream>> = None;
    for i in 0..writes {
        let (path, ct, body) = if i % 2 == 0 {
            (
                "/sparql",
                "application/sparql-update",
                format!("INSERT DATA {{ <http://ex.org/u{i}> <http://ex.org/p> {i} }}"),
            )
        } else {
            ("/store?default", "text/turtle", format!("<http://ex.org/g{i}> <http://ex.org/p> {i} ."))
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {bind}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
             HTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\nContent-Type: {ct}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.is_none() {
            let s = TcpStream::connect(&bind).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            conn = Some(BufReader::new(s));
            reconnects += 1;
        }
        match exchange(conn.as_mut().unwrap(), request.as_bytes()) {
            Some((status, close)) => {
                assert!(status == 204 || status == 201, "write {i} answered {status}");
                if close {
                    conn = None;
                }
            }
            None => {
                lost += 1;
                conn = None;
            }
        }
    }
    assert_eq!(lost, 0, "{lost} of {writes} writes died on a connection the server had closed");
    // Every write is in the store.
    let agent = crate::binary::agent();
    let mut r = agent
        .post(&format!("http://{bind}/sparql"))
        .header("content-type", "application/sparql-query")
        .header("accept", "text/csv")
        .send("SELECT (COUNT(*) AS ?n) { ?s <http://ex.org/p> ?o }")
        .unwrap();
    assert_eq!(r.body_mut().read_to_string().unwrap().lines().nth(1), Some("1000"));
    assert!(reconnects >= 1);
    // A plain keep-alive client is not made to reconnect.
    let mut c = BufReader::new(TcpStream::connect(&bind).unwrap());
    for _ in 0..3 {
        let (status, close) =
            exchange(&mut c, format!("GET /health HTTP/1.1\r\nHost: {bind}\r\n\r\n").as_bytes()).unwrap();
        assert_eq!((status, close), (200, false));
    }
}

fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("SHOPGRAPH_CLIENTS_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    std::path::Path::new(&home).join(".cache/shopgraph/clients-venv/bin/python")
}

/// Each row: a client and an operation, as tests/clients/python_clients.py names them. Every
/// one passes against the oxigraph 0.5.13 server on the same data, so every one must pass here.
const PYTHON_CASES: &[&str] = &[
    "sparqlwrapper/select-json-GET",
    "sparqlwrapper/select-xml-GET",
    "sparqlwrapper/select-csv-GET",
    "sparqlwrapper/select-tsv-GET",
    "sparqlwrapper/select-json-POST",
    "sparqlwrapper/select-xml-POST",
    "sparqlwrapper/select-csv-POST",
    "sparqlwrapper/select-tsv-POST",
    "sparqlwrapper/ask-GET",
    "sparqlwrapper/ask-POST",
    "sparqlwrapper/construct-turtle-GET",
    "sparqlwrapper/construct-n3-GET",
    "sparqlwrapper/construct-rdfxml-GET",
    "sparqlwrapper/construct-jsonld-GET",
    "sparqlwrapper/construct-turtle-POST",
    "sparqlwrapper/construct-n3-POST",
    "sparqlwrapper/construct-rdfxml-POST",
    "sparqlwrapper/construct-jsonld-POST",
    "sparqlwrapper/describe-turtle-GET",
    "sparqlwrapper/describe-n3-GET",
    "sparqlwrapper/describe-rdfxml-GET",
    "sparqlwrapper/describe-jsonld-GET",
    "sparqlwrapper/describe-turtle-POST",
    "sparqlwrapper/describe-n3-POST",
    "sparqlwrapper/describe-rdfxml-POST",
    "sparqlwrapper/describe-jsonld-POST",
    "sparqlwrapper-conneg/select-json-GET",
    "sparqlwrapper-conneg/select-xml-GET",
    "sparqlwrapper-conneg/select-csv-GET",
    "sparqlwrapper-conneg/select-tsv-GET",
    "sparqlwrapper-conneg/select-json-POST",
    "sparqlwrapper-conneg/ask-GET",
    "sparqlwrapper-conneg/construct-turtle-GET",
    "sparqlwrapper-conneg/construct-n3-GET",
    "sparqlwrapper-conneg/construct-rdfxml-GET",
    "sparqlwrapper-conneg/construct-jsonld-GET",
    "sparqlwrapper-conneg/describe-turtle-POST",
    "sparqlwrapper/updates-in-a-row",
    "rdflib/sparqlstore-select",
    "rdflib/sparqlstore-construct",
    "rdflib/sparqlupdatestore-writes-in-a-row",
    "rdflib/service-from-a-local-graph",
    "pyoxigraph/parse-json-xml-tsv",
    "graph-store/put-get-post-delete",
];

#[test]
fn python_clients_work_against_the_served_binary() {
    let py = python();
    assert!(
        py.exists(),
        "{} is missing: run `bash .ci/setup` (it makes the clients' virtual environment)",
        py.display()
    );
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let sample = fixture("reviews-sample.csv");
    let _server = start(&["serve", "--memory", "--bind", &bind, "--load", sample.to_str().unwrap()], port);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_clients.py");
    let out = std::process::Command::new(&py).arg(&script).arg(format!("http://{bind}")).arg("1000").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_cases(&out.stdout, PYTHON_CASES);
}

/// Every case of the table reported `ok` in the suite's JSON lines (other lines are ignored).
fn check_cases(stdout: &[u8], cases: &[&str]) {
    let results: Vec<serde_json::Value> = String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut failures = Vec::new();
    for name in cases {
        match results.iter().find(|r| r["case"] == *name) {
            Some(r) if r["ok"] == true => {}
            Some(r) => failures.push(format!("{name}: {}", r["detail"])),
            None => failures.push(format!("{name}: not run")),
        }
    }
    assert!(failures.is_empty(), "{} client cases failed:\n{}", failures.len(), failures.join("\n"));
}

/// Each row: a Jena operation as tests/clients/JenaClient.java names it.
const JENA_CASES: &[&str] = &[
    "jena/rdfconnection-select",
    "jena/rdfconnection-ask-construct-describe",
    "jena/updates-in-a-row",
    "jena/gsp-writes-in-a-row",
    "jena/gsp-put-get-delete-graph",
    "jena/using-graph-uri",
    "jena/fetch-and-load-dataset",
    "jena/query-with-default-graph-uri",
];

/// Apache Jena 4.5 from Debian, on java.net.http: it offers `Upgrade: h2c` on every request.
#[test]
fn jena_works_against_the_served_binary_and_loses_no_write() {
    let home = std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let fix = home.join(".cache/shopgraph/jena-classpath-fix");
    assert!(
        std::path::Path::new("/usr/share/java/jena-arq.jar").exists() && fix.exists(),
        "Jena is missing: run `bash .ci/setup` (it installs libapache-jena-java)"
    );
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let sample = fixture("reviews-sample.csv");
    let _server = start(&["serve", "--memory", "--bind", &bind, "--load", sample.to_str().unwrap()], port);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/JenaClient.java");
    let out = std::process::Command::new("java")
        .arg("-cp")
        .arg(format!("{}:/usr/share/java/*", fix.display()))
        .arg(&script)
        .arg(format!("http://{bind}"))
        .arg("1000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check_cases(&out.stdout, JENA_CASES);
}
