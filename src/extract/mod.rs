//! Language-model extraction: ONNX encoders and classifiers (ort + tokenizers only here), heads
//! trained on their embeddings, and the analysis of review and product text into aspects,
//! sentiment, attribute values and embeddings. Returns plain results; never writes the store.
//!
//! Imports nothing of ours but [`crate::npy`].

pub mod builtin;
pub mod finetune;
pub mod head;
pub mod index;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod review;
pub mod runtime;
pub mod semantic;
pub mod text;
pub mod train;

use head::Head;
use manifest::{Manifest, Task};
use model::{OnnxModel, Tokens};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use text::{Matcher, Span};

/// A lexicon with its matchers built.
#[derive(Debug, Default)]
pub struct Lex {
    lexicon: Lexicon,
    aspects: Matcher,
    attributes: Matcher,
}

impl Lex {
    fn new(lexicon: Lexicon) -> Self {
        let aspects = Matcher::new(
            lexicon.aspects.iter().enumerate().flat_map(|(i, e)| e.terms.iter().map(move |t| (i, t.as_str()))),
        );
        let attributes = Matcher::new(
            lexicon.attributes.iter().enumerate().flat_map(|(i, e)| e.terms.iter().map(move |t| (i, t.as_str()))),
        );
        Self { lexicon, aspects, attributes }
    }
}

/// Errors of extraction.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// A manifest is missing, unreadable or inconsistent.
    #[error("model manifest: {0}")]
    Manifest(String),
    /// A file a manifest names is in neither place it may be.
    #[error(
        "model {model}: file {file} not found (looked in {looked:?}); run `python3 .ci/fetch-models.py` to fetch it"
    )]
    MissingFile { model: String, file: String, looked: Vec<PathBuf> },
    /// A model file does not have the checksum its manifest gives (corrupt or replaced).
    #[error("{path}: sha256 {got}, manifest says {want}: the file is corrupt or not the one the manifest names")]
    Checksum { path: PathBuf, want: String, got: String },
    /// The ONNX Runtime library could not be loaded.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The model or tokenizer failed to load or run.
    #[error("model: {0}")]
    Model(String),
    /// Training a head failed.
    #[error("training: {0}")]
    Training(String),
    /// Input text the extractor cannot take.
    #[error("input: {0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl ExtractError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// Longest text `analyze` accepts, in chars; longer input is an error, not a silent cut.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// One lexicon entry: an ontology concept and the words that name it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LexEntry {
    /// The concept's IRI (an `sg:Aspect` or an `sg:AttributeValue`).
    pub iri: String,
    /// Its preferred label.
    pub label: String,
    /// For attribute values, the attribute (colour, material, ...); for aspects, "aspect".
    pub kind: String,
    /// Labels and synonyms, matched as whole words.
    pub terms: Vec<String>,
}

/// The concepts extraction recognises, as read from the ontology by the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    /// Review aspects.
    pub aspects: Vec<LexEntry>,
    /// Attribute values (colours, materials, ...).
    pub attributes: Vec<LexEntry>,
}

/// Sentiment of a text span.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sentiment {
    /// `positive`, `negative` or `neutral`.
    pub label: String,
    /// Probability of that label.
    pub score: f32,
    /// Probabilities of negative, neutral and positive (for a positive-vs-negative call:
    /// compare the first and the last).
    pub probabilities: [f32; 3],
}

/// An aspect a review sentence talks about.
#[derive(Debug, Clone, Serialize)]
pub struct AspectMention {
    /// Aspect label (fit, size, ...).
    pub aspect: String,
    /// Aspect concept IRI.
    pub aspect_iri: String,
    /// Sentiment of the clause the mention is in.
    pub sentiment: String,
    /// Probability of that sentiment.
    pub confidence: f32,
    /// Char span of the words that named the aspect.
    pub span: Span,
    /// Char span of the clause the sentiment was read from.
    pub clause: Span,
    /// Char span of the sentence.
    pub sentence: Span,
    /// `model` (the review model found it) or `lexicon` (a label of the aspect's concept
    /// matched; aspects the model was not trained on, or no model loaded).
    pub method: &'static str,
    /// Probability that the aspect is there (1.0 for a lexicon match).
    pub detection: f32,
}

/// An attribute value named in the text.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeMention {
    /// Attribute (colour, material, ...).
    pub attribute: String,
    /// Value label.
    pub value: String,
    /// Value concept IRI.
    pub value_iri: String,
    /// Char span of the words.
    pub span: Span,
    /// 1.0 for a whole-word match of a lexicon term.
    pub confidence: f32,
}

/// Sentiment of one sentence.
#[derive(Debug, Clone, Serialize)]
pub struct SentenceSentiment {
    /// Char span.
    pub span: Span,
    /// Its sentiment.
    pub sentiment: Sentiment,
}

/// Everything `analyze` finds in one text.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// The text as given.
    pub text: String,
    /// Sentiment of the whole text.
    pub sentiment: Sentiment,
    /// Per sentence.
    pub sentences: Vec<SentenceSentiment>,
    /// Aspects with their sentiment.
    pub aspects: Vec<AspectMention>,
    /// Attribute values named.
    pub attributes: Vec<AttributeMention>,
    /// Whether the text was longer than the encoder's window and its end was not read.
    pub truncated: bool,
    /// Embedding of the whole text (left out of JSON output).
    #[serde(skip)]
    pub embedding: Vec<f32>,
}

/// The loaded models and lexicon that turn text into [`Analysis`].
#[derive(Debug)]
pub struct Extractor {
    /// The sentence encoder.
    pub encoder: OnnxModel,
    /// The sentiment head's manifest.
    pub sentiment_manifest: Manifest,
    sentiment: Head,
    /// The fine-tuned review model; without one, aspects come from the lexicon and sentiment
    /// from the head on sentence embeddings.
    pub review: Option<review::ReviewModel>,
    lexicon: std::sync::RwLock<Arc<Lex>>,
    /// Texts per inference batch.
    pub batch: usize,
}

/// Id of the default review model manifest.
pub const REVIEW_MODEL: &str = "review-minilm";

/// Id of the sentiment head manifest.
pub const SENTIMENT_HEAD: &str = "sentiment-minilm";

/// Where a unit of text sits in the texts given to [`Extractor::analyze`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// The whole text, for the encoder (its embedding; its sentiment without a review model).
    Text,
    /// A sentence, for the sentiment head.
    Sentence(usize),
    /// A clause naming an aspect, for the sentiment head.
    Clause(Span),
    /// A window (char span of the text) of sentence `.0`, for the review model.
    Window(usize, Span),
}

/// A sentence's readings summed over its windows: sentence probabilities, windows, and the best
/// reading of each aspect with its span in text chars.
type SentenceAcc = ([f32; 3], usize, Vec<(review::Found, Span)>);

/// What a model made of one unit.
#[derive(Debug, Clone)]
pub enum Output {
    /// The encoder's embedding.
    Embedding(Vec<f32>),
    /// The review model's reading.
    Reading(review::Reading),
}

impl Extractor {
    /// Loads the sentiment head named `head_id` and the encoder it was trained on.
    pub fn load(
        models: &Path,
        cache: &Path,
        device: &str,
        threads: usize,
        lexicon: Lexicon,
        head_id: &str,
    ) -> Result<Self, ExtractError> {
        let all = manifest::catalog(models, cache)?;
        let head_m = manifest::find(&all, head_id)?.clone();
        if head_m.task != Task::EmbeddingHead {
            return Err(ExtractError::Manifest(format!("{head_id} is not an embedding head")));
        }
        let enc_id = head_m.encoder.clone().ok_or_else(|| ExtractError::Manifest(format!("{head_id}: no encoder")))?;
        let encoder = OnnxModel::load(manifest::find(&all, &enc_id)?, cache, device, threads)?;
        let weights =
            head_m.weights.clone().ok_or_else(|| ExtractError::Manifest(format!("{head_id}: no [weights]")))?;
        let path = head_m.verified(&weights, cache)?;
        let sentiment = Head::from_json(&std::fs::read_to_string(&path).map_err(|e| ExtractError::io(&path, e))?)?;
        for want in ["negative", "neutral", "positive"] {
            if !sentiment.labels.iter().any(|l| l == want) {
                return Err(ExtractError::Manifest(format!("{head_id}: sentiment head lacks label {want}")));
            }
        }
        let mut ex = Self::new(encoder, head_m, sentiment, lexicon);
        if let Ok(m) = manifest::find(&all, REVIEW_MODEL) {
            ex.review = Some(review::ReviewModel::load(m, &all, cache, device, threads)?);
        }
        Ok(ex)
    }

    /// Assembles an extractor from loaded parts.
    pub fn new(encoder: OnnxModel, sentiment_manifest: Manifest, sentiment: Head, lexicon: Lexicon) -> Self {
        Self {
            encoder,
            sentiment_manifest,
            sentiment,
            review: None,
            lexicon: std::sync::RwLock::new(Arc::new(Lex::new(lexicon))),
            batch: 32,
        }
    }

    /// Replaces the lexicon (after the ontology changed).
    pub fn set_lexicon(&self, lexicon: Lexicon) {
        *self.lexicon.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Lex::new(lexicon));
    }

    /// Replaces the lexicon when it differs from the one set (the ontology was edited); the
    /// matchers are rebuilt only then.
    pub fn refresh_lexicon(&self, lexicon: Lexicon) {
        if self.lex().lexicon != lexicon {
            self.set_lexicon(lexicon);
        }
    }

    fn lex(&self) -> Arc<Lex> {
        Arc::clone(&self.lexicon.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Model ids and versions that shape the output, for provenance: the encoder (its
    /// embeddings), then the model that reads sentiment and aspects.
    pub fn models(&self) -> [(String, String); 2] {
        let reader = self.review.as_ref().map_or(&self.sentiment_manifest, |r| &r.manifest);
        [
            (self.encoder.manifest.id.clone(), self.encoder.manifest.version.clone()),
            (reader.id.clone(), reader.version.clone()),
        ]
    }

    /// Length of the embeddings (the head's input).
    pub fn embedding_dim(&self) -> usize {
        self.sentiment.dim
    }

    /// Checks one input text.
    pub fn check(text: &str) -> Result<(), ExtractError> {
        if text.trim().is_empty() {
            return Err(ExtractError::Input("empty text".into()));
        }
        let n = text.chars().count();
        if n > MAX_TEXT_CHARS {
            return Err(ExtractError::Input(format!("text of {n} chars is longer than the limit of {MAX_TEXT_CHARS}")));
        }
        Ok(())
    }

    /// Plans and tokenises the units of `texts`. With a review model: each sentence (in
    /// windows when long) for it, and the whole text for the encoder when `embed`. Without:
    /// each text, its sentences, and the clauses of sentences that name an aspect and have
    /// several clauses, all for the encoder and the sentiment head.
    pub fn prepare(&self, texts: Vec<String>, embed: bool) -> Result<Prepared, ExtractError> {
        let lex = self.lex();
        let mut units = Vec::new();
        let mut tokens = Vec::new();
        let mut windows = Vec::new();
        let mut sentences = Vec::with_capacity(texts.len());
        for (t, text) in texts.iter().enumerate() {
            Self::check(text)?;
            let sents = text::sentences(text);
            if let Some(r) = &self.review {
                if embed {
                    units.push((t, Unit::Text));
                    tokens.push(self.encoder.tokenize(text)?);
                    windows.push(String::new());
                }
                for (i, &s) in sents.iter().enumerate() {
                    let sentence = text::slice(text, s);
                    let tok = r.tokenize(&sentence)?;
                    let cuts = r.windows(&sentence, &tok);
                    if cuts.len() == 1 {
                        units.push((t, Unit::Window(i, s)));
                        tokens.push(tok);
                        windows.push(sentence);
                        continue;
                    }
                    for (a, b) in cuts {
                        let w = (s.0 + a, s.0 + b);
                        let part = text::slice(text, w);
                        units.push((t, Unit::Window(i, w)));
                        tokens.push(r.tokenize(&part)?);
                        windows.push(part);
                    }
                }
            } else {
                units.push((t, Unit::Text));
                if sents.len() > 1 {
                    units.extend((0..sents.len()).map(|i| (t, Unit::Sentence(i))));
                }
                for &s in &sents {
                    let cl = text::clauses(text, s);
                    if cl.len() > 1 && !lex.aspects.find(&text::slice(text, s)).is_empty() {
                        units.extend(cl.into_iter().map(|c| (t, Unit::Clause(c))));
                    }
                }
                for &(_, u) in &units[tokens.len()..] {
                    tokens.push(match u {
                        Unit::Text => self.encoder.tokenize(text)?,
                        Unit::Sentence(i) => self.encoder.tokenize(&text::slice(text, sents[i]))?,
                        Unit::Clause(c) | Unit::Window(_, c) => self.encoder.tokenize(&text::slice(text, c))?,
                    });
                }
            }
            sentences.push(sents);
        }
        windows.resize(units.len(), String::new());
        Ok(Prepared { texts, sentences, units, tokens, windows })
    }

    /// Runs the models over prepared units in length-sorted batches, so each batch pads to a
    /// length close to all its members'. Outputs come back in unit order.
    pub fn embed_prepared(&self, p: &Prepared) -> Result<Vec<Output>, ExtractError> {
        let (win, enc): (Vec<usize>, Vec<usize>) =
            (0..p.units.len()).partition(|&i| matches!(p.units[i].1, Unit::Window(..)));
        let mut out: Vec<Option<Output>> = vec![None; p.units.len()];
        for (i, e) in bucketed(&enc, &p.tokens, self.batch, |_, b| self.encoder.embed(b))? {
            out[i] = Some(Output::Embedding(e));
        }
        if let Some(r) = &self.review {
            let runs = bucketed(&win, &p.tokens, self.batch, |idx, b| {
                let t: Vec<&str> = idx.iter().map(|&i| p.windows[i].as_str()).collect();
                r.read(b, &t)
            })?;
            for (i, reading) in runs {
                out[i] = Some(Output::Reading(reading));
            }
        }
        out.into_iter()
            .map(|o| o.ok_or_else(|| ExtractError::Model("a unit was left unread (no review model loaded)".into())))
            .collect()
    }

    /// Turns model outputs into analyses.
    pub fn assemble(&self, p: &Prepared, out: &[Output]) -> Vec<Analysis> {
        let lex = self.lex();
        let mut res: Vec<Analysis> = p
            .texts
            .iter()
            .map(|t| Analysis {
                text: t.clone(),
                sentiment: Sentiment { label: "neutral".into(), score: 0.0, probabilities: [0.0; 3] },
                sentences: Vec::new(),
                aspects: Vec::new(),
                attributes: Vec::new(),
                truncated: false,
                embedding: Vec::new(),
            })
            .collect();
        match &self.review {
            Some(r) => self.assemble_read(r, &lex, p, out, &mut res),
            None => self.assemble_head(&lex, p, out, &mut res),
        }
        for (t, a) in res.iter_mut().enumerate() {
            for hit in lex.attributes.find(&p.texts[t]) {
                let e = &lex.lexicon.attributes[hit.entry];
                a.attributes.push(AttributeMention {
                    attribute: e.kind.clone(),
                    value: e.label.clone(),
                    value_iri: e.iri.clone(),
                    span: hit.span,
                    confidence: 1.0,
                });
            }
        }
        res
    }

    /// Sentences, their aspects and polarities from the review model; aspects the model does
    /// not know (added to the ontology since it was trained) from the lexicon.
    fn assemble_read(&self, r: &review::ReviewModel, lex: &Lex, p: &Prepared, out: &[Output], res: &mut [Analysis]) {
        // Per text, per sentence: summed sentence probabilities, windows, and the best reading
        // of each aspect with its span in text chars.
        let mut acc: Vec<Vec<SentenceAcc>> =
            p.sentences.iter().map(|s| vec![([0.0; 3], 0, Vec::new()); s.len()]).collect();
        for (&(t, unit), o) in p.units.iter().zip(out) {
            match (unit, o) {
                (Unit::Text, Output::Embedding(e)) => res[t].embedding = e.clone(),
                (Unit::Window(i, w), Output::Reading(rd)) => {
                    let a = &mut acc[t][i];
                    a.0.iter_mut().zip(rd.sentence).for_each(|(x, y)| *x += y);
                    a.1 += 1;
                    for f in &rd.aspects {
                        let span = (w.0 + f.span.0, w.0 + f.span.1);
                        match a.2.iter_mut().find(|(g, _)| g.aspect == f.aspect) {
                            Some(g) if g.0.detection >= f.detection => {}
                            Some(g) => *g = (f.clone(), span),
                            None => a.2.push((f.clone(), span)),
                        }
                    }
                }
                _ => {}
            }
        }
        let by_label = |name: &str| lex.lexicon.aspects.iter().find(|e| e.label.eq_ignore_ascii_case(name));
        let known: Vec<bool> =
            lex.lexicon.aspects.iter().map(|e| r.aspects.iter().any(|a| a.eq_ignore_ascii_case(&e.label))).collect();
        let label = |probs: &[f32; 3]| {
            let k = model::argmax(probs);
            Sentiment { label: finetune::data::POLARITIES[k].to_string(), score: probs[k], probabilities: *probs }
        };
        for (t, a) in res.iter_mut().enumerate() {
            let text = &p.texts[t];
            let mut whole = [0f32; 3];
            let mut weight = 0f32;
            for (i, &s) in p.sentences[t].iter().enumerate() {
                let (sum, n, found) = &acc[t][i];
                let probs = sum.map(|x| x / (*n).max(1) as f32);
                let len = (s.1 - s.0).max(1) as f32;
                whole.iter_mut().zip(probs).for_each(|(x, y)| *x += y * len);
                weight += len;
                let ss = SentenceSentiment { span: s, sentiment: label(&probs) };
                for (f, span) in found {
                    let Some(entry) = by_label(&r.aspects[f.aspect]) else { continue };
                    let pol = label(&f.polarity);
                    a.aspects.push(AspectMention {
                        aspect: entry.label.clone(),
                        aspect_iri: entry.iri.clone(),
                        sentiment: pol.label,
                        confidence: pol.score,
                        span: *span,
                        clause: s,
                        sentence: s,
                        method: "model",
                        detection: f.detection,
                    });
                }
                for hit in lex.aspects.find(&text::slice(text, s)) {
                    if known[hit.entry] {
                        continue;
                    }
                    let entry = &lex.lexicon.aspects[hit.entry];
                    if a.aspects.iter().any(|m| m.aspect_iri == entry.iri && m.sentence == s) {
                        continue;
                    }
                    a.aspects.push(AspectMention {
                        aspect: entry.label.clone(),
                        aspect_iri: entry.iri.clone(),
                        sentiment: ss.sentiment.label.clone(),
                        confidence: ss.sentiment.score,
                        span: (hit.span.0 + s.0, hit.span.1 + s.0),
                        clause: s,
                        sentence: s,
                        method: "lexicon",
                        detection: 1.0,
                    });
                }
                a.sentences.push(ss);
            }
            a.sentiment = label(&whole.map(|x| x / weight.max(1.0)));
        }
    }

    /// The path without a review model: the head on sentence and clause embeddings, aspects
    /// from the lexicon.
    fn assemble_head(&self, lex: &Lex, p: &Prepared, out: &[Output], res: &mut [Analysis]) {
        let senti = |v: &[f32]| {
            let probs = self.sentiment.predict(v);
            let k = model::argmax(&probs);
            let at = |l: &str| self.sentiment.labels.iter().position(|x| x == l).map_or(0.0, |i| probs[i]);
            Sentiment {
                label: self.sentiment.labels[k].clone(),
                score: probs[k],
                probabilities: [at("negative"), at("neutral"), at("positive")],
            }
        };
        let mut clause_sent: Vec<Vec<(Span, Sentiment)>> = vec![Vec::new(); p.texts.len()];
        for ((&(t, unit), o), tok) in p.units.iter().zip(out).zip(&p.tokens) {
            let Output::Embedding(e) = o else { continue };
            let a = &mut res[t];
            // Any unit cut at the encoder's window means part of the text went unread there.
            a.truncated |= tok.truncated;
            match unit {
                Unit::Text => {
                    a.sentiment = senti(e);
                    a.embedding = e.clone();
                    if p.sentences[t].len() == 1 {
                        a.sentences.push(SentenceSentiment { span: p.sentences[t][0], sentiment: a.sentiment.clone() });
                    }
                }
                Unit::Sentence(i) => {
                    a.sentences.push(SentenceSentiment { span: p.sentences[t][i], sentiment: senti(e) })
                }
                Unit::Clause(c) => clause_sent[t].push((c, senti(e))),
                Unit::Window(..) => {}
            }
        }
        for (t, a) in res.iter_mut().enumerate() {
            let text = &p.texts[t];
            for ss in a.sentences.clone() {
                let sentence = text::slice(text, ss.span);
                let offset = ss.span.0;
                for hit in lex.aspects.find(&sentence) {
                    let span = (hit.span.0 + offset, hit.span.1 + offset);
                    let (clause, s) = clause_sent[t]
                        .iter()
                        .find(|(c, _)| c.0 <= span.0 && span.1 <= c.1)
                        .map_or((ss.span, ss.sentiment.clone()), |(c, s)| (*c, s.clone()));
                    let entry = &lex.lexicon.aspects[hit.entry];
                    // One mention per aspect per clause: "fit ... fits" is one opinion.
                    if a.aspects.iter().any(|m| m.aspect_iri == entry.iri && m.clause == clause) {
                        continue;
                    }
                    a.aspects.push(AspectMention {
                        aspect: entry.label.clone(),
                        aspect_iri: entry.iri.clone(),
                        sentiment: s.label,
                        confidence: s.score,
                        span,
                        clause,
                        sentence: ss.span,
                        method: "lexicon",
                        detection: 1.0,
                    });
                }
            }
        }
    }

    /// Analyses a batch of texts.
    pub fn analyze(&self, texts: &[String]) -> Result<Vec<Analysis>, ExtractError> {
        let p = self.prepare(texts.to_vec(), false)?;
        let emb = self.embed_prepared(&p)?;
        Ok(self.assemble(&p, &emb))
    }

    /// Embeddings of whole texts (no sentence split), length-bucketed.
    pub fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ExtractError> {
        let tokens = texts
            .iter()
            .map(|t| {
                Self::check(t)?;
                self.encoder.tokenize(t)
            })
            .collect::<Result<Vec<_>, _>>()?;
        embed_bucketed(&self.encoder, &tokens, self.batch)
    }
}

/// Units of a batch of texts, tokenised.
#[derive(Debug)]
pub struct Prepared {
    texts: Vec<String>,
    sentences: Vec<Vec<Span>>,
    units: Vec<(usize, Unit)>,
    tokens: Vec<Tokens>,
    /// The text of each review-model window (empty for other units), kept from tokenising so
    /// the span decoding does not slice it again.
    windows: Vec<String>,
}

impl Prepared {
    /// How many units the encoder will run on.
    pub fn units(&self) -> usize {
        self.units.len()
    }
}

/// Runs `f` over the units `idx` in batches of similar token length (each batch pads to about
/// its members' length); `f` gets the batch's unit indices and tokens. Returns (unit, result).
fn bucketed<T>(
    idx: &[usize],
    tokens: &[Tokens],
    batch: usize,
    f: impl Fn(&[usize], &[&Tokens]) -> Result<Vec<T>, ExtractError>,
) -> Result<Vec<(usize, T)>, ExtractError> {
    let mut order = idx.to_vec();
    order.sort_by_key(|&i| tokens[i].ids.len());
    let mut out = Vec::with_capacity(order.len());
    for chunk in order.chunks(batch.max(1)) {
        let refs: Vec<&Tokens> = chunk.iter().map(|&i| &tokens[i]).collect();
        let got = f(chunk, &refs)?;
        if got.len() != chunk.len() {
            return Err(ExtractError::Model(format!("{} results for a batch of {}", got.len(), chunk.len())));
        }
        out.extend(chunk.iter().copied().zip(got));
    }
    Ok(out)
}

/// Embeds tokenised texts in batches of similar length; results come back in input order.
pub fn embed_bucketed(encoder: &OnnxModel, tokens: &[Tokens], batch: usize) -> Result<Vec<Vec<f32>>, ExtractError> {
    let all: Vec<usize> = (0..tokens.len()).collect();
    let mut out = vec![Vec::new(); tokens.len()];
    for (i, e) in bucketed(&all, tokens, batch, |_, b| encoder.embed(b))? {
        out[i] = e;
    }
    Ok(out)
}
