//! ONNX models with their tokenizer: sentence encoders, sequence classifiers and token
//! classifiers, all driven by their manifest.

use super::ExtractError;
use super::manifest::{Manifest, Pooling, Task};
use super::runtime::{self, Device};
use ort::session::Session;
use ort::value::Tensor;
use std::path::Path;
use std::sync::Mutex;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// A tokenised text, ready to batch: ids without padding, and char offsets per token.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Type ids (all zero for single sentences).
    pub type_ids: Vec<u32>,
    /// Char offsets of each token in the text; special tokens have (0, 0).
    pub offsets: Vec<(usize, usize)>,
    /// Which tokens are special ([CLS], [SEP]).
    pub special: Vec<bool>,
    /// Whether the text was longer than the model's max length and was cut.
    pub truncated: bool,
}

impl Tokens {
    pub(super) fn from_encoding(e: &Encoding) -> Self {
        Self {
            ids: e.get_ids().to_vec(),
            type_ids: e.get_type_ids().to_vec(),
            offsets: e.get_offsets().to_vec(),
            special: e.get_special_tokens_mask().iter().map(|&m| m == 1).collect(),
            truncated: !e.get_overflowing().is_empty(),
        }
    }
}

/// A span a token classifier found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entity {
    /// Entity type (the label without its `B-`/`I-` prefix).
    pub label: String,
    /// Char offset where it starts.
    pub start: usize,
    /// Char offset where it ends (exclusive).
    pub end: usize,
    /// Mean probability of its tokens' labels.
    pub score: f32,
}

/// One loaded ONNX model. `run` needs exclusive use of the session, so it sits behind a lock;
/// pipelines give each worker its own model instead of sharing one.
#[derive(Debug)]
pub struct OnnxModel {
    /// The manifest it was loaded from.
    pub manifest: Manifest,
    tokenizer: Tokenizer,
    session: Mutex<Session>,
    inputs: Vec<String>,
    output: String,
    /// Where it runs.
    pub device: Device,
}

impl OnnxModel {
    /// Loads the model a manifest names, checking file checksums first so that a corrupt or
    /// truncated download is a clear error rather than an ONNX Runtime crash.
    pub fn load(manifest: &Manifest, cache: &Path, device: &str, threads: usize) -> Result<Self, ExtractError> {
        if !matches!(manifest.task, Task::SentenceEmbedding | Task::SequenceClassification | Task::TokenClassification)
        {
            return Err(ExtractError::Manifest(format!("{} is a {:?}, not an ONNX model", manifest.id, manifest.task)));
        }
        let need = |f: &Option<super::manifest::FileRef>, what: &str| {
            f.clone().ok_or_else(|| ExtractError::Manifest(format!("{}: manifest has no [{what}] table", manifest.id)))
        };
        let onnx = manifest.verified(&need(&manifest.onnx, "onnx")?, cache)?;
        let tok_path = manifest.verified(&need(&manifest.tokenizer, "tokenizer")?, cache)?;
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| ExtractError::Model(format!("tokenizer {}: {e}", tok_path.display())))?;
        // Batching pads itself (to the longest text of a length bucket), so the file's own
        // padding, fixed at 128 in the MiniLM tokenizer, is switched off.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: manifest.inference.max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| ExtractError::Model(format!("tokenizer {}: {e}", tok_path.display())))?;
        let (session, device) = runtime::session(cache, &onnx, device, threads)?;
        let inputs: Vec<String> = session.inputs().iter().map(|o| o.name().to_string()).collect();
        for name in &inputs {
            if !matches!(name.as_str(), "input_ids" | "attention_mask" | "token_type_ids") {
                return Err(ExtractError::Model(format!(
                    "{}: input {name:?} is not one of input_ids, attention_mask, token_type_ids",
                    onnx.display()
                )));
            }
        }
        let outputs: Vec<String> = session.outputs().iter().map(|o| o.name().to_string()).collect();
        let output = match &manifest.inference.output {
            Some(o) if outputs.contains(o) => o.clone(),
            Some(o) => {
                return Err(ExtractError::Model(format!("{}: no output {o:?} (it has {outputs:?})", onnx.display())));
            }
            None => outputs.first().cloned().ok_or_else(|| ExtractError::Model("model has no outputs".into()))?,
        };
        Ok(Self { manifest: manifest.clone(), tokenizer, session: Mutex::new(session), inputs, output, device })
    }

    /// Tokenises one text (no padding).
    pub fn tokenize(&self, text: &str) -> Result<Tokens, ExtractError> {
        let e = self.tokenizer.encode_char_offsets(text, true).map_err(|e| ExtractError::Model(e.to_string()))?;
        Ok(Tokens::from_encoding(&e))
    }

    /// Runs the graph on a batch, padding to its longest member. Returns the output's shape and
    /// values.
    fn forward(&self, batch: &[&Tokens]) -> Result<(Vec<usize>, Vec<f32>), ExtractError> {
        let rows = batch.len();
        let cols = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; rows * cols];
        let mut mask = vec![0i64; rows * cols];
        let mut types = vec![0i64; rows * cols];
        for (r, t) in batch.iter().enumerate() {
            for (c, (&id, &ty)) in t.ids.iter().zip(&t.type_ids).enumerate() {
                ids[r * cols + c] = i64::from(id);
                types[r * cols + c] = i64::from(ty);
                mask[r * cols + c] = 1;
            }
        }
        let shape = [rows, cols];
        let (mut ids, mut mask, mut types) = (Some(ids), Some(mask), Some(types));
        let mut feeds = Vec::with_capacity(self.inputs.len());
        for name in &self.inputs {
            // Each input name appears once (checked at load), so each buffer moves, uncopied.
            let data = match name.as_str() {
                "input_ids" => ids.take(),
                "attention_mask" => mask.take(),
                _ => types.take(),
            }
            .ok_or_else(|| ExtractError::Model(format!("input {name:?} appears twice")))?;
            let t = Tensor::from_array((shape, data)).map_err(|e| ExtractError::Model(e.to_string()))?;
            feeds.push((name.clone(), t));
        }
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let out = session.run(feeds).map_err(|e| ExtractError::Model(e.to_string()))?;
        let (shape, values) =
            out[self.output.as_str()].try_extract_tensor::<f32>().map_err(|e| ExtractError::Model(e.to_string()))?;
        Ok((shape.iter().map(|&d| d as usize).collect(), values.to_vec()))
    }

    /// Sentence embeddings (pooled as the manifest says), one per input.
    pub fn embed(&self, batch: &[&Tokens]) -> Result<Vec<Vec<f32>>, ExtractError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (shape, v) = self.forward(batch)?;
        let out = match shape[..] {
            // Already pooled by the graph.
            [b, h] if b == batch.len() => v.chunks(h).map(<[f32]>::to_vec).collect::<Vec<_>>(),
            [b, s, h] if b == batch.len() => batch
                .iter()
                .enumerate()
                .map(|(r, t)| {
                    let row = &v[r * s * h..(r + 1) * s * h];
                    match self.manifest.inference.pooling {
                        Pooling::Cls => row[..h].to_vec(),
                        Pooling::Mean => {
                            let n = t.ids.len().max(1);
                            let mut acc = vec![0f32; h];
                            for tok in row.chunks(h).take(n) {
                                for (a, x) in acc.iter_mut().zip(tok) {
                                    *a += x;
                                }
                            }
                            acc.iter_mut().for_each(|a| *a /= n as f32);
                            acc
                        }
                    }
                })
                .collect(),
            _ => return Err(ExtractError::Model(format!("unexpected output shape {shape:?}"))),
        };
        Ok(if self.manifest.inference.normalize { out.into_iter().map(normalized).collect() } else { out })
    }

    /// Sequence classification: (label, probability) and the full distribution per input.
    pub fn classify(&self, batch: &[&Tokens]) -> Result<Vec<(String, f32, Vec<f32>)>, ExtractError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let labels = &self.manifest.inference.labels;
        let (shape, v) = self.forward(batch)?;
        let [b, l] = shape[..] else {
            return Err(ExtractError::Model(format!(
                "sequence classifier output shape {shape:?}, expected [batch, labels]"
            )));
        };
        if b != batch.len() || l != labels.len() {
            return Err(ExtractError::Model(format!("output has {l} classes, manifest lists {} labels", labels.len())));
        }
        Ok(v.chunks(l)
            .map(|logits| {
                let p = softmax(logits);
                let best = argmax(&p);
                (labels[best].clone(), p[best], p)
            })
            .collect())
    }

    /// Token classification decoded to entity spans (BIO or plain labels; `O` is outside).
    pub fn entities(&self, batch: &[&Tokens]) -> Result<Vec<Vec<Entity>>, ExtractError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let labels = &self.manifest.inference.labels;
        let (shape, v) = self.forward(batch)?;
        let [b, s, l] = shape[..] else {
            return Err(ExtractError::Model(format!(
                "token classifier output shape {shape:?}, expected [batch, tokens, labels]"
            )));
        };
        if b != batch.len() || l != labels.len() {
            return Err(ExtractError::Model(format!("output has {l} classes, manifest lists {} labels", labels.len())));
        }
        Ok(batch
            .iter()
            .enumerate()
            .map(|(r, t)| {
                let per_token: Vec<(usize, f32)> = (0..t.ids.len().min(s))
                    .map(|i| {
                        let p = softmax(&v[(r * s + i) * l..(r * s + i + 1) * l]);
                        let k = argmax(&p);
                        (k, p[k])
                    })
                    .collect();
                decode_bio(t, &per_token, labels)
            })
            .collect())
    }
}

/// Groups token labels into spans: a `B-X` or a change of type starts a new span, `I-X` after
/// the same type continues it, `O` and special tokens end it.
pub fn decode_bio(t: &Tokens, per_token: &[(usize, f32)], labels: &[String]) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let mut open: Option<(Entity, usize)> = None;
    let close = |open: &mut Option<(Entity, usize)>, out: &mut Vec<Entity>| {
        if let Some((mut e, n)) = open.take() {
            e.score /= n as f32;
            out.push(e);
        }
    };
    for (i, &(k, p)) in per_token.iter().enumerate() {
        let label = labels[k].as_str();
        if t.special[i] || label == "O" {
            close(&mut open, &mut out);
            continue;
        }
        let (begin, kind) = match label.split_once('-') {
            Some(("B", k)) => (true, k),
            Some(("I", k)) => (false, k),
            _ => (false, label),
        };
        let (start, end) = t.offsets[i];
        match &mut open {
            Some((e, n)) if !begin && e.label == kind => {
                e.end = end;
                e.score += p;
                *n += 1;
            }
            _ => {
                close(&mut open, &mut out);
                open = Some((Entity { label: kind.to_string(), start, end, score: p }, 1));
            }
        }
    }
    close(&mut open, &mut out);
    out
}

/// Softmax of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|x| (x - m).exp()).collect();
    let z: f32 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, x)| if *x > v[best] { i } else { best })
}

/// Dot product (the cosine of two unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Unit-length copy of a vector (unchanged when it is zero).
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}
