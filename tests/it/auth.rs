//! Keys and roles on every endpoint, in process: a table of endpoint, method, role, status.

use crate::common::*;
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::auth::Role;
use shopgraph::config::{AuthMode, Config};
use shopgraph::http::{AppState, app};

#[derive(Clone, Copy, Debug)]
enum Who {
    Nobody,
    BadKey,
    Reader,
    Writer,
    Admin,
}

fn q(s: &str) -> String {
    serde_urlencoded::to_string([("query", s)]).unwrap()
}

fn update(u: &str) -> TestRequest {
    TestRequest::post()
        .uri("/sparql")
        .insert_header(("content-type", "application/sparql-update"))
        .set_payload(u.to_string())
}

const ONTOLOGY_GRAPH: &str = "https://w3id.org/shopgraph/graph/ontology";

#[actix_web::test]
async fn every_endpoint_asks_for_the_role_it_needs() {
    let engine = loaded_engine_with(Config { auth: Some(AuthMode::All), ..config() });
    engine.train(&shopgraph::recommend::Algorithm::Popularity, None, |_, _| {}).unwrap();
    let key = |role| engine.keys().create(&format!("{role:?}"), role).unwrap().1;
    let (reader, writer, admin) = (key(Role::Reader), key(Role::Writer), key(Role::Admin));
    let app = init_service(app(AppState::new(engine.clone()))).await;
    use Who::*;
    let cases: Vec<(&str, Who, TestRequest, StatusCode)> = vec![
        ("health is open", Nobody, TestRequest::get().uri("/health"), StatusCode::OK),
        ("openapi is open", Nobody, TestRequest::get().uri("/openapi.json"), StatusCode::OK),
        ("query", Nobody, TestRequest::get().uri(&format!("/sparql?{}", q("ASK {}"))), StatusCode::UNAUTHORIZED),
        ("query", BadKey, TestRequest::get().uri(&format!("/sparql?{}", q("ASK {}"))), StatusCode::UNAUTHORIZED),
        ("query", Reader, TestRequest::get().uri(&format!("/sparql?{}", q("ASK {}"))), StatusCode::OK),
        ("metrics", Nobody, TestRequest::get().uri("/metrics"), StatusCode::UNAUTHORIZED),
        ("metrics", Reader, TestRequest::get().uri("/metrics"), StatusCode::OK),
        ("named query", Reader, TestRequest::get().uri("/queries"), StatusCode::OK),
        ("recommend", Nobody, TestRequest::get().uri("/recommend?user=u1"), StatusCode::UNAUTHORIZED),
        ("recommend", Reader, TestRequest::get().uri("/recommend?user=u1"), StatusCode::OK),
        ("model", Reader, TestRequest::get().uri("/model"), StatusCode::OK),
        ("update", Reader, update("INSERT DATA { <http://ex.org/a> <http://ex.org/b> 1 }"), StatusCode::FORBIDDEN),
        ("update", Writer, update("INSERT DATA { <http://ex.org/a> <http://ex.org/b> 1 }"), StatusCode::NO_CONTENT),
        (
            "update of the ontology graph",
            Writer,
            update(&format!("INSERT DATA {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <http://ex.org/a> <http://ex.org/b> 1 }} }}")),
            StatusCode::FORBIDDEN,
        ),
        (
            "update of the ontology graph",
            Admin,
            update(&format!("INSERT DATA {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <http://ex.org/a> <http://ex.org/b> 1 }} }}")),
            StatusCode::NO_CONTENT,
        ),
        ("drop all", Writer, update("DROP ALL"), StatusCode::FORBIDDEN),
        ("clear default", Reader, update("CLEAR DEFAULT"), StatusCode::FORBIDDEN),
        (
            "delete with a variable graph",
            Writer,
            update("DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }"),
            StatusCode::FORBIDDEN,
        ),
        (
            "GSP write",
            Writer,
            TestRequest::put()
                .uri("/store?graph=http://ex.org/g")
                .insert_header(("content-type", "text/turtle"))
                .set_payload("<http://ex.org/s> <http://ex.org/p> 1 ."),
            StatusCode::CREATED,
        ),
        (
            "GSP write",
            Reader,
            TestRequest::put()
                .uri("/store?graph=http://ex.org/g")
                .insert_header(("content-type", "text/turtle"))
                .set_payload("<http://ex.org/s> <http://ex.org/p> 1 ."),
            StatusCode::FORBIDDEN,
        ),
        ("GSP read", Reader, TestRequest::get().uri("/store?graph=http://ex.org/g"), StatusCode::OK),
        (
            "GSP PUT over the ontology",
            Writer,
            TestRequest::put()
                .uri(&format!("/store?graph={ONTOLOGY_GRAPH}"))
                .insert_header(("content-type", "text/turtle"))
                .set_payload("<http://ex.org/s> <http://ex.org/p> 1 ."),
            StatusCode::FORBIDDEN,
        ),
        (
            "GSP DELETE of the taxonomy",
            Writer,
            TestRequest::delete().uri("/store?graph=https://w3id.org/shopgraph/graph/taxonomy"),
            StatusCode::FORBIDDEN,
        ),
        (
            "GSP PUT of the whole dataset",
            Writer,
            TestRequest::put().uri("/store").insert_header(("content-type", "application/n-quads")).set_payload(""),
            StatusCode::FORBIDDEN,
        ),
        (
            "events",
            Reader,
            TestRequest::post()
                .uri("/events")
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"user": "u9", "item": "1077", "event": "view"}"#),
            StatusCode::FORBIDDEN,
        ),
        (
            "events",
            Writer,
            TestRequest::post()
                .uri("/events")
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"user": "u9", "item": "1077", "event": "view"}"#),
            StatusCode::OK,
        ),
        ("train", Writer, TestRequest::post().uri("/train?algorithm=popularity"), StatusCode::FORBIDDEN),
        ("train", Admin, TestRequest::post().uri("/train?algorithm=popularity"), StatusCode::OK),
        ("review queue list", Reader, TestRequest::get().uri("/queue"), StatusCode::OK),
        ("review queue decision", Reader, TestRequest::post().uri("/queue/abc/reject"), StatusCode::FORBIDDEN),
        // A writer passes the role check; the item does not exist.
        ("review queue decision", Writer, TestRequest::post().uri("/queue/abc/reject"), StatusCode::NOT_FOUND),
        ("ontology versions", Reader, TestRequest::get().uri("/ontology"), StatusCode::OK),
        (
            "ontology patch",
            Writer,
            TestRequest::post().uri("/ontology").insert_header(("content-type", "text/turtle")).set_payload(""),
            StatusCode::FORBIDDEN,
        ),
        ("validation", Reader, TestRequest::post().uri("/validate?default"), StatusCode::OK),
        ("keys", Writer, TestRequest::get().uri("/keys"), StatusCode::FORBIDDEN),
        ("keys", Admin, TestRequest::get().uri("/keys"), StatusCode::OK),
    ];
    let ontology_before =
        count(&engine, &format!("SELECT (COUNT(*) AS ?n) {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s ?p ?o }} }}"));
    for (what, who, req, want) in cases {
        let req = match who {
            Nobody => req,
            BadKey => req.insert_header(("authorization", "Bearer sg_000000000000_nope")),
            Reader => req.insert_header(("authorization", format!("Bearer {reader}"))),
            Writer => req.insert_header(("authorization", format!("Bearer {writer}"))),
            Admin => req.insert_header(("authorization", format!("Bearer {admin}"))),
        };
        let resp = call_service(&app, req.to_request()).await;
        let status = resp.status();
        let www = resp.headers().get("www-authenticate").is_some();
        let body = read_body(resp).await;
        assert_eq!(status, want, "{what} as {who:?}: {}", String::from_utf8_lossy(&body));
        if status == StatusCode::UNAUTHORIZED {
            assert!(www, "{what}: 401 without WWW-Authenticate");
        }
    }
    // Only the admin's insert reached the ontology graph; the taxonomy is still there.
    let ontology_after =
        count(&engine, &format!("SELECT (COUNT(*) AS ?n) {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s ?p ?o }} }}"));
    assert_eq!(ontology_after, ontology_before + 1);
    assert!(
        count(&engine, "SELECT (COUNT(*) AS ?n) { GRAPH <https://w3id.org/shopgraph/graph/taxonomy> { ?s ?p ?o } }")
            > 1000
    );
    // Keys over HTTP: an admin creates a reader key that works at once, then revokes it.
    let resp = call_service(
        &app,
        TestRequest::post()
            .uri("/keys")
            .insert_header(("authorization", format!("Bearer {admin}")))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"name": "dashboard", "role": "reader"}"#)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: serde_json::Value = serde_json::from_slice(&read_body(resp).await).unwrap();
    let (new_key, id) = (v["key"].as_str().unwrap().to_owned(), v["record"]["id"].as_str().unwrap().to_owned());
    let ask = |k: String| {
        TestRequest::get()
            .uri(&format!("/sparql?{}", q("ASK {}")))
            .insert_header(("authorization", format!("Bearer {k}")))
    };
    assert_eq!(call_service(&app, ask(new_key.clone()).to_request()).await.status(), StatusCode::OK);
    let resp = call_service(
        &app,
        TestRequest::delete()
            .uri(&format!("/keys/{id}"))
            .insert_header(("authorization", format!("Bearer {admin}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(call_service(&app, ask(new_key).to_request()).await.status(), StatusCode::UNAUTHORIZED);
    // Every applied write is in the audit log with who did it; refused ones are not.
    let resp = call_service(
        &app,
        TestRequest::get()
            .uri("/audit?limit=50")
            .insert_header(("authorization", format!("Bearer {admin}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&read_body(resp).await).unwrap();
    let id_of = |key: &str| format!("key:{}", key.split('_').nth(1).unwrap());
    let actions: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["who"].as_str().unwrap().to_owned()))
        .collect();
    let want = [
        ("sparql-update", id_of(&writer)),
        ("sparql-update", id_of(&admin)),
        ("gsp-put", id_of(&writer)),
        ("events", id_of(&writer)),
        ("train", id_of(&admin)),
        ("key-create", id_of(&admin)),
        ("key-revoke", id_of(&admin)),
    ];
    let got: Vec<(&str, &str)> = actions.iter().map(|(a, w)| (a.as_str(), w.as_str())).collect();
    let want: Vec<(&str, &str)> = want.iter().map(|(a, w)| (*a, w.as_str())).collect();
    assert_eq!(got, want);
    assert!(entries.iter().all(|e| e["time"].is_string()));
}

#[actix_web::test]
async fn writes_mode_lets_anyone_read_and_only_keys_write() {
    let engine = loaded_engine_with(Config { auth: Some(AuthMode::Writes), ..config() });
    let writer = engine.keys().create("etl", Role::Writer).unwrap().1;
    let app = init_service(app(AppState::new(engine))).await;
    let r = call_service(&app, TestRequest::get().uri(&format!("/sparql?{}", q("ASK {}"))).to_request()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call_service(&app, update("INSERT DATA { <http://ex.org/a> <http://ex.org/b> 1 }").to_request()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = call_service(
        &app,
        update("INSERT DATA { <http://ex.org/a> <http://ex.org/b> 1 }")
            .insert_header(("authorization", format!("Bearer {writer}")))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[test]
fn a_public_bind_without_auth_is_refused_unless_said_explicitly() {
    let cases = [
        ("127.0.0.1:7878", None, false, AuthMode::Off, true),
        ("0.0.0.0:7878", None, false, AuthMode::All, true),
        ("0.0.0.0:7878", Some(AuthMode::Off), false, AuthMode::Off, false),
        ("0.0.0.0:7878", Some(AuthMode::Off), true, AuthMode::Off, true),
        ("[::]:7878", Some(AuthMode::Writes), false, AuthMode::Writes, true),
    ];
    for (bind, auth, allow, mode, ok) in cases {
        let c = Config { bind: bind.into(), auth, allow_unauthenticated_public: allow, ..Config::default() };
        assert_eq!(c.auth_mode(), mode, "{bind} {auth:?}");
        assert_eq!(c.check_exposure().is_ok(), ok, "{bind} {auth:?} {allow}");
    }
}

#[actix_web::test]
async fn each_key_has_its_own_rate_limit_and_a_refusal_says_when_to_retry() {
    let engine = loaded_engine_with(Config {
        auth: Some(AuthMode::All),
        rate_limit_per_second: 0.5,
        rate_limit_burst: 2.0,
        ..config()
    });
    let a = engine.keys().create("a", Role::Reader).unwrap().1;
    let b = engine.keys().create("b", Role::Reader).unwrap().1;
    let app = init_service(app(AppState::new(engine))).await;
    let ask = |k: &str| {
        TestRequest::get()
            .uri(&format!("/sparql?{}", q("ASK {}")))
            .insert_header(("authorization", format!("Bearer {k}")))
    };
    for _ in 0..2 {
        assert_eq!(call_service(&app, ask(&a).to_request()).await.status(), StatusCode::OK);
    }
    let resp = call_service(&app, ask(&a).to_request()).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "2");
    assert_eq!(call_service(&app, ask(&b).to_request()).await.status(), StatusCode::OK);
    // Health probes are never limited.
    for _ in 0..5 {
        assert_eq!(call_service(&app, TestRequest::get().uri("/health").to_request()).await.status(), StatusCode::OK);
    }
}

#[actix_web::test]
async fn one_key_cannot_hold_more_requests_in_flight_than_its_cap() {
    let engine = loaded_engine_with(Config {
        auth: Some(AuthMode::All),
        max_in_flight_per_client: 1,
        query_timeout_ms: 2000,
        ..config()
    });
    let a = engine.keys().create("a", Role::Reader).unwrap().1;
    let b = engine.keys().create("b", Role::Reader).unwrap().1;
    let app = init_service(app(AppState::new(engine))).await;
    let with = |k: &str, query: &str| {
        TestRequest::get().uri(&format!("/sparql?{}", q(query))).insert_header(("authorization", format!("Bearer {k}")))
    };
    let slow =
        call_service(&app, with(&a, "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }").to_request());
    let others = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let same = call_service(&app, with(&a, "ASK {}").to_request()).await.status();
        let other = call_service(&app, with(&b, "ASK {}").to_request()).await.status();
        (same, other)
    };
    let (slow, (same, other)) = futures_util::join!(slow, others);
    assert_eq!(slow.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(same, StatusCode::TOO_MANY_REQUESTS, "a second request of the same key while one runs");
    assert_eq!(other, StatusCode::OK);
    // The slot is free again once the slow answer is out.
    assert_eq!(call_service(&app, with(&a, "ASK {}").to_request()).await.status(), StatusCode::OK);
}
