//! Extraction on real review text: analysis, facts with provenance, idempotent and resumable
//! runs, entity linking, model versions, user models through manifests, and bad input.

use crate::common::{SG, config, count, engine_with, load, loaded_engine, select};
use shopgraph::config::Config;
use shopgraph::engine::ExtractOptions;
use shopgraph::extract::manifest::{self, Manifest};
use shopgraph::extract::model::OnnxModel;
use shopgraph::extract::{ExtractError, Extractor, text};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn small_engine() -> std::sync::Arc<shopgraph::engine::Engine> {
    let e = engine_with(config());
    load(&e, "reviews-sample.csv");
    e
}

fn extract(e: &shopgraph::engine::Engine, limit: Option<usize>) -> shopgraph::engine::ExtractReport {
    e.extract(&ExtractOptions { limit, chunk: 16, ..Default::default() }, &AtomicBool::new(false), |_, _| {}).unwrap()
}

#[test]
fn analyze_finds_sentiment_and_aspects_in_real_reviews() {
    let e = loaded_engine();
    // Rows 3 and 2 of the clothing reviews (5 and 3 stars).
    let texts = vec![
        "I love, love, love this jumpsuit. it's fun, flirty, and fabulous! every time i wear it, i get nothing but great compliments!".to_string(),
        "I had such high hopes for this dress and really wanted it to work for me. i initially ordered the petite small (my usual size) but i found this to be outrageously small. so small in fact that i could not zip it up!".to_string(),
    ];
    let a = e.analyze(&texts).unwrap();
    assert_eq!(a[0].sentiment.label, "positive");
    assert_eq!(a[1].sentiment.label, "negative");
    assert!(a[1].sentences.len() >= 3);
    let size: Vec<_> = a[1].aspects.iter().filter(|m| m.aspect == "size").collect();
    assert!(!size.is_empty(), "{:?}", a[1].aspects);
    for m in &a[1].aspects {
        // Spans are char offsets into the text; the clause contains the aspect words.
        assert!(m.clause.0 <= m.span.0 && m.span.1 <= m.clause.1);
        assert!(m.sentence.0 <= m.clause.0 && m.clause.1 <= m.sentence.1);
        assert!((0.0..=1.0).contains(&m.confidence));
        assert!(["positive", "negative", "neutral"].contains(&m.sentiment.as_str()));
        assert!(!text::slice(&texts[1], m.span).is_empty());
    }
    // Analysis reads sentences; whole-text embeddings are the encoder's job, asked for apart.
    let emb = e.extractor().unwrap().embed_texts(&texts).unwrap();
    assert!(emb.iter().all(|x| x.len() == 384));
}

#[test]
fn extract_writes_facts_with_provenance_and_a_rerun_changes_nothing() {
    let e = small_engine();
    let r = extract(&e, Some(40));
    assert_eq!(r.docs, 40);
    assert!(r.aspect_mentions > 20, "{r:?}");
    let graph = r.graph.clone();
    // Every mention carries run, model versions, confidence and a source span that is exactly
    // the text at those offsets of its review.
    let rows = select(
        &e,
        &format!(
            "{SG}SELECT ?m ?text ?src ?s ?t ?c ?v WHERE {{ GRAPH <{graph}> {{ ?m a sg:AspectMention ; sg:mentionIn ?r ; sg:sourceText ?src ; sg:spanStart ?s ; sg:spanEnd ?t ; sg:confidence ?c ; sg:generatedBy ?run . ?run sg:model ?model . ?model sg:modelVersion ?v }} ?r sg:text ?text }}"
        ),
    );
    assert!(rows.len() >= r.aspect_mentions);
    for row in &rows {
        let (s, t): (usize, usize) = (row["s"].parse().unwrap(), row["t"].parse().unwrap());
        assert_eq!(text::slice(&row["text"], (s, t)), row["src"]);
        let c: f64 = row["c"].parse().unwrap();
        assert!((0.0..=1.0).contains(&c));
    }
    let before = e.store().len().unwrap();
    // Same models, same texts: forget which reviews were read and read them again.
    e.update(&format!("{SG}DELETE WHERE {{ GRAPH <{graph}> {{ ?r sg:extractedBy ?run }} }}")).unwrap();
    let again = extract(&e, Some(40));
    assert_eq!(again.docs, 40);
    assert_eq!(e.store().len().unwrap(), before, "re-extraction duplicated facts");
    // And a run of the remaining reviews resumes after the 40 done ones.
    let rest = extract(&e, None);
    let reviews = count(&e, &format!("{SG}SELECT (COUNT(*) AS ?n) {{ ?r a sg:Review ; sg:text ?t }}"));
    assert_eq!(rest.docs + 40 + rest.skipped.len(), reviews);
    let done =
        count(&e, &format!("{SG}SELECT (COUNT(DISTINCT ?r) AS ?n) {{ GRAPH <{graph}> {{ ?r sg:extractedBy ?run }} }}"));
    assert_eq!(done, reviews - rest.skipped.len());
    // Per-product aspect summaries come from the named query.
    let summary = select(
        &e,
        &format!(
            "{SG}SELECT ?p (COUNT(?m) AS ?n) {{ ?r sg:reviewOf ?p . GRAPH ?g {{ ?m sg:mentionIn ?r }} }} GROUP BY ?p ORDER BY DESC(?n) LIMIT 1"
        ),
    );
    let top = summary[0]["p"].rsplit('/').next().unwrap().to_string();
    let out = e
        .named_query(
            "product-aspects",
            &[("product".to_string(), top)].into(),
            shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None },
        )
        .unwrap();
    let rows = crate::common::parse_json_results(&out.body);
    assert!(!rows.is_empty());
    for r in rows {
        let (p, n, z, all): (usize, usize, usize, usize) = (
            r["positive"].parse().unwrap(),
            r["negative"].parse().unwrap(),
            r["neutral"].parse().unwrap(),
            r["mentions"].parse().unwrap(),
        );
        assert_eq!(p + n + z, all);
    }
}

#[test]
fn interrupted_extract_resumes_to_the_same_graph_as_one_run() {
    let a = small_engine();
    let stop = AtomicBool::new(false);
    // Stop after the first committed chunk, as Ctrl-C would.
    let first = a
        .extract(&ExtractOptions { chunk: 8, limit: Some(64), ..Default::default() }, &stop, |done, _| {
            if done >= 8 {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        })
        .unwrap();
    assert!(first.interrupted && first.docs < 64 && first.docs.is_multiple_of(8), "{first:?}");
    let second = a
        .extract(
            &ExtractOptions { chunk: 8, limit: Some(64 - first.docs), ..Default::default() },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert_eq!(first.docs + second.docs, 64);
    let b = small_engine();
    let one = b
        .extract(
            &ExtractOptions { chunk: 8, limit: Some(64), ..Default::default() },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert_eq!(one.docs, 64);
    let facts = |e: &shopgraph::engine::Engine| {
        let mut v: Vec<String> = select(e, &format!("{SG}SELECT ?s ?p ?o {{ GRAPH <{}> {{ ?s ?p ?o FILTER(?p NOT IN (<http://www.w3.org/ns/prov#startedAtTime>, <http://www.w3.org/ns/prov#endedAtTime>)) }} }}", one.graph))
            .into_iter()
            .map(|r| format!("{} {} {}", r["s"], r["p"], r["o"]))
            .collect();
        v.sort();
        v
    };
    assert_eq!(facts(&a), facts(&b));
}

#[test]
fn product_text_links_onto_existing_values_and_brands_without_twins() {
    let e = engine_with(config());
    load(&e, "products-text.jsonl");
    let brands_before = count(&e, &format!("{SG}SELECT (COUNT(*) AS ?n) {{ ?b a sg:Brand }}"));
    let r = extract(&e, None);
    assert_eq!(r.docs, 2);
    let attrs: Vec<String> = select(
        &e,
        &format!("{SG}SELECT ?v {{ ?p sg:productId \"1077\" . GRAPH ?g {{ ?p sg:attribute ?v }} }} ORDER BY ?v"),
    )
    .into_iter()
    .map(|r| r["v"].clone())
    .collect();
    assert_eq!(
        attrs,
        [
            format!("{}colour-navy", shopgraph::ontology::vocab::SG),
            format!("{}material-linen", shopgraph::ontology::vocab::SG)
        ]
    );
    // Exact brand name: linked to the node the loader made. Misspelt one: a candidate marked for
    // review, and no new brand node.
    let sure = select(
        &e,
        &format!(
            "{SG}SELECT ?b {{ GRAPH ?g {{ ?m sg:about ?p ; sg:mentions ?b }} ?b a sg:Brand ; sg:name \"Retailer House\" }}"
        ),
    );
    assert_eq!(sure.len(), 1);
    let unsure = select(
        &e,
        &format!(
            "{SG}SELECT ?b ?src {{ GRAPH ?g {{ ?m sg:candidate ?b ; sg:needsReview true ; sg:sourceText ?src }} ?b sg:name ?n }}"
        ),
    );
    assert_eq!(unsure.len(), 1);
    assert_eq!(unsure[0]["src"], "Coastlne");
    assert_eq!(r.needs_review, 1);
    assert_eq!(count(&e, &format!("{SG}SELECT (COUNT(*) AS ?n) {{ ?b a sg:Brand }}")), brands_before);
}

#[test]
fn a_new_model_version_writes_its_own_graph_and_replace_drops_the_old() {
    let e = small_engine();
    let v1 = extract(&e, Some(5));
    // The same review model under a new version number, in a models folder of its own.
    let dir = tempfile::tempdir().unwrap();
    let bump = |t: &str| {
        t.lines()
            .map(|l| if l.starts_with("version = ") { "version = \"99.0.0\"" } else { l })
            .collect::<Vec<_>>()
            .join("\n")
    };
    copy_models_with(dir.path(), |t| t.to_string(), Some(&bump));
    let e2 = {
        let cfg = Config { models: dir.path().to_path_buf(), ..config() };
        let e2 = engine_with(cfg);
        load(&e2, "reviews-sample.csv");
        e2
    };
    e2.extract(&ExtractOptions { limit: Some(5), ..Default::default() }, &AtomicBool::new(false), |_, _| {}).unwrap();
    // Move e's v1 facts into e2's store for the comparison: both versions side by side.
    let nt = shopgraph::store::GraphFormat::NTriples;
    let dump =
        e.store().dump_graph(&graph_name(&v1.graph), nt, &shopgraph::engine::Engine::unbounded_options()).unwrap();
    let quads = shopgraph::store::Store::parse_document(&dump, nt, graph_name(&v1.graph), None).unwrap();
    e2.store().add_to_graph(&graph_name(&v1.graph), &quads, None).unwrap();
    let graphs = |e: &shopgraph::engine::Engine| {
        let mut g = e.store().graph_names().unwrap();
        g.retain(|g| g.starts_with(shopgraph::ontology::vocab::GRAPH_EXTRACTION));
        g.sort();
        g
    };
    assert_eq!(graphs(&e2).len(), 2);
    // Two versions side by side: product-aspects counts one, the newest finished run's.
    let newest = e2.store().graph_names().unwrap().into_iter().find(|g| g.contains("/99.0.0")).unwrap();
    let top = select(
        &e2,
        &format!(
            "{SG}SELECT ?p (COUNT(?m) AS ?n) {{ ?r sg:reviewOf ?p . GRAPH <{newest}> {{ ?m sg:mentionIn ?r }} }} GROUP BY ?p ORDER BY DESC(?n) LIMIT 1"
        ),
    );
    let in_newest: usize = top[0]["n"].parse().unwrap();
    let id = top[0]["p"].rsplit('/').next().unwrap().to_string();
    let out = e2
        .named_query(
            "product-aspects",
            &[("product".to_string(), id)].into(),
            shopgraph::store::OutputFormats { results: Some(shopgraph::store::ResultsFormat::Json), graph: None },
        )
        .unwrap();
    let summed: usize =
        crate::common::parse_json_results(&out.body).iter().map(|r| r["mentions"].parse::<usize>().unwrap()).sum();
    assert_eq!(summed, in_newest, "product-aspects must read one version, not both");
    let r = e2
        .extract(
            &ExtractOptions { limit: Some(5), replace: true, ..Default::default() },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert_eq!(r.replaced_graphs, std::slice::from_ref(&v1.graph));
    assert_eq!(graphs(&e2), [r.graph]);
}

fn graph_name(iri: &str) -> shopgraph::store::model::GraphName {
    shopgraph::store::model::GraphName::NamedNode(shopgraph::store::model::NamedNode::new(iri).unwrap())
}

/// A copy of models/ for a test: the review model's manifest passed through `edit_review`
/// (`None` leaves the review model out), the head's through `edit_head`.
fn copy_models_with(to: &Path, edit_head: impl Fn(&str) -> String, edit_review: Option<&dyn Fn(&str) -> String>) {
    std::fs::create_dir_all(to.join("heads")).unwrap();
    for f in ["all-minilm-l6-v2-int8.toml", "all-minilm-l6-v2.toml", "onnxruntime.toml"] {
        std::fs::copy(repo("models").join(f), to.join(f)).unwrap();
    }
    std::fs::copy(repo("models/heads/sentiment-minilm.json"), to.join("heads/sentiment-minilm.json")).unwrap();
    let head = std::fs::read_to_string(repo("models/heads/sentiment-minilm.toml")).unwrap();
    std::fs::write(to.join("heads/sentiment-minilm.toml"), edit_head(&head)).unwrap();
    if let Some(edit) = edit_review {
        std::fs::copy(repo("models/review-minilm.safetensors"), to.join("review-minilm.safetensors")).unwrap();
        let m = std::fs::read_to_string(repo("models/review-minilm.toml")).unwrap();
        std::fs::write(to.join("review-minilm.toml"), edit(&m)).unwrap();
    }
}

/// Without the review model: the head and the lexicon.
fn copy_models(to: &Path, edit_head: impl Fn(&str) -> String) {
    copy_models_with(to, edit_head, None);
}

#[test]
fn corrupt_or_missing_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    copy_models(dir.path(), |t| t.to_string());
    // A head whose weights were changed after their checksum was written.
    let w = dir.path().join("heads/sentiment-minilm.json");
    let mut bytes = std::fs::read(&w).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&w, bytes).unwrap();
    let e = engine_with(Config { models: dir.path().to_path_buf(), ..config() });
    let err = e.analyze(&["fits well".to_string()]).unwrap_err().to_string();
    assert!(err.contains("sha256"), "{err}");
    // A manifest naming an ONNX file that is nowhere.
    let m = dir.path().join("all-minilm-l6-v2-int8.toml");
    std::fs::write(&m, std::fs::read_to_string(&m).unwrap().replace("file = \"model.onnx\"", "file = \"absent.onnx\""))
        .unwrap();
    let cfg = config();
    let found = manifest::catalog(dir.path(), &config().model_cache).unwrap();
    let err = OnnxModel::load(manifest::find(&found, "all-minilm-l6-v2-int8").unwrap(), &cfg.model_cache, "cpu", 1)
        .unwrap_err();
    assert!(matches!(err, ExtractError::MissingFile { .. }), "{err}");
    // A file that is not an ONNX graph at all, with a matching checksum: ONNX Runtime's error.
    std::fs::write(dir.path().join("absent.onnx"), b"not a model").unwrap();
    let mut man = Manifest::read(&m).unwrap();
    man.onnx.as_mut().unwrap().sha256 = None;
    man.tokenizer.as_mut().unwrap().sha256 = None;
    let err = OnnxModel::load(&man, &cfg.model_cache, "cpu", 1).unwrap_err();
    assert!(matches!(err, ExtractError::Model(_)), "{err}");
}

#[test]
fn bad_text_is_refused_and_nothing_is_written() {
    let e = loaded_engine();
    let before = e.store().len().unwrap();
    for bad in ["", "   ", &"x".repeat(shopgraph::extract::MAX_TEXT_CHARS + 1)] {
        let err = e.analyze(&[bad.to_string()]).unwrap_err();
        assert!(matches!(err, shopgraph::engine::EngineError::Extract(ExtractError::Input(_))), "{err}");
    }
    // Long but allowed text is read whole: the last sentence's aspects are found too.
    let long = "The fabric is soft and the fit is true to size. ".repeat(60) + "The colour faded after one wash.";
    let n = long.chars().count();
    let a = e.analyze(&[long]).unwrap();
    assert!(!a[0].truncated);
    assert_eq!(a[0].sentences.len(), 61);
    assert!(a[0].aspects.iter().any(|m| m.aspect == "fabric"));
    assert!(a[0].aspects.iter().any(|m| m.aspect == "colour" && m.span.0 > n - 40), "{:?}", a[0].aspects);
    assert_eq!(e.store().len().unwrap(), before);
}

#[test]
fn user_token_and_sequence_classifiers_plug_in_through_manifests() {
    let cache = config().model_cache;
    let all = manifest::catalog(&repo("tests/data/models"), &cache).unwrap();
    let ner = OnnxModel::load(manifest::find(&all, "tiny-token-classifier").unwrap(), &cache, "cpu", 1).unwrap();
    let t = "the dress by retailer house is red";
    let toks = ner.tokenize(t).unwrap();
    let ents = ner.entities(&[&toks]).unwrap().remove(0);
    let got: Vec<(String, String)> = ents.iter().map(|e| (e.label.clone(), text::slice(t, (e.start, e.end)))).collect();
    assert_eq!(got, [("BRAND".to_string(), "retailer house".to_string()), ("COLOUR".to_string(), "red".to_string())]);
    assert!(ents.iter().all(|e| e.score > 0.5 && e.score <= 1.0));
    let cls = OnnxModel::load(manifest::find(&all, "tiny-sequence-classifier").unwrap(), &cache, "cpu", 1).unwrap();
    let (a, b) = (cls.tokenize("great dress").unwrap(), cls.tokenize("bad bad dress").unwrap());
    let out = cls.classify(&[&a, &b]).unwrap();
    assert_eq!((out[0].0.as_str(), out[1].0.as_str()), ("positive", "negative"));
    // The same model under a manifest with the wrong number of labels is refused at run time.
    let mut wrong = manifest::find(&all, "tiny-sequence-classifier").unwrap().clone();
    wrong.inference.labels.push("neutral".into());
    let m = OnnxModel::load(&wrong, &cache, "cpu", 1).unwrap();
    assert!(matches!(m.classify(&[&a]), Err(ExtractError::Model(_))));
}

#[test]
fn embeddings_answer_similarity_and_nearest_in_sparql() {
    let e = small_engine();
    extract(&e, Some(30));
    let rows = select(&e, &format!("{SG}SELECT ?r {{ ?r a sg:Review ; sg:text ?t }} ORDER BY ?r LIMIT 1"));
    let r0 = rows[0]["r"].clone();
    let near = select(
        &e,
        &format!(
            "{SG}SELECT ?n ?s {{ SERVICE sg:nearest {{ ?n sg:nearestTo <{r0}> ; sg:score ?s . sg:request sg:k 3 }} }}"
        ),
    );
    assert_eq!(near.len(), 3);
    assert!(near.iter().all(|r| r["n"] != r0));
    let s: Vec<f64> = near.iter().map(|r| r["s"].parse().unwrap()).collect();
    assert!(s.windows(2).all(|w| w[0] >= w[1]));
    let sim = select(&e, &format!("{SG}SELECT (sg:textSimilarity(<{r0}>, <{}>) AS ?x) {{}}", near[0]["n"]));
    assert!((sim[0]["x"].parse::<f64>().unwrap() - s[0]).abs() < 1e-5);
    let by_text = select(
        &e,
        &format!(
            "{SG}SELECT ?n {{ SERVICE sg:nearest {{ ?n sg:nearestTo \"runs small, order a size up\" . sg:request sg:k 2 }} }}"
        ),
    );
    assert_eq!(by_text.len(), 2);
    // Products without text of their own sit at the mean of their reviews.
    let p = select(&e, &format!("{SG}SELECT ?p {{ <{r0}> sg:reviewOf ?p }}"));
    assert!(e.semantic().index().unwrap().get(&p[0]["p"]).is_some());
}

/// The held-out share of the labelled sentences: the committed head's accuracy there.
#[test]
fn sentiment_head_accuracy_on_held_out_sentences() {
    use shopgraph::extract::train;
    // The head alone (the fallback when no review model is installed): a models folder without
    // the review model.
    let dir = tempfile::tempdir().unwrap();
    copy_models(dir.path(), |t| t.to_string());
    let e = engine_with(Config { models: dir.path().to_path_buf(), ..config() });
    let ex = e.extractor().unwrap();
    assert!(ex.review.is_none());
    let text = std::fs::read_to_string(repo("tests/data/sentiment-sentences-amazon.tsv")).unwrap();
    let held: Vec<(String, usize)> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.trim_end_matches('\r').rsplit_once('\t'))
        .filter(|(t, _)| !t.trim().is_empty() && train::is_holdout(t, 0.2))
        .map(|(t, l)| (t.to_string(), if l == "1" { 2 } else { 0 }))
        .collect();
    assert!(held.len() > 150);
    let texts: Vec<String> = held.iter().map(|h| h.0.clone()).collect();
    let a = ex.analyze(&texts).unwrap();
    let right = a.iter().zip(&held).filter(|(a, h)| a.sentiment.label == train::LABELS[h.1]).count();
    let acc = right as f64 / held.len() as f64;
    eprintln!("sentiment accuracy on {} held-out sentences: {acc:.3}", held.len());
    // 0.850 measured where the head was trained (the goal is 0.85); int8 kernels differ between
    // CPUs, and one sentence is half a point, so the floor leaves room for two flips.
    assert!(acc >= 0.84, "accuracy {acc:.3} fell below 0.84 (goal 0.85)");
}

/// An aspect a knowledge engineer adds to the ontology graph, which the model was never trained
/// on, is found by its labels from the next call on (no restart), and says so.
#[test]
fn an_aspect_added_to_the_ontology_is_found_by_its_labels_at_once() {
    let e = loaded_engine();
    let text = vec!["The sleeves are too short but the colour is lovely.".to_string()];
    let before = e.analyze(&text).unwrap();
    assert!(before[0].aspects.iter().all(|m| m.aspect != "sleeves"));
    e.update(&format!(
        "{SG}PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
         INSERT DATA {{ GRAPH <https://w3id.org/shopgraph/graph/ontology> {{
           sg:aspect-sleeves a sg:Aspect ; skos:prefLabel \"sleeves\"@en ; skos:altLabel \"sleeve\"@en }} }}"
    ))
    .unwrap();
    let after = e.analyze(&text).unwrap();
    let got: Vec<(&str, &str)> = after[0].aspects.iter().map(|m| (m.aspect.as_str(), m.method)).collect();
    assert!(got.contains(&("sleeves", "lexicon")), "{got:?}");
    assert!(got.contains(&("colour", "model")), "{got:?}");
    let m = after[0].aspects.iter().find(|m| m.aspect == "sleeves").unwrap();
    assert_eq!(text::slice(&text[0], m.span), "sleeves");
}

#[test]
fn extractor_check_is_the_input_gate() {
    assert!(Extractor::check("fine").is_ok());
    assert!(Extractor::check("\n\t ").is_err());
}
