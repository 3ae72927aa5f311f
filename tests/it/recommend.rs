//! Recommendations on the fixture graph: SPARQL functions and services, HTTP endpoints,
//! explanations that exist in the graph, events that change the next answer, exact-k filters.

use crate::common::*;
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::cf::als::{AlsParams, Solver};
use shopgraph::engine::Engine;
use shopgraph::http::{AppState, app};
use shopgraph::recommend::Algorithm;
use std::sync::Arc;

fn als() -> Algorithm {
    Algorithm::Als(AlsParams {
        factors: 16,
        regularization: 0.1,
        alpha: 10.0,
        iterations: 8,
        solver: Solver::Cg { steps: 3 },
        seed: 1,
    })
}

/// Sample reviews + synthetic catalogue + 300 simulated shoppers, with an ALS model.
fn trained_engine() -> Arc<Engine> {
    let e = loaded_engine();
    e.simulate(300, 7).unwrap();
    e.train(&als(), None, |_, _| {}).unwrap();
    e
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)))
}

macro_rules! get {
    ($app:expr, $uri:expr) => {{
        let resp = call_service(&$app, TestRequest::get().uri(&$uri).to_request()).await;
        let status = resp.status();
        (status, read_body(resp).await.to_vec())
    }};
}

/// Whether an ASK query answers true.
fn asks(e: &Engine, ask: &str) -> bool {
    let formats = shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None };
    let out = e.query(ask, &e.query_options(), formats).unwrap();
    String::from_utf8(out.body).unwrap().contains("true")
}

fn items(v: &serde_json::Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["item"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn sparql_service_and_functions_agree_with_the_model() {
    let e = trained_engine();
    let user = e.minter().user(&e.user_key("sim-0003"));
    let rows = select(
        &e,
        &format!(
            "{SG}SELECT ?item ?score ?rank ?f WHERE {{ SERVICE sg:recommend {{ ?item sg:recommendedFor <{}> ; sg:score ?score ; sg:rank ?rank . sg:request sg:k 5 }} BIND(sg:score(<{}>, ?item) AS ?f) }} ORDER BY ?rank",
            user.as_str(),
            user.as_str()
        ),
    );
    assert_eq!(rows.len(), 5);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"], (i + 1).to_string());
        let (a, b): (f64, f64) = (r["score"].parse().unwrap(), r["f"].parse().unwrap());
        assert!((a - b).abs() < 1e-4, "service {a} vs function {b}");
    }
    let sims = select(
        &e,
        &format!(
            "{SG}SELECT ?s ?t WHERE {{ BIND(sg:similarity(<https://w3id.org/shopgraph/id/product/1077>, <https://w3id.org/shopgraph/id/product/1049>) AS ?s) BIND(sg:similarity(<https://w3id.org/shopgraph/id/product/1049>, <https://w3id.org/shopgraph/id/product/1077>) AS ?t) }}"
        ),
    );
    assert_eq!(sims[0]["s"], sims[0]["t"]);
    // Filters inside the SERVICE hold before the cut: k dresses when k exist.
    let dresses = count(
        &e,
        &format!(
            "{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:category <https://w3id.org/shopgraph/taxonomy/google/2271> }}"
        ),
    );
    assert!(dresses >= 8, "fixture has {dresses} dresses");
    let rows = select(
        &e,
        &format!(
            "{SG}SELECT ?item ?c WHERE {{ SERVICE sg:recommend {{ ?item sg:recommendedFor <{}> . sg:request sg:k 8 ; sg:inCategory <https://w3id.org/shopgraph/taxonomy/google/2271> ; sg:excludeSeen false }} ?item sg:category ?c }}",
            user.as_str()
        ),
    );
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r["c"] == "https://w3id.org/shopgraph/taxonomy/google/2271"));
}

#[actix_web::test]
async fn recommend_filters_return_exactly_k_matching_items() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (s, b) = get!(app, "/recommend?user=sim-0001&k=7");
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v = json(&b);
    assert_eq!(v["source"], "model");
    assert_eq!(items(&v).len(), 7);
    // Category 212 (Shirts & Tops) through the parent category Clothing (1604): descendants count.
    let (s, b) = get!(app, "/recommend?user=sim-0001&k=6&category=212");
    assert_eq!(s, StatusCode::OK);
    let got = items(&json(&b));
    assert_eq!(got.len(), 6);
    for id in &got {
        let c = select(&e, &format!("{SG}SELECT ?c {{ <https://w3id.org/shopgraph/id/product/{id}> sg:category ?c }}"));
        assert!(c.iter().any(|r| r["c"].ends_with("/212")), "{id} is not a top");
    }
    let (_, b) = get!(app, "/recommend?user=sim-0001&k=6&category=1604");
    assert_eq!(items(&json(&b)).len(), 6);
    // Price and stock come from the (synthetic) catalogue offers: only 1077 is in stock under 200.
    let (_, b) = get!(app, "/recommend?user=sim-0001&k=3&max_price=200&in_stock=true&exclude_seen=false");
    assert_eq!(items(&json(&b)), vec!["1077"]);
    let (_, b) = get!(app, "/recommend?user=sim-0001&k=5&brand=RETAILER%20HOUSE&exclude_seen=false");
    let mut got = items(&json(&b));
    got.sort();
    assert_eq!(got, vec!["1049", "1077"]);
}

#[actix_web::test]
async fn unknown_users_items_and_bad_parameters_get_4xx() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e))).await;
    for (uri, status, code) in [
        ("/recommend?k=5", StatusCode::BAD_REQUEST, "bad_request"),
        ("/recommend?user=sim-0001&k=0", StatusCode::BAD_REQUEST, "bad_k"),
        ("/recommend?user=sim-0001&k=many", StatusCode::BAD_REQUEST, "bad_request"),
        ("/recommend?user=sim-0001&k=5000", StatusCode::BAD_REQUEST, "bad_k"),
        ("/recommend?user=sim-0001&max_price=cheap", StatusCode::BAD_REQUEST, "bad_request"),
        ("/recommend?user=sim-0001&colour=red", StatusCode::BAD_REQUEST, "bad_request"),
        ("/recommend?user=nobody&cold_start=false", StatusCode::NOT_FOUND, "unknown_user"),
        ("/similar?item=no-such-item", StatusCode::NOT_FOUND, "unknown_item"),
        ("/explain?user=nobody&item=1077", StatusCode::NOT_FOUND, "unknown_user"),
        ("/explain?user=sim-0001&item=no-such-item", StatusCode::NOT_FOUND, "unknown_item"),
    ] {
        let (s, b) = get!(app, uri);
        assert_eq!(s, status, "{uri}: {}", String::from_utf8_lossy(&b));
        assert_eq!(json(&b)["error"], code, "{uri}");
    }
}

#[actix_web::test]
async fn cold_start_user_gets_the_most_popular_items() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (s, b) = get!(app, "/recommend?user=brand-new-shopper&k=3");
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["source"], "cold_start_popular");
    let live = e.recommender().current().unwrap();
    let mut pop: Vec<(f32, String)> =
        live.trained.items.iter().cloned().enumerate().map(|(i, id)| (live.trained.popularity[i], id)).collect();
    pop.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let top: Vec<f32> = pop.iter().take(3).map(|p| p.0).collect();
    let got: Vec<f32> =
        items(&v).iter().map(|id| live.trained.popularity[live.item_index(id).unwrap() as usize]).collect();
    assert_eq!(got, top);
}

#[actix_web::test]
async fn explanation_contributions_sum_to_the_score_and_paths_exist_in_the_graph() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (_, b) = get!(app, "/recommend?user=sim-0002&k=1");
    let item = items(&json(&b))[0].clone();
    let (s, b) = get!(app, format!("/explain?user=sim-0002&item={item}"));
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v = json(&b);
    let score = v["score"].as_f64().unwrap();
    let parts = v["contributions"].as_array().unwrap();
    assert!(!parts.is_empty());
    let shares: f64 = parts.iter().map(|p| p["share"].as_f64().unwrap()).sum();
    let total: f64 = parts.iter().map(|p| p["contribution"].as_f64().unwrap()).sum();
    let history = e.recommender().current().unwrap().history(&e.user_key("sim-0002")).len();
    if history <= 10 {
        assert!((total - score).abs() < 1e-3 * score.abs().max(1.0), "contributions {total} vs score {score}");
        assert!((shares - 1.0).abs() < 1e-3, "shares {shares}");
    }
    let mut checked = 0;
    for p in parts {
        let past = p["item"].as_str().unwrap();
        for path in p["paths"].as_array().unwrap() {
            let via = path["via"].as_str().unwrap();
            let (a, b) = (
                format!("<https://w3id.org/shopgraph/id/product/{past}>"),
                format!("<https://w3id.org/shopgraph/id/product/{item}>"),
            );
            let ask = match path["kind"].as_str().unwrap() {
                "same_category" => format!("{SG}ASK {{ {a} sg:category <{via}> . {b} sg:category <{via}> }}"),
                "same_brand" => format!("{SG}ASK {{ {a} sg:brand <{via}> . {b} sg:brand <{via}> }}"),
                "shared_ancestor_category" => format!(
                    "{SG}PREFIX skos: <http://www.w3.org/2004/02/skos/core#> ASK {{ {a} sg:category ?x . {b} sg:category ?y . GRAPH ?g {{ ?x skos:broader+ <{via}> . ?y skos:broader+ <{via}> }} }}"
                ),
                other => panic!("unexpected path kind {other}"),
            };
            assert!(asks(&e, &ask), "{ask}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no graph path to check");
    let (s, b) = get!(app, format!("/explain?user=sim-0002&item={item}&format=turtle"));
    assert_eq!(s, StatusCode::OK);
    let ttl = String::from_utf8(b).unwrap();
    let parsed = shopgraph::store::Store::parse_document(
        ttl.as_bytes(),
        shopgraph::store::GraphFormat::Turtle,
        shopgraph::store::model::GraphName::DefaultGraph,
        None,
    )
    .unwrap();
    assert!(parsed.iter().any(|q| q.predicate.as_str().ends_with("#contributor")));
}

#[actix_web::test]
async fn posted_events_land_in_the_graph_and_change_the_next_recommendation() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (_, b) = get!(app, "/recommend?user=sim-0004&k=10");
    let before = items(&json(&b));
    let interactions_before = count(&e, &format!("{SG}SELECT (COUNT(?i) AS ?n) {{ ?i a sg:Interaction }}"));
    // Buy three items the model did not put first.
    let bought: Vec<String> = before.iter().skip(5).take(3).cloned().collect();
    let body: String =
        bought.iter().map(|i| format!("{{\"user\":\"sim-0004\",\"item\":\"{i}\",\"event\":\"purchase\"}}\n")).collect();
    let resp = call_service(
        &app,
        TestRequest::post()
            .uri("/events")
            .insert_header(("content-type", "application/x-ndjson"))
            .set_payload(body)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v = json(&read_body(resp).await);
    assert_eq!(v["accepted"], 3);
    assert_eq!(count(&e, &format!("{SG}SELECT (COUNT(?i) AS ?n) {{ ?i a sg:Interaction }}")), interactions_before + 3);
    let (_, b) = get!(app, "/recommend?user=sim-0004&k=10");
    let after = items(&json(&b));
    assert_ne!(before, after, "the events did not change the recommendation");
    assert!(bought.iter().all(|i| !after.contains(i)), "bought items must be excluded as seen");
    // All or nothing: one unknown item rejects the whole batch.
    let n = count(&e, &format!("{SG}SELECT (COUNT(?i) AS ?n) {{ ?i a sg:Interaction }}"));
    for (ct, body, status) in [
        (
            "application/x-ndjson",
            "{\"user\":\"u\",\"item\":\"1077\",\"event\":\"view\"}\n{\"user\":\"u\",\"item\":\"nope\",\"event\":\"view\"}",
            StatusCode::NOT_FOUND,
        ),
        (
            "application/x-ndjson",
            "{\"user\":\"u\",\"item\":\"1077\",\"event\":\"view\"}\n{\"user\":\"u\",\"item\":\"1077\",\"event\":\"wishlist\"}",
            StatusCode::BAD_REQUEST,
        ),
        ("application/json", "{\"user\":\"u\",\"item\":\"1077\"", StatusCode::BAD_REQUEST),
        (
            "application/json",
            "{\"user\":\"u\",\"item\":\"1077\",\"event\":\"view\",\"colour\":\"red\"}",
            StatusCode::BAD_REQUEST,
        ),
        ("application/json", "[]", StatusCode::BAD_REQUEST),
        ("text/csv", "u,1077,view", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ] {
        let resp = call_service(
            &app,
            TestRequest::post().uri("/events").insert_header(("content-type", ct)).set_payload(body).to_request(),
        )
        .await;
        assert_eq!(resp.status(), status, "{body}");
    }
    assert_eq!(
        count(&e, &format!("{SG}SELECT (COUNT(?i) AS ?n) {{ ?i a sg:Interaction }}")),
        n,
        "a rejected batch wrote something"
    );
}

#[test]
fn an_item_without_interactions_is_placed_by_its_category() {
    let e = loaded_engine();
    // Sample products with no interactions at all get factors from their category peers.
    e.simulate(5, 3).unwrap();
    let ds = e.interaction_dataset().unwrap();
    let live_before = ds.items.len();
    e.train(&als(), None, |_, _| {}).unwrap();
    let live = e.recommender().current().unwrap();
    assert_eq!(live.trained.items.len(), live_before);
    let cold: Vec<usize> = (0..live.trained.items.len())
        .filter(|&i| live.trained.popularity[i] == 0.0 && live.facets.category[i].is_some())
        .collect();
    assert!(!cold.is_empty(), "the fixture should have catalogue items nobody touched");
    let shopgraph::cf::Model::Als(m) = &live.trained.model else { panic!("not ALS") };
    for &i in &cold {
        assert!(m.item(i).iter().any(|x| *x != 0.0), "cold item {} was not placed", live.trained.items[i]);
    }
}

#[actix_web::test]
async fn named_recommendation_queries_bind_users_and_categories() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let user = e.minter().user(&e.user_key("sim-0005"));
    let q = serde_urlencoded::to_string([("user", user.as_str()), ("category", "1604")]).unwrap();
    let (s, b) = get!(app, format!("/queries/recommend-in-category?{q}"));
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let rows = parse_json_results(&b);
    assert_eq!(rows.len(), 20);
    let scores: Vec<f64> = rows.iter().map(|r| r["score"].parse().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    // Same order as the HTTP API with the same exclusions.
    let (_, b) = get!(app, "/recommend?user=sim-0005&k=5&category=1604");
    let api = items(&json(&b));
    let from_sparql: Vec<String> = rows.iter().take(5).map(|r| r["id"].clone()).collect();
    assert_eq!(from_sparql, api);
    let (s, b) = get!(app, "/queries/similar-products?product=1077");
    assert_eq!(s, StatusCode::OK);
    let rows = parse_json_results(&b);
    assert_eq!(rows.len(), 20);
    let (_, b) = get!(app, "/similar?item=1077&k=3");
    let api = items(&json(&b));
    assert_eq!(rows.iter().take(3).map(|r| r["id"].clone()).collect::<Vec<_>>(), api);
}

/// EASE with a history half-life: explanation parts still add up to the score, and a posted
/// event becomes the user's newest item (age 0, full weight) while the rest age by one.
#[actix_web::test]
async fn recency_weighted_ease_explains_exactly_and_a_posted_event_is_the_newest() {
    let e = loaded_engine();
    e.simulate(300, 7).unwrap();
    e.train(&Algorithm::Ease { lambda: 50.0, half_life: Some(2.0) }, None, |_, _| {}).unwrap();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let user = e.user_key("sim-0002");
    let (_, b) = get!(app, "/recommend?user=sim-0002&k=3");
    let recs = items(&json(&b));
    assert_eq!(recs.len(), 3);
    let live = e.recommender().current().unwrap();
    let before = live.history(&user);
    assert!(before.len() >= 3, "sim-0002 has {} items", before.len());
    let mut ages = before.ages.clone();
    ages.sort_unstable();
    assert_eq!(ages, (0..before.len() as u32).collect::<Vec<_>>(), "ages rank the history");
    for item in &recs {
        let (parts, total) = live.contributions(&user, item).unwrap();
        let score = live.score(&user, item).unwrap();
        assert!((total - score).abs() < 1e-4 * score.abs().max(1.0), "{item}: parts {total} vs score {score}");
        assert_eq!(parts.len(), before.len());
    }
    let body = format!("{{\"user\":\"sim-0002\",\"item\":\"{}\",\"event\":\"purchase\"}}", recs[0]);
    let resp = call_service(
        &app,
        TestRequest::post()
            .uri("/events")
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let live = e.recommender().current().unwrap();
    let after = live.history(&user);
    let new_ix = live.item_index(&recs[0]).unwrap();
    for (k, item) in after.items.iter().enumerate() {
        let want = match before.items.iter().position(|i| i == item) {
            Some(p) => before.ages[p] + 1,
            None => {
                assert_eq!(*item, new_ix);
                0
            }
        };
        assert_eq!(after.ages[k], want, "item {item}");
    }
    // The new item counts in full: its part of another item's score is its plain EASE weight.
    let (parts, total) = live.contributions(&user, &recs[1]).unwrap();
    let mine = parts.iter().find(|p| p.0 == recs[0]).unwrap().1;
    assert!((mine - live.similarity(new_ix, live.item_index(&recs[1]).unwrap())).abs() < 1e-6);
    assert!((total - live.score(&user, &recs[1]).unwrap()).abs() < 1e-4 * total.abs().max(1.0));
}

/// A dataset where the next item follows the user's latest one (users walk a ring of items
/// after some random browsing): tune must notice that recency matters and weight by it.
#[test]
fn tune_chooses_recency_weighting_when_the_next_item_follows_the_latest() {
    use shopgraph::recommend::{Protocol, candidates, dataset::Dataset, tune_among};
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (items, mut ds) = (40u64, Dataset::default());
    for u in 0..150 {
        let user = format!("u{u}");
        for t in 0..6 {
            ds.push(&user, &format!("i{}", next(items)), 1.0, t);
        }
        let start = next(items);
        for step in 0..6 {
            ds.push(&user, &format!("i{}", (start + step) % items), 1.0, 10 + step as i64);
        }
    }
    // tune's own list minus its ALS grid (implicit's defaults stay): the grid is 81 ALS fits,
    // minutes in a debug build, and adds nothing to what this checks.
    let list: Vec<Algorithm> = candidates(&ds, 0, Protocol::Auto)
        .into_iter()
        .filter(|a| !matches!(a, Algorithm::Als(p) if *p != AlsParams { seed: 0, ..AlsParams::default() }))
        .collect();
    let (chosen, reason, results) = tune_among(&ds, 10, list, Protocol::Auto, |_, _| {}).unwrap();
    assert!(chosen.half_life().is_some(), "chose {chosen:?}: {reason}");
    let best_plain = results.iter().filter(|r| r.0.half_life().is_none()).map(|r| r.1.ndcg).fold(0.0, f64::max);
    let best = results.iter().map(|r| r.1.ndcg).fold(0.0, f64::max);
    assert!(best > best_plain * 1.2, "recency {best} vs plain {best_plain}");
}

/// `POST /train` takes the algorithm and its settings as query parameters: a recency-weighted
/// EASE is trained, served and reported; bad settings are 400s that leave the served model.
#[actix_web::test]
async fn train_endpoint_serves_recency_weighted_ease_and_refuses_bad_settings() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let post = |uri: &str| TestRequest::post().uri(uri).to_request();
    let resp = call_service(&app, post("/train?algorithm=ease&lambda=100&half_life=5")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let meta = json(&read_body(resp).await);
    assert_eq!(meta["algorithm"]["kind"], "ease");
    assert_eq!(meta["algorithm"]["half_life"], 5.0);
    let served = e.recommender().current().unwrap().trained.meta.version.clone();
    let (s, b) = get!(app, "/recommend?user=sim-0002&k=5");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(items(&json(&b)).len(), 5);
    for bad in ["half_life=-1", "half_life=0", "half_life=soon", "half_life=5&colour=red"] {
        let resp = call_service(&app, post(&format!("/train?algorithm=ease&{bad}"))).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(e.recommender().current().unwrap().trained.meta.version, served, "a refused train swapped the model");
}

/// Regression: two slow SPARQL queries filled the work pool and `/recommend` hung behind them
/// while `/health` said OK.
#[actix_web::test]
async fn recommendations_answer_while_slow_queries_fill_the_query_pool() {
    use actix_web::test::{TestRequest, call_service, init_service};
    let engine = loaded_engine_with(shopgraph::config::Config { query_threads: 1, query_timeout_ms: 5000, ..config() });
    engine.train(&shopgraph::recommend::Algorithm::Popularity, None, |_, _| {}).unwrap();
    let app = init_service(shopgraph::http::app(shopgraph::http::AppState::new(engine))).await;
    let slow =
        serde_urlencoded::to_string([("query", "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")])
            .unwrap();
    let slow_req = call_service(&app, TestRequest::get().uri(&format!("/sparql?{slow}")).to_request());
    let fast = async {
        // Let the slow query take the only query thread first.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let start = std::time::Instant::now();
        let resp = call_service(&app, TestRequest::get().uri("/recommend?user=u1&k=3").to_request()).await;
        (resp.status(), start.elapsed())
    };
    let (slow_resp, (status, took)) = futures_util::join!(slow_req, fast);
    assert_eq!(status, 200);
    assert!(took < std::time::Duration::from_secs(2), "/recommend waited {took:?} behind a slow query");
    assert_eq!(slow_resp.status(), 408);
}

/// Regression: on files without timestamps tune tried recency weighting by file order, and
/// validated on "each user's last line", and picked what rewarded the file's order; a winner
/// within the folds' noise of popularity was served over it.
#[test]
fn tune_without_timestamps_validates_on_random_folds_and_prefers_popularity_within_the_noise() {
    use shopgraph::recommend::{Protocol, candidates, dataset::Dataset, tune_among};
    // Shoppers of pure popularity: item i is taken with probability falling in i, no taste.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut ds = Dataset::default();
    for u in 0..300 {
        for _ in 0..8 {
            let bound = next(60) + 1;
            let item = next(bound);
            ds.push(&format!("u{u}"), &format!("i{item}"), 1.0, 0);
        }
    }
    assert_eq!(Protocol::Auto.resolve(&ds), Protocol::Random);
    let list: Vec<Algorithm> = candidates(&ds, 0, Protocol::Auto)
        .into_iter()
        .filter(|a| !matches!(a, Algorithm::Als(p) if *p != AlsParams { seed: 0, ..AlsParams::default() }))
        .collect();
    assert!(list.iter().all(|a| a.half_life().is_none()), "recency candidates without timestamps");
    let (chosen, reason, results) = tune_among(&ds, 10, list, Protocol::Auto, |_, _| {}).unwrap();
    assert!(reason.contains("random held-out events") || reason.starts_with("popularity"), "{reason}");
    assert!(results.iter().all(|r| r.2.len() == 3), "every candidate reports its three folds");
    // Nothing here beats popularity beyond noise: popularity is served.
    assert_eq!(chosen, Algorithm::Popularity, "{reason}");
}

#[actix_web::test]
async fn a_category_link_an_engineer_adds_reaches_the_filters() {
    let e = trained_engine();
    // "Summer edit", a merchandiser's category, holds Shirts & Tops (212): a change to the
    // ontology, not to the taxonomy file.
    let patch = "@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
      <https://shop.example/category/summer-edit> a skos:Concept ; skos:prefLabel \"Summer edit\"@en ; rdfs:label \"Summer edit\"@en .
      <https://w3id.org/shopgraph/taxonomy/google/212> skos:broader <https://shop.example/category/summer-edit> .";
    e.ontology_apply(&shopgraph::engine::Patch::Turtle(patch.into()), "merchandiser", "").unwrap();
    let alg = e.recommender().current().unwrap().trained.meta.algorithm.clone();
    e.train(&alg, None, |_, _| {}).unwrap();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (s, b) = get!(
        app,
        "/recommend?user=sim-0001&k=50&exclude_seen=false&category=https%3A%2F%2Fshop.example%2Fcategory%2Fsummer-edit"
    );
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let under_edit = items(&json(&b));
    let (_, b) = get!(app, "/recommend?user=sim-0001&k=50&exclude_seen=false&category=212");
    let tops = items(&json(&b));
    assert!(!tops.is_empty());
    assert_eq!(under_edit, tops, "the new category holds exactly the tops");
    // With the inferred hierarchy built, filters read it and answer the same.
    e.reason().unwrap();
    e.train(&alg, None, |_, _| {}).unwrap();
    let (_, b) = get!(
        app,
        "/recommend?user=sim-0001&k=50&exclude_seen=false&category=https%3A%2F%2Fshop.example%2Fcategory%2Fsummer-edit"
    );
    assert_eq!(items(&json(&b)), tops);
    let (_, b) = get!(app, "/recommend?user=sim-0001&k=50&exclude_seen=false&category=1604");
    assert!(items(&json(&b)).len() >= tops.len());
}

/// The hybrid is trained over HTTP like the others, places catalogue items nobody touched by
/// what the graph knows about them, and explains such an item by its features: the parts add
/// up to its score, and each named category is one the graph gives the item (or a broader one).
#[actix_web::test]
async fn hybrid_places_untouched_items_by_their_features_and_names_them_in_explanations() {
    // Few shoppers, so some catalogue items have no interactions at all.
    let e = loaded_engine();
    e.simulate(20, 3).unwrap();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let post = |uri: &str| TestRequest::post().uri(uri).to_request();
    for bad in ["feature_weight=0", "feature_weight=nan", "feature_ridge=-1"] {
        let resp = call_service(&app, post(&format!("/train?algorithm=hybrid&{bad}"))).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let resp =
        call_service(&app, post("/train?algorithm=hybrid&factors=16&iterations=8&alpha=10&regularization=0.1")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json(&read_body(resp).await)["algorithm"]["kind"], "hybrid");
    let live = e.recommender().current().unwrap();
    let shopgraph::cf::Model::Hybrid(h) = &live.trained.model else { panic!("not the hybrid") };
    assert!(h.features.names.iter().any(|n| n.starts_with("category=")), "{:?}", &h.features.names[..5]);
    let cold: Vec<usize> = (0..live.trained.items.len())
        .filter(|&i| live.trained.popularity[i] == 0.0 && h.features.items.get(i).is_some_and(|l| !l.is_empty()))
        .collect();
    assert!(!cold.is_empty(), "the fixture should have catalogue items nobody touched");
    let item = live.trained.items[cold[0]].clone();
    assert!(h.als.item(cold[0]).iter().any(|x| *x != 0.0), "untouched item {item} was not placed");
    let (s, b) = get!(app, format!("/explain?user=sim-0002&item={item}"));
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v = json(&b);
    let score = v["score"].as_f64().unwrap();
    let parts = v["features"]["parts"].as_array().unwrap();
    assert!(!parts.is_empty());
    assert_eq!(v["features"]["shoppers"].as_f64(), Some(0.0));
    let total: f64 = parts.iter().map(|p| p["part"].as_f64().unwrap()).sum();
    if h.features.items[cold[0]].len() <= 10 {
        assert!((total - score).abs() < 1e-3 * score.abs().max(1.0), "feature parts {total} vs score {score}");
    }
    for p in parts {
        let f = p["feature"].as_str().unwrap();
        if let Some(c) = f.strip_prefix("category=") {
            let p = format!("https://w3id.org/shopgraph/id/product/{item}");
            let ask = format!(
                "{SG}PREFIX skos: <http://www.w3.org/2004/02/skos/core#> ASK {{ {{ <{p}> sg:category <{c}> }} UNION {{ <{p}> sg:category ?c . GRAPH ?g {{ ?c skos:broader+ <{c}> }} }} }}"
            );
            assert!(asks(&e, &ask), "{ask}");
        }
    }
    let (s, b) = get!(app, format!("/explain?user=sim-0002&item={item}&format=turtle"));
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8(b).unwrap().contains("sg:featureContribution"));
    // Served through SPARQL like any model.
    let (s, b) = get!(app, "/recommend?user=sim-0002&k=5");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(items(&json(&b)).len(), 5);
}

/// Who would like this: `/audience` ranks shoppers who do not have the product yet by the same
/// score `/recommend` uses, and its `pseudonym:<key>` ids work as `user` elsewhere.
#[actix_web::test]
async fn audience_ranks_shoppers_without_the_item_by_their_score_and_its_ids_work_as_users() {
    let e = trained_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let (_, b) = get!(app, "/recommend?user=sim-0002&k=1");
    let item = items(&json(&b))[0].clone();
    let (s, b) = get!(app, format!("/audience?item={item}&k=5"));
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v = json(&b);
    let users = v["users"].as_array().unwrap();
    assert_eq!(users.len(), 5);
    let scores: Vec<f64> = users.iter().map(|u| u["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let live = e.recommender().current().unwrap();
    for u in users {
        let id = u["user"].as_str().unwrap();
        let key = id.strip_prefix("pseudonym:").expect("pseudonymous id");
        assert!(!live.history(key).items.contains(&live.item_index(&item).unwrap()), "{id} already has {item}");
        // The same shopper through the pseudonymous id: their score of the item is the same.
        assert_eq!(e.user_key(id), key);
        let (s, b) = get!(app, format!("/explain?user={id}&item={item}"));
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let score = json(&b)["score"].as_f64().unwrap();
        assert!((score - u["score"].as_f64().unwrap()).abs() < 1e-4, "{score} vs {u}");
    }
    for bad in [format!("item={item}&k=0"), format!("item={item}&k=5000"), "item=no-such-product&k=5".into()] {
        let (s, _) = get!(app, format!("/audience?{bad}"));
        assert!(s.is_client_error(), "{bad}: {s}");
    }
    // Only a well-formed key is taken as a pseudonym; anything else is a raw id as before.
    assert_ne!(e.user_key("pseudonym:not-a-key"), "not-a-key");
}
