//! Reasoning on the fixture data: equivalent classes, subclass typing, the taxonomy's ancestry
//! through skos:broaderTransitive, queries with and without inferences, and explanations.

use crate::common::*;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::http::{AppState, app};
use shopgraph::store::model::{NamedNode, Term};

const SKOS: &str = "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n";
const APPAREL: &str = "https://w3id.org/shopgraph/taxonomy/google/166";

fn count_with(engine: &shopgraph::engine::Engine, q: &str, infer: bool) -> usize {
    let opts = shopgraph::store::QueryOptions { infer, ..engine.query_options() };
    let fmts = shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None };
    let out = engine.query(q, &opts, fmts).unwrap();
    parse_json_results(&out.body)[0]["n"].parse().unwrap()
}

#[test]
fn inferred_graph_holds_equivalent_classes_subclass_types_and_category_ancestry_with_explanations() {
    assert_eq!(shopgraph::store::INFERRED_GRAPH, shopgraph::ontology::vocab::GRAPH_INFERRED);
    let e = loaded_engine();
    let products = count(&e, &format!("{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p a sg:Product }}"));
    let categorised = count(&e, &format!("{SG}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:category ?c }}"));
    assert!(products > 0 && categorised > 0);
    let as_schema = "SELECT (COUNT(DISTINCT ?p) AS ?n) { ?p a <http://schema.org/Product> }";
    let under_apparel = format!(
        "{SG}{SKOS}SELECT (COUNT(DISTINCT ?p) AS ?n) {{ ?p sg:category ?c . ?c skos:broaderTransitive <{APPAREL}> }}"
    );
    assert_eq!(count_with(&e, as_schema, true), 0, "nothing inferred before reasoning");
    let report = e.reason().unwrap();
    assert!(report.inferred > 0, "{report:?}");
    // A second rebuild gives the same graph.
    assert_eq!(e.reason().unwrap().inferred, report.inferred);
    // sg:Product owl:equivalentClass schema:Product: every product is a schema:Product.
    assert_eq!(count_with(&e, as_schema, true), products);
    assert_eq!(count_with(&e, as_schema, false), 0, "infer=false sees asserted triples only");
    // Every categorised product is found under Apparel & Accessories (166), its root.
    assert_eq!(count_with(&e, &under_apparel, true), categorised);
    assert_eq!(count_with(&e, &under_apparel, false), 0);
    // Explanations.
    let p = select(&e, &format!("{SG}SELECT ?p {{ ?p a sg:Product }} LIMIT 1"))[0]["p"].clone();
    let rdf_type = NamedNode::new("http://www.w3.org/1999/02/22-rdf-syntax-ns#type").unwrap();
    let why = e
        .explain_inference(
            &NamedNode::new(&p).unwrap(),
            &rdf_type,
            &Term::NamedNode(NamedNode::new("http://schema.org/Product").unwrap()),
        )
        .unwrap()
        .expect("an explanation");
    assert_eq!(why.rule, "rdfs9 (subclass)");
    assert!(why.premises[0][2].contains("ontology#Product"), "{why:?}");
    let c = select(&e, &format!("{SG}SELECT ?c {{ <{p}> sg:category ?c }}"))[0]["c"].clone();
    let broader_t = NamedNode::new("http://www.w3.org/2004/02/skos/core#broaderTransitive").unwrap();
    let why = e
        .explain_inference(&NamedNode::new(&c).unwrap(), &broader_t, &Term::NamedNode(NamedNode::new(APPAREL).unwrap()))
        .unwrap()
        .expect("an explanation of the ancestry");
    assert!(why.rule.starts_with("prp-trp") || why.rule.starts_with("rdfs7"), "{why:?}");
    // Something no rule gives.
    let none = e
        .explain_inference(
            &NamedNode::new(&p).unwrap(),
            &rdf_type,
            &Term::NamedNode(NamedNode::new("http://ex.org/Nothing").unwrap()),
        )
        .unwrap();
    assert!(none.is_none());
}

#[actix_web::test]
async fn reasoning_over_http_infer_parameter_and_explain_endpoint() {
    let e = loaded_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let resp = call_service(&app, TestRequest::post().uri("/reason").to_request()).await;
    assert_eq!(resp.status(), 200);
    let q = serde_urlencoded::to_string([(
        "query",
        "SELECT (COUNT(DISTINCT ?p) AS ?n) { ?p a <http://schema.org/Product> }",
    )])
    .unwrap();
    let n = |body: &[u8]| parse_json_results(body)[0]["n"].parse::<usize>().unwrap();
    let with =
        read_body(call_service(&app, TestRequest::get().uri(&format!("/sparql?{q}&infer=true")).to_request()).await)
            .await;
    let without =
        read_body(call_service(&app, TestRequest::get().uri(&format!("/sparql?{q}")).to_request()).await).await;
    assert!(n(&with) > 0);
    assert_eq!(n(&without), 0);
    // Named queries take infer too.
    let resp = call_service(
        &app,
        TestRequest::get().uri("/queries/products-in-category?category=166&infer=true").to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    for (uri, status) in [
        ("/inference/explain?subject=http://ex.org/a&predicate=http://ex.org/b&object=http://ex.org/c", 404),
        ("/inference/explain?subject=nope&predicate=http://ex.org/b&object=http://ex.org/c", 400),
        ("/inference/explain?subject=http://ex.org/a", 400),
    ] {
        let resp = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), status, "{uri}");
    }
}

/// The inferred graph as a set of N-Triples lines.
fn inferred(e: &shopgraph::engine::Engine) -> std::collections::BTreeSet<String> {
    let g = shopgraph::store::model::GraphName::NamedNode(NamedNode::new_unchecked(shopgraph::store::INFERRED_GRAPH));
    e.store().graph_quads(&g).unwrap().iter().map(|q| format!("{} {} {}", q.subject, q.predicate, q.object)).collect()
}

#[test]
fn incremental_updates_match_a_full_rebuild() {
    let e = loaded_engine();
    let built = e.reason().unwrap().inferred;
    let (p, c) = {
        let r = &select(&e, &format!("{SG}SELECT ?p ?c {{ ?p a sg:Product ; sg:category ?c }} LIMIT 1"))[0];
        (r["p"].clone(), r["c"].clone())
    };
    let dresses = "https://w3id.org/shopgraph/taxonomy/google/2271";
    let shirts = "https://w3id.org/shopgraph/taxonomy/google/212";
    let taxonomy = "https://w3id.org/shopgraph/graph/taxonomy";
    // (what, update, followed triple by triple?)
    let steps: [(&str, String, bool); 9] = [
        (
            "a new product in a category",
            format!("{SG}INSERT DATA {{ <http://shop.example/p1> a sg:Product ; sg:category <{dresses}> }}"),
            true,
        ),
        (
            "a review of it",
            format!(
                "{SG}INSERT DATA {{ <http://shop.example/r1> a sg:Review ; sg:reviewOf <http://shop.example/p1> }}"
            ),
            true,
        ),
        ("a second category", format!("{SG}INSERT DATA {{ <http://shop.example/p1> sg:category <{shirts}> }}"), true),
        ("a category link removed", format!("{SG}DELETE DATA {{ <{p}> sg:category <{c}> }}"), true),
        ("a type removed", format!("{SG}DELETE DATA {{ <http://shop.example/p1> a sg:Product }}"), true),
        ("an asserted type that was inferred", format!("INSERT DATA {{ <{p}> a <http://schema.org/Product> }}"), true),
        ("and removed again: still inferred", format!("DELETE DATA {{ <{p}> a <http://schema.org/Product> }}"), true),
        (
            "a taxonomy edge removed",
            format!(
                "DELETE DATA {{ GRAPH <{taxonomy}> {{ <{dresses}> <http://www.w3.org/2004/02/skos/core#broader> <https://w3id.org/shopgraph/taxonomy/google/1604> }} }}"
            ),
            true,
        ),
        (
            "an update with patterns",
            format!("{SG}DELETE {{ ?r sg:reviewOf ?x }} WHERE {{ ?r sg:reviewOf ?x ; sg:rating 1 }}"),
            false,
        ),
    ];
    for (what, update, exact) in steps {
        let before = e.maintenance_counts();
        e.update(&update).unwrap();
        // A rebuild runs in the background: the update answered without waiting for it.
        e.settle();
        let after = e.maintenance_counts();
        let followed = (after.incremental - before.incremental, after.rebuilds - before.rebuilds);
        assert_eq!(followed, if exact { (1, 0) } else { (0, 1) }, "{what}");
        let kept = inferred(&e);
        let rebuilt = e.reason().unwrap();
        let full = inferred(&e);
        assert_eq!(kept.len(), rebuilt.inferred, "{what}");
        let missing: Vec<_> = full.difference(&kept).take(3).collect();
        let extra: Vec<_> = kept.difference(&full).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{what} (exact: {exact}): missing {missing:?}, extra {extra:?}"
        );
    }
    assert_ne!(inferred(&e).len(), built, "the steps changed what is inferred");
    // Maintenance reports what it did: a data write is followed triple by triple (and doing it
    // twice adds nothing), a schema change rebuilds.
    let q = shopgraph::store::model::Quad::new(
        NamedNode::new_unchecked("http://shop.example/p2"),
        NamedNode::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        NamedNode::new_unchecked("https://w3id.org/shopgraph/ontology#Product"),
        shopgraph::store::model::GraphName::DefaultGraph,
    );
    e.store().insert(std::slice::from_ref(&q)).unwrap();
    assert!(inferred(&e).contains(
        "<http://shop.example/p2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Product>"
    ));
    let m = e.maintain(&shopgraph::store::Delta::Exact { added: &[q], removed: &[] }).unwrap().unwrap();
    assert_eq!((m.rebuilt, m.added, m.removed), (false, 0, 0));
    let m = e
        .maintain(&shopgraph::store::Delta::Unknown {
            graphs: Some(vec![shopgraph::store::model::GraphName::NamedNode(NamedNode::new_unchecked(
                "https://w3id.org/shopgraph/graph/ontology",
            ))]),
        })
        .unwrap()
        .unwrap();
    assert!(m.rebuilt);
}

#[test]
fn a_rebuild_cut_off_by_a_stop_is_resumed_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = shopgraph::config::Config { data: dir.path().to_path_buf(), ..crate::common::config() };
    let config = shopgraph::config::Config { memory: false, ..config };
    let product =
        "<http://shop.example/p1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Product>";
    {
        let e = shopgraph::engine::Engine::open(config.clone()).unwrap();
        e.update(&format!("{SG}INSERT DATA {{ <http://shop.example/p1> a sg:Product }}")).unwrap();
        e.reason().unwrap();
        assert!(inferred(&e).contains(product));
        // As a process stopped mid-rebuild leaves it: an inferred triple missing, the mark set.
        let g =
            shopgraph::store::model::GraphName::NamedNode(NamedNode::new_unchecked(shopgraph::store::INFERRED_GRAPH));
        let gone: Vec<_> = e
            .store()
            .graph_quads(&g)
            .unwrap()
            .into_iter()
            .filter(|q| q.object.to_string() == "<http://schema.org/Product>")
            .collect();
        e.store().remove(&gone).unwrap();
        e.update(
            "INSERT DATA { GRAPH <https://w3id.org/shopgraph/graph/meta> { <https://w3id.org/shopgraph/graph/inferred> <https://w3id.org/shopgraph/ontology#stale> true } }",
        )
        .unwrap();
        assert!(!inferred(&e).contains(product));
    }
    let e = shopgraph::engine::Engine::open(config).unwrap();
    e.settle();
    assert!(inferred(&e).contains(product), "the owed rebuild ran");
    assert_eq!(
        count(
            &e,
            "SELECT (COUNT(*) AS ?n) { GRAPH <https://w3id.org/shopgraph/graph/meta> { ?g <https://w3id.org/shopgraph/ontology#stale> ?x } }"
        ),
        0,
        "the mark is cleared"
    );
}
