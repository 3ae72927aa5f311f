//! Properties over generated input (seeded, so a failure replays): the tabular loader on random
//! CSV files, and the protocol's parameter parsing on random query strings.

use crate::common::*;
use actix_web::test::{TestRequest, call_service, init_service};
use shopgraph::http::{AppState, app};
use shopgraph::ingest::mapping::Mapping;

/// SplitMix64: small, seeded, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const ATOMS: &[&str] = &[
    "",
    " ",
    "1077",
    "1049",
    "5",
    "0",
    "-1",
    "3.5",
    "1e39",
    "NaN",
    "abc",
    "Dresses",
    "General",
    "Intimates",
    "\"",
    "\"\"",
    ",",
    "\n",
    "\r\n",
    "é",
    "e\u{301}",
    "\u{202e}",
    "\u{0}",
    "🙂",
    "x@y.com",
    "555-201-7788",
    "  padded  ",
    "Initmates",
];

fn cell(rng: &mut Rng) -> String {
    (0..rng.below(4)).map(|_| *rng.pick(ATOMS)).collect()
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Random review files through the real mapping: every record is counted exactly once (kept,
/// rejected or duplicate), the load never fails as a whole, and loading the file again adds
/// nothing.
#[test]
fn the_tabular_loader_accounts_for_every_random_row_and_reloads_idempotently() {
    let header = "review_id,Clothing ID,Age,Title,Review Text,Rating,Recommended IND,Positive Feedback Count,Division Name,Department Name,Class Name";
    let mapping = Mapping::from_file(&fixture("reviews-sample.mapping.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5EED_0001);
    for case in 0..40 {
        let rows = 1 + rng.below(30);
        let mut text = String::from(header) + "\n";
        for _ in 0..rows {
            let cells: Vec<String> = (0..11).map(|_| csv_field(&cell(&mut rng))).collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        let path = dir.path().join(format!("random-{case}.csv"));
        std::fs::write(&path, &text).unwrap();
        let e = empty_engine();
        let first = e.load_tabular(&path, &mapping, None, Box::new(|_| {})).unwrap().report.unwrap();
        assert_eq!(first.rows_read as usize, rows, "case {case}: rows read");
        assert_eq!(
            first.rows_kept + first.rows_rejected + first.rows_duplicate,
            first.rows_read,
            "case {case}: a row was neither kept, rejected nor a duplicate\n{text}"
        );
        let len = e.store().len().unwrap();
        e.load_tabular(&path, &mapping, None, Box::new(|_| {})).unwrap();
        assert_eq!(e.store().len().unwrap(), len, "case {case}: reloading changed the store\n{text}");
    }
}

const KEYS: &[&str] = &[
    "query",
    "format",
    "output",
    "results",
    "default-graph-uri",
    "named-graph-uri",
    "union-default-graph",
    "timeout",
    "using-graph-uri",
    "callback",
    "",
    "query ",
    "QUERY",
    "%71uery",
    "a[b]",
    "format[]",
];
const VALUES: &[&str] = &[
    "ASK {}",
    "SELECT * { ?s ?p ?o } LIMIT 1",
    "json",
    "xml",
    "csv",
    "tsv",
    "n3",
    "turtle",
    "json-ld",
    "application/ld+json",
    "text/html",
    "http://ex.org/g",
    "not an iri",
    "",
    "%FF",
    "%",
    "%G0",
    "%00",
    "a%2",
    "SELECT",
    "{{{",
    "🙂",
    "+",
    "&",
    "=",
];

fn encode(s: &str) -> String {
    // Percent-encodes everything but letters and digits, as a careful client would.
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Random query strings on /sparql: never a 5xx, and a query that parses is answered the same
/// whatever unknown parameters come with it.
#[actix_web::test]
async fn random_protocol_parameters_never_give_a_server_error() {
    let app = init_service(app(AppState::new(loaded_engine()))).await;
    let mut rng = Rng(0x5EED_0002);
    for case in 0..600 {
        let mut parts = Vec::new();
        for _ in 0..rng.below(5) {
            let (k, v) = (*rng.pick(KEYS), *rng.pick(VALUES));
            parts.push(if rng.below(2) == 0 { format!("{}={}", encode(k), encode(v)) } else { format!("{k}={v}") });
        }
        let uri = format!("/sparql?{}", parts.join("&"));
        let Ok(req) = std::panic::catch_unwind(|| TestRequest::get().uri(&uri).to_request()) else {
            continue; // not a URI at all: the HTTP layer refuses it before shopgraph sees it
        };
        let status = call_service(&app, req).await.status();
        assert!(!status.is_server_error(), "case {case}: {uri} gave {status}");
    }
}
