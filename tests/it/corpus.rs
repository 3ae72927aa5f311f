//! The bad-input corpus (tests/data/bad-input/corpus.jsonl, 1,200 hand-written and generated
//! requests): each gets a 4xx or a success, never a 5xx or a crash, and a refused one leaves
//! the store as it was.

use crate::common::*;
use actix_web::http::Method;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::http::{AppState, app};

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    method: String,
    path: String,
    content_type: Option<String>,
    body: Option<String>,
    body_hex: Option<String>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[actix_web::test]
async fn every_request_of_the_bad_input_corpus_is_a_4xx_or_a_success_and_refusals_change_nothing() {
    let corpus = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-input/corpus.jsonl"),
    )
    .unwrap();
    let cases: Vec<Case> = corpus.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(cases.len() >= 1000, "the corpus shrank to {}", cases.len());
    let engine = loaded_engine_with(shopgraph::config::Config { query_timeout_ms: 2000, ..config() });
    engine.train(&shopgraph::recommend::Algorithm::Popularity, None, |_, _| {}).unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let (mut ok, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let before = engine.store().len().unwrap();
        let mut req = TestRequest::default().method(Method::from_bytes(c.method.as_bytes()).unwrap()).uri(&c.path);
        if let Some(ct) = &c.content_type {
            req = req.insert_header(("content-type", ct.as_str()));
        }
        let body = match (&c.body, &c.body_hex) {
            (Some(b), _) => b.clone().into_bytes(),
            (None, Some(h)) => unhex(h),
            (None, None) => Vec::new(),
        };
        let resp = call_service(&app, req.set_payload(body).to_request()).await;
        let status = resp.status();
        let text = read_body(resp).await;
        if status.is_server_error() {
            failures.push(format!("#{i} {}: {status} {}", c.name, String::from_utf8_lossy(&text)));
        } else if status.is_client_error() {
            refused += 1;
            if engine.store().len().unwrap() != before {
                failures.push(format!("#{i} {}: refused with {status} but the store changed", c.name));
            }
        } else {
            ok += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    // The corpus is mostly bad input; most of it must be refused.
    assert!(refused > ok, "{refused} refused, {ok} accepted");
    let resp = call_service(&app, TestRequest::get().uri("/health").to_request()).await;
    assert!(resp.status().is_success());
}
