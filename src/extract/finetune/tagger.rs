//! The review model: the encoder plus three heads. Each aspect attends over the tokens (its own
//! attention vector), which gives where the aspect is named (the span) and a pooled vector of
//! the words around it; that vector decides whether the aspect is there and its polarity. The
//! sentence's polarity comes from the mean of its token vectors.

use super::bert::{Adaptation, Bert};
use candle_core::{D, DType, Device, Result, Tensor, Var};
use std::collections::HashMap;

/// Encoder and heads.
#[derive(Debug)]
pub struct Tagger {
    /// The encoder.
    pub bert: Bert,
    /// Aspect names in head order.
    pub aspects: Vec<String>,
    att: Var,
    det_w: Var,
    det_b: Var,
    pol_w: Var,
    pol_b: Var,
    sent_w: Var,
    sent_b: Var,
}

/// Outputs for a batch.
#[derive(Debug)]
pub struct Outputs {
    /// `[batch, aspects]` logits: is the aspect there.
    pub detect: Tensor,
    /// `[batch, aspects, 3]` polarity logits per aspect.
    pub polarity: Tensor,
    /// `[batch, 3]` sentence polarity logits.
    pub sentence: Tensor,
    /// `[batch, tokens, aspects]` attention of each aspect over the tokens.
    pub attention: Tensor,
}

fn init(rows: usize, cols: usize, std: f32, seed: &mut u64, dev: &Device) -> Result<Tensor> {
    let vals: Vec<f32> = (0..rows * cols)
        .map(|_| {
            // Sum of uniforms: close enough to a normal for an initialisation.
            let mut s = 0.0f32;
            for _ in 0..4 {
                s += super::uniform(seed) - 0.5;
            }
            s * std * 1.732
        })
        .collect();
    Tensor::from_vec(vals, (rows, cols), dev)
}

impl Tagger {
    /// Builds the model from base encoder weights and, when given, trained parts (heads,
    /// adapters, layer norms) by name.
    pub fn new(
        base: HashMap<String, Tensor>,
        trained: &HashMap<String, Tensor>,
        aspects: Vec<String>,
        heads: usize,
        adapt: Adaptation,
        seed: u64,
    ) -> Result<Self> {
        let bert = Bert::new(base, heads, adapt, trained, seed)?;
        let h = bert.config.hidden;
        let a = aspects.len();
        let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
        let dev = bert.device();
        let var = |name: &str, t: Tensor| -> Result<Var> {
            Var::from_tensor(&trained.get(name).map(|x| x.to_device(&dev)).transpose()?.unwrap_or(t))
        };
        let att = var("head.attention", init(h, a, 0.02, &mut s, &dev)?)?;
        let det_w = var("head.detect.weight", init(a, h, 0.02, &mut s, &dev)?)?;
        let det_b = var("head.detect.bias", Tensor::full(-2f32, a, &dev)?)?;
        let pol_w = var("head.polarity.weight", init(h, 3, 0.02, &mut s, &dev)?)?;
        let pol_b = var("head.polarity.bias", Tensor::zeros((a, 3), DType::F32, &dev)?)?;
        let sent_w = var("head.sentence.weight", init(h, 3, 0.02, &mut s, &dev)?)?;
        let sent_b = var("head.sentence.bias", Tensor::zeros(3, DType::F32, &dev)?)?;
        Ok(Self { bert, aspects, att, det_w, det_b, pol_w, pol_b, sent_w, sent_b })
    }

    /// Where its weights live.
    pub fn device(&self) -> Device {
        self.bert.device()
    }

    /// The aspect heads' variables by name (attention, detection, polarity): what
    /// [`super::refit`] trains on a frozen encoder.
    pub fn aspect_heads(&self) -> Vec<(String, Var)> {
        [
            ("head.attention", &self.att),
            ("head.detect.weight", &self.det_w),
            ("head.detect.bias", &self.det_b),
            ("head.polarity.weight", &self.pol_w),
            ("head.polarity.bias", &self.pol_b),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect()
    }

    /// Every trainable variable by name (encoder adapters and norms, then heads).
    pub fn variables(&self) -> Vec<(String, Var)> {
        let mut v = self.bert.trainable.clone();
        v.extend(self.aspect_heads());
        v.push(("head.sentence.weight".into(), self.sent_w.clone()));
        v.push(("head.sentence.bias".into(), self.sent_b.clone()));
        v
    }

    /// Runs a batch: `ids` `[batch, tokens]` u32, `mask` `[batch, tokens]` f32 (1 token, 0 pad).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor, dropout: f32) -> Result<Outputs> {
        let x = self.encode(ids, mask, dropout)?;
        let x = if dropout > 0.0 { candle_nn::ops::dropout(&x, dropout)? } else { x };
        self.heads(&x, mask)
    }

    /// The encoder's token vectors `[batch, tokens, hidden]` for a batch.
    pub fn encode(&self, ids: &Tensor, mask: &Tensor, dropout: f32) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let neg = ((mask.ones_like()? - mask)? * -10000.0)?;
        self.bert.forward(ids, &neg.reshape((b, 1, 1, t))?, dropout)
    }

    /// The heads over token vectors `x` `[batch, tokens, hidden]`.
    pub fn heads(&self, x: &Tensor, mask: &Tensor) -> Result<Outputs> {
        let (b, t) = mask.dims2()?;
        let neg = ((mask.ones_like()? - mask)? * -10000.0)?;
        // Aspect attention over tokens: softmax along the token axis.
        let scores = x.broadcast_matmul(self.att.as_tensor())?.broadcast_add(&neg.reshape((b, t, 1))?)?;
        let attention = candle_nn::ops::softmax(&scores, 1)?;
        let pooled = attention.transpose(1, 2)?.contiguous()?.matmul(x)?; // [b, a, h]
        let detect =
            pooled.broadcast_mul(self.det_w.as_tensor())?.sum(D::Minus1)?.broadcast_add(self.det_b.as_tensor())?;
        let polarity = pooled.broadcast_matmul(self.pol_w.as_tensor())?.broadcast_add(self.pol_b.as_tensor())?;
        let m = mask.reshape((b, t, 1))?;
        let mean = x.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
        let sentence = mean.matmul(self.sent_w.as_tensor())?.broadcast_add(self.sent_b.as_tensor())?;
        Ok(Outputs { detect, polarity, sentence, attention })
    }
}

impl Tagger {
    /// The model as an ONNX graph: inputs `input_ids` and `attention_mask` (int64 `[batch,
    /// tokens]`), outputs `detect`, `polarity`, `sentence`, `attention`, `embedding` (the
    /// mean of the token vectors).
    pub fn to_onnx(&self, version: &str) -> Result<Vec<u8>> {
        use super::onnx::{Attr, Elem, Graph};
        let mut g = Graph::default();
        g.input("input_ids", Elem::I64, &["batch", "tokens"]);
        g.input("attention_mask", Elem::I64, &["batch", "tokens"]);
        let cfg = self.bert.config;
        let h = cfg.hidden;
        let super::bert::ExportEmbeddings { word, position: pos, token_type: tt, norm: eln } =
            self.bert.export_embeddings()?;
        let word = g.f32s("word_embeddings", &[word.rows, word.cols], &word.data);
        let pos = g.f32s("position_embeddings", &[pos.rows, pos.cols], &pos.data);
        let tt = g.f32s("token_type_embedding", &[h], &tt);
        let zero = g.i64s("c_zero", &[0]);
        let one = g.i64s("c_one", &[1]);
        let two = g.i64s("c_two", &[2]);
        let axes12 = g.i64s("c_axes12", &[1, 2]);
        let minus1 = g.i64s("c_minus1", &[-1]);
        let split_shape = g.i64s("c_split", &[0, 0, cfg.heads as i64, (h / cfg.heads) as i64]);
        let merge_shape = g.i64s("c_merge", &[0, 0, h as i64]);
        let f_one = g.f32s("c_f_one", &[], &[1.0]);
        let f_neg = g.f32s("c_f_neg", &[], &[-10000.0]);
        let f_scale = g.f32s("c_f_scale", &[], &[1.0 / ((h / cfg.heads) as f32).sqrt()]);
        let f_half = g.f32s("c_f_half", &[], &[0.5]);
        let f_rsqrt2 = g.f32s("c_f_rsqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);
        let ln = |g: &mut Graph, x: &str, (w, b): &(Vec<f32>, Vec<f32>), name: &str| {
            let w = g.f32s(&format!("{name}.weight"), &[w.len()], w);
            let b = g.f32s(&format!("{name}.bias"), &[b.len()], b);
            g.op("LayerNormalization", &[x, &w, &b], &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(1e-12))], name)
        };
        let lin = |g: &mut Graph, x: &str, (w, b): &(super::bert::Mat, Vec<f32>), name: &str| {
            let wt = w.t();
            let w = g.f32s(&format!("{name}.weight_t"), &[wt.rows, wt.cols], &wt.data);
            let b = g.f32s(&format!("{name}.bias"), &[b.len()], b);
            let y = g.op("MatMul", &[x, &w], &[], name);
            g.op("Add", &[&y, &b], &[], name)
        };
        let w = g.op("Gather", &[&word, "input_ids"], &[("axis", Attr::Int(0))], "word");
        let shape = g.op("Shape", &["input_ids"], &[], "shape");
        let t = g.op("Slice", &[&shape, &one, &two], &[], "len");
        let p = g.op("Slice", &[&pos, &zero, &t, &zero], &[], "pos");
        let x = g.op("Add", &[&w, &p], &[], "emb");
        let x = g.op("Add", &[&x, &tt], &[], "emb");
        let mut x = ln(&mut g, &x, &eln, "embeddings.LayerNorm");
        let maskf = g.op("Cast", &["attention_mask"], &[("to", Attr::Int(1))], "maskf");
        let inv = g.op("Sub", &[&f_one, &maskf], &[], "inv");
        let neg = g.op("Mul", &[&inv, &f_neg], &[], "neg");
        let neg4 = g.op("Unsqueeze", &[&neg, &axes12], &[], "neg4");
        for (i, l) in self.bert.export_layers()?.iter().enumerate() {
            let p = format!("layer{i}");
            let heads = |g: &mut Graph, y: &str, perm: Vec<i64>, n: &str| {
                let r = g.op("Reshape", &[y, &split_shape], &[], n);
                g.op("Transpose", &[&r], &[("perm", Attr::Ints(perm))], n)
            };
            let q = lin(&mut g, &x, &l.linear[0], &format!("{p}.q"));
            let k = lin(&mut g, &x, &l.linear[1], &format!("{p}.k"));
            let v = lin(&mut g, &x, &l.linear[2], &format!("{p}.v"));
            let q = heads(&mut g, &q, vec![0, 2, 1, 3], "q");
            let k = heads(&mut g, &k, vec![0, 2, 3, 1], "k");
            let v = heads(&mut g, &v, vec![0, 2, 1, 3], "v");
            let s = g.op("MatMul", &[&q, &k], &[], "scores");
            let s = g.op("Mul", &[&s, &f_scale], &[], "scores");
            let s = g.op("Add", &[&s, &neg4], &[], "scores");
            let s = g.op("Softmax", &[&s], &[("axis", Attr::Int(-1))], "probs");
            let c = g.op("MatMul", &[&s, &v], &[], "ctx");
            let c = g.op("Transpose", &[&c], &[("perm", Attr::Ints(vec![0, 2, 1, 3]))], "ctx");
            let c = g.op("Reshape", &[&c, &merge_shape], &[], "ctx");
            let o = lin(&mut g, &c, &l.linear[3], &format!("{p}.o"));
            let a = g.op("Add", &[&o, &x], &[], "res");
            let a = ln(&mut g, &a, &l.norms[0], &format!("{p}.ln1"));
            let u = lin(&mut g, &a, &l.linear[4], &format!("{p}.up"));
            let e = g.op("Mul", &[&u, &f_rsqrt2], &[], "gelu");
            let e = g.op("Erf", &[&e], &[], "gelu");
            let e = g.op("Add", &[&e, &f_one], &[], "gelu");
            let e = g.op("Mul", &[&u, &e], &[], "gelu");
            let e = g.op("Mul", &[&e, &f_half], &[], "gelu");
            let d = lin(&mut g, &e, &l.linear[5], &format!("{p}.down"));
            let r = g.op("Add", &[&d, &a], &[], "res");
            x = ln(&mut g, &r, &l.norms[1], &format!("{p}.ln2"));
        }
        let a = self.aspects.len();
        let att = super::bert::Mat::of(self.att.as_tensor())?;
        let att = g.f32s("head.attention", &[att.rows, att.cols], &att.data);
        let neg3 = g.op("Unsqueeze", &[&neg, &two], &[], "neg3");
        let s = g.op("MatMul", &[&x, &att], &[], "aspect_scores");
        let s = g.op("Add", &[&s, &neg3], &[], "aspect_scores");
        g.node("Softmax", &[&s], &[("axis", Attr::Int(1))], "attention");
        let at = g.op("Transpose", &["attention"], &[("perm", Attr::Ints(vec![0, 2, 1]))], "att_t");
        let pooled = g.op("MatMul", &[&at, &x], &[], "pooled");
        let dw = super::bert::Mat::of(self.det_w.as_tensor())?;
        let dw = g.f32s("head.detect.weight", &[a, h], &dw.data);
        let db = g.f32s("head.detect.bias", &[a], &self.det_b.as_tensor().to_vec1()?);
        let d = g.op("Mul", &[&pooled, &dw], &[], "detect");
        let d = g.op("ReduceSum", &[&d, &minus1], &[("keepdims", Attr::Int(0))], "detect");
        g.node("Add", &[&d, &db], &[], "detect");
        let pw = super::bert::Mat::of(self.pol_w.as_tensor())?;
        let pw = g.f32s("head.polarity.weight", &[h, 3], &pw.data);
        let pb = super::bert::Mat::of(self.pol_b.as_tensor())?;
        let pb = g.f32s("head.polarity.bias", &[a, 3], &pb.data);
        let pm = g.op("MatMul", &[&pooled, &pw], &[], "polarity");
        g.node("Add", &[&pm, &pb], &[], "polarity");
        let m = g.op("Unsqueeze", &[&maskf, &two], &[], "mask3");
        let xm = g.op("Mul", &[&x, &m], &[], "masked");
        let sx = g.op("ReduceSum", &[&xm, &one], &[("keepdims", Attr::Int(0))], "sum");
        let sm = g.op("ReduceSum", &[&m, &one], &[("keepdims", Attr::Int(0))], "count");
        g.node("Div", &[&sx, &sm], &[], "embedding");
        let sw = super::bert::Mat::of(self.sent_w.as_tensor())?;
        let sw = g.f32s("head.sentence.weight", &[h, 3], &sw.data);
        let sb = g.f32s("head.sentence.bias", &[3], &self.sent_b.as_tensor().to_vec1()?);
        let sl = g.op("MatMul", &["embedding", &sw], &[], "sentence");
        g.node("Add", &[&sl, &sb], &[], "sentence");
        g.output("detect", Elem::F32, &["batch", &a.to_string()]);
        g.output("polarity", Elem::F32, &["batch", &a.to_string(), "3"]);
        g.output("sentence", Elem::F32, &["batch", "3"]);
        g.output("attention", Elem::F32, &["batch", "tokens", &a.to_string()]);
        g.output("embedding", Elem::F32, &["batch", &h.to_string()]);
        Ok(g.model("review-model", "shopgraph", version))
    }
}
