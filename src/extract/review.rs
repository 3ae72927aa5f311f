//! The fine-tuned review model served through ort: per sentence, which aspects it talks about
//! (with the words each aspect's attention points at), each aspect's own polarity and the
//! sentence's polarity. The ONNX file is built once from the base weights and the committed
//! trained parts ([`super::finetune`]) and checked against the manifest's checksum.

use super::ExtractError;
use super::finetune;
use super::manifest::{self, Manifest, Task};
use super::model::{Tokens, softmax};
use super::runtime::{self, Device};
use ort::session::Session;
use ort::value::Tensor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokenizers::Tokenizer;

/// An aspect the model found in one unit of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Index into [`ReviewModel::aspects`].
    pub aspect: usize,
    /// Probability that the aspect is there.
    pub detection: f32,
    /// Polarity probabilities (negative, neutral, positive).
    pub polarity: [f32; 3],
    /// Char span, within the unit, of the words the aspect's attention points at.
    pub span: (usize, usize),
}

/// What the model reads in one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Aspects found.
    pub aspects: Vec<Found>,
    /// Sentence polarity probabilities (negative, neutral, positive).
    pub sentence: [f32; 3],
}

/// The loaded model.
#[derive(Debug)]
pub struct ReviewModel {
    /// Its manifest.
    pub manifest: Manifest,
    tokenizer: Tokenizer,
    session: Mutex<Session>,
    /// Aspect names in output order.
    pub aspects: Vec<String>,
    /// Where it runs.
    pub device: Device,
    /// Longest unit in tokens (specials included); longer text is read in windows.
    pub max_tokens: usize,
}

/// Builds (once) and returns the path of the model's ONNX file: base weights plus trained
/// parts, exported, and checked against the manifest's checksum, so every machine serves the
/// same bytes.
pub fn ensure_onnx(m: &Manifest, all: &[Manifest], cache: &Path) -> Result<PathBuf, ExtractError> {
    let onnx = m.onnx.clone().ok_or_else(|| ExtractError::Manifest(format!("{}: no [onnx] table", m.id)))?;
    if let Ok(p) = m.verified(&onnx, cache) {
        return Ok(p);
    }
    // One build at a time in a process (each holds the base weights and the file in memory);
    // whoever waited finds the file built.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    if let Ok(p) = m.verified(&onnx, cache) {
        return Ok(p);
    }
    let base_m = base_of(m, all)?;
    let base_id = &base_m.id;
    let base_file =
        base_m.weights.clone().ok_or_else(|| ExtractError::Manifest(format!("{base_id}: no [weights] table")))?;
    // Only the ONNX file is built from these: the CPU is enough.
    let base = finetune::read_base(&base_m.verified(&base_file, cache)?, &candle_core::Device::Cpu)?;
    let parts_ref = m.weights.clone().ok_or_else(|| ExtractError::Manifest(format!("{}: no [weights] table", m.id)))?;
    let parts = m.verified(&parts_ref, cache)?;
    let heads = m.attention_heads.unwrap_or(12);
    let model = finetune::load(base, &parts, heads, m.inference.labels.clone(), m.rank.unwrap_or(0))?;
    let bytes = model.to_onnx(&m.version).map_err(|e| ExtractError::Model(e.to_string()))?;
    let got = manifest::sha256_bytes(&bytes);
    if let Some(want) = &onnx.sha256
        && !got.eq_ignore_ascii_case(want)
    {
        return Err(ExtractError::Model(format!(
            "{}: the ONNX file built from {} and {} has sha256 {got}, the manifest says {want}",
            m.id,
            base_id,
            parts.display()
        )));
    }
    let dest = manifest::write_cached(cache, &m.id, &onnx.file, &bytes)?;
    log::info!("{}: built {} ({} MB) from {base_id} and the trained parts", m.id, dest.display(), bytes.len() >> 20);
    Ok(dest)
}

/// The encoder-weights manifest a review model was fine-tuned from.
fn base_of<'a>(m: &Manifest, all: &'a [Manifest]) -> Result<&'a Manifest, ExtractError> {
    let id = m.base.as_deref().ok_or_else(|| ExtractError::Manifest(format!("{}: no base", m.id)))?;
    manifest::find(all, id)
}

impl ReviewModel {
    /// Loads the model a `review-model` manifest names, building its ONNX file if needed.
    pub fn load(
        m: &Manifest,
        all: &[Manifest],
        cache: &Path,
        device: &str,
        threads: usize,
    ) -> Result<Self, ExtractError> {
        if m.task != Task::ReviewModel {
            return Err(ExtractError::Manifest(format!("{} is a {:?}, not a review model", m.id, m.task)));
        }
        if m.inference.labels.is_empty() {
            return Err(ExtractError::Manifest(format!("{}: [inference] labels (the aspects) are empty", m.id)));
        }
        let onnx = ensure_onnx(m, all, cache)?;
        // The tokenizer is the base encoder's unless the manifest names its own.
        let tok_path = match &m.tokenizer {
            Some(t) => m.verified(t, cache)?,
            None => {
                let base = base_of(m, all)?;
                let t = base
                    .tokenizer
                    .clone()
                    .ok_or_else(|| ExtractError::Manifest(format!("{}: no [tokenizer]", base.id)))?;
                base.verified(&t, cache)?
            }
        };
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| ExtractError::Model(format!("tokenizer {}: {e}", tok_path.display())))?;
        // Units are cut into windows here, so the tokenizer itself neither pads nor truncates.
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| ExtractError::Model(e.to_string()))?;
        let (session, device) = runtime::session(cache, &onnx, device, threads)?;
        Ok(Self {
            manifest: m.clone(),
            tokenizer,
            session: Mutex::new(session),
            aspects: m.inference.labels.clone(),
            device,
            max_tokens: m.inference.max_length.clamp(8, 512),
        })
    }

    /// Tokenises one unit (char offsets, specials marked), uncut.
    pub fn tokenize(&self, text: &str) -> Result<Tokens, ExtractError> {
        let e = self.tokenizer.encode_char_offsets(text, true).map_err(|e| ExtractError::Model(e.to_string()))?;
        Ok(Tokens::from_encoding(&e))
    }

    /// Char windows of `text` of at most `max_tokens` tokens each, overlapping by a quarter, so
    /// a long sentence is read whole rather than cut.
    pub fn windows(&self, text: &str, tokens: &Tokens) -> Vec<(usize, usize)> {
        let inner: Vec<(usize, usize)> =
            tokens.offsets.iter().zip(&tokens.special).filter(|(_, s)| !**s).map(|(o, _)| *o).collect();
        // Room for the special tokens and a few pieces of slack (see `read`).
        let room = self.max_tokens.saturating_sub(6).max(4);
        if inner.len() <= room {
            return vec![(0, text.chars().count())];
        }
        let step = (room * 3 / 4).max(1);
        // Windows start and end on word boundaries, so no word is read as a stray piece.
        let chars: Vec<char> = text.chars().collect();
        let word_start = |i: usize| {
            i == 0
                || i >= inner.len()
                || inner[i].0 == 0
                || chars.get(inner[i].0 - 1).is_none_or(|c| !c.is_alphanumeric())
        };
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let mut end = (start + room).min(inner.len());
            let mut e = end;
            while e > start + room / 2 && !word_start(e) {
                e -= 1;
            }
            if word_start(e) {
                end = e;
            }
            out.push((inner[start].0, inner[end - 1].1));
            if end == inner.len() {
                break;
            }
            let mut next = (start + step).min(end);
            while next < end && !word_start(next) {
                next += 1;
            }
            start = if next > start { next } else { end };
        }
        out
    }

    /// Runs a batch of units (each at most `max_tokens` tokens).
    /// `texts[i]` is the unit `batch[i]` was tokenised from.
    pub fn read(&self, batch: &[&Tokens], texts: &[&str]) -> Result<Vec<Reading>, ExtractError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let rows = batch.len();
        // Windows are cut to fit, but a window's text tokenised afresh can come out a piece or two
        // longer at its edges: such a unit is cut to the model's length, keeping its closing
        // special token, rather than failing the whole batch.
        let len = |t: &Tokens| t.ids.len().min(self.max_tokens);
        let cols = batch.iter().map(|t| len(t)).max().unwrap_or(1).max(1);
        let mut ids = vec![0i64; rows * cols];
        let mut mask = vec![0i64; rows * cols];
        for (r, t) in batch.iter().enumerate() {
            let n = len(t);
            for (c, &id) in t.ids.iter().take(n).enumerate() {
                ids[r * cols + c] = i64::from(id);
                mask[r * cols + c] = 1;
            }
            if n < t.ids.len()
                && let Some(&last) = t.ids.last()
            {
                ids[r * cols + n - 1] = i64::from(last);
            }
        }
        let err = |e: ort::Error| ExtractError::Model(e.to_string());
        let feeds = vec![
            ("input_ids".to_string(), Tensor::from_array(([rows, cols], ids)).map_err(err)?),
            ("attention_mask".to_string(), Tensor::from_array(([rows, cols], mask)).map_err(err)?),
        ];
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let out = session.run(feeds).map_err(err)?;
        let get = |name: &str| -> Result<Vec<f32>, ExtractError> {
            let (_, v) = out[name].try_extract_tensor::<f32>().map_err(err)?;
            Ok(v.to_vec())
        };
        let (detect, polarity, sentence, attention) =
            (get("detect")?, get("polarity")?, get("sentence")?, get("attention")?);
        let a = self.aspects.len();
        if detect.len() != rows * a || attention.len() != rows * cols * a {
            return Err(ExtractError::Model(format!("{}: output sizes do not match {a} aspects", self.manifest.id)));
        }
        Ok(batch
            .iter()
            .enumerate()
            .map(|(r, t)| {
                let s = softmax(&sentence[r * 3..r * 3 + 3]);
                // The unit's chars are needed only to widen a span to whole words.
                let mut chars: Option<Vec<char>> = None;
                let aspects = (0..a)
                    .filter_map(|k| {
                        let p = 1.0 / (1.0 + (-detect[r * a + k]).exp());
                        if p <= 0.5 {
                            return None;
                        }
                        let chars =
                            chars.get_or_insert_with(|| texts.get(r).map_or_else(Vec::new, |x| x.chars().collect()));
                        let pol = softmax(&polarity[(r * a + k) * 3..(r * a + k) * 3 + 3]);
                        let att: Vec<f32> = (0..len(t)).map(|i| attention[(r * cols + i) * a + k]).collect();
                        Some(Found {
                            aspect: k,
                            detection: p,
                            polarity: [pol[0], pol[1], pol[2]],
                            span: span_of(chars, t, &att),
                        })
                    })
                    .collect();
                Reading { aspects, sentence: [s[0], s[1], s[2]] }
            })
            .collect())
    }
}

/// The words an aspect's attention points at: the most attended token, widened over
/// neighbours with at least half its weight, then out to whole words. `text` is the unit's
/// chars (the offsets index it).
pub fn span_of(text: &[char], t: &Tokens, att: &[f32]) -> (usize, usize) {
    let ok = |i: usize| i < t.ids.len() && i < att.len() && !t.special[i];
    let Some(top) = (0..att.len()).filter(|&i| ok(i)).max_by(|&x, &y| att[x].total_cmp(&att[y])) else {
        return (0, 0);
    };
    let keep = att[top] * 0.5;
    let (mut lo, mut hi) = (top, top);
    while lo > 0 && ok(lo - 1) && att[lo - 1] >= keep {
        lo -= 1;
    }
    while ok(hi + 1) && att[hi + 1] >= keep {
        hi += 1;
    }
    // Word pieces: widen while the boundary falls inside a run of letters or digits.
    let inside = |at: usize| {
        at > 0
            && text.get(at - 1).is_some_and(|c| c.is_alphanumeric())
            && text.get(at).is_some_and(|c| c.is_alphanumeric())
    };
    while lo > 0 && ok(lo - 1) && t.offsets[lo - 1].1 == t.offsets[lo].0 && inside(t.offsets[lo].0) {
        lo -= 1;
    }
    while ok(hi + 1) && t.offsets[hi].1 == t.offsets[hi + 1].0 && inside(t.offsets[hi].1) {
        hi += 1;
    }
    (t.offsets[lo].0, t.offsets[hi].1)
}
