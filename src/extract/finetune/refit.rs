//! Re-fitting the aspect heads (attention, detection, polarity) on a frozen encoder. A soup's
//! encoder is the mean of several runs', but its heads are the mean of heads that each learnt
//! their own run's features and logit scale; fitted again on the soup's own features, they
//! agree with the encoder they read. The encoder runs once over the training sentences, so
//! this costs a minute or two, not the runs' hour.

use super::data::Example;
use super::tagger::Tagger;
use super::{Epoch, Item, Options, Progress, cerr, dev_score, evaluate, lcg, outputs_loss, pad, snapshot, tokenise};
use crate::extract::ExtractError;
use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::collections::HashMap;

/// A batch of encoder outputs, computed once.
struct Cached {
    x: Tensor,
    mask: Tensor,
    items: Vec<Item>,
}

/// What a re-fit did.
#[derive(Debug)]
pub struct Refitted {
    /// Per epoch (epoch 0 of the curve is the first pass of re-fitting).
    pub curve: Vec<Epoch>,
    /// The development scores of the heads as they came (before any re-fitting).
    pub before: super::Evaluation,
    /// Epochs of re-fitting kept: 0 when none scored better than the heads as they came.
    pub kept: usize,
}

/// Re-fits `model`'s aspect heads for `epochs` passes over the aspect-labelled examples of
/// `train`, starting from the heads it has; keeps the pass (or the heads as they came) that
/// scores best on `dev`. The encoder and the sentence head do not change.
pub fn refit_heads(
    model: &Tagger,
    tok: &tokenizers::Tokenizer,
    train: &[Example],
    dev: &[Example],
    opts: Options,
    epochs: usize,
    mut progress: impl FnMut(Progress),
) -> Result<Refitted, ExtractError> {
    if train.iter().any(|e| e.test) {
        return Err(ExtractError::Training("a test-share example reached the training set".into()));
    }
    let labelled: Vec<usize> = (0..train.len()).filter(|&i| train[i].aspects.is_some()).collect();
    if labelled.is_empty() {
        return Err(ExtractError::Training("no aspect-labelled training examples to re-fit on".into()));
    }
    let texts: Vec<&str> = labelled.iter().map(|&i| train[i].text.as_str()).collect();
    let mut items: Vec<Item> =
        tokenise(tok, &texts, opts.max_tokens)?.into_iter().zip(&labelled).map(|(ids, &ex)| Item { ids, ex }).collect();
    items.sort_by_key(|i| i.ids.len());
    let device = model.device();
    let bs = opts.batch.max(1);
    let mut cached = Vec::new();
    for chunk in items.chunks(bs) {
        let refs: Vec<&Item> = chunk.iter().collect();
        let (ids, mask) = pad(&refs, &device).map_err(cerr)?;
        let x = model.encode(&ids, &mask, 0.0).map_err(cerr)?.detach();
        cached.push(Cached { x, mask, items: chunk.to_vec() });
    }
    let before = evaluate(model, tok, dev, opts.max_tokens)?;
    let mut best: (f64, usize, HashMap<String, Tensor>) = (dev_score(&before), 0, snapshot(model)?);
    let vars: Vec<_> = model.aspect_heads().into_iter().map(|(_, v)| v).collect();
    let mut opt =
        AdamW::new(vars, ParamsAdamW { lr: opts.lr, weight_decay: 0.01, ..Default::default() }).map_err(cerr)?;
    let mut seed = opts.seed;
    let mut curve = Vec::new();
    let steps = cached.len();
    for epoch in 0..epochs {
        let t0 = std::time::Instant::now();
        let mut order: Vec<usize> = (0..steps).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, lcg(&mut seed) as usize % (i + 1));
        }
        let mut sum = 0.0;
        for (bi, &k) in order.iter().enumerate() {
            let c = &cached[k];
            // The same dropout as training, on the features: the heads must not lean on a few
            // coordinates the encoder over-fitted to these very sentences.
            let x =
                if opts.dropout > 0.0 { dropout(&c.x, opts.dropout, &mut seed).map_err(cerr)? } else { c.x.clone() };
            let o = model.heads(&x, &c.mask).map_err(cerr)?;
            let refs: Vec<&Item> = c.items.iter().collect();
            // Training's own loss, sentence term included: no re-fitted variable reaches that
            // term, so it only offsets the figure reported, and the two losses stay comparable.
            let loss = outputs_loss(&o, &refs, train, model.aspects.len(), &device).map_err(cerr)?;
            opt.backward_step(&loss).map_err(cerr)?;
            let l = f64::from(loss.to_scalar::<f32>().map_err(cerr)?);
            if !l.is_finite() {
                return Err(ExtractError::Training(format!("loss became {l} re-fitting the heads, pass {epoch}")));
            }
            sum += l;
            progress(Progress {
                epoch,
                step: bi + 1,
                steps,
                loss: sum / (bi + 1) as f64,
                of: epochs,
                stage: "head re-fit pass",
            });
        }
        let dev_eval = evaluate(model, tok, dev, opts.max_tokens)?;
        let score = dev_score(&dev_eval);
        if score > best.0 {
            best = (score, epoch + 1, snapshot(model)?);
        }
        curve.push(Epoch { loss: sum / steps as f64, dev: dev_eval, seconds: t0.elapsed().as_secs_f64() });
    }
    super::set_parts(model, &best.2)?;
    Ok(Refitted { curve, before, kept: best.1 })
}

/// Dropout from the seeded generator (candle's draws from the thread's), so that a re-fit with
/// the same seed writes the same heads.
fn dropout(x: &Tensor, p: f32, seed: &mut u64) -> candle_core::Result<Tensor> {
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count()).map(|_| if super::uniform(seed) < p { 0.0 } else { keep }).collect();
    x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
}

/// Which pass a re-fit kept, in words (`kept` as in [`Refitted::kept`]).
pub fn kept_in_words(kept: usize) -> String {
    if kept == 0 { "the heads as they came".to_string() } else { format!("pass {kept}") }
}
