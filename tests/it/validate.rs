//! SHACL validation: the shipped shapes hold on real loaded data; documents are checked without
//! being stored; validated uploads and updates with a violation are refused whole with the
//! report; malformed shapes are refused; machine facts that fail a shape wait in the review
//! queue and acceptance moves them.

use crate::common::{SG, config, count, engine_with, load, loaded_engine};
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::config::Config;
use shopgraph::engine::{Edit, ExtractOptions, QueueFilter};
use shopgraph::http::{AppState, app};
use std::sync::atomic::AtomicBool;

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let resp = call_service(&$app, $req.to_request()).await;
        let status = resp.status();
        let body = read_body(resp).await.to_vec();
        (status, body)
    }};
}

const SHAPES: &str = "https://w3id.org/shopgraph/graph/shapes";
const PREFIXES: &str = "@prefix sg: <https://w3id.org/shopgraph/ontology#> . @prefix ex: <http://shop.example/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix schema: <http://schema.org/> .\n";

/// A product with no id, an offer with a negative price in "dollars", a review of 7 stars.
const BAD: &str = "ex:p1 a sg:Product ; sg:name \"Linen shirt\" ; sg:offer ex:o1 .
ex:o1 a sg:Offer ; sg:price \"-3.00\"^^xsd:decimal ; sg:currency \"dollars\" .
ex:r1 a sg:Review ; sg:reviewOf ex:p1 ; sg:rating 7 .";

const GOOD: &str = "ex:p2 a sg:Product ; sg:productId \"p2\" ; sg:name \"Linen shirt\" ; sg:offer ex:o2 .
ex:o2 a sg:Offer ; sg:price \"30.00\"^^xsd:decimal ; sg:currency \"USD\" ; sg:availability schema:InStock .
ex:r2 a sg:Review ; sg:reviewOf ex:p2 ; sg:rating 4 .";

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)))
}

/// (focus node's last segment, constraint component's local name) of each result.
fn found(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let focus = r["focusNode"].as_str().unwrap().trim_end_matches('>').rsplit('/').next().unwrap().to_owned();
            let c = r["sourceConstraintComponent"].as_str().unwrap().rsplit('#').next().unwrap().to_owned();
            (focus, c.trim_end_matches("ConstraintComponent").to_owned())
        })
        .collect();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn shipped_shapes_hold_on_loaded_data_and_find_a_broken_edit() {
    let e = loaded_engine();
    let report = e.validate_stored(None).unwrap();
    assert!(report.conforms, "{:#?}", &report.results[..report.results.len().min(5)]);
    // Checked nodes really were there to check: the loaded data has reviews and offers.
    assert!(count(&e, &format!("{SG}SELECT (COUNT(*) AS ?n) {{ ?r a sg:Review }}")) > 100);
    // An unvalidated write breaks a rule; validation of what is stored then finds exactly it.
    let r = crate::common::select(&e, &format!("{SG}SELECT ?r {{ ?r a sg:Review ; sg:rating ?x }} LIMIT 1"))[0]["r"]
        .clone();
    e.update(&format!(
        "{SG}DELETE {{ <{r}> sg:rating ?x }} INSERT {{ <{r}> sg:rating 9 }} WHERE {{ <{r}> sg:rating ?x }}"
    ))
    .unwrap();
    let report = e.validate_stored(None).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(found(&v), pairs(&[(r.rsplit('/').next().unwrap(), "MaxInclusive")]));
    assert_eq!(report.results[0].value.as_deref(), Some("\"9\"^^<http://www.w3.org/2001/XMLSchema#integer>"));
    // Scoped to a graph that holds none of it: nothing to report.
    let meta = shopgraph::store::model::GraphName::NamedNode(shopgraph::store::model::NamedNode::new_unchecked(
        "https://w3id.org/shopgraph/graph/meta",
    ));
    assert!(e.validate_stored(Some(&meta)).unwrap().conforms);
}

#[actix_web::test]
async fn validate_endpoint_checks_a_body_and_stores_nothing() {
    let e = loaded_engine();
    let before = e.store().len().unwrap();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let post = |body: String| {
        TestRequest::post().uri("/validate").insert_header(("content-type", "text/turtle")).set_payload(body)
    };
    let (s, b) = call!(app, post(format!("{PREFIXES}{BAD}")));
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["conforms"], false);
    assert_eq!(
        found(&v),
        pairs(&[("o1", "MinInclusive"), ("o1", "Pattern"), ("p1", "MinCount"), ("r1", "MaxInclusive")])
    );
    let (s, b) = call!(app, post(format!("{PREFIXES}{GOOD}")));
    assert_eq!((s, json(&b)["conforms"].clone()), (StatusCode::OK, serde_json::Value::Bool(true)));
    // A link to a node that is not what the shape asks for: a review of something that is not
    // a product (classes are read from the store as well as the body).
    let (_, b) = call!(
        app,
        post(format!("{PREFIXES}ex:r3 a sg:Review ; sg:reviewOf <https://w3id.org/shopgraph/ontology#aspect-fit> ."))
    );
    assert_eq!(found(&json(&b)), pairs(&[("r3", "Class")]));
    // The standard report in Turtle, by Accept.
    let (s, b) = call!(app, post(format!("{PREFIXES}{BAD}")).insert_header(("accept", "text/turtle")));
    assert_eq!(s, StatusCode::OK);
    let ttl = String::from_utf8(b).unwrap();
    assert!(ttl.contains("sh:ValidationReport") && ttl.contains("sh:conforms false"), "{ttl}");
    assert_eq!(ttl.matches("sh:ValidationResult").count(), 4, "{ttl}");
    // Stored data by graph, with an empty body.
    let (s, b) = call!(app, TestRequest::post().uri("/validate?default"));
    assert_eq!((s, json(&b)["conforms"].clone()), (StatusCode::OK, serde_json::Value::Bool(true)));
    // Bad requests: no body and no graph; a body that is not RDF.
    let (s, _) = call!(app, TestRequest::post().uri("/validate"));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call!(app, post("ex:a ex:b".into()));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e.store().len().unwrap(), before, "validation stored something");
}

#[actix_web::test]
async fn validated_writes_with_a_violation_are_refused_whole() {
    let e = loaded_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let before = e.store().len().unwrap();
    let gsp = |method: TestRequest, q: &str, body: &str| {
        method
            .uri(&format!("/store?{q}"))
            .insert_header(("content-type", "text/turtle"))
            .set_payload(format!("{PREFIXES}{body}"))
    };
    let update = |q: &str, text: String| {
        TestRequest::post()
            .uri(&format!("/sparql?{q}"))
            .insert_header(("content-type", "application/sparql-update"))
            .set_payload(text)
    };
    let bad_update = format!(
        "{SG}PREFIX ex: <http://shop.example/> INSERT DATA {{ ex:r9 a sg:Review ; sg:reviewOf ex:nothing ; sg:rating 3 }}"
    );
    let strip_prices = format!("{SG}DELETE {{ ?o sg:price ?p }} WHERE {{ ?o a sg:Offer ; sg:price ?p }}");
    // (request, expected status): each refused one changes nothing.
    let refused = [
        gsp(TestRequest::put(), "default&validate=true", BAD),
        gsp(TestRequest::post(), "graph=http://shop.example/g&validate=true", BAD),
        gsp(TestRequest::post(), "validate=true", BAD),
        update("validate=true", bad_update.clone()),
        update("validate=true", strip_prices.clone()),
    ];
    for req in refused {
        let (s, b) = call!(app, req);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&b));
        let v = json(&b);
        assert_eq!(v["error"], "shacl_violation");
        assert_eq!(v["report"]["conforms"], false);
        assert!(!v["report"]["results"].as_array().unwrap().is_empty());
        assert_eq!(e.store().len().unwrap(), before, "a refused write changed the store");
    }
    // Conforming writes go through with validation; unvalidated ones are not checked.
    let (s, b) = call!(app, gsp(TestRequest::post(), "graph=http://shop.example/g&validate=true", GOOD));
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let (s, _) = call!(app, update("", bad_update));
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call!(app, gsp(TestRequest::post(), "validate=maybe", GOOD));
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_config_validates_every_write_unless_a_request_opts_out() {
    let e = engine_with(Config { validate_writes: true, ..config() });
    let app = init_service(app(AppState::new(e.clone()))).await;
    let post = |q: &str| {
        TestRequest::post()
            .uri(&format!("/store?{q}"))
            .insert_header(("content-type", "text/turtle"))
            .set_payload(format!("{PREFIXES}{BAD}"))
    };
    let (s, _) = call!(app, post("default"));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = call!(app, post("default&validate=false"));
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Loads obey the config too: a tabular file that conforms loads.
    let r = load(&e, "reviews-sample.csv");
    assert!(r.quads > 1000, "{r:?}");
}

#[actix_web::test]
async fn malformed_shapes_are_refused_and_the_shapes_stay() {
    let e = loaded_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let shapes_before = count(&e, &format!("SELECT (COUNT(*) AS ?n) {{ GRAPH <{SHAPES}> {{ ?s ?p ?o }} }}"));
    let sh = "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://ex.org/> .\n";
    for body in [
        "ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minCount \"many\" ] .",
        "ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:pattern \"([\" ] .",
        "ex:S sh:targetClass ex:C ; sh:sparql [ sh:select \"SELECT $this {}\" ] .",
        "ex:S sh:targetClass ex:C ; sh:property [ sh:minCount 1 ] .",
    ] {
        let (s, b) = call!(
            app,
            TestRequest::put()
                .uri(&format!("/store?graph={SHAPES}"))
                .insert_header(("content-type", "text/turtle"))
                .set_payload(format!("{sh}{body}"))
        );
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(json(&b)["error"], "bad_shape");
    }
    assert_eq!(count(&e, &format!("SELECT (COUNT(*) AS ?n) {{ GRAPH <{SHAPES}> {{ ?s ?p ?o }} }}")), shapes_before);
}

/// An engineer's stricter shape: aspect mentions judged neutral need a person.
const NO_NEUTRAL: &str = "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix sg: <https://w3id.org/shopgraph/ontology#> .
<https://w3id.org/shopgraph/shapes#NoNeutral> a sh:NodeShape ; sh:targetClass sg:AspectMention ;
  sh:property [ sh:path sg:sentiment ; sh:in ( \"positive\" \"negative\" ) ; sh:message \"neutral aspects need a person\" ] .";

#[actix_web::test]
async fn a_fact_failing_a_shape_waits_in_the_queue_and_acceptance_moves_it() {
    // No confidence threshold: only the shape holds facts back.
    let e = engine_with(Config { review_threshold_aspect: 0.0, ..config() });
    load(&e, "reviews-sample.csv");
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (s, b) = call!(
        app,
        TestRequest::post()
            .uri(&format!("/store?graph={SHAPES}"))
            .insert_header(("content-type", "text/turtle"))
            .set_payload(NO_NEUTRAL)
    );
    assert_eq!(s, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&b));
    let r = e
        .extract(
            &ExtractOptions { limit: Some(60), chunk: 16, ..Default::default() },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert!(r.held_for_review > 0 && r.aspect_mentions > 0, "{r:?}");
    let neutral_served = format!(
        "{SG}SELECT (COUNT(*) AS ?n) {{ GRAPH <{}> {{ ?m a sg:AspectMention ; sg:sentiment \"neutral\" }} }}",
        r.graph
    );
    assert_eq!(count(&e, &neutral_served), 0);
    let items = e.queue_list(&QueueFilter::default()).unwrap();
    assert_eq!(items.len(), r.held_for_review);
    for i in &items {
        assert_eq!((i.kind.as_str(), i.sentiment.as_str()), ("aspect", "neutral"), "{i:?}");
        assert!(i.reason.starts_with("fails a shape: ") && i.reason.contains("neutral aspects need a person"), "{i:?}");
        assert_eq!(i.target_graph, r.graph);
    }
    // Filtering by reason finds them; accepting with an edit serves the fact.
    let by_reason = e.queue_list(&QueueFilter { reason: Some("shape".into()), ..Default::default() }).unwrap();
    assert_eq!(by_reason.len(), items.len());
    let a =
        e.queue_accept(&items[0].id, &Edit { sentiment: Some("negative".into()), aspect: None }, "curator").unwrap();
    assert_eq!(a.item.sentiment, "negative");
    let served = format!(
        "{SG}SELECT (COUNT(*) AS ?n) {{ GRAPH <{}> {{ <{}> sg:sentiment \"negative\" ; sg:decision \"accepted\" ; sg:decidedBy \"curator\" }} }}",
        r.graph, items[0].iri
    );
    assert_eq!(count(&e, &served), 1);
    assert_eq!(e.queue_list(&QueueFilter::default()).unwrap().len(), items.len() - 1);
}
