//! The real binary in headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! `.ci/setup`): a web page on another origin (the origin listed in `cors_origins` reads and
//! writes, preflights answered; any other can neither read the answers nor write), the console's
//! pages by URL, and the console driven through WebDriver (keys typed, buttons clicked).

use crate::binary::{agent, bin, free_port};
use crate::common::fixture;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PAGE: &str = r#"<!doctype html><html><body><pre id="out">pending</pre><script>
const base = "BASE";
const results = {};
async function run(name, f) { try { const r = await f(); results[name] = String(r.status); } catch (e) { results[name] = "blocked"; } }
(async () => {
  await run("get-query", () => fetch(base + "/sparql?query=" + encodeURIComponent("ASK {}"), {headers: {"Accept": "application/sparql-results+json"}}));
  await run("post-query", () => fetch(base + "/sparql", {method: "POST", headers: {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"}, body: "SELECT * { ?s ?p ?o } LIMIT 1"}));
  await run("form-update", () => fetch(base + "/sparql", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "update=" + encodeURIComponent("INSERT DATA { <http://ex.org/browser/TAG> <http://ex.org/p> 1 }")}));
  await run("gsp-put", () => fetch(base + "/store?graph=" + encodeURIComponent("http://ex.org/browser-graph/TAG"), {method: "PUT", headers: {"Content-Type": "text/turtle"}, body: "<http://ex.org/a> <http://ex.org/b> 1 ."}));
  await run("get-with-authorization", () => fetch(base + "/queries", {headers: {"Authorization": "Bearer none"}}));
  document.getElementById("out").textContent = "RESULTS " + JSON.stringify(results);
})();
</script></body></html>"#;

/// Serves one page on its own origin until the test ends.
fn serve_page(html: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut s = reader.into_inner();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    port
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// Loads the page in headless Chromium and returns what its script found.
fn visit(url: &str) -> serde_json::Value {
    let dom = dom(url);
    let start = dom.find("RESULTS ").unwrap_or_else(|| panic!("the page did not finish: {dom}")) + "RESULTS ".len();
    let end = dom[start..].find("</pre>").unwrap() + start;
    serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap()
}

#[test]
fn a_page_on_a_listed_origin_reads_and_writes_and_any_other_origin_can_do_neither() {
    assert!(chromium().is_some(), "chromium is missing: run `bash .ci/setup` (it installs Debian's chromium)");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let base = format!("http://{bind}");
    let allowed_port = serve_page(PAGE.replace("BASE", &base).replace("TAG", "allowed"));
    let other_port = serve_page(PAGE.replace("BASE", &base).replace("TAG", "other"));
    let sample = fixture("reviews-sample.csv");
    let child = bin()
        .args(["serve", "--memory", "--bind", &bind, "--load", sample.to_str().unwrap()])
        .env("SHOPGRAPH_CORS_ORIGINS", format!("http://127.0.0.1:{allowed_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = crate::binary::Server::from_child(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while agent().get(&format!("{base}/health")).call().map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    // (page, operation, what the page's script sees)
    let cases = [
        ("allowed", "get-query", "200"),
        ("allowed", "post-query", "200"),
        ("allowed", "form-update", "204"),
        ("allowed", "gsp-put", "201"),
        ("allowed", "get-with-authorization", "200"),
        ("other", "get-query", "blocked"),
        ("other", "post-query", "blocked"),
        ("other", "form-update", "blocked"),
        ("other", "gsp-put", "blocked"),
        ("other", "get-with-authorization", "blocked"),
    ];
    let allowed = visit(&format!("http://127.0.0.1:{allowed_port}/"));
    let other = visit(&format!("http://127.0.0.1:{other_port}/"));
    for (page, op, want) in cases {
        let got = if page == "allowed" { &allowed } else { &other };
        assert_eq!(got[op], want, "{page} page, {op}: {got}");
    }
    // Only the listed origin's writes landed.
    let ask = |q: &str| {
        let mut r = agent()
            .get(&format!("{base}/sparql?{}", serde_urlencoded::to_string([("query", q)]).unwrap()))
            .header("accept", "application/sparql-results+json")
            .call()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&r.body_mut().read_to_string().unwrap()).unwrap()["boolean"] == true
    };
    assert!(ask("ASK { <http://ex.org/browser/allowed> ?p ?o }"));
    assert!(!ask("ASK { <http://ex.org/browser/other> ?p ?o }"), "a page on another origin wrote by form");
    assert!(
        !ask("ASK { GRAPH <http://ex.org/browser-graph/other> { ?s ?p ?o } }"),
        "a page on another origin wrote by PUT"
    );
}

/// The DOM of a page after its scripts ran, in headless Chromium.
fn dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium().unwrap())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=15000",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The real binary on a free port with an in-memory store holding these fixture files.
fn serve_fixtures(files: &[&str]) -> (String, crate::binary::Server) {
    let port = free_port();
    let mut args = vec!["serve".to_owned(), "--memory".into(), "--bind".into(), format!("127.0.0.1:{port}")];
    for f in files {
        args.extend(["--load".to_owned(), fixture(f).to_str().unwrap().to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (format!("http://127.0.0.1:{port}"), crate::binary::start(&args, port))
}

#[test]
fn the_console_pages_load_search_query_and_show_api_errors_readably() {
    assert!(chromium().is_some(), "chromium is missing: run `bash .ci/setup` (it installs Debian's chromium)");
    let (base, _server) =
        serve_fixtures(&["reviews-sample.csv", "products-text.jsonl", "products.jsonl", "interactions.csv"]);
    // A model for the shopper page and a duplicate pair for the review queue (loopback: no keys).
    let post = |path: &str, ctype: &str, body: &str| {
        let r = agent().post(&format!("{base}{path}")).header("content-type", ctype).send(body).unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    };
    post("/train?algorithm=item_knn", "application/json", "");
    post(
        "/sparql",
        "application/sparql-update",
        "PREFIX sg: <https://w3id.org/shopgraph/ontology#> INSERT DATA {
           <https://w3id.org/shopgraph/id/product/dupA> a sg:Product ; sg:productId \"dupA\" ; sg:name \"Striped linen shirt\" ; sg:gtin \"0012345678905\" .
           <https://w3id.org/shopgraph/id/product/dupB> a sg:Product ; sg:productId \"dupB\" ; sg:name \"Linen shirt, striped\" ; sg:gtin \"012345678905\" . }",
    );
    post("/fuse", "application/json", "");
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(
            &agent().get(&format!("{base}{path}")).call().unwrap().body_mut().read_to_string().unwrap(),
        )
        .unwrap()
    };
    let item = read("/queue")["items"][0]["id"].as_str().expect("a queued pair").to_owned();
    let no_errors = |page: &str, d: &str| {
        let start = d.find("id=\"console-errors\"").unwrap_or_else(|| panic!("{page}: no error slot in {d}"));
        let slot = &d[start..start + d[start..].find("</pre>").unwrap()];
        assert!(slot.ends_with('>'), "{page}: script errors: {slot}");
    };
    let q = |s: &str| serde_urlencoded::to_string([("q", s)]).unwrap();
    let accepted = format!("accepted {item}");
    // (page, what its DOM must hold once the scripts ran)
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("#search?{}", q("tiered dress")),
            vec!["class=\"hit\"", "Tiered midi dress", "Why:", "Dresses (", "matches. Read as:"],
        ),
        (
            format!(
                "#query?run=1&{}",
                q("SELECT ?p WHERE { ?p a <https://w3id.org/shopgraph/ontology#Product> } LIMIT 3")
            ),
            vec!["id=\"result-table\"", "<td><a href=\"#browse?iri=", "3 rows in", "class=\"cm-editor", "cm-content"],
        ),
        (format!("#query?run=1&{}", q("SELEC broken")), vec!["class=\"error\"", "400:"]),
        (
            "#product?id=1077".into(),
            vec![
                "Review aspects",
                "No aspects extracted",
                "id=\"result-table\"",
                "#product?id=",
                "Who would like this",
            ],
        ),
        (
            "#status".into(),
            vec![
                "id=\"result-table\"",
                "id=\"requests-table\"",
                "<th scope=\"col\">p95</th>",
                "Requests",
                "No extraction has run.",
                "Model versions",
                "No saved model versions",
            ],
        ),
        (
            "#browse?iri=https%3A%2F%2Fw3id.org%2Fshopgraph%2Ftaxonomy%2Fgoogle%2F2271".into(),
            vec!["Place in the tree", ">Clothing</a>", "<strong>this</strong>", "id=\"result-table\""],
        ),
        (
            "#shopper?user=alice%40example.com&explain=1".into(),
            vec![
                "item_knn",
                "id=\"explain-graph\"",
                "share of the score",
                "History",
                "Purchase <a href=\"#product?id=1077\">",
            ],
        ),
        ("#curate".into(), vec!["id=\"queue-table\"", "same_as", "Ontology versions", "1.6.0"]),
        (format!("#curate?accept={item}"), vec![accepted.as_str()]),
    ];
    for (page, wants) in &cases {
        let d = dom(&format!("{base}/{page}"));
        for w in wants {
            assert!(d.contains(w), "{page}: {w:?} not in the page:\n{}", &d[d.find("<main").unwrap_or(0)..]);
        }
        no_errors(page, &d);
    }
    // The pair accepted in the page left the queue.
    let queue = read("/queue");
    assert!(!queue["items"].as_array().unwrap().iter().any(|i| i["id"] == item.as_str()), "{queue}");
}

/// A WebDriver session against Debian's chromedriver, spoken over its HTTP protocol.
struct WebDriver {
    base: String,
    session: String,
    _driver: crate::binary::Server,
}

impl WebDriver {
    fn start() -> Self {
        let exe = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver is missing: run `bash .ci/setup` (it installs Debian's chromium-driver)");
        let port = free_port();
        let child = std::process::Command::new(exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = crate::binary::Server::from_child(child);
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent().get(&format!("{base}/status")).call().map(|r| r.status() != 200).unwrap_or(true) {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium().expect("chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}}}});
        let mut wd = Self { base, session: String::new(), _driver: driver };
        let v = wd.call("POST", "/session", Some(caps));
        wd.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_owned();
        wd
    }

    fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut r = match method {
            "GET" => agent().get(&url).call().unwrap(),
            "DELETE" => agent().delete(&url).call().unwrap(),
            _ => agent()
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(serde_json::json!({})).to_string())
                .unwrap(),
        };
        let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v["value"].clone()
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", Some(serde_json::json!({"url": url})));
    }

    /// The element matching a CSS selector, waiting up to 20 s for it to appear.
    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.call("POST", "/element", Some(serde_json::json!({"using": "css selector", "value": css})));
            // A found element is `{"element-6066-…": id}` (W3C; `ELEMENT` in the older protocol);
            // not found is `{"error": ...}`.
            let id = v.get("element-6066-11e4-a52e-4f735466cecf").or_else(|| v.get("ELEMENT"));
            if let Some(id) = id.and_then(|x| x.as_str()) {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "{css} never appeared ({v}): {}", self.source());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn click(&self, element: &str) {
        self.call("POST", &format!("/element/{element}/click"), None);
    }

    fn type_into(&self, element: &str, text: &str) {
        self.call("POST", &format!("/element/{element}/value"), Some(serde_json::json!({"text": text})));
    }

    fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = agent().delete(&format!("{}/session/{}", self.base, self.session)).call();
    }
}

/// The console driven like a person would: keys typed into the SPARQL editor and its Run button
/// clicked give a table; a shopper's explanation draws; a queued pair is accepted by its button.
#[test]
fn the_console_is_driven_through_webdriver_typing_and_clicking() {
    let (base, _server) = serve_fixtures(&["reviews-sample.csv", "products.jsonl", "interactions.csv"]);
    for (path, ctype, body) in [
        ("/train?algorithm=als&factors=8&iterations=5", "application/json", ""),
        (
            "/sparql",
            "application/sparql-update",
            "PREFIX sg: <https://w3id.org/shopgraph/ontology#> INSERT DATA {
               <https://w3id.org/shopgraph/id/product/dupA> a sg:Product ; sg:productId \"dupA\" ; sg:gtin \"0012345678905\" .
               <https://w3id.org/shopgraph/id/product/dupB> a sg:Product ; sg:productId \"dupB\" ; sg:gtin \"012345678905\" . }",
        ),
        ("/fuse", "application/json", ""),
    ] {
        let r = agent().post(&format!("{base}{path}")).header("content-type", ctype).send(body).unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let wd = WebDriver::start();

    wd.open(&format!("{base}/#query"));
    let editor = wd.find(".cm-content");
    wd.click(&editor);
    // Ctrl+A then the query, typed key by key (no Enter: it would accept a completion).
    wd.type_into(&editor, "\u{E009}a\u{E000}");
    wd.type_into(&editor, "SELECT ?p WHERE { ?p a <https://w3id.org/shopgraph/ontology#Product> } LIMIT 2");
    wd.click(&wd.find("#run"));
    wd.find("#result-table");
    let page = wd.source();
    assert!(page.contains("2 rows in"), "{}", &page[page.find("<main").unwrap_or(0)..]);

    wd.open(&format!("{base}/#shopper?user=alice%40example.com&explain=1"));
    wd.find("#explain-graph");

    wd.open(&format!("{base}/#curate"));
    let accept = wd.find("#queue-table button[data-d=\"accept\"]");
    wd.click(&accept);
    wd.find("#decided");
    let page = wd.source();
    let start = page.find("id=\"console-errors\"").expect("error slot");
    assert!(page[start..start + page[start..].find("</pre>").unwrap()].ends_with('>'), "script errors on the page");
}
