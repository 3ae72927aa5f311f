//! The HTTP API in process: SPARQL protocol, formats, GSP, named queries, and every bad input.

use crate::common::*;
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::http::{AppState, app};

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let resp = call_service(&$app, $req.to_request()).await;
        let status = resp.status();
        let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body = read_body(resp).await.to_vec();
        (status, ct, body)
    }};
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("query", s)]).unwrap()
}

fn err_code(body: &[u8]) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "error without message");
    v["error"].as_str().unwrap().to_owned()
}

const COUNT_REVIEWS: &str = "SELECT (COUNT(?r) AS ?n) { ?r a <https://w3id.org/shopgraph/ontology#Review> }";

#[actix_web::test]
async fn sparql_query_by_get_post_and_form_agree() {
    let app = init_service(app(AppState::new(loaded_engine()))).await;
    let (s1, ct, b1) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", enc(COUNT_REVIEWS))));
    assert_eq!(s1, StatusCode::OK);
    assert!(ct.starts_with("application/sparql-results+json"), "{ct}");
    assert_eq!(parse_json_results(&b1)[0]["n"], "300");
    let (s2, _, b2) = call!(
        app,
        TestRequest::post()
            .uri("/sparql")
            .insert_header(("content-type", "application/sparql-query"))
            .set_payload(COUNT_REVIEWS)
    );
    assert_eq!((s2, &b2), (StatusCode::OK, &b1));
    let (s3, _, b3) = call!(
        app,
        TestRequest::post()
            .uri("/sparql")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(enc(COUNT_REVIEWS))
    );
    assert_eq!((s3, &b3), (StatusCode::OK, &b1));
}

#[actix_web::test]
async fn results_and_graphs_come_in_every_negotiated_format() {
    let app = init_service(app(AppState::new(loaded_engine()))).await;
    let select = "SELECT ?r ?x { ?r <https://w3id.org/shopgraph/ontology#rating> ?x } ORDER BY ?r LIMIT 3";
    for (accept, want) in [
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/json", "application/sparql-results+json"),
    ] {
        let (s, ct, body) =
            call!(app, TestRequest::get().uri(&format!("/sparql?{}", enc(select))).insert_header(("accept", accept)));
        assert_eq!(s, StatusCode::OK, "{accept}");
        assert!(ct.starts_with(want), "{accept} gave {ct}");
        assert!(String::from_utf8(body).unwrap().contains("review/"), "{accept}");
    }
    let construct = "CONSTRUCT { ?r <http://ex.org/rated> ?x } WHERE { ?r <https://w3id.org/shopgraph/ontology#rating> ?x } LIMIT 3";
    for (accept, want) in [
        ("text/turtle", "text/turtle"),
        ("application/n-triples", "application/n-triples"),
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml", "application/rdf+xml"),
    ] {
        let (s, ct, body) = call!(
            app,
            TestRequest::get().uri(&format!("/sparql?{}", enc(construct))).insert_header(("accept", accept))
        );
        assert_eq!(s, StatusCode::OK, "{accept}");
        assert!(ct.starts_with(want), "{accept} gave {ct}");
        // RDF/XML splits the IRI into a namespace and a local name.
        assert!(String::from_utf8(body).unwrap().contains("http://ex.org/"), "{accept}");
    }
    let (s, _, body) =
        call!(app, TestRequest::get().uri(&format!("/sparql?{}", enc(select))).insert_header(("accept", "image/png")));
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(err_code(&body), "not_acceptable");
}

#[actix_web::test]
async fn update_by_post_is_visible_and_update_by_get_is_refused() {
    let engine = loaded_engine();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let u = "INSERT DATA { <http://ex.org/a> <http://ex.org/b> 1 }";
    let (s, _, _) = call!(
        app,
        TestRequest::post().uri("/sparql").insert_header(("content-type", "application/sparql-update")).set_payload(u)
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(count(&engine, "SELECT (COUNT(*) AS ?n) { <http://ex.org/a> ?p ?o }"), 1);
    let (s, _, body) = call!(
        app,
        TestRequest::get().uri(&format!("/sparql?{}", serde_urlencoded::to_string([("update", u)]).unwrap()))
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err_code(&body), "bad_request");
}

#[actix_web::test]
async fn bad_input_gets_a_clear_4xx_and_loses_nothing() {
    let engine =
        loaded_engine_with(shopgraph::config::Config { max_body_bytes: 4096, max_result_rows: 100, ..config() });
    let before = engine.store().len().unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let cases: Vec<(TestRequest, StatusCode, &str)> = vec![
        (
            TestRequest::get().uri(&format!("/sparql?{}", enc("SELEKT * WHERE { ?s ?p ?o }"))),
            StatusCode::BAD_REQUEST,
            "sparql_syntax",
        ),
        (TestRequest::get().uri("/sparql"), StatusCode::BAD_REQUEST, "bad_request"),
        (TestRequest::get().uri("/sparql?query=%FF%FE"), StatusCode::BAD_REQUEST, "bad_request"),
        (
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("content-type", "application/sparql-update"))
                .set_payload("DELETE WHERE { ?s ?p ?o } ; INSERT DATA { <a> <b> "),
            StatusCode::BAD_REQUEST,
            "sparql_syntax",
        ),
        (
            TestRequest::post().uri("/sparql").insert_header(("content-type", "text/plain")).set_payload(COUNT_REVIEWS),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("content-type", "application/sparql-update"))
                .set_payload(format!("INSERT DATA {{ <http://ex.org/x> <http://ex.org/y> \"{}\" }}", "z".repeat(5000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            TestRequest::get().uri(&format!("/sparql?{}", enc("SELECT * { ?s ?p ?o }"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "result_too_large",
        ),
        (
            TestRequest::get()
                .uri(&format!("/sparql?{}", enc("SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"))),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            TestRequest::put()
                .uri("/store?graph=http://ex.org/g")
                .insert_header(("content-type", "text/turtle"))
                .set_payload("<http://ex.org/s> <http://ex.org/p> ."),
            StatusCode::BAD_REQUEST,
            "rdf_syntax",
        ),
        (
            TestRequest::put()
                .uri("/store?graph=http://ex.org/g")
                .insert_header(("content-type", "application/pdf"))
                .set_payload("%PDF"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (TestRequest::get().uri("/store?graph=http://ex.org/none"), StatusCode::NOT_FOUND, "graph_not_found"),
        (TestRequest::get().uri("/store?graph=not%20an%20iri"), StatusCode::BAD_REQUEST, "bad_request"),
        (TestRequest::get().uri("/store?default&graph=http://ex.org/g"), StatusCode::BAD_REQUEST, "bad_request"),
        (TestRequest::delete().uri("/store?graph=http://ex.org/none"), StatusCode::NOT_FOUND, "graph_not_found"),
        (TestRequest::get().uri("/queries/no-such-query"), StatusCode::NOT_FOUND, "unknown_query"),
        (TestRequest::get().uri("/queries/product-reviews"), StatusCode::BAD_REQUEST, "bad_parameter"),
        (
            TestRequest::get().uri("/queries/product-reviews?product=1077&min_rating=high"),
            StatusCode::BAD_REQUEST,
            "bad_parameter",
        ),
        (
            TestRequest::get().uri("/queries/product-reviews?product=1077&colour=red"),
            StatusCode::BAD_REQUEST,
            "bad_parameter",
        ),
        (TestRequest::get().uri("/nowhere"), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (req, status, code) in cases {
        let (s, _, body) = call!(app, req);
        assert_eq!(s, status, "{}", String::from_utf8_lossy(&body));
        assert_eq!(err_code(&body), code);
    }
    assert_eq!(engine.store().len().unwrap(), before, "a rejected request changed the store");
    let (s, _, _) = call!(app, TestRequest::get().uri("/health"));
    assert_eq!(s, StatusCode::OK);
}

#[actix_web::test]
async fn slow_query_is_cancelled_with_408_and_the_server_keeps_answering() {
    let engine = loaded_engine_with(shopgraph::config::Config { query_timeout_ms: 300, ..config() });
    let app = init_service(app(AppState::new(engine))).await;
    // 5,582 concepts cubed: far more than 300 ms of work.
    let slow = "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?a a <http://www.w3.org/2004/02/skos/core#Concept> . ?b a <http://www.w3.org/2004/02/skos/core#Concept> . ?c a <http://www.w3.org/2004/02/skos/core#Concept> } }";
    let start = std::time::Instant::now();
    let (s, _, body) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", enc(slow))));
    assert_eq!(s, StatusCode::REQUEST_TIMEOUT, "{}", String::from_utf8_lossy(&body));
    assert_eq!(err_code(&body), "query_timeout");
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "cancellation took {:?}", start.elapsed());
    let (s, _, b) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", enc(COUNT_REVIEWS))));
    assert_eq!(s, StatusCode::OK);
    assert_eq!(parse_json_results(&b)[0]["n"], "300");
}

#[actix_web::test]
async fn graph_store_protocol_round_trip() {
    let app = init_service(app(AppState::new(empty_engine()))).await;
    let g = "/store?graph=http://ex.org/g";
    let ttl = "<http://ex.org/s> <http://ex.org/p> \"one\" .";
    let (s, _, _) =
        call!(app, TestRequest::put().uri(g).insert_header(("content-type", "text/turtle")).set_payload(ttl));
    assert_eq!(s, StatusCode::CREATED);
    let (s, ct, body) = call!(app, TestRequest::get().uri(g).insert_header(("accept", "application/n-triples")));
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/n-triples"));
    assert_eq!(String::from_utf8(body).unwrap().trim(), "<http://ex.org/s> <http://ex.org/p> \"one\" .");
    let (s, _, _) = call!(
        app,
        TestRequest::post()
            .uri(g)
            .insert_header(("content-type", "application/n-triples"))
            .set_payload("<http://ex.org/s> <http://ex.org/p> \"two\" .")
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, body) = call!(app, TestRequest::get().uri(g).insert_header(("accept", "application/n-triples")));
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 2);
    // A failed PUT leaves the graph as it was.
    let (s, _, _) = call!(
        app,
        TestRequest::put()
            .uri(g)
            .insert_header(("content-type", "text/turtle"))
            .set_payload("<http://ex.org/s> <http://ex.org/p> \"broken .")
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, _, body) = call!(app, TestRequest::get().uri(g).insert_header(("accept", "application/n-triples")));
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 2);
    let (s, _, _) =
        call!(app, TestRequest::put().uri(g).insert_header(("content-type", "text/turtle")).set_payload(ttl));
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, body) = call!(app, TestRequest::get().uri(g).insert_header(("accept", "application/n-triples")));
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 1);
    let (s, _, _) = call!(
        app,
        TestRequest::put().uri("/store?default").insert_header(("content-type", "text/turtle")).set_payload(ttl)
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, body) = call!(app, TestRequest::get().uri("/store?default").insert_header(("accept", "text/turtle")));
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8(body).unwrap().contains("one"));
    let (s, _, _) = call!(app, TestRequest::delete().uri(g));
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call!(app, TestRequest::get().uri(g));
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn named_queries_bind_parameters_as_terms() {
    let engine = loaded_engine();
    let before = engine.store().len().unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let (s, _, body) = call!(app, TestRequest::get().uri("/queries"));
    assert_eq!(s, StatusCode::OK);
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        list.as_array().unwrap().iter().any(|q| q["name"] == "product-reviews" && q["params"][0]["kind"] == "product")
    );
    // Oracle: the sample's own rows for product 1077.
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_path(fixture("reviews-sample.csv")).unwrap().records().map(Result::unwrap).collect();
    let want_all = rows.iter().filter(|r| &r[1] == "1077").count();
    let want_5 = rows.iter().filter(|r| &r[1] == "1077" && &r[5] == "5").count();
    let (s, _, body) = call!(app, TestRequest::get().uri("/queries/product-reviews?product=1077"));
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(parse_json_results(&body).len(), want_all);
    let (_, _, body) = call!(app, TestRequest::get().uri("/queries/product-reviews?product=1077&min_rating=5"));
    let got = parse_json_results(&body);
    assert_eq!(got.len(), want_5);
    assert!(got.iter().all(|r| r["rating"] == "5"));
    // HAVING sees a bound parameter too.
    let (_, _, body) = call!(app, TestRequest::get().uri("/queries/top-rated-products?min_reviews=9"));
    let got = parse_json_results(&body);
    assert!(!got.is_empty() && got.iter().all(|r| r["reviews"].parse::<usize>().unwrap() >= 9));
    // Category parameters reach descendants through the taxonomy: Clothing (1604) holds all.
    let (_, _, body) = call!(app, TestRequest::get().uri("/queries/products-in-category?category=1604"));
    let under_clothing = parse_json_results(&body).len();
    let mapped = count(&engine, &format!("{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:category ?c }}"));
    assert_eq!(under_clothing, mapped);
    // An injection attempt is only ever an (odd) product id.
    let evil = serde_urlencoded::to_string([("product", "1077> } } ; DROP ALL ; SELECT * { <x")]).unwrap();
    let (s, _, body) = call!(app, TestRequest::get().uri(&format!("/queries/product-reviews?{evil}")));
    assert_eq!(s, StatusCode::OK);
    assert!(parse_json_results(&body).is_empty());
    assert_eq!(engine.store().len().unwrap(), before);
}

#[actix_web::test]
async fn health_and_metrics_report() {
    let app = init_service(app(AppState::new(empty_engine()))).await;
    let (s, _, body) = call!(app, TestRequest::get().uri("/health"));
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"], "ok");
    call!(app, TestRequest::get().uri(&format!("/sparql?{}", enc("ASK {}"))));
    let (s, ct, body) = call!(app, TestRequest::get().uri("/metrics"));
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("shopgraph_http_requests_total{route=\"/sparql\",method=\"GET\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("shopgraph_http_request_duration_seconds_count{route=\"/health\"} 1"), "{text}");
}

/// Regression: parameters were once joined as a VALUES block at the bottom of the pattern, so
/// a BIND under an OPTIONAL (or after a FILTER NOT EXISTS) saw them unbound.
#[test]
fn named_query_parameter_is_bound_inside_bind_optional_and_not_exists() {
    use shopgraph::store::model::{Literal, NamedNode, Term};
    let e = loaded_engine();
    let q = "PREFIX sg: <https://w3id.org/shopgraph/ontology#>
        SELECT ?x ?n ?p WHERE {
          ?r sg:reviewOf ?p . OPTIONAL { ?r sg:title ?t }
          FILTER NOT EXISTS { ?r sg:rating ?low FILTER(?low < ?min) }
          BIND(CONCAT(?prefix, STR(?p)) AS ?x)
        } ORDER BY ?x LIMIT 1";
    let bindings = vec![
        ("prefix".to_string(), Term::from(Literal::from("id:"))),
        ("min".to_string(), Term::from(Literal::from(5))),
        ("p".to_string(), Term::from(NamedNode::new("https://w3id.org/shopgraph/id/product/1077").unwrap())),
    ];
    let out = e
        .store()
        .query(
            q,
            &bindings,
            &e.query_options(),
            shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None },
        )
        .unwrap();
    let rows = parse_json_results(&out.body);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["x"], "id:https://w3id.org/shopgraph/id/product/1077");
    assert_eq!(rows[0]["p"], "https://w3id.org/shopgraph/id/product/1077");
}

#[actix_web::test]
async fn analyze_and_nearest_over_http() {
    let engine = loaded_engine();
    engine
        .extract(
            &shopgraph::engine::ExtractOptions { limit: Some(20), ..Default::default() },
            &std::sync::atomic::AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    let app = init_service(app(AppState::new(engine))).await;
    let post = |body: &str, ct: &str| {
        TestRequest::post()
            .uri("/analyze")
            .insert_header(("content-type", ct.to_string()))
            .set_payload(body.to_string())
    };
    let (s, _, b) = call!(app, post(r#"{"text": "The fabric is lovely but it runs small."}"#, "application/json"));
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let aspects: Vec<&str> =
        v[0]["aspects"].as_array().unwrap().iter().map(|a| a["aspect"].as_str().unwrap()).collect();
    assert!(aspects.contains(&"fabric") && aspects.contains(&"size"), "{aspects:?}");
    assert!(["positive", "negative", "neutral"].contains(&v[0]["sentiment"]["label"].as_str().unwrap()));
    let (s, _, b) = call!(app, post("great fit\nthe colour faded\n", "text/plain"));
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&b).unwrap().as_array().unwrap().len(), 2);
    // Bad bodies: 4xx with a code, never a crash.
    for (body, ct, status, code) in [
        ("{\"text\": ", "application/json", StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"text": "a", "texts": ["b"]}"#, "application/json", StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"text": "   "}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY, "bad_text"),
        ("<x/>", "application/xml", StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    ] {
        let (s, _, b) = call!(app, post(body, ct));
        assert_eq!((s, err_code(&b)), (status, code.to_string()), "{body}");
    }
    let (s, _, b) = call!(app, TestRequest::get().uri("/nearest?text=runs%20small&k=3"));
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    let (s, _, b) = call!(app, TestRequest::get().uri("/nearest?iri=https://example.org/none&k=3"));
    assert_eq!((s, err_code(&b).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "bad_text"));
    let (s, _, _) = call!(app, TestRequest::get().uri("/nearest?text=x&k=0"));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = call!(app, TestRequest::get().uri("/nearest?text=x&item=1"));
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
