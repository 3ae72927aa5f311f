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
    /// `x` is `[..., in]`; the leading dimensions are flattened into rows so each map is one
    /// matrix product, not one per sentence.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let x2 = x.reshape(((), self.w.dim(1)?))?;
        let frozen = if x2.device().is_cpu() {
            x2.contiguous()?.apply_op1(Frozen { w: self.w.clone(), b: self.b.clone() })?
        } else {
            x2.matmul(&self.w.t()?)?.broadcast_add(&self.b)?
        };
        let y = match &self.lora {
            None => frozen,
            Some((a, b, scale)) => {
                let d = x2.matmul(&a.as_tensor().t()?)?.matmul(&b.as_tensor().t()?)?;
                (frozen + (d * *scale)?)?
            }
        };
        if let Some(last) = dims.last_mut() {
            *last = self.w.dim(0)?;
        }
        y.reshape(dims)
    }

    /// The weight with the adapter folded in, for export.
    pub fn merged(&self) -> Result<(Tensor, Tensor)> {
        match &self.lora {
            None => Ok((self.w.clone(), self.b.clone())),
            Some((a, b, scale)) => Ok(((&self.w + (b.as_tensor().matmul(a.as_tensor())? * *scale)?)?, self.b.clone())),
        }
    }
}

/// `x W^T + b` for a frozen `W` and `b` on the CPU, as an operation whose backward pass gives the
/// input's gradient only. candle's matrix product also computes the gradient of its right-hand
/// side, so a plain product spends a third of the encoder's arithmetic on the frozen weights'
/// gradients, which nothing reads.
struct Frozen {
    w: Tensor,
    b: Tensor,
}

impl candle_core::CustomOp1 for Frozen {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("frozen-linear needs a contiguous input".into()))?;
        let x = Tensor::from_slice(&storage.as_slice::<f32>()?[start..end], layout.shape(), &Device::Cpu)?;
        let y = x.matmul(&self.w.t()?)?.broadcast_add(&self.b)?;
        let shape = y.shape().clone();
        Ok((candle_core::CpuStorage::F32(y.flatten_all()?.to_vec1()?), shape))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.w)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, k: f32, shape: &[usize]) -> Tensor {
        Tensor::from_vec((0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect::<Vec<_>>(), shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    /// The frozen-weight product must give the values and the gradients (of the input and of
    /// the adapters) of the plain product it replaced; only the frozen weight's gradient,
    /// which nothing reads, is left out.
    #[test]
    fn frozen_linear_matches_the_plain_product_and_its_gradients() {
        // (input shape, adapter rank)
        let cases: [(&[usize], usize); 4] = [(&[2, 3, 4], 0), (&[2, 3, 4], 2), (&[5, 4], 2), (&[1, 7, 4], 3)];
        for (shape, rank) in cases {
            let n: usize = shape.iter().product();
            let x = Var::from_tensor(&ramp(n, 0.7, shape)).unwrap();
            let w = ramp(12, 1.3, &[3, 4]);
            let b = ramp(3, 2.1, &[3]);
            let lora = (rank > 0).then(|| {
                let a = Var::from_tensor(&ramp(rank * 4, 0.9, &[rank, 4])).unwrap();
                let bb = Var::from_tensor(&ramp(3 * rank, 0.4, &[3, rank])).unwrap();
                (a, bb, 1.5)
            });
            let lin = Linear { w: w.clone(), b: b.clone(), lora: lora.clone() };
            let got = lin.forward(x.as_tensor()).unwrap();
            let mut want = x.as_tensor().broadcast_matmul(&w.t().unwrap()).unwrap().broadcast_add(&b).unwrap();
            if let Some((a, bb, s)) = &lora {
                let d = x
                    .as_tensor()
                    .broadcast_matmul(&a.as_tensor().t().unwrap())
                    .unwrap()
                    .broadcast_matmul(&bb.as_tensor().t().unwrap())
                    .unwrap();
                want = (want + (d * *s).unwrap()).unwrap();
            }
            assert_eq!(got.dims(), want.dims(), "{shape:?}");
            assert!(max_diff(&got, &want) < 1e-5, "{shape:?} rank {rank}: values differ");
            // A loss that weighs every output differently, so a wrong gradient cannot cancel out.
            let weights = ramp(want.elem_count(), 0.3, want.dims());
            let loss = |y: &Tensor| (y * &weights).unwrap().sum_all().unwrap();
            let (g_got, g_want) = (loss(&got).backward().unwrap(), loss(&want).backward().unwrap());
            let mut vars = vec![x.clone()];
            if let Some((a, bb, _)) = &lora {
                vars.extend([a.clone(), bb.clone()]);
            }
            for v in &vars {
                let (gg, gw) = (g_got.get(v).expect("gradient reached"), g_want.get(v).unwrap());
                assert!(max_diff(gg, gw) < 1e-4, "{shape:?} rank {rank}: gradients differ");
            }
        }
    }
}
