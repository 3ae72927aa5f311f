//! A BERT encoder in candle that can be fine-tuned: low-rank adapters on every linear map,
//! trainable layer norms, dropout while training. Weights load from a Hugging Face safetensors
//! file (the names `embeddings.*`, `encoder.layer.N.*`).

use candle_core::{D, DType, Device, Result, Tensor, Var};
use std::collections::HashMap;

/// Shape of the encoder, read from the weights.
#[derive(Debug, Clone, Copy)]
pub struct BertConfig {
    /// Width of the hidden states.
    pub hidden: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Longest input in tokens.
    pub max_positions: usize,
}

/// A linear map `x W^T + b`, optionally with a trainable low-rank update `x A^T B^T * scale`.
#[derive(Debug)]
pub struct Linear {
    w: Tensor,
    b: Tensor,
    lora: Option<(Var, Var, f64)>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.broadcast_matmul(&self.w.t()?)?.broadcast_add(&self.b)?;
        match &self.lora {
            None => Ok(y),
            Some((a, b, scale)) => {
                let d = x.broadcast_matmul(&a.as_tensor().t()?)?.broadcast_matmul(&b.as_tensor().t()?)?;
                y + (d * *scale)?
            }
        }
    }

    /// The weight with the adapter folded in, for export.
    pub fn merged(&self) -> Result<(Tensor, Tensor)> {
        match &self.lora {
            None => Ok((self.w.clone(), self.b.clone())),
            Some((a, b, scale)) => Ok(((&self.w + (b.as_tensor().matmul(a.as_tensor())? * *scale)?)?, self.b.clone())),
        }
    }
}

/// Layer normalisation over the last dimension, written with differentiable primitives.
#[derive(Debug)]
pub struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let xn = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        xn.broadcast_mul(&self.w)?.broadcast_add(&self.b)
    }
}

#[derive(Debug)]
struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ln1: LayerNorm,
    up: Linear,
    down: Linear,
    ln2: LayerNorm,
}

/// The encoder: embeddings (frozen) and layers.
#[derive(Debug)]
pub struct Bert {
    /// Its shape.
    pub config: BertConfig,
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    ln: LayerNorm,
    layers: Vec<Layer>,
    /// The trainable variables with their names, in a fixed order.
    pub trainable: Vec<(String, Var)>,
}

/// How much of the encoder trains.
#[derive(Debug, Clone, Copy)]
pub struct Adaptation {
    /// Rank of the low-rank adapters (0: none, the encoder stays frozen apart from layer norms).
    pub rank: usize,
    /// Adapter scale numerator (alpha / rank scales the update).
    pub alpha: f64,
}

fn take(w: &mut HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    w.remove(name).ok_or_else(|| candle_core::Error::Msg(format!("weights lack {name}")))
}

impl Bert {
    /// Where its weights live.
    pub fn device(&self) -> Device {
        self.word.device().clone()
    }

    /// Builds the encoder from base weights. `adapters` holds trained adapter and layer-norm
    /// values to start from (by name); missing adapters start as the usual LoRA init (A small
    /// random, B zero, so the model starts as the base).
    pub fn new(
        mut w: HashMap<String, Tensor>,
        heads: usize,
        adapt: Adaptation,
        adapters: &HashMap<String, Tensor>,
        seed: u64,
    ) -> Result<Self> {
        let word = take(&mut w, "embeddings.word_embeddings.weight")?;
        // Everything is built where the base weights were loaded (the CPU, or a GPU).
        let dev = word.device().clone();
        let position = take(&mut w, "embeddings.position_embeddings.weight")?;
        let token_type = take(&mut w, "embeddings.token_type_embeddings.weight")?.get(0)?;
        let hidden = word.dim(1)?;
        let mut trainable = Vec::new();
        let mut rng = seed;
        super::lcg_step(&mut rng);
        let ln = |w: &mut HashMap<String, Tensor>, p: &str, trainable: &mut Vec<(String, Var)>| -> Result<LayerNorm> {
            let mut get = |n: &str| -> Result<Tensor> {
                let name = format!("{p}.{n}");
                let t = adapters.get(&name).map(|t| t.to_device(&dev)).unwrap_or_else(|| take(w, &name))?;
                let v = Var::from_tensor(&t)?;
                trainable.push((name, v.clone()));
                Ok(v.as_tensor().clone())
            };
            Ok(LayerNorm { w: get("weight")?, b: get("bias")?, eps: 1e-12 })
        };
        let emb_ln = ln(&mut w, "embeddings.LayerNorm", &mut trainable)?;
        let mut layers = Vec::new();
        let mut l = 0;
        while w.contains_key(&format!("encoder.layer.{l}.attention.self.query.weight")) {
            let p = format!("encoder.layer.{l}");
            let mut lin =
                |w: &mut HashMap<String, Tensor>, n: &str, trainable: &mut Vec<(String, Var)>| -> Result<Linear> {
                    let wt = take(w, &format!("{p}.{n}.weight"))?;
                    let b = take(w, &format!("{p}.{n}.bias"))?;
                    let lora = if adapt.rank == 0 {
                        None
                    } else {
                        let (out_d, in_d) = wt.dims2()?;
                        let an = format!("{p}.{n}.lora_a");
                        let bn = format!("{p}.{n}.lora_b");
                        let a = match adapters.get(&an) {
                            Some(t) => t.to_device(&dev)?,
                            None => {
                                let bound = 1.0 / (in_d as f32).sqrt();
                                let vals: Vec<f32> = (0..adapt.rank * in_d)
                                    .map(|_| (super::uniform(&mut rng) * 2.0 - 1.0) * bound)
                                    .collect();
                                Tensor::from_vec(vals, (adapt.rank, in_d), &dev)?
                            }
                        };
                        let bt = match adapters.get(&bn) {
                            Some(t) => t.to_device(&dev)?,
                            None => Tensor::zeros((out_d, adapt.rank), DType::F32, &dev)?,
                        };
                        let (va, vb) = (Var::from_tensor(&a)?, Var::from_tensor(&bt)?);
                        trainable.push((an, va.clone()));
                        trainable.push((bn, vb.clone()));
                        Some((va, vb, adapt.alpha / adapt.rank as f64))
                    };
                    Ok(Linear { w: wt, b, lora })
                };
            layers.push(Layer {
                q: lin(&mut w, "attention.self.query", &mut trainable)?,
                k: lin(&mut w, "attention.self.key", &mut trainable)?,
                v: lin(&mut w, "attention.self.value", &mut trainable)?,
                o: lin(&mut w, "attention.output.dense", &mut trainable)?,
                ln1: ln(&mut w, &format!("{p}.attention.output.LayerNorm"), &mut trainable)?,
                up: lin(&mut w, "intermediate.dense", &mut trainable)?,
                down: lin(&mut w, "output.dense", &mut trainable)?,
                ln2: ln(&mut w, &format!("{p}.output.LayerNorm"), &mut trainable)?,
            });
            l += 1;
        }
        if heads == 0 || hidden % heads != 0 {
            return Err(candle_core::Error::Msg(format!("{heads} attention heads do not divide width {hidden}")));
        }
        let config = BertConfig { hidden, heads, layers: layers.len(), max_positions: position.dim(0)? };
        Ok(Self { config, word, position, token_type, ln: emb_ln, layers, trainable })
    }

    /// Hidden states `[batch, tokens, hidden]` of token ids `[batch, tokens]` (u32) with the
    /// additive attention mask `[batch, 1, 1, tokens]` (0 for tokens, a large negative for pads).
    pub fn forward(&self, ids: &Tensor, mask_add: &Tensor, dropout: f32) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = self.config.hidden;
        let x = self.word.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, h))?;
        let x = x.broadcast_add(&self.position.narrow(0, 0, t)?)?.broadcast_add(&self.token_type)?;
        let mut x = self.ln.forward(&x)?;
        let drop = |x: Tensor| if dropout > 0.0 { candle_nn::ops::dropout(&x, dropout) } else { Ok(x) };
        x = drop(x)?;
        let heads = self.config.heads;
        let dh = h / heads;
        let scale = 1.0 / (dh as f64).sqrt();
        for l in &self.layers {
            let split = |y: Tensor| y.reshape((b, t, heads, dh))?.transpose(1, 2)?.contiguous();
            let q = split(l.q.forward(&x)?)?;
            let k = split(l.k.forward(&x)?)?;
            let v = split(l.v.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(mask_add)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((b, t, h))?;
            let a = l.ln1.forward(&(drop(l.o.forward(&ctx)?)? + &x)?)?;
            let f = l.down.forward(&l.up.forward(&a)?.gelu_erf()?)?;
            x = l.ln2.forward(&(drop(f)? + a)?)?;
        }
        Ok(x)
    }
}

/// A row-major matrix as plain numbers.
#[derive(Debug, Clone)]
pub struct Mat {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Values, row by row.
    pub data: Vec<f32>,
}

impl Mat {
    /// A copy of a 2-d tensor.
    pub fn of(t: &Tensor) -> Result<Self> {
        let (rows, cols) = t.dims2()?;
        Ok(Self { rows, cols, data: t.flatten_all()?.to_vec1()? })
    }

    /// The transpose.
    pub fn t(&self) -> Self {
        let mut data = vec![0f32; self.data.len()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        Self { rows: self.cols, cols: self.rows, data }
    }
}

/// The embedding weights for export.
#[derive(Debug)]
pub struct ExportEmbeddings {
    /// Word vectors `[vocab, hidden]`.
    pub word: Mat,
    /// Position vectors `[positions, hidden]`.
    pub position: Mat,
    /// The token-type-0 vector (every input is one segment).
    pub token_type: Vec<f32>,
    /// Embedding layer norm (gamma, beta).
    pub norm: (Vec<f32>, Vec<f32>),
}

/// One layer's weights for export, adapters folded in: `(name, weight [out, in], bias)` for
/// the linear maps and `(name, gamma, beta)` for the norms.
#[derive(Debug)]
pub struct ExportLayer {
    /// q, k, v, o, up, down.
    pub linear: Vec<(Mat, Vec<f32>)>,
    /// Attention-output norm, then output norm.
    pub norms: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Linear {
    /// The weight with the adapter folded in, summed in a fixed order in f64 so the exported
    /// file is the same bytes on every machine.
    fn folded(&self) -> Result<(Mat, Vec<f32>)> {
        let mut w = Mat::of(&self.w)?;
        if let Some((a, b, scale)) = &self.lora {
            let (a, b) = (Mat::of(a.as_tensor())?, Mat::of(b.as_tensor())?);
            for o in 0..w.rows {
                for i in 0..w.cols {
                    let mut s = 0f64;
                    for r in 0..a.rows {
                        s += f64::from(b.data[o * b.cols + r]) * f64::from(a.data[r * a.cols + i]);
                    }
                    w.data[o * w.cols + i] = (f64::from(w.data[o * w.cols + i]) + s * scale) as f32;
                }
            }
        }
        Ok((w, self.b.to_vec1()?))
    }
}

impl LayerNorm {
    fn values(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok((self.w.to_vec1()?, self.b.to_vec1()?))
    }
}

impl Bert {
    /// Embedding tables and the embedding norm.
    pub fn export_embeddings(&self) -> Result<ExportEmbeddings> {
        Ok(ExportEmbeddings {
            word: Mat::of(&self.word)?,
            position: Mat::of(&self.position)?,
            token_type: self.token_type.to_vec1()?,
            norm: self.ln.values()?,
        })
    }

    /// Every layer with adapters folded in.
    pub fn export_layers(&self) -> Result<Vec<ExportLayer>> {
        self.layers
            .iter()
            .map(|l| {
                Ok(ExportLayer {
                    linear: [&l.q, &l.k, &l.v, &l.o, &l.up, &l.down]
                        .iter()
                        .map(|x| x.folded())
                        .collect::<Result<_>>()?,
                    norms: vec![l.ln1.values()?, l.ln2.values()?],
                })
            })
            .collect()
    }
}
