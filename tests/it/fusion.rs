//! Knowledge fusion: duplicate brands and products (same GTIN; same normalised name and brand)
//! are proposed in the review queue, once each; accepted, queries with inferences, the
//! recommender and explanations answer them as one entity; rejected, they are not proposed
//! again.

use crate::common::{SG, loaded_engine};
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::engine::QueueFilter;
use shopgraph::http::{AppState, app};
use shopgraph::store::model::{NamedNode, Term};

fn count_with(e: &shopgraph::engine::Engine, q: &str, infer: bool) -> usize {
    let opts = shopgraph::store::QueryOptions { infer, ..e.query_options() };
    let fmts = shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None };
    let out = e.query(q, &opts, fmts).unwrap();
    crate::common::parse_json_results(&out.body)[0]["n"].parse().unwrap()
}

#[actix_web::test]
async fn duplicates_are_proposed_once_and_accepted_ones_answer_as_one() {
    let e = loaded_engine();
    let m = e.minter().clone();
    let (a, b, c) = (m.product("dupA"), m.product("dupB"), m.product("dupC"));
    let (b1, b2) = (m.brand("Northwind Outfitters"), m.brand("NORTHWIND outfitters, Inc."));
    // Two sources describe one shirt: another brand spelling, another name spelling; a third
    // record shares the first one's GTIN (GTIN-12 against GTIN-13 with a leading zero).
    e.update(&format!(
        "{SG}INSERT DATA {{
           {b1} a sg:Brand ; sg:name \"Northwind Outfitters\" . {b2} a sg:Brand ; sg:name \"NORTHWIND outfitters, Inc.\" .
           {a} a sg:Product ; sg:productId \"dupA\" ; sg:name \"Striped Linen Shirt\" ; sg:brand {b1} ; sg:gtin \"0012345678905\" .
           {b} a sg:Product ; sg:productId \"dupB\" ; sg:name \"striped linen shirt!\" ; sg:brand {b2} .
           {c} a sg:Product ; sg:productId \"dupC\" ; sg:name \"Linen shirt, striped\" ; sg:gtin \"012345678905\" .
           <http://shop.example/r1> a sg:Review ; sg:reviewOf {b} ; sg:rating 5 .
         }}"
    ))
    .unwrap();
    e.reason().unwrap();

    let r = e.propose_duplicates().unwrap();
    assert!(r.brands >= 1 && r.products >= 2, "{r:?}");
    let items = e.queue_list(&QueueFilter { kind: Some("same_as".into()), ..Default::default() }).unwrap();
    let pair = |x: &NamedNode, y: &NamedNode| {
        items
            .iter()
            .find(|i| {
                let s = (i.source.as_str(), i.same_as.as_deref().unwrap_or(""));
                s == (x.as_str(), y.as_str()) || s == (y.as_str(), x.as_str())
            })
            .cloned()
            .unwrap_or_else(|| panic!("no candidate {x} = {y} in {items:#?}"))
    };
    let brands = pair(&b1, &b2);
    let by_name = pair(&a, &b);
    let by_gtin = pair(&a, &c);
    assert!(by_gtin.reason.contains("GTIN 00012345678905"), "{by_gtin:?}");
    assert!(by_name.reason.contains("same name \"striped linen shirt\""), "{by_name:?}");
    assert!(brands.reason.contains("northwind outfitters"), "{brands:?}");
    assert!(!items.iter().any(|i| {
        let s = (i.source.as_str(), i.same_as.as_deref().unwrap_or(""));
        s == (b.as_str(), c.as_str()) || s == (c.as_str(), b.as_str())
    }));
    // Found again, proposed once.
    let again = e.propose_duplicates().unwrap();
    assert_eq!((again.brands, again.products), (0, 0), "{again:?}");
    assert_eq!(again.known, r.brands + r.products);

    // Accept the brand and the shirt by name; reject the GTIN match (a data-entry error).
    e.queue_accept(&brands.id, &Default::default(), "curator").unwrap();
    e.queue_accept(&by_name.id, &Default::default(), "curator").unwrap();
    e.queue_reject(&by_gtin.id, "curator").unwrap();
    let again = e.propose_duplicates().unwrap();
    assert_eq!((again.brands, again.products), (0, 0), "a decision is not proposed again: {again:?}");
    // The sameAs links changed the schema: the inferred graph is rebuilt in the background.
    e.settle();

    // Queries with inferences answer them as one: b's review is a's; the brands share products.
    let reviews_of_a = format!("{SG}SELECT (COUNT(DISTINCT ?r) AS ?n) {{ ?r sg:reviewOf {a} }}");
    assert_eq!(count_with(&e, &reviews_of_a, false), 0);
    assert_eq!(count_with(&e, &reviews_of_a, true), 1);
    let of_b1 = format!("{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:brand {b1} }}");
    assert_eq!(count_with(&e, &of_b1, true), 2);
    let why = e
        .explain_inference(
            &NamedNode::new_unchecked("http://shop.example/r1"),
            &NamedNode::new_unchecked(format!("{}reviewOf", "https://w3id.org/shopgraph/ontology#")),
            &Term::NamedNode(a.clone()),
        )
        .unwrap()
        .expect("an explanation");
    assert_eq!(why.rule, "eq-rep-o (sameAs)");
    assert_eq!(why.premises[1][1], "<http://www.w3.org/2002/07/owl#sameAs>");
    // The rejected GTIN match is not merged.
    let reviews_of_c = format!("{SG}SELECT (COUNT(DISTINCT ?r) AS ?n) {{ ?r sg:reviewOf {c} }}");
    assert_eq!(count_with(&e, &reviews_of_c, true), 0);

    // The recommender sees one item: dupA stands for the group; events on dupB count for it.
    let engine = e.clone();
    engine
        .post_events(br#"[{"user": "shopper-1", "item": "dupB", "event": "purchase"}, {"user": "shopper-2", "item": "dupA", "event": "view"}]"#)
        .unwrap();
    let ds = e.interaction_dataset().unwrap();
    assert!(ds.items.iter().any(|i| i == "dupA") && !ds.items.iter().any(|i| i == "dupB"));
    let a_ix = ds.items.iter().position(|i| i == "dupA").unwrap() as u32;
    assert_eq!(ds.events.iter().filter(|ev| ev.item == a_ix).count(), 2);
    e.train(&shopgraph::recommend::Algorithm::Popularity, None, |_, _| {}).unwrap();
    let via_b = e.similar("dupB", 5, &Default::default()).unwrap();
    let via_a = e.similar("dupA", 5, &Default::default()).unwrap();
    assert_eq!(
        via_b.items.iter().map(|s| s.item.clone()).collect::<Vec<_>>(),
        via_a.items.iter().map(|s| s.item.clone()).collect::<Vec<_>>()
    );

    // Over HTTP: an admin's POST /fuse, the candidates in GET /queue?kind=same_as.
    let app = init_service(app(AppState::new(e.clone()))).await;
    let resp = call_service(&app, TestRequest::post().uri("/fuse").to_request()).await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&read_body(resp).await).unwrap();
    assert_eq!(v["products"], 0);
    let resp = call_service(&app, TestRequest::get().uri("/queue?kind=same_as").to_request()).await;
    let v: serde_json::Value = serde_json::from_slice(&read_body(resp).await).unwrap();
    let listed = v["items"].as_array().unwrap();
    assert!(listed.iter().all(|i| i["kind"] == "same_as" && i["same_as"].is_string()), "{v}");
}

#[test]
fn products_with_near_identical_text_are_proposed_from_their_embeddings() {
    let e = crate::common::empty_engine();
    let m = e.minter().clone();
    let (a, b, c) = (m.product("shirt-1"), m.product("shirt-2"), m.product("coat-1"));
    e.update(&format!(
        "{SG}INSERT DATA {{
           {a} a sg:Product ; sg:productId \"shirt-1\" ; sg:name \"Relaxed linen shirt\" ;
             sg:description \"Relaxed linen shirt with rolled sleeves and a chest pocket.\" .
           {b} a sg:Product ; sg:productId \"shirt-2\" ; sg:name \"Relaxed linen shirt, rolled sleeves\" ;
             sg:description \"Relaxed linen shirt with rolled sleeves and one chest pocket.\" .
           {c} a sg:Product ; sg:productId \"coat-1\" ; sg:name \"Wool winter coat\" ;
             sg:description \"A long double-breasted coat in heavy wool.\" .
         }}"
    ))
    .unwrap();
    let r = e.extract(&Default::default(), &std::sync::atomic::AtomicBool::new(false), |_, _| {}).unwrap();
    assert_eq!(r.docs, 3, "{r:?}");
    let f = e.propose_duplicates().unwrap();
    assert_eq!((f.embedded_compared, f.products), (3, 1), "{f:?}");
    let items = e.queue_list(&QueueFilter { kind: Some("same_as".into()), ..Default::default() }).unwrap();
    assert_eq!(items.len(), 1);
    let i = &items[0];
    let pair = [i.source.as_str(), i.same_as.as_deref().unwrap()];
    assert!(pair.contains(&a.as_str()) && pair.contains(&b.as_str()), "{i:?}");
    assert!(i.reason.starts_with("near-identical text (cosine 0.9"), "{i:?}");
}
