//! Golden queries: every tests/golden/*.rq runs on the fixture store and must give the rows in
//! its .expected.json, which tests/golden/oracle.py computed from the source files directly.

use crate::common::*;
use std::collections::BTreeMap;

type Row = BTreeMap<String, String>;

fn same_value(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn same_rows(got: &[Row], want: &[Row]) -> bool {
    // Order-insensitive multiset match, numeric values compared as numbers.
    let mut used = vec![false; want.len()];
    got.len() == want.len()
        && got.iter().all(|g| {
            want.iter().enumerate().any(|(i, w)| {
                let ok =
                    !used[i] && g.len() == w.len() && g.iter().all(|(k, v)| w.get(k).is_some_and(|x| same_value(v, x)));
                if ok {
                    used[i] = true;
                }
                ok
            })
        })
}

#[test]
fn golden_queries_match_the_oracle() {
    let e = loaded_engine();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut ran = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for rq in files.iter().filter(|p| p.extension().is_some_and(|x| x == "rq")) {
        let expected_path = rq.with_extension("expected.json");
        let want: Vec<Row> = serde_json::from_slice(&std::fs::read(&expected_path).unwrap()).unwrap();
        let got = select(&e, &std::fs::read_to_string(rq).unwrap());
        assert!(!want.is_empty(), "{}: an empty oracle proves nothing", rq.display());
        assert!(same_rows(&got, &want), "{}\n got: {got:#?}\nwant: {want:#?}", rq.display());
        ran += 1;
    }
    assert!(ran >= 4, "only {ran} golden queries ran");
}
