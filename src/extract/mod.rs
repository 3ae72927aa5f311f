//! Language-model extraction: ONNX encoders and classifiers (ort + tokenizers only here), heads
//! trained on their embeddings, and the analysis of review and product text into aspects,
//! sentiment, attribute values and embeddings. Returns plain results; never writes the store.
//!
//! Imports nothing of ours but [`crate::npy`].

pub mod head;
pub mod index;
pub mod manifest;
pub mod model;
pub mod pipeline;
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
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Default)]
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
    lexicon: std::sync::RwLock<Arc<Lex>>,
    /// Texts per inference batch.
    pub batch: usize,
}

/// Id of the sentiment head manifest.
pub const SENTIMENT_HEAD: &str = "sentiment-minilm";

/// Where a unit of text sits in the texts given to [`Extractor::analyze`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Text,
    Sentence(usize),
    Clause(Span),
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
        let all = manifest::catalog(models)?;
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
        Ok(Self::new(encoder, head_m, sentiment, lexicon))
    }

    /// Assembles an extractor from loaded parts.
    pub fn new(encoder: OnnxModel, sentiment_manifest: Manifest, sentiment: Head, lexicon: Lexicon) -> Self {
        Self {
            encoder,
            sentiment_manifest,
            sentiment,
            lexicon: std::sync::RwLock::new(Arc::new(Lex::new(lexicon))),
            batch: 32,
        }
    }

    /// Replaces the lexicon (after the ontology changed).
    pub fn set_lexicon(&self, lexicon: Lexicon) {
        *self.lexicon.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Lex::new(lexicon));
    }

    /// Whether a lexicon with at least one aspect is set.
    pub fn has_lexicon(&self) -> bool {
        !self.lex().lexicon.aspects.is_empty()
    }

    fn lex(&self) -> Arc<Lex> {
        Arc::clone(&self.lexicon.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Model ids and versions that shape the output, for provenance.
    pub fn models(&self) -> [(String, String); 2] {
        [
            (self.encoder.manifest.id.clone(), self.encoder.manifest.version.clone()),
            (self.sentiment_manifest.id.clone(), self.sentiment_manifest.version.clone()),
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

    /// Plans and tokenises the units of `texts` (each text, its sentences, the clauses of
    /// sentences that name an aspect and have several clauses).
    pub fn prepare(&self, texts: Vec<String>) -> Result<Prepared, ExtractError> {
        let lex = self.lex();
        let mut units = Vec::new();
        let mut sentences = Vec::with_capacity(texts.len());
        for (t, text) in texts.iter().enumerate() {
            Self::check(text)?;
            let sents = text::sentences(text);
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
            sentences.push(sents);
        }
        let tokens = units
            .iter()
            .map(|&(t, u)| {
                let span = match u {
                    Unit::Text => None,
                    Unit::Sentence(i) => Some(sentences[t][i]),
                    Unit::Clause(c) => Some(c),
                };
                match span {
                    None => self.encoder.tokenize(&texts[t]),
                    Some(s) => self.encoder.tokenize(&text::slice(&texts[t], s)),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Prepared { texts, sentences, units, tokens })
    }

    /// Runs the encoder over prepared units in length-sorted batches, so each batch pads to a
    /// length close to all its members'.
    pub fn embed_prepared(&self, p: &Prepared) -> Result<Vec<Vec<f32>>, ExtractError> {
        embed_bucketed(&self.encoder, &p.tokens, self.batch)
    }

    /// Turns embedded units into analyses.
    pub fn assemble(&self, p: &Prepared, emb: &[Vec<f32>]) -> Vec<Analysis> {
        let lex = self.lex();
        let senti = |v: &[f32]| {
            let probs = self.sentiment.predict(v);
            let k = model::argmax(&probs);
            Sentiment { label: self.sentiment.labels[k].clone(), score: probs[k] }
        };
        let mut out: Vec<Analysis> = p
            .texts
            .iter()
            .map(|t| Analysis {
                text: t.clone(),
                sentiment: Sentiment { label: "neutral".into(), score: 0.0 },
                sentences: Vec::new(),
                aspects: Vec::new(),
                attributes: Vec::new(),
                truncated: false,
                embedding: Vec::new(),
            })
            .collect();
        let mut clause_sent: Vec<Vec<(Span, Sentiment)>> = vec![Vec::new(); p.texts.len()];
        for ((&(t, unit), e), tok) in p.units.iter().zip(emb).zip(&p.tokens) {
            let a = &mut out[t];
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
            }
        }
        for (t, a) in out.iter_mut().enumerate() {
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
                    });
                }
            }
            for hit in lex.attributes.find(text) {
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
        out
    }

    /// Analyses a batch of texts.
    pub fn analyze(&self, texts: &[String]) -> Result<Vec<Analysis>, ExtractError> {
        let p = self.prepare(texts.to_vec())?;
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
}

impl Prepared {
    /// How many units the encoder will run on.
    pub fn units(&self) -> usize {
        self.units.len()
    }
}

/// Embeds tokenised texts in batches of similar length; results come back in input order.
pub fn embed_bucketed(encoder: &OnnxModel, tokens: &[Tokens], batch: usize) -> Result<Vec<Vec<f32>>, ExtractError> {
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| tokens[i].ids.len());
    let mut out = vec![Vec::new(); tokens.len()];
    for chunk in order.chunks(batch.max(1)) {
        let refs: Vec<&Tokens> = chunk.iter().map(|&i| &tokens[i]).collect();
        for (&i, e) in chunk.iter().zip(encoder.embed(&refs)?) {
            out[i] = e;
        }
    }
    Ok(out)
}
