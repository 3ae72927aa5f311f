//! Product search: the index follows every kind of graph write (and catches up after a crash
//! between the graph's commit and its own), queries are read against the graph's vocabulary,
//! facet counts are exact, SERVICE sg:search answers what /search answers, and bad input is a
//! 4xx or an empty answer, never a 500.

use crate::common::{SG, config, count, engine_with, loaded_engine, select};
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::engine::Engine;
use shopgraph::http::{AppState, app};
use shopgraph::search::{Kind, Mode, SearchRequest};

fn ids(e: &Engine, q: &str) -> Vec<String> {
    let req = SearchRequest { q: q.into(), k: 20, mode: Mode::Keyword, ..Default::default() };
    e.search(&req, None).unwrap().results.into_iter().map(|h| h.id).collect()
}

#[test]
fn index_follows_inserts_updates_deletes_and_replaced_graphs() {
    let e = loaded_engine();
    assert_eq!(ids(&e, "tiered midi dress").first().map(String::as_str), Some("1077"));
    let p = e.minter().product("poncho1");
    // Added by an update.
    e.update(&format!(
        "{SG}INSERT DATA {{ {p} a sg:Product ; sg:productId \"poncho1\" ; sg:name \"Quiltora cashmere poncho\" ;
           sg:category <https://w3id.org/shopgraph/taxonomy/google/203> . }}"
    ))
    .unwrap();
    assert_eq!(ids(&e, "quiltora").first().map(String::as_str), Some("poncho1"));
    // A review's words reach its product.
    e.update(&format!(
        "{SG}INSERT DATA {{ <http://shop.example/rv9> a sg:Review ; sg:reviewOf {p} ; sg:text \"The zebrastripe lining is lovely\" ; sg:rating 5 . }}"
    ))
    .unwrap();
    assert_eq!(ids(&e, "zebrastripe"), vec!["poncho1"]);
    // Renamed: the old name is gone, the new one found.
    e.update(&format!(
        "{SG}DELETE DATA {{ {p} sg:name \"Quiltora cashmere poncho\" }} ; INSERT DATA {{ {p} sg:name \"Belvane wool cape\" }}"
    ))
    .unwrap();
    assert!(!ids(&e, "quiltora").contains(&"poncho1".to_owned()));
    assert_eq!(ids(&e, "belvane").first().map(String::as_str), Some("poncho1"));
    // Deleted with a pattern update (the store cannot list what it removed).
    e.update(&format!("{SG}DELETE WHERE {{ {p} ?x ?y }}")).unwrap();
    assert!(!ids(&e, "belvane").contains(&"poncho1".to_owned()));
    assert!(ids(&e, "zebrastripe").is_empty(), "the review is left, its product is gone");
    assert_eq!(e.search_service().unwrap().drift().unwrap(), (0, 0));
    // A cleared graph (the store reports the graph, not the quads).
    e.update("CLEAR DEFAULT").unwrap();
    assert!(ids(&e, "tiered midi dress").is_empty());
    assert_eq!(e.search_service().unwrap().catalogue().len(), 0);
}

/// Every event re-states its product's type and id; the store reported those as added, so
/// each event re-indexed its product (a tantivy segment and a catalogue copy per event: the
/// soak's search index committed about once a second).
#[test]
fn an_event_or_a_restated_fact_leaves_the_search_index_alone() {
    let e = loaded_engine();
    assert_eq!(ids(&e, "tiered midi dress").first().map(String::as_str), Some("1077"));
    let search = e.search_service().unwrap();
    let before = search.index_commits();
    e.post_events(br#"[{"user": "shopper-1", "item": "1077", "event": "view"}]"#).unwrap();
    let p = e.minter().product("1077");
    e.update(&format!("{SG}INSERT DATA {{ {p} a sg:Product ; sg:productId \"1077\" }}")).unwrap();
    assert_eq!(search.index_commits(), before, "nothing a search reads changed");
    e.update(&format!("{SG}INSERT DATA {{ {p} sg:description \"Zorvale weave\" }}")).unwrap();
    assert_eq!(search.index_commits(), before + 1, "a new description is indexed");
    assert_eq!(ids(&e, "zorvale"), vec!["1077"]);
    // Deleting what is not there changes nothing either.
    e.update(&format!("{SG}DELETE DATA {{ {p} sg:description \"Never its description\" }}")).unwrap();
    assert_eq!(search.index_commits(), before + 1);
}

#[test]
fn index_catches_up_after_a_crash_between_graph_and_index_commits() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shopgraph::config::Config { memory: false, data: dir.path().to_path_buf(), ..config() };
    let e = Engine::open(cfg.clone()).unwrap();
    crate::common::load(&e, "products.jsonl");
    let p = e.minter().product("847");
    assert_eq!(ids(&e, "sleeveless"), vec!["847"]);
    drop(e);
    assert!(!dir.path().join("search/dirty").exists(), "a clean stop clears the mark");
    // A session that never searches nor writes products (`shopgraph query`) leaves it clean.
    let e = Engine::open(cfg.clone()).unwrap();
    assert!(dir.path().join("search/dirty").exists(), "the mark is set while open");
    drop(e);
    assert!(!dir.path().join("search/dirty").exists(), "an untouched session clears the mark");
    // What a crash leaves: the graph committed, the index did not, the mark still there.
    {
        let store = shopgraph::store::Store::open(&dir.path().join("store")).unwrap();
        store
            .update(
                &format!(
                    "{SG}DELETE {{ {p} sg:name ?n }} INSERT {{ {p} sg:name \"Tie-front halter blouse\" }} WHERE {{ {p} sg:name ?n }} ;
                     INSERT DATA {{ <{base}product/new9> a sg:Product ; sg:productId \"new9\" ; sg:name \"Ribbed turtleneck\" }}",
                    base = shopgraph::ontology::vocab::DEFAULT_BASE
                ),
                &Default::default(),
                std::time::Duration::from_secs(30),
            )
            .unwrap();
    }
    std::fs::write(dir.path().join("search/dirty"), b"").unwrap();
    let e = Engine::open(cfg).unwrap();
    assert_eq!(ids(&e, "halter"), vec!["847"]);
    assert!(ids(&e, "sleeveless").is_empty());
    assert_eq!(ids(&e, "turtleneck"), vec!["new9"]);
}

#[test]
fn queries_are_read_against_the_graph_vocabulary() {
    let e = loaded_engine();
    let tax = |id: &str| format!("https://w3id.org/shopgraph/taxonomy/google/{id}");
    // (query, expected concepts (kind, label), price (min, max), keywords)
    type Range = Option<(Option<f64>, Option<f64>)>;
    type Case<'a> = (&'a str, Vec<(Kind, &'a str)>, Range, &'a str);
    let cases: Vec<Case> = vec![
        ("dresses under $100", vec![(Kind::Category, "Dresses")], Some((None, Some(100.0))), "dresses"),
        (
            "coastline shirt",
            vec![(Kind::Brand, "Coastline"), (Kind::Category, "Shirts & Tops")],
            None,
            "coastline shirt",
        ),
        ("grey pants", vec![(Kind::Attribute, "grey"), (Kind::Category, "Pants")], None, "grey pants"),
        (
            "top that is not see-through",
            vec![(Kind::Category, "Shirts & Tops"), (Kind::Aspect, "fabric")],
            None,
            "top that is not see-through",
        ),
        ("true to size jeans", vec![(Kind::Aspect, "size")], None, "true to size jeans"),
        ("dresss", vec![(Kind::Category, "Dresses")], None, "dress"),
        ("size 10 pants", vec![(Kind::Aspect, "size"), (Kind::Category, "Pants")], None, "size 10 pants"),
        ("pants $20-$40", vec![(Kind::Category, "Pants")], Some((Some(20.0), Some(40.0))), "pants"),
    ];
    for (q, want, price, keywords) in cases {
        let i = e.search_service().unwrap().interpret(q);
        let got: Vec<(Kind, &str)> = i.matched.iter().map(|m| (m.kind, m.label.as_str())).collect();
        for w in &want {
            assert!(got.contains(w), "{q}: {w:?} not in {got:?}");
        }
        assert_eq!(got.len(), want.len(), "{q}: {got:?}");
        assert_eq!(i.price.map(|p| (p.min, p.max)), price, "{q}");
        assert_eq!(i.keywords, keywords, "{q}");
    }
    let i = e.search_service().unwrap().interpret("not see-through");
    assert!(i.matched[0].negated);
    let i = e.search_service().unwrap().interpret("grey pants");
    assert!(i.synonyms.contains(&"gray".to_owned()), "{:?}", i.synonyms);
    // A named category filters, with its descendants.
    let r = e.search(&SearchRequest { q: "dresses".into(), k: 50, ..Default::default() }, None).unwrap();
    let in_dresses = count(
        &e,
        &format!(
            "{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p a sg:Product ; sg:category ?c . GRAPH <https://w3id.org/shopgraph/graph/taxonomy> {{ ?c <http://www.w3.org/2004/02/skos/core#broader>* <{}> }} }}",
            tax("2271")
        ),
    );
    assert!(r.interpretation.notes.iter().any(|n| n.contains("Dresses ranked first")), "{:?}", r.interpretation);
    let dresses: Vec<&str> = r.results.iter().take(in_dresses).map(|h| h.id.as_str()).collect();
    let all: Vec<String> = select(
        &e,
        &format!("{SG}SELECT ?id {{ ?p a sg:Product ; sg:productId ?id ; sg:category ?c . GRAPH <https://w3id.org/shopgraph/graph/taxonomy> {{ ?c <http://www.w3.org/2004/02/skos/core#broader>* <{}> }} }}", tax("2271")),
    )
    .into_iter()
    .map(|r| r["id"].clone())
    .collect();
    assert!(in_dresses > 0 && dresses.iter().all(|d| all.iter().any(|a| a == d)), "{dresses:?} {all:?}");
    // The other matches stay, after them.
    assert!(r.total >= in_dresses);
}

#[test]
fn facet_counts_equal_sparql_counts_and_the_filters_they_stand_for() {
    let e = loaded_engine();
    let clothing = "https://w3id.org/shopgraph/taxonomy/google/1604";
    let browse = SearchRequest { k: 100, categories: vec![clothing.into()], facets: true, ..Default::default() };
    let r = e.search(&browse, None).unwrap();
    let f = r.facets.clone().unwrap();
    let under = |c: &str| {
        count(
            &e,
            &format!(
                "{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p a sg:Product ; sg:category ?c . GRAPH <https://w3id.org/shopgraph/graph/taxonomy> {{ ?c <http://www.w3.org/2004/02/skos/core#broader>* <{c}> }} }}"
            ),
        )
    };
    assert_eq!(r.total, under(clothing));
    assert!(f.category.len() >= 3, "{:?}", f.category);
    for c in &f.category {
        assert_eq!(c.count, under(&c.value), "category {}", c.label);
        let narrowed = e.search(&SearchRequest { categories: vec![c.value.clone()], ..browse.clone() }, None).unwrap();
        assert_eq!(narrowed.total, c.count, "filter {}", c.label);
    }
    assert!(!f.brand.is_empty());
    for b in &f.brand {
        let n = count(
            &e,
            &format!(
                "{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p a sg:Product ; sg:brand <{}> ; sg:category ?c . GRAPH <https://w3id.org/shopgraph/graph/taxonomy> {{ ?c <http://www.w3.org/2004/02/skos/core#broader>* <{clothing}> }} }}",
                b.value
            ),
        );
        assert_eq!(b.count, n, "brand {}", b.label);
    }
    for p in &f.price {
        let narrowed = e.search(&SearchRequest { min_price: p.min, max_price: p.max, ..browse.clone() }, None).unwrap();
        assert_eq!(narrowed.total, p.count, "price band {}", p.label);
    }
    for rt in &f.rating {
        let narrowed = e.search(&SearchRequest { min_rating: rt.min, ..browse.clone() }, None).unwrap();
        assert_eq!(narrowed.total, rt.count, "rating {}", rt.label);
    }
}

#[actix_web::test]
async fn service_search_answers_what_search_answers() {
    let e = loaded_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let res = call_service(&app, TestRequest::get().uri("/search?q=dress&k=5&mode=full").to_request()).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&read_body(res).await).unwrap();
    let http: Vec<String> =
        body["results"].as_array().unwrap().iter().map(|h| h["item"].as_str().unwrap().to_owned()).collect();
    assert!(!http.is_empty());
    let rows = select(
        &e,
        &format!(
            "{SG}SELECT ?p ?r WHERE {{ SERVICE sg:search {{ ?p sg:matches \"dress\" ; sg:rank ?r . sg:request sg:k 5 }} }} ORDER BY ?r"
        ),
    );
    let sparql: Vec<String> = rows.iter().map(|r| r["p"].clone()).collect();
    assert_eq!(sparql, http);
    // It joins the rest of a query.
    let rows = select(
        &e,
        &format!(
            "{SG}SELECT ?p ?name WHERE {{ SERVICE sg:search {{ ?p sg:matches \"dress\" . sg:request sg:k 5 }} ?p sg:name ?name }}"
        ),
    );
    assert!(rows.iter().any(|r| r["name"] == "Tiered midi dress"), "{rows:?}");
}

#[actix_web::test]
async fn bad_search_input_is_a_4xx_or_empty_never_a_500() {
    let app = init_service(app(AppState::new(loaded_engine()))).await;
    let long = "a".repeat(10_000);
    let cases: Vec<(String, u16)> = vec![
        ("/search".into(), 400),
        ("/search?q=".into(), 400),
        ("/search?q=%20%20".into(), 400),
        (format!("/search?q={long}"), 400),
        ("/search?q=the%20of%20and".into(), 200),
        ("/search?q=%F0%9F%91%97%20%E3%83%89%E3%83%AC%E3%82%B9%20%E2%80%AE%CC%81".into(), 200),
        ("/search?q=dress&offset=-1".into(), 400),
        ("/search?q=dress&k=0".into(), 400),
        ("/search?q=dress&k=1000".into(), 400),
        ("/search?q=dress&mode=magic".into(), 400),
        ("/search?q=dress&min_price=NaN".into(), 400),
        ("/search?q=dress&min_price=-5".into(), 400),
        ("/search?q=dress&personal_weight=2".into(), 400),
        ("/search?q=dress&colour=red".into(), 400),
        ("/search?q=%22unbalanced%20(quote%20AND%20OR%20NOT%20*".into(), 200),
        ("/search?category=2271".into(), 200),
        ("/suggest?q=dre".into(), 200),
        ("/suggest?q=dre&k=0".into(), 400),
        (format!("/suggest?q={long}"), 400),
    ];
    for (uri, want) in cases {
        let res = call_service(&app, TestRequest::get().uri(&uri).to_request()).await;
        let status = res.status().as_u16();
        let body = read_body(res).await;
        assert_eq!(status, want, "{}: {}", &uri[..uri.len().min(80)], String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if want == 400 {
            assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        }
    }
    let res = call_service(&app, TestRequest::get().uri("/search?q=the%20of%20and").to_request()).await;
    let v: serde_json::Value = serde_json::from_slice(&read_body(res).await).unwrap();
    assert_eq!(v["total"], 0);
    let res = call_service(&app, TestRequest::get().uri("/suggest?q=dre").to_request()).await;
    let v: serde_json::Value = serde_json::from_slice(&read_body(res).await).unwrap();
    assert!(v["suggestions"].as_array().unwrap().iter().any(|s| s["label"] == "Dresses"), "{v}");
}

#[test]
fn catalogue_without_products_answers_empty() {
    let e = engine_with(config());
    let r = e.search(&SearchRequest { q: "dress".into(), k: 10, ..Default::default() }, None).unwrap();
    assert_eq!(r.total, 0);
}

#[actix_web::test]
async fn search_events_feed_the_click_through_report_and_the_recommender() {
    let e = loaded_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let post = |body: &'static str| TestRequest::post().uri("/search/events").set_payload(body).to_request();
    let interactions =
        "PREFIX sg: <https://w3id.org/shopgraph/ontology#> SELECT (COUNT(*) AS ?n) { ?i a sg:Interaction }";
    let before = count(&e, interactions);
    let body = r#"{"user": "shopper-42", "query": "Midi  Dress", "shown": ["1077", "847"], "clicked": "1077"}
{"query": "midi dress", "shown": ["1077", "847"], "clicked": "847"}
{"query": "midi dress", "shown": ["1077", "847"]}
{"query": "zebra cape", "shown": []}"#;
    let res = call_service(&app, post(body)).await;
    assert_eq!(res.status(), 200, "{}", String::from_utf8_lossy(&read_body(res).await));
    // Only the click with a shopper becomes an interaction.
    assert_eq!(count(&e, interactions), before + 1);
    let res = call_service(&app, TestRequest::get().uri("/search/report").to_request()).await;
    let v: serde_json::Value = serde_json::from_slice(&read_body(res).await).unwrap();
    let q = &v["queries"][0];
    assert_eq!(
        (q["query"].as_str(), q["searches"].as_u64(), q["clicks"].as_u64()),
        (Some("midi dress"), Some(3), Some(2))
    );
    assert!((q["ctr"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(q["mean_click_position"].as_f64(), Some(1.5));
    assert_eq!(v["queries"][1]["zero_results"], 1);
    // A click outside the shown results, or on an unknown product, stores nothing.
    let logged = "PREFIX sg: <https://w3id.org/shopgraph/ontology#> SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s a sg:SearchEvent } }";
    let n = count(&e, logged);
    for (body, status) in [
        (r#"{"query": "dress", "shown": ["1077"], "clicked": "847"}"#, 400),
        (r#"{"user": "u", "query": "dress", "shown": ["nope"], "clicked": "nope"}"#, 404),
        (r#"{"query": "", "shown": []}"#, 400),
        (r#"{"query": "dress", "shown": [], "extra": 1}"#, 400),
    ] {
        let res = call_service(&app, post(body)).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
    }
    assert_eq!(count(&e, logged), n);
}
