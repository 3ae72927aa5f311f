//! The review queue: low-confidence extracted facts wait there instead of being served;
//! accepting (with an edit) moves them in, marked; rejecting keeps them as negative examples;
//! the decisions export as partial labels that fine-tuning reads; bad decisions change nothing.

use crate::common::{SG, config, count, engine_with, load};
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::config::Config;
use shopgraph::engine::{Edit, EngineError, ExtractOptions, QueueFilter};
use shopgraph::extract::finetune::{data, job};
use shopgraph::http::{AppState, app};
use std::sync::atomic::AtomicBool;

const QUEUE: &str = "https://w3id.org/shopgraph/graph/queue";
const DECISIONS: &str = "https://w3id.org/shopgraph/graph/decisions";

#[actix_web::test]
async fn held_facts_wait_in_the_queue_and_decisions_move_them() {
    // A high threshold so that a small sample holds several facts.
    let e = engine_with(Config { review_threshold_aspect: 0.97, ..config() });
    load(&e, "reviews-sample.csv");
    let r = e
        .extract(
            &ExtractOptions { limit: Some(30), chunk: 16, ..Default::default() },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert!(r.held_for_review >= 3 && r.aspect_mentions > 0, "{r:?}");
    let mentions =
        |g: &str| count(&e, &format!("{SG}SELECT (COUNT(?m) AS ?n) {{ GRAPH <{g}> {{ ?m a sg:AspectMention }} }}"));
    assert_eq!(mentions(&r.graph), r.aspect_mentions);
    assert_eq!(mentions(QUEUE), r.held_for_review);

    let items = e.queue_list(&QueueFilter::default()).unwrap();
    assert_eq!(items.len(), r.held_for_review);
    for i in &items {
        assert!(i.confidence < 0.97 && i.reason.contains("under the aspect threshold"), "{i:?}");
        assert!(i.context.contains(i.source_text.trim()), "{i:?}");
        assert_eq!(i.target_graph, r.graph);
    }
    // Least confident first; filters narrow.
    assert!(items.windows(2).all(|w| w[0].confidence <= w[1].confidence));
    let product = items[0].product.clone().unwrap();
    let of_product = e.queue_list(&QueueFilter { product: Some(product.clone()), ..Default::default() }).unwrap();
    assert!(!of_product.is_empty() && of_product.iter().all(|i| i.product.as_deref() == Some(product.as_str())));

    // Bad decisions change nothing.
    let before = e.store().len().unwrap();
    for (id, edit) in [
        ("nope", Edit::default()),
        ("../../etc", Edit::default()),
        (items[0].id.as_str(), Edit { sentiment: Some("great".into()), aspect: None }),
        (items[0].id.as_str(), Edit { aspect: Some("sleeves".into()), sentiment: None }),
    ] {
        let err = e.queue_accept(id, &edit, "tester").unwrap_err();
        assert!(matches!(err, EngineError::NotFound(_) | EngineError::Input(_)), "{err}");
    }
    assert_eq!(e.store().len().unwrap(), before);

    // Accept with an edit: served, with the edit, marked; gone from the queue; recorded.
    let a = e.queue_accept(&items[0].id, &Edit { sentiment: Some("neutral".into()), aspect: None }, "tester").unwrap();
    assert_eq!(a.item.sentiment, "neutral");
    let served = format!(
        "{SG}SELECT (COUNT(*) AS ?n) {{ GRAPH <{}> {{ <{}> sg:sentiment \"neutral\" ; sg:decision \"accepted\" ; sg:decidedBy \"tester\" ; sg:sourceText ?t }} }}",
        r.graph, items[0].iri
    );
    assert_eq!(count(&e, &served), 1);
    assert_eq!(count(&e, &format!("SELECT (COUNT(*) AS ?n) {{ GRAPH <{QUEUE}> {{ <{}> ?p ?o }} }}", items[0].iri)), 0);
    assert!(matches!(e.queue_accept(&items[0].id, &Edit::default(), "tester"), Err(EngineError::NotFound(_))));

    // Reject: out of the queue, never served, kept as a negative example.
    e.queue_reject(&items[1].id, "tester").unwrap();
    assert_eq!(
        count(&e, &format!("SELECT (COUNT(*) AS ?n) {{ GRAPH <{}> {{ <{}> ?p ?o }} }}", r.graph, items[1].iri)),
        0
    );
    assert_eq!(
        count(
            &e,
            &format!(
                "{SG}SELECT (COUNT(*) AS ?n) {{ GRAPH <{DECISIONS}> {{ <{}> sg:decision \"rejected\" }} }}",
                items[1].iri
            )
        ),
        1
    );
    assert_eq!(e.queue_list(&QueueFilter::default()).unwrap().len(), items.len() - 2);

    // Decisions become training data: partial labels fine-tuning reads.
    let tsv = e.queue_export().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.tsv");
    std::fs::write(&path, &tsv).unwrap();
    let aspects = job::base_aspects();
    let rows = data::read_aspect_file(&path, &aspects).unwrap();
    assert!(!rows.is_empty() && rows.len() <= 2, "{tsv}");
    let label = |iri: &str| iri.rsplit('-').next().unwrap().to_string();
    let (acc_k, rej_k) = (
        aspects.iter().position(|x| *x == label(&a.item.aspect)).unwrap(),
        aspects.iter().position(|a| *a == label(&items[1].aspect)).unwrap(),
    );
    let acc_row = rows.iter().find(|x| x.text == items[0].context).unwrap();
    assert_eq!(acc_row.aspects.as_ref().unwrap()[acc_k], Some(1), "accepted as neutral");
    assert!(acc_row.known[acc_k]);
    let rej_row = rows.iter().find(|x| x.text == items[1].context).unwrap();
    assert_eq!(rej_row.aspects.as_ref().unwrap()[rej_k], None, "rejected: absent");
    assert!(rej_row.known[rej_k]);
    assert!(rej_row.known.iter().filter(|k| **k).count() <= 2, "only decided aspects are known");

    // Over HTTP: the list, and clear 4xx for bad decisions.
    let srv = init_service(app(AppState::new(e.clone()))).await;
    let resp = call_service(&srv, TestRequest::get().uri("/queue?limit=5").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&read_body(resp).await).unwrap();
    assert!(!v["items"].as_array().unwrap().is_empty());
    let id = v["items"][0]["id"].as_str().unwrap().to_string();
    for (uri, body, want) in [
        (format!("/queue/{id}/frobnicate"), "", StatusCode::NOT_FOUND),
        (format!("/queue/{id}/reject"), r#"{"sentiment": "positive"}"#, StatusCode::BAD_REQUEST),
        (format!("/queue/{id}/accept"), r#"{"colour": 1}"#, StatusCode::BAD_REQUEST),
        ("/queue/unknown/accept".to_string(), "", StatusCode::NOT_FOUND),
        ("/queue?limit=0".to_string(), "", StatusCode::BAD_REQUEST),
    ] {
        let req = if uri.starts_with("/queue?") { TestRequest::get() } else { TestRequest::post().set_payload(body) };
        let resp = call_service(&srv, req.uri(&uri).to_request()).await;
        assert_eq!(resp.status(), want, "{uri} {body}");
    }
    let resp = call_service(&srv, TestRequest::post().uri(&format!("/queue/{id}/accept")).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
}
