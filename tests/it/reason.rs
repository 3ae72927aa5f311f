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
