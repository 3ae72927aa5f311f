//! What real clients send, in process: SPARQLWrapper's and rdflib's format parameters, the
//! Protocol's dataset rules for queries and updates, the Graph Store Protocol on the whole
//! dataset, CORS and cross-site writes, and the requests that once crashed or poisoned the
//! server (nesting bombs, entity expansion, NaN training settings, huge weights).

use crate::common::*;
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::http::{AppState, app};

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let resp = call_service(&$app, $req.to_request()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_body(resp).await.to_vec();
        (status, headers, body)
    }};
}

fn q(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

fn ct(h: &actix_web::http::header::HeaderMap) -> String {
    h.get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn code(body: &[u8]) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap_or_default().to_owned()
}

const SELECT: &str = "SELECT ?s WHERE { ?s a <https://w3id.org/shopgraph/ontology#Review> } LIMIT 2";
const CONSTRUCT: &str =
    "CONSTRUCT { ?s <http://ex.org/p> ?o } WHERE { ?s <https://w3id.org/shopgraph/ontology#rating> ?o } LIMIT 2";

/// Each row: what a client sends (query-string extras, Accept) and the media type it must get.
#[actix_web::test]
async fn format_output_and_results_parameters_of_real_clients_are_honoured() {
    let app = init_service(app(AppState::new(loaded_engine()))).await;
    // (query, extra parameters, Accept, media type wanted)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>, &'a str);
    let cases: &[Case] = &[
        // SPARQLWrapper 2.0 defaults: format, output and results all set.
        (
            SELECT,
            &[("format", "json"), ("output", "json"), ("results", "json")],
            None,
            "application/sparql-results+json",
        ),
        (SELECT, &[("format", "xml"), ("output", "xml"), ("results", "xml")], None, "application/sparql-results+xml"),
        (SELECT, &[("format", "csv"), ("output", "csv"), ("results", "csv")], None, "text/csv"),
        (
            SELECT,
            &[("format", "tsv"), ("format", "text/tab-separated-values"), ("output", "tsv")],
            None,
            "text/tab-separated-values",
        ),
        // rdflib's SERVICE adds output=json.
        (SELECT, &[("output", "json")], Some("application/sparql-results+xml"), "application/sparql-results+json"),
        (CONSTRUCT, &[("format", "n3"), ("output", "n3"), ("results", "n3")], None, "text/turtle"),
        (CONSTRUCT, &[("format", "turtle")], None, "text/turtle"),
        (CONSTRUCT, &[("format", "json-ld"), ("format", "application/ld+json")], None, "application/ld+json"),
        (CONSTRUCT, &[("format", "rdf+xml"), ("format", "application/rdf+xml")], None, "application/rdf+xml"),
        (CONSTRUCT, &[("format", "nt")], None, "application/n-triples"),
        // A format name that cannot carry the answer falls back to Accept.
        (SELECT, &[("format", "n3")], Some("text/csv"), "text/csv"),
        (CONSTRUCT, &[("format", "csv")], Some("application/n-triples"), "application/n-triples"),
        // SPARQLWrapper's Accept for CONSTRUCT with N3.
        (
            CONSTRUCT,
            &[],
            Some("text/rdf+n3,application/n-triples,application/turtle,text/n3,text/turtle"),
            "text/turtle",
        ),
    ];
    for (query, extra, accept, want) in cases {
        let mut pairs = vec![("query", *query)];
        pairs.extend_from_slice(extra);
        let mut req = TestRequest::get().uri(&format!("/sparql?{}", q(&pairs)));
        if let Some(a) = accept {
            req = req.insert_header(("accept", *a));
        }
        let (s, h, body) = call!(app, req);
        assert_eq!(s, StatusCode::OK, "{extra:?}: {}", String::from_utf8_lossy(&body));
        assert!(ct(&h).starts_with(want), "{extra:?} {accept:?} gave {}", ct(&h));
        assert!(!body.is_empty());
    }
}

#[actix_web::test]
async fn unknown_parameters_are_ignored_and_counted() {
    let app = init_service(app(AppState::new(loaded_engine()))).await;
    let (s, _, _) = call!(
        app,
        TestRequest::get().uri(&format!("/sparql?{}", q(&[("query", SELECT), ("callback", "x"), ("stylesheet", "y")])))
    );
    assert_eq!(s, StatusCode::OK);
    let (_, _, body) = call!(app, TestRequest::get().uri("/metrics"));
    assert!(String::from_utf8(body).unwrap().contains("shopgraph_ignored_parameters_total 2"));
}

/// SPARQL 1.1 Protocol 2.1.4: the request's dataset replaces the query's, and either
/// parameter alone defines the whole dataset.
#[actix_web::test]
async fn protocol_dataset_replaces_the_querys_and_each_parameter_alone_is_the_whole_dataset() {
    let engine = empty_engine();
    engine
        .update(
            "INSERT DATA { <http://ex.org/d> <http://ex.org/p> 1 .
             GRAPH <http://ex.org/g1> { <http://ex.org/a> <http://ex.org/p> 1 }
             GRAPH <http://ex.org/g2> { <http://ex.org/b> <http://ex.org/p> 1 } }",
        )
        .unwrap();
    let app = init_service(app(AppState::new(engine))).await;
    let default_subjects = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s";
    let named_subjects = "SELECT ?g ?s WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g";
    let from_named = "SELECT ?s FROM NAMED <http://ex.org/g2> WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?s";
    // (query, protocol parameters, subjects wanted)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (default_subjects, &[], &["http://ex.org/d"]),
        (default_subjects, &[("default-graph-uri", "http://ex.org/g1")], &["http://ex.org/a"]),
        (
            default_subjects,
            &[("default-graph-uri", "http://ex.org/g1"), ("default-graph-uri", "http://ex.org/g2")],
            &["http://ex.org/a", "http://ex.org/b"],
        ),
        // default-graph-uri alone: no named graphs.
        (named_subjects, &[("default-graph-uri", "http://ex.org/g1")], &[]),
        // named-graph-uri alone: an empty default graph, only that named graph.
        (default_subjects, &[("named-graph-uri", "http://ex.org/g1")], &[]),
        (named_subjects, &[("named-graph-uri", "http://ex.org/g1")], &["http://ex.org/a"]),
        // The request's dataset wins over FROM NAMED.
        (from_named, &[], &["http://ex.org/b"]),
        (from_named, &[("named-graph-uri", "http://ex.org/g1")], &["http://ex.org/a"]),
        (
            "SELECT ?s WHERE { ?s ?p ?o FILTER(STRSTARTS(STR(?s), 'http://ex.org/')) } ORDER BY ?s",
            &[("union-default-graph", "")],
            &["http://ex.org/a", "http://ex.org/b", "http://ex.org/d"],
        ),
    ];
    for (query, extra, want) in cases {
        let mut pairs = vec![("query", *query)];
        pairs.extend_from_slice(extra);
        let (s, _, body) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", q(&pairs))));
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let got: Vec<String> = parse_json_results(&body).into_iter().map(|r| r["s"].clone()).collect();
        assert_eq!(got, *want, "{query} with {extra:?}");
    }
}

#[actix_web::test]
async fn update_using_graph_uri_sets_the_where_dataset() {
    let engine = empty_engine();
    engine
        .update(
            "INSERT DATA { GRAPH <http://ex.org/src> { <http://ex.org/a> <http://ex.org/p> 1 }
                           GRAPH <http://ex.org/named> { <http://ex.org/n> <http://ex.org/p> 2 } }",
        )
        .unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let copy = "INSERT { GRAPH <http://ex.org/dst> { ?s ?p ?o } } WHERE { ?s ?p ?o }";
    let (s, _, body) = call!(
        app,
        TestRequest::post()
            .uri(&format!("/sparql?{}", q(&[("using-graph-uri", "http://ex.org/src")])))
            .insert_header(("content-type", "application/sparql-update"))
            .set_payload(copy)
    );
    assert_eq!(s, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&body));
    assert_eq!(count(&engine, "SELECT (COUNT(*) AS ?n) { GRAPH <http://ex.org/dst> { ?s ?p ?o } }"), 1);
    // using-named-graph-uri by form, with GRAPH in the WHERE.
    let form = q(&[
        ("update", "INSERT { GRAPH <http://ex.org/dst2> { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }"),
        ("using-named-graph-uri", "http://ex.org/named"),
    ]);
    let (s, _, _) = call!(
        app,
        TestRequest::post()
            .uri("/sparql")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form)
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let rows = select(&engine, "SELECT ?s { GRAPH <http://ex.org/dst2> { ?s ?p ?o } }");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["s"], "http://ex.org/n");
    // Both the request and the update name a dataset: refused, nothing written.
    let before = engine.store().len().unwrap();
    let (s, _, body) = call!(
        app,
        TestRequest::post()
            .uri(&format!("/sparql?{}", q(&[("using-graph-uri", "http://ex.org/src")])))
            .insert_header(("content-type", "application/sparql-update"))
            .set_payload(
                "INSERT { GRAPH <http://ex.org/dst3> { ?s ?p ?o } } USING <http://ex.org/named> WHERE { ?s ?p ?o }"
            )
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    assert_eq!(engine.store().len().unwrap(), before);
}

#[actix_web::test]
async fn graph_store_protocol_reads_and_writes_the_whole_dataset() {
    let engine = empty_engine();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let nq =
        "<http://ex.org/s> <http://ex.org/p> \"d\" .\n<http://ex.org/s> <http://ex.org/p> \"g\" <http://ex.org/g> .\n";
    let (s, _, body) = call!(
        app,
        TestRequest::put().uri("/store").insert_header(("content-type", "application/n-quads")).set_payload(nq)
    );
    assert!(s.is_success(), "{s} {}", String::from_utf8_lossy(&body));
    assert_eq!(engine.store().len().unwrap(), 2, "PUT of the dataset replaces everything");
    let trig = "<http://ex.org/h> { <http://ex.org/s2> <http://ex.org/p> 3 }";
    let (s, _, _) = call!(
        app,
        TestRequest::post().uri("/store").insert_header(("content-type", "application/trig")).set_payload(trig)
    );
    assert!(s.is_success());
    assert_eq!(engine.store().len().unwrap(), 3);
    let (s, h, body) = call!(app, TestRequest::get().uri("/store"));
    assert_eq!(s, StatusCode::OK);
    assert!(ct(&h).starts_with("application/n-quads"), "{}", ct(&h));
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("<http://ex.org/h>") && text.contains("<http://ex.org/g>"));
    let (s, h, _) = call!(app, TestRequest::get().uri("/store").insert_header(("accept", "application/trig")));
    assert_eq!((s, ct(&h).starts_with("application/trig")), (StatusCode::OK, true));
    // A graph-only format for the dataset would drop the named graphs: 406.
    let (s, _, _) = call!(app, TestRequest::get().uri("/store").insert_header(("accept", "text/turtle")));
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE);
    // A broken dataset upload changes nothing.
    let (s, _, _) = call!(
        app,
        TestRequest::put().uri("/store").insert_header(("content-type", "application/n-quads")).set_payload("<a> <b")
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(engine.store().len().unwrap(), 3);
    let (s, _, _) = call!(app, TestRequest::delete().uri("/store"));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(engine.store().len().unwrap(), 3);
    // GSP reads obey the row limit like queries.
    let small = engine_with(shopgraph::config::Config { max_result_rows: 2, ..config() });
    small.update("INSERT DATA { <http://ex.org/a> <http://ex.org/p> 1, 2, 3 }").unwrap();
    let app = init_service(shopgraph::http::app(AppState::new(small))).await;
    let (s, _, body) = call!(app, TestRequest::get().uri("/store?default"));
    assert_eq!((s, code(&body).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "result_too_large"));
}

fn guarded_config() -> shopgraph::config::Config {
    shopgraph::config::Config {
        cors_origins: vec!["https://console.shop.example".into()],
        bind: "127.0.0.1:7878".into(),
        ..config()
    }
}

#[actix_web::test]
async fn cors_preflights_cross_site_writes_and_rebinding_hosts() {
    let engine = loaded_engine_with(guarded_config());
    let before = engine.store().len().unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let update_form = q(&[("update", "INSERT DATA { <http://ex.org/x> <http://ex.org/y> 1 }")]);
    // (request, status, Access-Control-Allow-Origin wanted)
    let cases: Vec<(&str, TestRequest, StatusCode, Option<&str>)> = vec![
        (
            "preflight from the listed origin",
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/sparql")
                .insert_header(("origin", "https://console.shop.example"))
                .insert_header(("access-control-request-method", "POST"))
                .insert_header(("access-control-request-headers", "content-type, authorization")),
            StatusCode::NO_CONTENT,
            Some("https://console.shop.example"),
        ),
        (
            "preflight from another origin",
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/sparql")
                .insert_header(("origin", "http://evil.example"))
                .insert_header(("access-control-request-method", "POST")),
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            "cross-site form update (a CORS simple request)",
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("origin", "http://evil.example"))
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(update_form.clone()),
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            "cross-site GSP PUT",
            TestRequest::put()
                .uri("/store?default")
                .insert_header(("origin", "null"))
                .insert_header(("content-type", "text/turtle"))
                .set_payload("<http://ex.org/a> <http://ex.org/b> 1 ."),
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            "rebinding: a foreign Host on a loopback bind",
            TestRequest::get().uri("/health").insert_header(("host", "evil.example:7878")),
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            "read from the listed origin gets its header",
            TestRequest::get()
                .uri(&format!("/sparql?{}", q(&[("query", SELECT)])))
                .insert_header(("origin", "https://console.shop.example")),
            StatusCode::OK,
            Some("https://console.shop.example"),
        ),
        (
            "read from another origin is answered without CORS headers",
            TestRequest::get()
                .uri(&format!("/sparql?{}", q(&[("query", SELECT)])))
                .insert_header(("origin", "http://evil.example")),
            StatusCode::OK,
            None,
        ),
        (
            "localhost Host",
            TestRequest::get().uri("/health").insert_header(("host", "localhost:7878")),
            StatusCode::OK,
            None,
        ),
    ];
    for (what, req, status, acao) in cases {
        let (s, h, body) = call!(app, req);
        assert_eq!(s, status, "{what}: {}", String::from_utf8_lossy(&body));
        assert_eq!(h.get("access-control-allow-origin").map(|v| v.to_str().unwrap()), acao, "{what}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{what}");
    }
    assert_eq!(engine.store().len().unwrap(), before, "a refused cross-site write changed the store");
    // The same write from the server's own origin (the console) and from the listed origin goes through.
    for origin in ["http://127.0.0.1:7878", "https://console.shop.example"] {
        let (s, _, _) = call!(
            app,
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("origin", origin))
                .insert_header(("host", "127.0.0.1:7878"))
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(update_form.clone())
        );
        assert_eq!(s, StatusCode::NO_CONTENT, "{origin}");
    }
    // `*` lets any page read, never write.
    let any = loaded_engine_with(shopgraph::config::Config { cors_origins: vec!["*".into()], ..config() });
    let app = init_service(shopgraph::http::app(AppState::new(any))).await;
    let (_, h, _) = call!(
        app,
        TestRequest::get()
            .uri(&format!("/sparql?{}", q(&[("query", SELECT)])))
            .insert_header(("origin", "http://a.example"))
    );
    assert_eq!(h.get("access-control-allow-origin").unwrap(), "*");
    let (s, _, _) = call!(
        app,
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/store?default")
            .insert_header(("origin", "http://a.example"))
            .insert_header(("access-control-request-method", "PUT"))
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Requests that once killed the process (stack overflow, allocation failure) or stored a
/// gigabyte from a few hundred bytes. Each must be a 4xx that changes nothing, and the
/// server must answer the next request.
#[actix_web::test]
async fn nesting_bombs_entity_expansion_and_load_are_refused_without_a_crash() {
    let engine = loaded_engine();
    let before = engine.store().len().unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let braces = format!("SELECT * WHERE {}?s ?p ?o{}", "{".repeat(5000), "}".repeat(5000));
    let not_exists =
        format!("SELECT * WHERE {{ ?s ?p ?o {} }}", "FILTER NOT EXISTS { ?s ?p ?o ".repeat(2000) + &"}".repeat(2000));
    let update_braces =
        format!("INSERT {{ <http://ex.org/a> <http://ex.org/b> 1 }} WHERE {}{}", "{".repeat(5000), "}".repeat(5000));
    let jsonld = format!("{}\"@id\": \"http://ex.org/x\"{}", "{\"http://ex.org/p\": ".repeat(5000), "}".repeat(5000));
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="http://ex.org/s"><rdf:value>&c;</rdf:value></rdf:Description></rdf:RDF>"#;
    let cases: Vec<(&str, TestRequest, StatusCode, &str)> = vec![
        (
            "5,000 nested braces",
            TestRequest::get().uri(&format!("/sparql?{}", q(&[("query", &braces)]))),
            StatusCode::BAD_REQUEST,
            "sparql_syntax",
        ),
        (
            "2,000 nested FILTER NOT EXISTS",
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("content-type", "application/sparql-query"))
                .set_payload(not_exists),
            StatusCode::BAD_REQUEST,
            "sparql_syntax",
        ),
        (
            "nested update braces",
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("content-type", "application/sparql-update"))
                .set_payload(update_braces),
            StatusCode::BAD_REQUEST,
            "sparql_syntax",
        ),
        (
            "5,000 nested JSON-LD objects",
            TestRequest::put()
                .uri("/store?graph=http://ex.org/j")
                .insert_header(("content-type", "application/ld+json"))
                .set_payload(jsonld),
            StatusCode::BAD_REQUEST,
            "rdf_syntax",
        ),
        (
            "RDF/XML entity expansion",
            TestRequest::put()
                .uri("/store?graph=http://ex.org/x")
                .insert_header(("content-type", "application/rdf+xml"))
                .set_payload(laughs),
            StatusCode::BAD_REQUEST,
            "rdf_syntax",
        ),
        (
            "LOAD of a local file",
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("content-type", "application/sparql-update"))
                .set_payload("LOAD <file:///etc/passwd>"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "LOAD of a loopback URL",
            TestRequest::post()
                .uri("/sparql")
                .insert_header(("content-type", "application/sparql-update"))
                .set_payload("LOAD <http://127.0.0.1:1/x> INTO GRAPH <http://ex.org/l>"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "a bad k in SERVICE sg:recommend (once a 403)",
            TestRequest::get().uri(&format!("/sparql?{}", q(&[("query", "PREFIX sg: <https://w3id.org/shopgraph/ontology#> SELECT * { SERVICE sg:recommend { ?i sg:recommendedFor <https://w3id.org/shopgraph/id/user/x> . sg:request sg:k \"many\" } }")]))),
            StatusCode::BAD_REQUEST,
            "sparql_evaluation",
        ),
        (
            "a method the resource lacks",
            TestRequest::patch().uri("/sparql"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (what, req, status, want) in cases {
        let (s, _, body) = call!(app, req);
        assert_eq!(s, status, "{what}: {}", String::from_utf8_lossy(&body));
        assert_eq!(code(&body), want, "{what}");
    }
    assert_eq!(engine.store().len().unwrap(), before);
    // Real queries nest far less than the limit and still run.
    let deep_ok = format!("SELECT * WHERE {}?s ?p ?o{} LIMIT 1", "{".repeat(100), "}".repeat(100));
    let (s, _, body) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", q(&[("query", &deep_ok)]))));
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// Regression: `POST /train?regularization=NaN` emptied every recommendation list and
/// `factors=100000` aborted the process on a 40 GB allocation; an event weight of 1e39 was
/// accepted and poisoned the next model.
#[actix_web::test]
async fn training_settings_and_event_weights_out_of_range_are_refused_and_the_model_stays() {
    let engine = loaded_engine();
    engine.train(&shopgraph::recommend::Algorithm::Popularity, None, |_, _| {}).unwrap();
    let app = init_service(app(AppState::new(engine.clone()))).await;
    let (_, _, before) = call!(app, TestRequest::get().uri("/model"));
    for params in [
        "factors=100000",
        "factors=0",
        "regularization=NaN",
        "regularization=-0.5",
        "iterations=100000000",
        "iterations=1e8",
        "alpha=inf",
        "algorithm=ease&lambda=NaN",
        "algorithm=item_knn&neighbours=0",
    ] {
        let (s, _, body) = call!(app, TestRequest::post().uri(&format!("/train?{params}")));
        assert_eq!(s, StatusCode::BAD_REQUEST, "{params}: {}", String::from_utf8_lossy(&body));
    }
    let (_, _, after) = call!(app, TestRequest::get().uri("/model"));
    assert_eq!(before, after, "a refused training changed the model");
    let interactions_before = engine.store().len().unwrap();
    for weight in ["1e39", "-1", "NaN", "100000"] {
        let body = format!(r#"{{"user": "u-weights", "item": "1077", "event": "view", "weight": {weight}}}"#);
        let (s, _, resp) = call!(
            app,
            TestRequest::post().uri("/events").insert_header(("content-type", "application/json")).set_payload(body)
        );
        assert!(s.is_client_error(), "weight {weight}: {s} {}", String::from_utf8_lossy(&resp));
    }
    assert_eq!(engine.store().len().unwrap(), interactions_before);
}

/// Regression: an aggregate over a cartesian product ignored its time limit (no answer in
/// 35 s, the worker busy for minutes): rows computed in memory never looked at the token.
#[actix_web::test]
async fn aggregate_and_sort_over_a_cartesian_product_stop_at_the_time_limit_and_free_the_worker() {
    let limit = std::time::Duration::from_millis(500);
    let engine = loaded_engine_with(shopgraph::config::Config {
        query_timeout_ms: limit.as_millis() as u64,
        query_threads: 1,
        ..config()
    });
    let app = init_service(app(AppState::new(engine))).await;
    for query in [
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
        "SELECT ?a WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i LIMIT 1",
        "SELECT ?a (COUNT(?d) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } GROUP BY ?a",
    ] {
        let start = std::time::Instant::now();
        let (s, _, body) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", q(&[("query", query)]))));
        let took = start.elapsed();
        assert_eq!(s, StatusCode::REQUEST_TIMEOUT, "{query}: {}", String::from_utf8_lossy(&body));
        assert!(took < 2 * limit + std::time::Duration::from_millis(500), "{query}: answered after {took:?}");
        // The only worker is free again: a small query answers at once.
        let start = std::time::Instant::now();
        let (s, _, _) = call!(app, TestRequest::get().uri(&format!("/sparql?{}", q(&[("query", "ASK { ?s ?p ?o }")]))));
        assert_eq!(s, StatusCode::OK);
        assert!(start.elapsed() < limit, "the worker was still busy");
    }
    // Aggregates and sorts that finish in time give the same answers as before.
    let (s, _, body) = call!(
        app,
        TestRequest::get().uri(&format!(
            "/sparql?{}",
            q(&[("query", "SELECT (COUNT(*) AS ?n) WHERE { ?r a <https://w3id.org/shopgraph/ontology#Review> }")])
        ))
    );
    assert_eq!(s, StatusCode::OK);
    assert_eq!(parse_json_results(&body)[0]["n"], "300");
}

/// Regression: `?a (rdf:type|^rdf:type)* ?b` grew the server by 6 GB in 21 s. Past the memory
/// limit, running queries are cancelled and say why (a limit of 1 MiB is always passed).
#[actix_web::test]
async fn queries_running_while_memory_is_over_the_limit_are_cancelled_with_a_clear_4xx() {
    let engine =
        loaded_engine_with(shopgraph::config::Config { memory_limit_mb: 1, query_timeout_ms: 60_000, ..config() });
    let app = init_service(app(AppState::new(engine))).await;
    let start = std::time::Instant::now();
    let (s, _, body) = call!(
        app,
        TestRequest::get().uri(&format!(
            "/sparql?{}",
            q(&[("query", "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")])
        ))
    );
    assert_eq!(
        (s, code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "query_memory"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(10), "took {:?}", start.elapsed());
}
