//! Extraction inside the engine: reading the lexicon from the ontology, analysing text, and the
//! resumable `extract` run that writes facts with provenance into a named graph per model
//! version and keeps embeddings by IRI.

use super::rec::lexical;
use super::{Engine, EngineError};
use crate::extract::index::EmbeddingIndex;
use crate::extract::pipeline::{self, Doc, Done};
use crate::extract::{Analysis, ExtractError, Extractor, LexEntry, Lexicon, text};
use crate::ontology::vocab;
use crate::store::model::{GraphName, Literal, NamedNode, Quad, Term};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Options of an extraction run.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Inference workers (one ONNX session each).
    pub workers: usize,
    /// Documents per committed chunk.
    pub chunk: usize,
    /// Stop after this many documents (the rest waits for the next run).
    pub limit: Option<usize>,
    /// Remove the facts of other versions of the same models once this run has finished.
    pub replace: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self { workers: 1, chunk: 64, limit: None, replace: false }
    }
}

/// What an extraction run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExtractReport {
    /// The run (and its named graph).
    pub run: String,
    /// Named graph of the facts.
    pub graph: String,
    /// Reviews and products read in this invocation.
    pub docs: usize,
    /// Aspect mentions written.
    pub aspect_mentions: usize,
    /// Attribute and brand mentions written.
    pub attribute_mentions: usize,
    /// Links marked for review instead of merged.
    pub needs_review: usize,
    /// Aspect mentions held in the review queue (confidence under the threshold), not served.
    pub held_for_review: usize,
    /// Sources left out (empty or too long text) with the reason.
    pub skipped: Vec<(String, String)>,
    /// Whether Ctrl-C stopped it early (run again to resume).
    pub interrupted: bool,
    /// Graphs of older versions removed (`--replace`).
    pub replaced_graphs: Vec<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Documents per second.
    pub docs_per_second: f64,
}

fn nn(s: &str) -> NamedNode {
    NamedNode::new_unchecked(s)
}

pub(super) fn hash_id(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex()[..24].to_string()
}

impl Engine {
    /// The aspects and attribute values of the ontology, with their labels.
    pub fn lexicon(&self) -> Result<Lexicon, EngineError> {
        let mut by: BTreeMap<String, LexEntry> = BTreeMap::new();
        for row in self.internal("lexicon", &[], &["concept", "kind", "label", "term"])? {
            let (Some(c), Some(kind), Some(label), Some(term)) =
                (lexical(&row[0]), lexical(&row[1]), lexical(&row[2]), lexical(&row[3]))
            else {
                continue;
            };
            let e = by.entry(c.clone()).or_insert_with(|| LexEntry { iri: c, label, kind, terms: Vec::new() });
            if !e.terms.contains(&term) {
                e.terms.push(term);
            }
        }
        let (aspects, attributes) = by.into_values().partition(|e| e.kind == "aspect");
        Ok(Lexicon { aspects, attributes })
    }

    /// The shared extractor, with the ontology's current lexicon set: an aspect or attribute
    /// value an engineer adds to the ontology graph is used from the next call on, no restart.
    pub fn extractor(&self) -> Result<std::sync::Arc<Extractor>, EngineError> {
        use std::sync::atomic::Ordering;
        let ex = self.semantic.extractor()?;
        // The lexicon query runs only after a write: read the generation first, so a write
        // during the query makes the next call read it again.
        let generation = self.store().generation();
        if self.lexicon_generation.load(Ordering::Acquire) != generation {
            ex.refresh_lexicon(self.lexicon()?);
            self.lexicon_generation.store(generation, Ordering::Release);
        }
        Ok(ex)
    }

    /// Analyses texts (sentiment, aspects, attributes). Nothing is written.
    pub fn analyze(&self, texts: &[String]) -> Result<Vec<Analysis>, EngineError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.extractor()?.analyze(texts)?)
    }

    /// Nodes whose stored embedding is closest to a node's (`Ok(iri)`) or to a text
    /// (`Err(text)`), best first.
    pub fn nearest(&self, query: Result<String, String>, k: usize) -> Result<Nearest, EngineError> {
        if k == 0 || k > 1000 {
            return Err(ExtractError::Input(format!("k must be between 1 and 1000, got {k}")).into());
        }
        let (ix, hits) = self.semantic.nearest(query.as_deref().map_err(String::as_str), k)?;
        Ok(Nearest {
            model: ix.model.clone(),
            results: hits.into_iter().map(|(iri, score)| NearestHit { iri, score }).collect(),
        })
    }

    /// IRI of the extraction run of these models: the same models give the same run, which is
    /// what makes re-running a no-op.
    fn run_iri(&self, models: &[(String, String)]) -> (String, String) {
        let key: Vec<String> = models.iter().map(|(id, v)| format!("{id}@{v}")).collect();
        let run =
            format!("{}run/{}", self.minter().base(), hash_id(&key.iter().map(String::as_str).collect::<Vec<_>>()));
        // The graph is named by the sentiment head (the last model) and its version, so
        // `--replace` can find older versions of it by prefix.
        let (head, version) = models.last().cloned().unwrap_or_default();
        (run, format!("{}{head}/{version}", vocab::GRAPH_EXTRACTION))
    }

    /// Reads every review and product text not yet read by the current models, writes what it
    /// finds, and keeps embeddings. Resumable: each chunk commits its facts together with the
    /// marks that say its sources are done.
    pub fn extract(
        &self,
        opts: &ExtractOptions,
        stop: &AtomicBool,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ExtractReport, EngineError> {
        let start = Instant::now();
        let lexicon = self.lexicon()?;
        let mut workers = Vec::new();
        for _ in 0..opts.workers.max(1) {
            let ex = self.semantic.settings.load()?;
            ex.set_lexicon(lexicon.clone());
            workers.push(std::sync::Arc::new(ex));
        }
        let models = workers[0].models();
        let (run, graph) = self.run_iri(&models);
        let g = GraphName::NamedNode(nn(&graph));
        let run_node = nn(&run);
        let mut head = vec![
            Quad::new(run_node.clone(), nn(vocab::RDF_TYPE), nn(vocab::EXTRACTION_RUN), g.clone()),
            Quad::new(nn(&graph), nn(vocab::GENERATED_BY), run_node.clone(), g.clone()),
        ];
        for (id, version) in &models {
            let m = nn(&format!("{}model/{}/{}", self.minter().base(), id, version));
            head.push(Quad::new(run_node.clone(), nn(vocab::HAS_MODEL), m.clone(), g.clone()));
            head.push(Quad::new(m.clone(), nn(vocab::RDF_TYPE), nn(vocab::MODEL_CLASS), g.clone()));
            head.push(Quad::new(m.clone(), nn(vocab::RDFS_LABEL), Literal::from(id.as_str()), g.clone()));
            head.push(Quad::new(m, nn(vocab::MODEL_VERSION), Literal::from(version.as_str()), g.clone()));
        }
        let started = nn(vocab::PROV_STARTED_AT_TIME);
        if self.store().objects(&run_node, &started)?.is_empty() {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            head.push(Quad::new(
                run_node.clone(),
                started,
                Literal::new_typed_literal(now, nn(vocab::XSD_DATE_TIME)),
                g.clone(),
            ));
        }
        self.store().insert(&head)?;

        let bind = [("run".to_string(), Term::NamedNode(run_node.clone()))];
        let mut docs = Vec::new();
        let mut product_of: HashMap<String, String> = HashMap::new();
        for row in self.internal("extract-reviews", &bind, &["review", "product", "text"])? {
            let (Some(r), Some(t)) = (lexical(&row[0]), lexical(&row[2])) else { continue };
            if let Some(p) = lexical(&row[1]) {
                product_of.insert(r.clone(), p);
            }
            docs.push(Doc { key: r, text: t });
        }
        let mut products = std::collections::HashSet::new();
        for row in self.internal("extract-products", &bind, &["product", "name", "description"])? {
            let Some(p) = lexical(&row[0]) else { continue };
            let text: Vec<String> = [lexical(&row[1]), lexical(&row[2])].into_iter().flatten().collect();
            products.insert(p.clone());
            docs.push(Doc { key: p, text: text.join(". ") });
        }
        if let Some(l) = opts.limit {
            docs.truncate(l);
        }
        let total = docs.len();
        let brands: Vec<(String, String)> = self
            .internal("brands", &[], &["brand", "name"])?
            .iter()
            .filter_map(|r| Some((lexical(&r[0])?, lexical(&r[1])?)))
            .collect();

        let dim = workers[0].embedding_dim();
        let encoder_id = models[0].0.clone();
        let emb_dir = self.semantic.dir.clone();
        let mut index = match &emb_dir {
            Some(d) => EmbeddingIndex::load(d, &encoder_id, dim)?,
            None => (*self.semantic.index()?).clone(),
        };
        let mut report = ExtractReport {
            run: run.clone(),
            graph: graph.clone(),
            docs: 0,
            aspect_mentions: 0,
            attribute_mentions: 0,
            needs_review: 0,
            held_for_review: 0,
            skipped: Vec::new(),
            interrupted: false,
            replaced_graphs: Vec::new(),
            seconds: 0.0,
            docs_per_second: 0.0,
        };
        let linker = BrandLinker::new(&brands);
        // One chunk waiting per stage is enough to keep the workers busy (chunks are large), and
        // keeps what Ctrl-C has to finish small.
        let popts = pipeline::Options { chunk: opts.chunk.max(1), queue: 1, embed: true };
        let mut done_count = 0;
        let stats = pipeline::run::<EngineError>(workers, docs.into_iter(), stop, popts, |batch: Vec<Done>| {
            let mut quads = Vec::new();
            let mut vectors = Vec::with_capacity(batch.len());
            for d in &batch {
                let src = nn(&d.doc.key);
                quads.push(Quad::new(src.clone(), nn(vocab::EXTRACTED_BY), run_node.clone(), g.clone()));
                vectors.push((d.doc.key.clone(), d.analysis.embedding.clone()));
                if products.contains(&d.doc.key) {
                    let (n, review) = self.product_quads(&d.doc, &d.analysis, &linker, &run_node, &g, &mut quads);
                    report.attribute_mentions += n;
                    report.needs_review += review;
                } else {
                    let (served, held) = self.review_quads(&d.doc, &d.analysis, &run_node, &g, &mut quads);
                    report.aspect_mentions += served;
                    report.held_for_review += held;
                }
            }
            // Vectors reach the disk before the facts that mark their sources done.
            if let Some(dir) = &emb_dir {
                EmbeddingIndex::append_log(dir, &encoder_id, &vectors)?;
            }
            for (k, v) in &vectors {
                index.upsert(k, v)?;
            }
            let (aspects_held, others_held) = self.gate(&mut quads, &g)?;
            report.aspect_mentions -= aspects_held;
            report.held_for_review += aspects_held + others_held;
            self.store().insert(&quads)?;
            done_count += batch.len();
            progress(done_count, total);
            Ok(())
        })?;
        // Products without text of their own are placed at the mean of their reviews.
        let mut sums: HashMap<&str, (Vec<f32>, usize)> = HashMap::new();
        for (r, p) in &product_of {
            if let Some(v) = index.get(r) {
                let e = sums.entry(p.as_str()).or_insert_with(|| (vec![0.0; dim], 0));
                e.0.iter_mut().zip(v).for_each(|(a, b)| *a += b);
                e.1 += 1;
            }
        }
        let means: Vec<(String, Vec<f32>)> = sums
            .into_iter()
            .filter(|(p, _)| !products.contains(*p))
            .map(|(p, (s, _))| (p.to_string(), crate::extract::model::normalized(s)))
            .collect();
        for (p, v) in &means {
            index.upsert(p, v)?;
        }
        if let Some(dir) = &emb_dir {
            index.save(dir)?;
        }
        self.semantic.set_index(index);
        if !stats.interrupted {
            // The run finished: readers that want one complete version (product-aspects) pick
            // the newest finished run's graph.
            let ended = nn(vocab::PROV_ENDED_AT_TIME);
            let old: Vec<Quad> = self
                .store()
                .objects(&run_node, &ended)?
                .into_iter()
                .map(|o| Quad::new(run_node.clone(), ended.clone(), o, g.clone()))
                .collect();
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            self.store().swap(
                &old,
                &[Quad::new(
                    run_node.clone(),
                    ended,
                    Literal::new_typed_literal(now, nn(vocab::XSD_DATE_TIME)),
                    g.clone(),
                )],
            )?;
        }
        if opts.replace && !stop.load(std::sync::atomic::Ordering::Relaxed) {
            report.replaced_graphs = self.drop_other_versions(&models, &graph)?;
        }
        report.docs = stats.docs;
        report.skipped = stats.skipped;
        report.interrupted = stats.interrupted;
        report.seconds = start.elapsed().as_secs_f64();
        report.docs_per_second = report.docs as f64 / report.seconds.max(1e-9);
        Ok(report)
    }

    fn drop_other_versions(&self, models: &[(String, String)], keep: &str) -> Result<Vec<String>, EngineError> {
        let head = &models.last().map(|m| m.0.clone()).unwrap_or_default();
        let prefix = format!("{}{head}/", vocab::GRAPH_EXTRACTION);
        let mut dropped = Vec::new();
        for gname in self.store().graph_names()? {
            if gname.starts_with(&prefix) && gname != keep {
                self.store().delete_graph(&GraphName::NamedNode(nn(&gname)))?;
                dropped.push(gname);
            }
        }
        Ok(dropped)
    }

    /// Sentiment judgement and aspect mentions of a review. Returns (mentions served, mentions
    /// held for review): a mention whose confidence is under the threshold goes to the queue
    /// graph with why it was held and where it belongs, not to the served graph.
    fn review_quads(
        &self,
        doc: &Doc,
        a: &Analysis,
        run: &NamedNode,
        g: &GraphName,
        out: &mut Vec<Quad>,
    ) -> (usize, usize) {
        let src = nn(&doc.key);
        let j = nn(&format!("{}judgement/{}", self.minter().base(), hash_id(&[run.as_str(), &doc.key])));
        out.push(Quad::new(j.clone(), nn(vocab::RDF_TYPE), nn(vocab::SENTIMENT_JUDGEMENT), g.clone()));
        out.push(Quad::new(j.clone(), nn(vocab::ABOUT), src.clone(), g.clone()));
        out.push(Quad::new(j.clone(), nn(vocab::SENTIMENT), Literal::from(a.sentiment.label.as_str()), g.clone()));
        out.push(Quad::new(j.clone(), nn(vocab::CONFIDENCE), Literal::from(f64::from(a.sentiment.score)), g.clone()));
        out.push(Quad::new(j, nn(vocab::GENERATED_BY), run.clone(), g.clone()));
        let threshold = self.config.review_threshold_aspect;
        let queue = GraphName::NamedNode(nn(vocab::GRAPH_QUEUE));
        let mut held = 0;
        for m in &a.aspects {
            let span = format!("{}-{}", m.span.0, m.span.1);
            let node = nn(&format!(
                "{}mention/{}",
                self.minter().base(),
                hash_id(&[run.as_str(), &doc.key, &m.aspect_iri, &span])
            ));
            let score = m.confidence.min(m.detection);
            let hold = score < threshold;
            let graph = if hold { &queue } else { g };
            out.push(Quad::new(node.clone(), nn(vocab::RDF_TYPE), nn(vocab::ASPECT_MENTION), graph.clone()));
            out.push(Quad::new(node.clone(), nn(vocab::MENTION_IN), src.clone(), graph.clone()));
            out.push(Quad::new(node.clone(), nn(vocab::HAS_ASPECT), nn(&m.aspect_iri), graph.clone()));
            out.push(Quad::new(node.clone(), nn(vocab::SENTIMENT), Literal::from(m.sentiment.as_str()), graph.clone()));
            out.push(Quad::new(node.clone(), nn(vocab::DETECTION_METHOD), Literal::from(m.method), graph.clone()));
            if hold {
                held += 1;
                let why = format!("confidence {score:.2} under the aspect threshold {threshold:.2}");
                out.push(Quad::new(node.clone(), nn(vocab::HELD_BECAUSE), Literal::from(why), queue.clone()));
                if let GraphName::NamedNode(target) = g {
                    out.push(Quad::new(node.clone(), nn(vocab::TARGET_GRAPH), target.clone(), queue.clone()));
                }
                // The sentence, so a reviewer (and the training data decisions make) has the context.
                let sentence = text::slice(&doc.text, m.sentence);
                out.push(Quad::new(node.clone(), nn(vocab::CONTEXT_TEXT), Literal::from(sentence), queue.clone()));
            }
            sourced(node, &doc.text, m.clause, score, run, graph, out);
        }
        (a.aspects.len() - held, held)
    }

    /// Attribute values and brand mentions of a product's own text. Returns (mentions, links
    /// left for review).
    fn product_quads(
        &self,
        doc: &Doc,
        a: &Analysis,
        linker: &BrandLinker,
        run: &NamedNode,
        g: &GraphName,
        out: &mut Vec<Quad>,
    ) -> (usize, usize) {
        let src = nn(&doc.key);
        let mut n = 0;
        let mut review = 0;
        let mention = |target: &str, span: (usize, usize), confidence: f32, sure: bool, out: &mut Vec<Quad>| {
            let node = nn(&format!(
                "{}mention/{}",
                self.minter().base(),
                hash_id(&[run.as_str(), &doc.key, target, &format!("{}-{}", span.0, span.1)])
            ));
            out.push(Quad::new(node.clone(), nn(vocab::RDF_TYPE), nn(vocab::ATTRIBUTE_MENTION), g.clone()));
            out.push(Quad::new(node.clone(), nn(vocab::ABOUT), src.clone(), g.clone()));
            out.push(Quad::new(
                node.clone(),
                nn(if sure { vocab::MENTIONS } else { vocab::CANDIDATE }),
                nn(target),
                g.clone(),
            ));
            if !sure {
                out.push(Quad::new(node.clone(), nn(vocab::NEEDS_REVIEW), Literal::from(true), g.clone()));
            }
            sourced(node, &doc.text, span, confidence, run, g, out);
        };
        for m in &a.attributes {
            // The value node already exists (ontology or an earlier load): the product joins it.
            out.push(Quad::new(src.clone(), nn(vocab::HAS_ATTRIBUTE), nn(&m.value_iri), g.clone()));
            mention(&m.value_iri, m.span, m.confidence, true, out);
            n += 1;
        }
        let cosine = |a: &str, b: &str| -> Option<f32> {
            let ex = self.semantic.extractor().ok()?;
            let v = ex.embed_texts(&[a.to_string(), b.to_string()]).ok()?;
            Some(crate::extract::model::dot(&v[0], &v[1]))
        };
        for link in judge_candidates(linker.find(&doc.text), &doc.text, &linker.names(), &cosine) {
            mention(&link.brand, link.span, link.confidence, link.sure, out);
            n += 1;
            review += usize::from(!link.sure);
        }
        (n, review)
    }
}

impl Engine {
    /// Checks a batch's machine facts against the shapes as they would stand once written; a
    /// fact with a violation moves to the review queue with the messages as its reason (the
    /// facts already held for low confidence are there). Returns (aspect mentions, other facts)
    /// held.
    fn gate(&self, quads: &mut Vec<Quad>, g: &GraphName) -> Result<(usize, usize), EngineError> {
        let machine = [vocab::ASPECT_MENTION, vocab::ATTRIBUTE_MENTION, vocab::SENTIMENT_JUDGEMENT];
        let facts: HashMap<Term, &str> = quads
            .iter()
            .filter(|q| &q.graph_name == g && q.predicate.as_str() == vocab::RDF_TYPE)
            .filter_map(|q| match &q.object {
                Term::NamedNode(c) => {
                    machine.iter().find(|m| **m == c.as_str()).map(|m| (q.subject.clone().into(), *m))
                }
                _ => None,
            })
            .collect();
        if facts.is_empty() {
            return Ok((0, 0));
        }
        let shapes = self.shapes()?;
        let check = crate::store::Check {
            shapes: &shapes,
            focus: crate::shacl::Focus::Only(facts.keys().cloned().collect()),
            hidden: &super::validate::HIDDEN,
        };
        let report = self.store.validate_addition(quads, &check)?;
        let mut failing: HashMap<Term, Vec<String>> = HashMap::new();
        for r in report.results.iter().filter(|r| r.result_severity.ends_with("#Violation")) {
            let node = crate::shacl::ValidationReport::focus_of(r);
            if facts.contains_key(node) {
                failing.entry(node.clone()).or_default().push(r.result_message.clone());
            }
        }
        if failing.is_empty() {
            return Ok((0, 0));
        }
        let queue = GraphName::NamedNode(nn(vocab::GRAPH_QUEUE));
        let mut extra = Vec::new();
        for q in quads.iter_mut() {
            let s: Term = q.subject.clone().into();
            if &q.graph_name == g && failing.contains_key(&s) {
                q.graph_name = queue.clone();
                if q.predicate.as_str() == vocab::SOURCE_TEXT {
                    extra.push(Quad::new(q.subject.clone(), nn(vocab::CONTEXT_TEXT), q.object.clone(), queue.clone()));
                }
            }
        }
        let (mut aspects, mut others) = (0, 0);
        for (node, why) in &failing {
            let Term::NamedNode(n) = node else { continue };
            let why = format!("fails a shape: {}", why.join("; "));
            extra.push(Quad::new(n.clone(), nn(vocab::HELD_BECAUSE), Literal::from(why), queue.clone()));
            if let GraphName::NamedNode(t) = g {
                extra.push(Quad::new(n.clone(), nn(vocab::TARGET_GRAPH), t.clone(), queue.clone()));
            }
            if facts[node] == vocab::ASPECT_MENTION {
                aspects += 1;
            } else {
                others += 1;
            }
        }
        quads.extend(extra);
        Ok((aspects, others))
    }
}

/// The provenance every extracted fact node carries: confidence, the source text and its char
/// span, and the run that made it.
fn sourced(
    node: NamedNode,
    text: &str,
    span: (usize, usize),
    confidence: f32,
    run: &NamedNode,
    g: &GraphName,
    out: &mut Vec<Quad>,
) {
    out.push(Quad::new(node.clone(), nn(vocab::CONFIDENCE), Literal::from(f64::from(confidence)), g.clone()));
    out.push(Quad::new(node.clone(), nn(vocab::SOURCE_TEXT), Literal::from(text::slice(text, span)), g.clone()));
    out.push(Quad::new(node.clone(), nn(vocab::SPAN_START), Literal::from(span.0 as i64), g.clone()));
    out.push(Quad::new(node.clone(), nn(vocab::SPAN_END), Literal::from(span.1 as i64), g.clone()));
    out.push(Quad::new(node, nn(vocab::GENERATED_BY), run.clone(), g.clone()));
}

/// Answer of a nearest-neighbour search.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Nearest {
    /// Encoder whose embeddings were searched.
    pub model: String,
    /// Best first.
    pub results: Vec<NearestHit>,
}

/// One neighbour.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NearestHit {
    /// The node.
    pub iri: String,
    /// Cosine similarity.
    pub score: f32,
}

/// A brand named in text.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandLink {
    /// The existing brand node.
    pub brand: String,
    /// Char span.
    pub span: (usize, usize),
    /// 1.0 for an exact match of the normalised name; the name similarity otherwise.
    pub confidence: f32,
    /// False when the match is close but not exact: marked for review, never merged.
    pub sure: bool,
}

/// Links brand mentions in product text onto existing brand nodes: normalised names match
/// exactly; a word run that is close to a brand name (a typo, a missing accent or space) is a
/// candidate for review.
#[derive(Debug, Default)]
pub struct BrandLinker {
    names: Vec<(String, Vec<String>)>,
}

impl BrandLinker {
    /// Brand IRI -> its name as words joined by spaces.
    pub fn names(&self) -> HashMap<String, String> {
        self.names.iter().map(|(iri, w)| (iri.clone(), w.join(" "))).collect()
    }

    /// A linker over `(brand IRI, name)` pairs.
    pub fn new(brands: &[(String, String)]) -> Self {
        Self {
            names: brands
                .iter()
                .map(|(iri, name)| (iri.clone(), text::words(name).into_iter().map(|(w, _)| w).collect()))
                .filter(|(_, w): &(String, Vec<String>)| !w.is_empty())
                .collect(),
        }
    }

    /// Brand mentions in `t`, judged by text alone: exact (sure) or within edit similarity
    /// [`NEAR_TEXT_FLOOR`] (a candidate).
    pub fn find(&self, t: &str) -> Vec<BrandLink> {
        let ws = text::words(t);
        let mut out: Vec<BrandLink> = Vec::new();
        for (iri, name) in &self.names {
            let n = name.len();
            if ws.len() < n {
                continue;
            }
            let joined = name.concat();
            for i in 0..=ws.len() - n {
                let cand: Vec<&str> = ws[i..i + n].iter().map(|(w, _)| w.as_str()).collect();
                let span = (ws[i].1.0, ws[i + n - 1].1.1);
                let sim =
                    if cand.iter().zip(name).all(|(a, b)| *a == b) { 1.0 } else { similarity(&cand.concat(), &joined) };
                // Short names are too easy to hit by chance: only exact matches count for them.
                let close = joined.chars().count() >= 5 && sim >= NEAR_TEXT_FLOOR;
                if (sim == 1.0 || close) && !out.iter().any(|l| l.brand == *iri && l.span == span) {
                    out.push(BrandLink { brand: iri.clone(), span, confidence: sim, sure: sim == 1.0 });
                }
            }
        }
        out
    }
}

/// Edit similarity from which a word run is a brand candidate at all.
pub const NEAR_TEXT_FLOOR: f32 = 0.6;

/// Keeps the near misses that are close in both senses: edit similarity of 0.8 or more, or an
/// embedding cosine (mention vs brand name) of 0.85 or more for looser spellings. Confidence of
/// a kept candidate is the mean of the two similarities. `cosine` returns `None` when no
/// encoder is loaded; then text alone decides.
pub fn judge_candidates(
    links: Vec<BrandLink>,
    text: &str,
    names: &HashMap<String, String>,
    cosine: &dyn Fn(&str, &str) -> Option<f32>,
) -> Vec<BrandLink> {
    links
        .into_iter()
        .filter_map(|mut l| {
            if l.sure {
                return Some(l);
            }
            let mention = text::slice(text, l.span);
            let cos = names.get(&l.brand).and_then(|n| cosine(&mention, n));
            let keep = l.confidence >= 0.8 || cos.is_some_and(|c| c >= 0.85);
            if let Some(c) = cos {
                l.confidence = (l.confidence + c.clamp(0.0, 1.0)) / 2.0;
            }
            keep.then_some(l)
        })
        .collect()
}

/// 1 - normalised Levenshtein distance of two strings (chars).
pub fn similarity(a: &str, b: &str) -> f32 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f32 / a.len().max(b.len()).max(1) as f32
}

impl From<ExtractError> for EngineError {
    fn from(e: ExtractError) -> Self {
        EngineError::Extract(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brand_linker_links_exact_names_and_flags_near_misses() {
        let l = BrandLinker::new(&[("b:1".into(), "Retailer House".into()), ("b:2".into(), "Coastline".into())]);
        let text = "Tiered dress by retailer house, like Coastlne tops";
        let got = judge_candidates(l.find(text), text, &l.names(), &|_, _| None);
        assert_eq!(got.len(), 2);
        assert!(got[0].sure && got[0].brand == "b:1");
        assert!(!got[1].sure && got[1].brand == "b:2" && got[1].confidence >= 0.8);
        // A looser spelling stays only when the embeddings say it is the same name.
        let loose = "from the Coastln studio";
        assert!(l.find(loose).iter().any(|c| c.brand == "b:2"));
        assert!(judge_candidates(l.find(loose), loose, &l.names(), &|_, _| Some(0.5)).is_empty());
        let kept = judge_candidates(l.find(loose), loose, &l.names(), &|_, _| Some(0.9));
        assert_eq!(kept.len(), 1);
        assert!(!kept[0].sure);
    }
}
