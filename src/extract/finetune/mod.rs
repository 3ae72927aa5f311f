//! Fine-tuning the review model with candle (on the CPU, or a CUDA GPU with the `cuda` feature):
//! low-rank adapters on every layer of the pre-trained encoder plus aspect, polarity and
//! sentence heads, trained together on labelled sentences; evaluation on the untouched test
//! share; the trained parts written as safetensors with a manifest, and the whole model exported
//! as ONNX for serving through ort.
//!
//! candle trains, ort serves: candle has autograd on the CPU, ort is the faster runtime and
//! already serves the encoder, so training ends in an ONNX file (written in Rust by
//! [`onnx`], no Python), built from the fetched base weights plus the committed trained parts.

pub mod bert;
pub mod data;
pub mod job;
pub mod onnx;
pub mod refit;
pub mod tagger;

use super::ExtractError;
use bert::Adaptation;
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use data::Example;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tagger::Tagger;

fn cerr(e: candle_core::Error) -> ExtractError {
    ExtractError::Training(e.to_string())
}

/// Training settings.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Options {
    /// Passes over the training examples.
    pub epochs: usize,
    /// Adapter rank.
    pub rank: usize,
    /// Peak learning rate (linear warm-up, then linear decay).
    pub lr: f64,
    /// Examples per step.
    pub batch: usize,
    /// Dropout while training.
    pub dropout: f32,
    /// Longest input in tokens while training.
    pub max_tokens: usize,
    /// Seed of the initialisation and the shuffles.
    pub seed: u64,
    /// Keep the mean of the trained parts over the last this many epochs (four snapshots an
    /// epoch) instead of the epoch the development share scores best; 0 keeps the best epoch.
    pub average_last: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { epochs: 8, rank: 8, lr: 2e-3, batch: 16, dropout: 0.1, max_tokens: 128, seed: 7, average_last: 0 }
    }
}

/// Snapshots of the trained parts taken in a snapshot window, summed; their mean is the
/// averaged model.
#[derive(Default)]
struct Average {
    sum: HashMap<String, Tensor>,
    n: usize,
}

impl Average {
    fn add(&mut self, parts: Vec<(String, candle_core::Var)>) -> candle_core::Result<()> {
        for (name, v) in parts {
            let t = v.as_tensor().detach();
            let next = match self.sum.remove(&name) {
                Some(s) => (s + t)?,
                None => t.copy()?,
            };
            self.sum.insert(name, next);
        }
        self.n += 1;
        Ok(())
    }

    fn mean(self) -> candle_core::Result<HashMap<String, Tensor>> {
        let n = self.n.max(1) as f64;
        self.sum.into_iter().map(|(k, v)| Ok((k, (v / n)?))).collect()
    }
}

/// A tokenised example.
#[derive(Debug, Clone)]
struct Item {
    ids: Vec<u32>,
    ex: usize,
}

/// Per-aspect counts on an evaluation set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AspectScore {
    /// Aspect name.
    pub aspect: String,
    /// Found and labelled.
    pub tp: usize,
    /// Found, not labelled.
    pub fp: usize,
    /// Labelled, not found.
    pub fn_: usize,
    /// Found ones whose polarity is right.
    pub polarity_right: usize,
}

/// Scores of the model on a set of examples.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evaluation {
    /// Examples with aspect labels.
    pub aspect_examples: usize,
    /// Aspect detection precision, recall and F1 over (sentence, aspect) pairs.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Polarity accuracy on correctly found aspects.
    pub polarity_accuracy: f64,
    /// Polarity confusion on correctly found aspects, `[true][predicted]`.
    pub polarity_confusion: [[usize; 3]; 3],
    /// Examples with a 3-way sentence label.
    pub sentence_examples: usize,
    /// 3-way sentence accuracy.
    pub sentence_accuracy: f64,
    /// Sentence confusion `[true][predicted]`.
    pub sentence_confusion: [[usize; 3]; 3],
    /// Examples labelled only positive or negative (another shop's sentences).
    pub binary_examples: usize,
    /// Positive vs negative accuracy on them (p(positive) against p(negative)).
    pub binary_accuracy: f64,
    /// Per aspect.
    pub per_aspect: Vec<AspectScore>,
}

/// One epoch's figures, for the training curves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Epoch {
    /// Mean training loss.
    pub loss: f64,
    /// Scores on the development share (part of the training share, never the test share).
    pub dev: Evaluation,
    /// Seconds the epoch took.
    pub seconds: f64,
}

/// A trained model and how it got there.
#[derive(Debug)]
pub struct Trained {
    /// The model: its best epoch on the development share, or the mean of the snapshots when
    /// [`Options::average_last`] is set.
    pub model: Tagger,
    /// Per epoch.
    pub curve: Vec<Epoch>,
    /// The epoch that scored best on the development share (0-based).
    pub best_epoch: usize,
    /// With averaging: how many snapshots were averaged, the average's development scores, and
    /// the best epoch's parts (kept to compare the two recipes on the same run).
    pub averaged: Option<(usize, Evaluation, HashMap<String, Tensor>)>,
}

/// Progress of training, for a bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps in an epoch.
    pub steps: usize,
    /// Running mean loss of this epoch.
    pub loss: f64,
    /// Epochs (or passes) in this stage.
    pub of: usize,
    /// What a pass is: `epoch` (training) or `head re-fit pass`.
    pub stage: &'static str,
}

/// Tokenises texts the way training and evaluation see them (special tokens, cut at `max`).
pub fn tokenise(tok: &tokenizers::Tokenizer, texts: &[&str], max: usize) -> Result<Vec<Vec<u32>>, ExtractError> {
    let mut tok = tok.clone();
    tok.with_padding(None);
    tok.with_truncation(Some(tokenizers::TruncationParams { max_length: max, ..Default::default() }))
        .map_err(|e| ExtractError::Model(e.to_string()))?;
    texts
        .iter()
        .map(|t| tok.encode(*t, true).map(|e| e.get_ids().to_vec()).map_err(|e| ExtractError::Model(e.to_string())))
        .collect()
}

fn pad(items: &[&Item], dev: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let t = items.iter().map(|e| e.ids.len()).max().unwrap_or(1).max(1);
    let mut ids = vec![0u32; items.len() * t];
    let mut mask = vec![0f32; items.len() * t];
    for (r, e) in items.iter().enumerate() {
        ids[r * t..r * t + e.ids.len()].copy_from_slice(&e.ids);
        mask[r * t..r * t + e.ids.len()].iter_mut().for_each(|m| *m = 1.0);
    }
    Ok((Tensor::from_vec(ids, (items.len(), t), dev)?, Tensor::from_vec(mask, (items.len(), t), dev)?))
}

/// The joint loss of a batch: detection (binary cross-entropy per aspect), polarity
/// (cross-entropy at labelled aspects) and sentence polarity (cross-entropy where labelled);
/// sources without aspect labels add only the sentence term.
fn batch_loss(m: &Tagger, items: &[&Item], examples: &[Example], dropout: f32) -> candle_core::Result<Tensor> {
    let dev = m.device();
    let (ids, mask) = pad(items, &dev)?;
    let o = m.forward(&ids, &mask, dropout)?;
    outputs_loss(&o, items, examples, m.aspects.len(), &dev)
}

/// The joint loss of a batch's outputs against its examples' labels (see [`batch_loss`]).
fn outputs_loss(
    o: &tagger::Outputs,
    items: &[&Item],
    examples: &[Example],
    a: usize,
    dev: &Device,
) -> candle_core::Result<Tensor> {
    let b = items.len();
    let mut det_t = vec![0f32; b * a];
    let mut det_m = vec![0f32; b * a];
    let mut pol_t = vec![0f32; b * a * 3];
    let mut sent_t = vec![0f32; b * 3];
    let (mut nd, mut np, mut ns) = (0f32, 0f32, 0f32);
    for (r, it) in items.iter().enumerate() {
        let e = &examples[it.ex];
        if let Some(asp) = &e.aspects {
            for (k, p) in asp.iter().enumerate().take(a) {
                if !e.known.is_empty() && !e.known[k] {
                    continue;
                }
                det_m[r * a + k] = e.weight;
                nd += e.weight;
                if let Some(p) = p {
                    det_t[r * a + k] = 1.0;
                    pol_t[(r * a + k) * 3 + p] = e.weight;
                    np += e.weight;
                }
            }
        }
        if let Some(s) = e.sentence {
            sent_t[r * 3 + s] = e.weight;
            ns += e.weight;
        }
    }
    let x = &o.detect;
    let y = Tensor::from_vec(det_t, (b, a), dev)?;
    let dm = Tensor::from_vec(det_m, (b, a), dev)?;
    // log(1 + e^x) - x y, written to stay finite for large |x|.
    let bce = ((x.relu()? - (x * &y)?)? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let mut loss = Tensor::zeros((), DType::F32, dev)?;
    if nd > 0.0 {
        // Per sentence rather than per (sentence, aspect): the nine terms sum, so detection
        // weighs about as much as the other two tasks.
        loss = (loss + ((bce * dm)?.sum_all()? / f64::from(nd / a as f32))?)?;
    }
    if np > 0.0 {
        let lp = candle_nn::ops::log_softmax(&o.polarity, candle_core::D::Minus1)?;
        let pt = Tensor::from_vec(pol_t, (b, a, 3), dev)?;
        loss = (loss - ((lp * pt)?.sum_all()? / f64::from(np))?)?;
    }
    if ns > 0.0 {
        let lp = candle_nn::ops::log_softmax(&o.sentence, candle_core::D::Minus1)?;
        let st = Tensor::from_vec(sent_t, (b, 3), dev)?;
        loss = (loss - ((lp * st)?.sum_all()? / f64::from(ns))?)?;
    }
    Ok(loss)
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |x| x.0)
}

/// Scores `model` on examples (a detection is a positive logit, a probability over 0.5).
pub fn evaluate(
    model: &Tagger,
    tok: &tokenizers::Tokenizer,
    examples: &[Example],
    max_tokens: usize,
) -> Result<Evaluation, ExtractError> {
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let ids = tokenise(tok, &texts, max_tokens)?;
    let mut items: Vec<Item> = ids.into_iter().enumerate().map(|(ex, ids)| Item { ids, ex }).collect();
    items.sort_by_key(|i| i.ids.len());
    let a = model.aspects.len();
    let mut ev = Evaluation {
        per_aspect: model.aspects.iter().map(|n| AspectScore { aspect: n.clone(), ..Default::default() }).collect(),
        ..Default::default()
    };
    let (mut pol_right, mut pol_n, mut sent_right, mut bin_right) = (0, 0, 0, 0);
    let dev = model.device();
    for chunk in items.chunks(32) {
        let refs: Vec<&Item> = chunk.iter().collect();
        let (ids, mask) = pad(&refs, &dev).map_err(cerr)?;
        let o = model.forward(&ids, &mask, 0.0).map_err(cerr)?;
        let det: Vec<Vec<f32>> = o.detect.to_vec2().map_err(cerr)?;
        let pol: Vec<Vec<Vec<f32>>> = o.polarity.to_vec3().map_err(cerr)?;
        let sen: Vec<Vec<f32>> = o.sentence.to_vec2().map_err(cerr)?;
        for (r, it) in chunk.iter().enumerate() {
            let e = &examples[it.ex];
            if let Some(asp) = &e.aspects {
                ev.aspect_examples += 1;
                for k in 0..a {
                    if !e.known.is_empty() && !e.known.get(k).copied().unwrap_or(false) {
                        continue;
                    }
                    let s = &mut ev.per_aspect[k];
                    match (det[r][k] > 0.0, asp.get(k).copied().flatten()) {
                        (true, Some(p)) => {
                            s.tp += 1;
                            let got = argmax(&pol[r][k]);
                            ev.polarity_confusion[p][got] += 1;
                            pol_n += 1;
                            if got == p {
                                s.polarity_right += 1;
                                pol_right += 1;
                            }
                        }
                        (true, None) => s.fp += 1,
                        (false, Some(_)) => s.fn_ += 1,
                        (false, None) => {}
                    }
                }
            }
            match (e.sentence, &e.aspects) {
                (Some(s), Some(_)) => {
                    let got = argmax(&sen[r]);
                    ev.sentence_examples += 1;
                    ev.sentence_confusion[s][got] += 1;
                    sent_right += usize::from(got == s);
                }
                (Some(s), None) => {
                    ev.binary_examples += 1;
                    let got = if sen[r][2] > sen[r][0] { 2 } else { 0 };
                    bin_right += usize::from(got == s);
                }
                _ => {}
            }
        }
    }
    let (tp, fp, fn_) = ev.per_aspect.iter().fold((0, 0, 0), |(a, b, c), s| (a + s.tp, b + s.fp, c + s.fn_));
    let div = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    ev.precision = div(tp, tp + fp);
    ev.recall = div(tp, tp + fn_);
    ev.f1 =
        if ev.precision + ev.recall > 0.0 { 2.0 * ev.precision * ev.recall / (ev.precision + ev.recall) } else { 0.0 };
    ev.polarity_accuracy = div(pol_right, pol_n);
    ev.sentence_accuracy = div(sent_right, ev.sentence_examples);
    ev.binary_accuracy = div(bin_right, ev.binary_examples);
    Ok(ev)
}

/// The score that picks the epoch to keep: the mean of aspect F1, aspect polarity, sentence
/// 3-way and positive/negative accuracy (3-way again where no positive/negative set is given).
fn dev_score(e: &Evaluation) -> f64 {
    let bin = if e.binary_examples > 0 { e.binary_accuracy } else { e.sentence_accuracy };
    (e.f1 + e.polarity_accuracy + e.sentence_accuracy + bin) / 4.0
}

/// One step of the seeded generator behind every initialisation and shuffle here (a 64-bit
/// linear congruential generator); returns the new state.
fn lcg_step(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    *state
}

/// A uniform draw in [0, 1) from the next state's top 24 bits.
fn uniform(state: &mut u64) -> f32 {
    (lcg_step(state) >> 40) as f32 / (1u64 << 24) as f32
}

fn lcg(seed: &mut u64) -> u64 {
    lcg_step(seed) >> 33
}

/// Trains the review model on `train` (never on examples marked `test`), keeping the epoch
/// that scores best on `dev`.
#[allow(clippy::too_many_arguments)]
pub fn train(
    base: HashMap<String, Tensor>,
    heads: usize,
    tok: &tokenizers::Tokenizer,
    aspects: Vec<String>,
    train: &[Example],
    dev: &[Example],
    opts: Options,
    mut progress: impl FnMut(Progress),
) -> Result<Trained, ExtractError> {
    if train.iter().any(|e| e.test) {
        return Err(ExtractError::Training("a test-share example reached the training set".into()));
    }
    if train.is_empty() {
        return Err(ExtractError::Training("no training examples".into()));
    }
    let adapt = Adaptation { rank: opts.rank, alpha: 2.0 * opts.rank as f64 };
    let model = Tagger::new(base, &HashMap::new(), aspects, heads, adapt, opts.seed).map_err(cerr)?;
    let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
    let items: Vec<Item> =
        tokenise(tok, &texts, opts.max_tokens)?.into_iter().enumerate().map(|(ex, ids)| Item { ids, ex }).collect();
    let vars: Vec<_> = model.variables().into_iter().map(|(_, v)| v).collect();
    let mut opt =
        AdamW::new(vars, ParamsAdamW { lr: opts.lr, weight_decay: 0.01, ..Default::default() }).map_err(cerr)?;
    let bs = opts.batch.max(1);
    let steps = items.len().div_ceil(bs);
    let total = steps * opts.epochs.max(1);
    let warm = (total / 10).clamp(1, 30);
    let mut seed = opts.seed;
    let mut step = 0;
    let mut curve = Vec::new();
    let mut best: Option<(f64, usize, HashMap<String, Tensor>)> = None;
    let epochs = opts.epochs.max(1);
    let average_from = epochs.saturating_sub(opts.average_last.min(epochs));
    let mut average = Average::default();
    // Four evenly spaced snapshots an epoch, the last at its end.
    let every = steps.div_ceil(4).max(1);
    for epoch in 0..epochs {
        let t0 = std::time::Instant::now();
        let mut order: Vec<usize> = (0..items.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, lcg(&mut seed) as usize % (i + 1));
        }
        // Batches of similar length pad little; groups of 50 batches keep the order random.
        for ch in order.chunks_mut(bs * 50) {
            ch.sort_by_key(|&i| items[i].ids.len());
        }
        let mut batches: Vec<&[usize]> = order.chunks(bs).collect();
        for i in (1..batches.len()).rev() {
            batches.swap(i, lcg(&mut seed) as usize % (i + 1));
        }
        let mut sum = 0.0;
        for (bi, b) in batches.iter().enumerate() {
            let refs: Vec<&Item> = b.iter().map(|&i| &items[i]).collect();
            let f = if step < warm {
                (step + 1) as f64 / warm as f64
            } else {
                1.0 - (step - warm) as f64 / (total - warm).max(1) as f64
            };
            opt.set_learning_rate(opts.lr * f.max(0.02));
            let loss = batch_loss(&model, &refs, train, opts.dropout).map_err(cerr)?;
            opt.backward_step(&loss).map_err(cerr)?;
            let l = f64::from(loss.to_scalar::<f32>().map_err(cerr)?);
            if !l.is_finite() {
                return Err(ExtractError::Training(format!("loss became {l} at epoch {epoch} step {bi}")));
            }
            sum += l;
            step += 1;
            if opts.average_last > 0 && epoch >= average_from && ((bi + 1) % every == 0 || bi + 1 == steps) {
                average.add(model.variables()).map_err(cerr)?;
            }
            progress(Progress { epoch, step: bi + 1, steps, loss: sum / (bi + 1) as f64, of: epochs, stage: "epoch" });
        }
        let dev_eval = evaluate(&model, tok, dev, opts.max_tokens)?;
        let score = dev_score(&dev_eval);
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, epoch, snapshot(&model)?));
        }
        curve.push(Epoch { loss: sum / steps as f64, dev: dev_eval, seconds: t0.elapsed().as_secs_f64() });
    }
    let (_, best_epoch, snap) = best.ok_or_else(|| ExtractError::Training("no epoch ran".into()))?;
    if opts.average_last > 0 && average.n > 0 {
        let n = average.n;
        set_parts(&model, &average.mean().map_err(cerr)?)?;
        let dev_eval = evaluate(&model, tok, dev, opts.max_tokens)?;
        return Ok(Trained { model, curve, best_epoch, averaged: Some((n, dev_eval, snap)) });
    }
    set_parts(&model, &snap)?;
    Ok(Trained { model, curve, best_epoch, averaged: None })
}

/// A copy of the trained parts as they are now (later steps do not change it).
pub fn snapshot(model: &Tagger) -> Result<HashMap<String, Tensor>, ExtractError> {
    model.variables().into_iter().map(|(n, v)| Ok((n, v.as_tensor().copy().map_err(cerr)?))).collect()
}

/// Puts `parts` into `model` (the variables it names; others stay).
pub fn set_parts(model: &Tagger, parts: &HashMap<String, Tensor>) -> Result<(), ExtractError> {
    for (n, v) in model.variables() {
        if let Some(t) = parts.get(&n) {
            v.set(t).map_err(cerr)?;
        }
    }
    Ok(())
}

/// The trained parts of a model (adapters, norms, heads) by name.
pub fn trained_parts(model: &Tagger) -> HashMap<String, Tensor> {
    model.variables().into_iter().map(|(n, v)| (n, v.as_tensor().clone())).collect()
}

/// Writes the trained parts as safetensors.
pub fn save_parts(model: &Tagger, path: &Path) -> Result<(), ExtractError> {
    candle_core::safetensors::save(&trained_parts(model), path).map_err(cerr)
}

/// Rebuilds a model from base weights and saved parts.
pub fn load(
    base: HashMap<String, Tensor>,
    parts: &Path,
    heads: usize,
    aspects: Vec<String>,
    rank: usize,
) -> Result<Tagger, ExtractError> {
    let trained = read_parts(parts)?;
    from_parts(base, &trained, &parts.display().to_string(), heads, aspects, rank)
}

/// Reads saved parts in single precision (a soup's adapters are stored in half).
fn read_parts(path: &Path) -> Result<HashMap<String, Tensor>, ExtractError> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| ExtractError::Model(format!("{}: {e}", path.display())))?
        .into_iter()
        .map(|(k, v)| Ok((k, v.to_dtype(DType::F32).map_err(cerr)?)))
        .collect()
}

fn from_parts(
    base: HashMap<String, Tensor>,
    trained: &HashMap<String, Tensor>,
    source: &str,
    heads: usize,
    aspects: Vec<String>,
    rank: usize,
) -> Result<Tagger, ExtractError> {
    // alpha = 2 rank: the adapters' scale is 2 whatever the rank, so a soup's wider adapters
    // (below) need no scale of their own.
    let model =
        Tagger::new(base, trained, aspects, heads, Adaptation { rank, alpha: 2.0 * rank as f64 }, 0).map_err(cerr)?;
    // A part missing from the file would start from its random initialisation: refuse instead.
    if let Some((n, _)) = model.variables().into_iter().find(|(n, _)| !trained.contains_key(n)) {
        return Err(ExtractError::Model(format!("{source}: lacks {n} (trained with another rank or aspect list?)")));
    }
    Ok(model)
}

/// The uniform mean of several runs' trained parts (a "model soup", Wortsman et al. 2022): runs
/// fine-tuned from the same base stay close enough in weight space that their mean is a model,
/// and one that costs nothing more to serve. Heads and norms are averaged as they are; an
/// adapter pair is not (the mean of the `A`s times the mean of the `B`s is not the mean of the
/// updates), so the soup stacks them: `A` = the runs' `A`s one under another, `B` = their `B`s
/// side by side over the number of runs, whose product is exactly the mean of the runs' updates
/// (a rank of the runs' ranks summed; folded into the weights on export as before).
pub fn soup(runs: &[HashMap<String, Tensor>]) -> Result<HashMap<String, Tensor>, ExtractError> {
    let first = runs.first().ok_or_else(|| ExtractError::Model("a soup needs at least one run".into()))?;
    let n = runs.len() as f64;
    let mut out = HashMap::new();
    for name in first.keys() {
        let mut parts = Vec::with_capacity(runs.len());
        for (i, r) in runs.iter().enumerate() {
            let t = r.get(name).ok_or_else(|| ExtractError::Model(format!("soup: run {} lacks {name}", i + 1)))?;
            parts.push(t.clone());
        }
        let mixed = if name.ends_with(".lora_a") {
            Tensor::cat(&parts, 0)
        } else if name.ends_with(".lora_b") {
            Tensor::cat(&parts, 1).and_then(|t| t / n)
        } else {
            let shape = first[name].shape();
            if let Some(i) = parts.iter().position(|t| t.shape() != shape) {
                return Err(ExtractError::Model(format!(
                    "soup: {name} is {:?} in run 1 and {:?} in run {} (another aspect list?)",
                    shape.dims(),
                    parts[i].dims(),
                    i + 1
                )));
            }
            Tensor::stack(&parts, 0).and_then(|t| t.mean(0))
        }
        .map_err(|e| ExtractError::Model(format!("soup: {name}: {e}")))?;
        out.insert(name.clone(), mixed);
    }
    if let Some((i, _)) = runs.iter().enumerate().find(|(_, r)| r.len() != first.len()) {
        return Err(ExtractError::Model(format!("soup: run {} has other parts than run 1", i + 1)));
    }
    Ok(out)
}

/// A model whose trained parts are the [`soup`] of the parts files in `files`.
/// The adapters are rounded to half precision (as [`save_half_adapters`] stores them), so the
/// model scored is the one that is saved.
pub fn soup_model(
    base: HashMap<String, Tensor>,
    files: &[PathBuf],
    heads: usize,
    aspects: Vec<String>,
    rank: usize,
) -> Result<Tagger, ExtractError> {
    let runs = files.iter().map(|f| read_parts(f)).collect::<Result<Vec<_>, _>>()?;
    let dev = base.values().next().map_or(Device::Cpu, |t| t.device().clone());
    let parts = soup(&runs)?
        .into_iter()
        .map(|(k, v)| {
            let v = halved(&k, v)?.to_dtype(DType::F32).and_then(|v| v.to_device(&dev)).map_err(cerr)?;
            Ok((k, v))
        })
        .collect::<Result<HashMap<_, _>, ExtractError>>()?;
    from_parts(base, &parts, &format!("soup of {} runs", files.len()), heads, aspects, rank)
}

/// An adapter in half precision, how soups store them; any other part as it is.
fn halved(name: &str, v: Tensor) -> Result<Tensor, ExtractError> {
    if name.ends_with(".lora_a") || name.ends_with(".lora_b") { v.to_dtype(DType::F16).map_err(cerr) } else { Ok(v) }
}

/// Writes the trained parts with the adapters in half precision (everything else as it is): a
/// soup's stacked adapters are as wide as its runs' ranks summed (96 for eleven runs), 16 MB in
/// single precision, 8 in half. Refolding them to a lower rank by a truncated SVD was tried
/// instead and lost too much (rank 32 kept 87% of the smallest update's energy and scored lower
/// on every share; benches/REPORT.md section 6).
pub fn save_half_adapters(model: &Tagger, path: &Path) -> Result<(), ExtractError> {
    let parts = trained_parts(model)
        .into_iter()
        .map(|(k, v)| Ok((k.clone(), halved(&k, v)?)))
        .collect::<Result<HashMap<_, _>, ExtractError>>()?;
    candle_core::safetensors::save(&parts, path).map_err(cerr)
}

/// Reads base encoder weights from a safetensors file onto `dev` (the model trains and runs
/// where its base weights are).
pub fn read_base(path: &Path, dev: &Device) -> Result<HashMap<String, Tensor>, ExtractError> {
    candle_core::safetensors::load(path, dev).map_err(|e| ExtractError::Model(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker process of `finetune --jobs` hands its curve back as JSON; the manifest and the
    /// charts are written from what is read back.
    #[test]
    fn an_epochs_figures_survive_the_trip_through_a_worker() {
        let mut dev =
            Evaluation { f1: 0.84, polarity_confusion: [[1, 2, 3], [4, 5, 6], [7, 8, 9]], ..Default::default() };
        dev.per_aspect.push(AspectScore { aspect: "fit".into(), ..Default::default() });
        let curve = vec![Epoch { loss: 0.25, dev, seconds: 61.5 }];
        let back: Vec<Epoch> = serde_json::from_slice(&serde_json::to_vec(&curve).unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&curve).unwrap());
        assert_eq!(back[0].dev.per_aspect[0].aspect, "fit");
    }

    #[test]
    fn averaged_parts_are_the_mean_of_the_snapshots() {
        let dev = Device::Cpu;
        let snap = |x: f32| {
            let t = Tensor::from_vec(vec![x, 2.0 * x], 2, &dev).unwrap();
            vec![("w".to_string(), candle_core::Var::from_tensor(&t).unwrap())]
        };
        let mut avg = Average::default();
        for x in [1.0, 2.0, 6.0] {
            avg.add(snap(x)).unwrap();
        }
        assert_eq!(avg.n, 3);
        let mean = avg.mean().unwrap();
        assert_eq!(mean["w"].to_vec1::<f32>().unwrap(), vec![3.0, 6.0]);
    }

    #[test]
    fn a_soups_adapter_update_is_the_mean_of_the_runs_updates() {
        let dev = Device::Cpu;
        // Two runs of a rank-2 adapter on a 3x4 weight, and a head.
        let run = |k: f32| {
            let a = Tensor::from_vec((0..8).map(|i| k * i as f32 - 1.0).collect::<Vec<_>>(), (2, 4), &dev).unwrap();
            let b = Tensor::from_vec((0..6).map(|i| (i as f32 + k).sin()).collect::<Vec<_>>(), (3, 2), &dev).unwrap();
            let h = Tensor::from_vec(vec![k, -k], 2, &dev).unwrap();
            HashMap::from([("l.lora_a".to_string(), a), ("l.lora_b".to_string(), b), ("head.w".to_string(), h)])
        };
        let runs = [run(1.0), run(3.0)];
        let s = soup(&runs).unwrap();
        assert_eq!(s["l.lora_a"].dims(), &[4, 4]);
        assert_eq!(s["l.lora_b"].dims(), &[3, 4]);
        let update = |r: &HashMap<String, Tensor>| r["l.lora_b"].matmul(&r["l.lora_a"]).unwrap();
        let want = ((update(&runs[0]) + update(&runs[1])).unwrap() / 2.0).unwrap();
        let diff = (update(&s) - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 1e-5, "soup update differs from the mean update by {diff}");
        assert_eq!(s["head.w"].to_vec1::<f32>().unwrap(), vec![2.0, -2.0]);
        // Runs with other parts are refused, not silently mixed.
        let mut odd = run(2.0);
        odd.remove("head.w");
        assert!(soup(&[run(1.0), odd]).is_err());
    }
}
