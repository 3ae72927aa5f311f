//! The living ontology: the installed built-in is version 1; change sets apply as new versions
//! after checks (bad ones change nothing), diff by kind of term, export, and feed extraction's
//! lexicon and validation at once; a newer built-in merges with an engineer's edits kept and
//! conflicts reported.

use crate::common::{empty_engine, loaded_engine};
use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use shopgraph::engine::{EngineError, Patch};
use shopgraph::http::{AppState, app};
use shopgraph::store::model::{GraphName, Literal, NamedNode, Quad, Term};

const SG: &str = "https://w3id.org/shopgraph/ontology#";
const ONTOLOGY: &str = "https://w3id.org/shopgraph/graph/ontology";
const SHAPES: &str = "https://w3id.org/shopgraph/graph/shapes";
const PREFIXES: &str =
    "@prefix sg: <https://w3id.org/shopgraph/ontology#> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n";
const UPDATE_PREFIXES: &str = "PREFIX sg: <https://w3id.org/shopgraph/ontology#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX sh: <http://www.w3.org/ns/shacl#> PREFIX sgs: <https://w3id.org/shopgraph/shapes#> PREFIX owl: <http://www.w3.org/2002/07/owl#>\n";

/// An engineer adds a review aspect and a synonym of an existing one.
const POCKETS: &str = "sg:aspect-pockets a sg:Aspect ; skos:inScheme sg:aspects ; rdfs:label \"pockets\"@en ;
  skos:prefLabel \"pockets\"@en ; skos:altLabel \"pocket\"@en .
sg:aspect-fit skos:altLabel \"sits well\"@en .";

fn turtle(body: &str) -> Patch {
    Patch::Turtle(format!("{PREFIXES}{body}"))
}

#[test]
fn change_sets_become_versions_that_diff_export_and_take_effect() {
    let e = empty_engine();
    let info = e.ontology_versions().unwrap();
    assert_eq!(info.history.len(), 1);
    let v1 = &info.history[0];
    assert_eq!((v1.number, v1.source.as_str(), v1.label.as_str()), (1, "built-in", "1.6.0"));
    assert!(!info.unversioned_changes);

    let v2 = e.ontology_apply(&turtle(POCKETS), "curator", "pockets aspect").unwrap();
    assert_eq!((v2.number, v2.source.as_str(), v2.by.as_str()), (2, "patch", "curator"));
    assert!(v2.note.starts_with("pockets aspect"), "{}", v2.note);
    let d = e.ontology_diff("1", "2").unwrap();
    assert_eq!(d.added.terms, vec![format!("<{SG}aspect-pockets>")]);
    assert!(d.removed.terms.is_empty() && d.removed.classes.is_empty());
    assert_eq!(d.labels.len(), 1, "{:?}", d.labels);
    assert_eq!(
        (d.labels[0].subject.as_str(), d.labels[0].added.as_slice()),
        (format!("<{SG}aspect-fit>").as_str(), ["\"sits well\"@en".to_string()].as_slice())
    );
    assert_eq!(d.triples_added, 6);
    // The lexicon extraction reads has the new aspect and the new synonym: no rebuild.
    let lex = e.lexicon().unwrap();
    assert!(lex.aspects.iter().any(|a| a.label == "pockets" && a.terms.contains(&"pocket".to_string())));
    assert!(lex.aspects.iter().any(|a| a.iri.ends_with("aspect-fit") && a.terms.contains(&"sits well".to_string())));

    // A SPARQL Update patch on the shapes: ratings up to 10 are now allowed.
    let review = "@prefix sg: <https://w3id.org/shopgraph/ontology#> . <http://shop.example/r> a sg:Review ; sg:reviewOf <http://shop.example/p> ; sg:rating 7 .
      <http://shop.example/p> a sg:Product ; sg:productId \"p\" .";
    let quads = shopgraph::store::Store::parse_document(
        review.as_bytes(),
        shopgraph::store::GraphFormat::Turtle,
        GraphName::DefaultGraph,
        None,
    )
    .unwrap();
    assert!(!e.validate_document(&quads).unwrap().conforms);
    let widen = format!(
        "{UPDATE_PREFIXES}DELETE {{ GRAPH <{SHAPES}> {{ ?p sh:maxInclusive 5 }} }} INSERT {{ GRAPH <{SHAPES}> {{ ?p sh:maxInclusive 10 }} }}
         WHERE {{ GRAPH <{SHAPES}> {{ sgs:Review sh:property ?p . ?p sh:path sg:rating ; sh:maxInclusive 5 }} }}"
    );
    let v3 = e.ontology_apply(&Patch::Update(widen), "curator", "").unwrap();
    assert_eq!(v3.number, 3);
    let d = e.ontology_diff("2", "latest").unwrap();
    assert_eq!(d.changed.len(), 1, "{:?}", d.changed);
    assert_eq!(d.changed[0].subject, "<https://w3id.org/shopgraph/shapes#Review>");
    assert!(d.changed[0].added[0].contains("maxInclusive> \"10\""), "{:?}", d.changed[0]);
    assert!(e.validate_document(&quads).unwrap().conforms);

    // Exports: a version as TriG holds exactly its triples; the live graphs are the latest.
    let trig = e.ontology_export("1", shopgraph::store::GraphFormat::TriG, "ontology").unwrap();
    let back = shopgraph::store::Store::parse_dataset_document(&trig, shopgraph::store::GraphFormat::TriG).unwrap();
    assert_eq!(back.len(), v1.triples);
    assert!(!e.ontology_versions().unwrap().unversioned_changes);
    // An edit through the Graph Store is live but not a version until a patch records one.
    e.update(&format!("INSERT DATA {{ GRAPH <{ONTOLOGY}> {{ <{SG}aspect-fit> <http://www.w3.org/2000/01/rdf-schema#comment> \"also: cut\" }} }}"))
        .unwrap();
    assert!(e.ontology_versions().unwrap().unversioned_changes);
    assert_eq!(e.ontology_diff("latest", "current").unwrap().changed.len(), 1);
}

#[test]
fn patches_that_break_the_ontology_change_nothing() {
    let e = empty_engine();
    let before = e.store().len().unwrap();
    let cases: [(&str, Patch, &str); 8] = [
        (
            "subclass cycle",
            turtle("sg:Product rdfs:subClassOf sg:Review . sg:Review rdfs:subClassOf sg:Product ."),
            "cycle in",
        ),
        (
            "dangling class",
            turtle("sg:GiftCard a owl:Class ; rdfs:label \"gift card\" ; rdfs:subClassOf sg:Voucher ."),
            "dangling class",
        ),
        ("unlabelled class", turtle("sg:GiftCard a owl:Class ."), "no rdfs:label"),
        ("unlabelled aspect", turtle("sg:aspect-hood a sg:Aspect ."), "no rdfs:label"),
        (
            "malformed shape",
            Patch::Update(format!(
                "{UPDATE_PREFIXES}INSERT DATA {{ GRAPH <{SHAPES}> {{ sgs:X sh:targetClass sg:Product ; sh:property [ sh:path sg:name ; sh:minCount \"x\" ] }} }}"
            )),
            "non-negative integer",
        ),
        (
            "another graph",
            Patch::Update(format!("{UPDATE_PREFIXES}INSERT DATA {{ GRAPH <http://ex.org/g> {{ sg:a sg:b sg:c }} }}")),
            "may change the ontology",
        ),
        ("no change", turtle("sg:Product a owl:Class ."), "changes nothing"),
        ("not Turtle", turtle("sg:Product a"), "syntax"),
    ];
    for (what, patch, needle) in cases {
        let err = e.ontology_apply(&patch, "curator", "").unwrap_err();
        assert!(matches!(err, EngineError::Input(_) | EngineError::Store(_)), "{what}: {err}");
        assert!(err.to_string().contains(needle), "{what}: {err}");
        assert_eq!(e.store().len().unwrap(), before, "{what} changed the store");
    }
    assert_eq!(e.ontology_versions().unwrap().history.len(), 1);
    assert!(matches!(e.ontology_diff("1", "7"), Err(EngineError::NotFound(_))));
    assert!(matches!(e.ontology_diff("one", "current"), Err(EngineError::Input(_))));
}

fn literal_quad(s: &str, p: &str, o: &str) -> Quad {
    Quad::new(
        NamedNode::new_unchecked(s),
        NamedNode::new_unchecked(p),
        Literal::new_language_tagged_literal_unchecked(o, "en"),
        NamedNode::new_unchecked(ONTOLOGY),
    )
}

/// This binary's built-in ontology as a later release might ship it: a new version label, a
/// new class, a relabelled aspect, and a new comment on the aspect the engineer also edited.
fn newer_built_in() -> Vec<Quad> {
    let comment = "http://www.w3.org/2000/01/rdf-schema#comment";
    let label = "http://www.w3.org/2000/01/rdf-schema#label";
    let mut q: Vec<Quad> = shopgraph::ontology::ontology_quads()
        .unwrap()
        .into_iter()
        .filter(|q| {
            let s = q.subject.to_string();
            !(q.predicate.as_str() == "http://www.w3.org/2002/07/owl#versionInfo"
                || (s == format!("<{SG}aspect-fit>") && q.predicate.as_str() == comment)
                || (s == format!("<{SG}aspect-size>") && q.predicate.as_str() == label))
        })
        .collect();
    q.push(Quad::new(
        NamedNode::new_unchecked("https://w3id.org/shopgraph/ontology"),
        NamedNode::new_unchecked("http://www.w3.org/2002/07/owl#versionInfo"),
        Literal::from("9.9.0"),
        NamedNode::new_unchecked(ONTOLOGY),
    ));
    q.push(literal_quad(&format!("{SG}aspect-fit"), comment, "How the garment sits on the body."));
    q.push(literal_quad(&format!("{SG}aspect-size"), label, "sizing"));
    q.push(Quad::new(
        NamedNode::new_unchecked(format!("{SG}GiftCard")),
        NamedNode::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        NamedNode::new_unchecked("http://www.w3.org/2002/07/owl#Class"),
        NamedNode::new_unchecked(ONTOLOGY),
    ));
    q.push(literal_quad(&format!("{SG}GiftCard"), label, "gift card"));
    q
}

fn values(e: &shopgraph::engine::Engine, s: &str, p: &str) -> Vec<String> {
    let mut v: Vec<String> = e
        .store()
        .graph_quads(&GraphName::NamedNode(NamedNode::new_unchecked(ONTOLOGY)))
        .unwrap()
        .into_iter()
        .filter(|q| q.subject.to_string() == format!("<{s}>") && q.predicate.as_str() == p)
        .map(|q| match q.object {
            Term::Literal(l) => l.value().to_owned(),
            o => o.to_string(),
        })
        .collect();
    v.sort();
    v
}

#[test]
fn an_upgrade_merges_the_new_built_in_and_keeps_the_engineers_edits() {
    let e = loaded_engine();
    let comment = "http://www.w3.org/2000/01/rdf-schema#comment";
    e.ontology_apply(&turtle(POCKETS), "curator", "").unwrap();
    let edit = format!(
        "{UPDATE_PREFIXES}DELETE {{ sg:aspect-fit rdfs:comment ?c }} INSERT {{ sg:aspect-fit rdfs:comment \"Fit, cut and drape.\"@en }} WHERE {{ sg:aspect-fit rdfs:comment ?c }}"
    );
    e.ontology_apply(&Patch::Update(edit), "curator", "").unwrap();
    let data_before = e.store().graph_quads(&GraphName::DefaultGraph).unwrap().len();

    let r = e.upgrade_ontology(newer_built_in()).unwrap();
    assert!(r.base_known);
    assert_eq!((r.from.as_str(), r.to.as_str()), ("1.6.0", "9.9.0"));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    // The engineer's edits survive: the new aspect and its synonym, the synonym on fit.
    assert_eq!(values(&e, &format!("{SG}aspect-pockets"), "http://www.w3.org/2004/02/skos/core#altLabel"), ["pocket"]);
    assert!(
        values(&e, &format!("{SG}aspect-fit"), "http://www.w3.org/2004/02/skos/core#altLabel")
            .contains(&"sits well".into())
    );
    assert!(r.edits_kept >= 2, "{r:?}");
    // Both changed fit's comment: the engineer's is kept and the conflict reported.
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    assert_eq!(r.conflicts[0].subject, format!("<{SG}aspect-fit>"));
    assert_eq!(r.conflicts[0].built_in, ["\"How the garment sits on the body.\"@en"]);
    assert_eq!(values(&e, &format!("{SG}aspect-fit"), comment), ["Fit, cut and drape."]);
    // What only the new built-in changed arrives.
    assert_eq!(values(&e, &format!("{SG}aspect-size"), "http://www.w3.org/2000/01/rdf-schema#label"), ["sizing"]);
    assert_eq!(values(&e, &format!("{SG}GiftCard"), "http://www.w3.org/2000/01/rdf-schema#label"), ["gift card"]);
    assert_eq!(
        values(&e, "https://w3id.org/shopgraph/ontology", "http://www.w3.org/2002/07/owl#versionInfo"),
        ["9.9.0"]
    );
    // Recorded as a version whose note names the conflict; the shop's data is untouched.
    let info = e.ontology_versions().unwrap();
    let last = info.current.unwrap();
    assert_eq!((last.number, last.source.as_str()), (r.version, "upgrade"));
    assert!(last.note.contains("1 conflict") && last.note.contains("aspect-fit"), "{}", last.note);
    assert_eq!(e.store().graph_quads(&GraphName::DefaultGraph).unwrap().len(), data_before);
    // This binary (1.6.0) opening a store a newer release (9.9.0) upgraded leaves it alone.
    assert!(!e.ensure_ontology().unwrap());
    assert_eq!(
        values(&e, "https://w3id.org/shopgraph/ontology", "http://www.w3.org/2002/07/owl#versionInfo"),
        ["9.9.0"]
    );
    // Upgrading again to the same built-in changes nothing and reports no conflict.
    let again = e.upgrade_ontology(newer_built_in()).unwrap();
    assert!(again.conflicts.is_empty(), "{again:?}");
    assert_eq!(values(&e, &format!("{SG}aspect-fit"), comment), ["Fit, cut and drape."]);
}

#[test]
fn a_store_without_a_record_of_its_built_in_keeps_its_graphs_as_a_version() {
    let e = empty_engine();
    e.ontology_apply(&turtle(POCKETS), "curator", "").unwrap();
    // As a store made before versions were recorded: no built-in snapshot, no history.
    for g in e.store().graph_names().unwrap() {
        if g.starts_with("https://w3id.org/shopgraph/graph/ontology-history") {
            e.store().delete_graph(&GraphName::NamedNode(NamedNode::new_unchecked(&g))).unwrap();
        }
    }
    let r = e.upgrade_ontology(newer_built_in()).unwrap();
    assert!(!r.base_known);
    let info = e.ontology_versions().unwrap();
    let kept = info.history.iter().find(|v| v.source == "before-upgrade").expect("the old graphs kept");
    let d = e.ontology_diff(&kept.number.to_string(), "current").unwrap();
    assert_eq!(d.removed.terms, vec![format!("<{SG}aspect-pockets>")], "the edit is recoverable from the diff");
}

#[actix_web::test]
async fn ontology_over_http() {
    let e = empty_engine();
    let app = init_service(app(AppState::new(e.clone()))).await;
    let call = |req: TestRequest| {
        let app = &app;
        async move {
            let resp = call_service(app, req.to_request()).await;
            let s = resp.status();
            (s, read_body(resp).await.to_vec())
        }
    };
    let (s, b) = call(TestRequest::get().uri("/ontology")).await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["current"]["number"], 1);
    let (s, b) = call(
        TestRequest::post()
            .uri("/ontology?note=pockets")
            .insert_header(("content-type", "text/turtle"))
            .set_payload(format!("{PREFIXES}{POCKETS}")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let (s, b) = call(TestRequest::get().uri("/ontology/diff?from=1&to=2")).await;
    assert_eq!(s, StatusCode::OK);
    let d: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(d["added"]["terms"][0], format!("<{SG}aspect-pockets>"));
    let (s, b) = call(TestRequest::get().uri("/ontology?version=2").insert_header(("accept", "text/turtle"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("aspect-pockets"));
    for (req, want) in [
        (TestRequest::get().uri("/ontology/diff"), StatusCode::BAD_REQUEST),
        (TestRequest::get().uri("/ontology/diff?from=9"), StatusCode::NOT_FOUND),
        (TestRequest::get().uri("/ontology?version=2"), StatusCode::BAD_REQUEST),
        (
            TestRequest::post().uri("/ontology").insert_header(("content-type", "text/turtle")).set_payload(format!(
                "{PREFIXES}sg:Product rdfs:subClassOf sg:Review . sg:Review rdfs:subClassOf sg:Product ."
            )),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post().uri("/ontology").insert_header(("content-type", "text/plain")).set_payload("x"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let (s, b) = call(req).await;
        assert_eq!(s, want, "{}", String::from_utf8_lossy(&b));
    }
    assert_eq!(e.ontology_versions().unwrap().history.len(), 2);
}
