//! Linear softmax heads on sentence embeddings: trained here (no sentiment or aspect weights
//! exist in any package registry), saved as JSON beside a manifest of their own.

use super::ExtractError;
use super::model::dot;
use serde::{Deserialize, Serialize};

/// A multinomial logistic regression over standardised embedding features.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Class labels in weight-row order.
    pub labels: Vec<String>,
    /// Input dimension.
    pub dim: usize,
    /// Per-feature mean subtracted before the product (embeddings are small and not centred,
    /// so plain gradient descent would crawl without it).
    pub mean: Vec<f32>,
    /// Per-feature scale divided by.
    pub scale: Vec<f32>,
    /// Weights, `labels.len() x dim`, row-major.
    pub weights: Vec<f32>,
    /// Biases, one per class.
    pub bias: Vec<f32>,
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// L2 penalty on the weights (per example).
    pub l2: f32,
    /// Full-batch gradient steps.
    pub epochs: usize,
    /// Step size.
    pub learning_rate: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { l2: 1e-3, epochs: 400, learning_rate: 0.5 }
    }
}

impl Head {
    /// Fits the head by full-batch gradient descent with Nesterov momentum on the mean
    /// cross-entropy plus `l2 * |W|^2 / 2`. `weights` per example lets unequal sources count
    /// equally. Deterministic: no sampling.
    pub fn train(
        x: &[Vec<f32>],
        y: &[usize],
        sample_weight: &[f32],
        labels: Vec<String>,
        opt: TrainOptions,
        mut progress: impl FnMut(usize, f32),
    ) -> Result<Self, ExtractError> {
        let n = x.len();
        if n == 0 || y.len() != n || sample_weight.len() != n {
            return Err(ExtractError::Training("no examples, or labels and examples differ in number".into()));
        }
        let c = labels.len();
        if let Some(bad) = y.iter().find(|&&k| k >= c) {
            return Err(ExtractError::Training(format!("label index {bad} out of range for {c} labels")));
        }
        let d = x[0].len();
        if x.iter().any(|r| r.len() != d) {
            return Err(ExtractError::Training("examples have different dimensions".into()));
        }
        let mut mean = vec![0f32; d];
        for r in x {
            mean.iter_mut().zip(r).for_each(|(m, v)| *m += v / n as f32);
        }
        let mut scale = vec![0f32; d];
        for r in x {
            scale.iter_mut().zip(r.iter().zip(&mean)).for_each(|(s, (v, m))| *s += (v - m) * (v - m) / n as f32);
        }
        scale.iter_mut().for_each(|s| *s = s.sqrt().max(1e-6));
        let z: Vec<Vec<f32>> =
            x.iter().map(|r| r.iter().zip(mean.iter().zip(&scale)).map(|(v, (m, s))| (v - m) / s).collect()).collect();
        let wsum: f32 = sample_weight.iter().sum();
        let mut head = Self { labels, dim: d, mean, scale, weights: vec![0.0; c * d], bias: vec![0.0; c] };
        let mut vel_w = vec![0f32; c * d];
        let mut vel_b = vec![0f32; c];
        let momentum = 0.9f32;
        for epoch in 0..opt.epochs {
            // Nesterov: gradient at the look-ahead point.
            let look_w: Vec<f32> = head.weights.iter().zip(&vel_w).map(|(w, v)| w + momentum * v).collect();
            let look_b: Vec<f32> = head.bias.iter().zip(&vel_b).map(|(b, v)| b + momentum * v).collect();
            let mut grad_w = vec![0f32; c * d];
            let mut grad_b = vec![0f32; c];
            let mut loss = 0f32;
            for ((zi, &yi), &si) in z.iter().zip(y).zip(sample_weight) {
                let logits: Vec<f32> = (0..c).map(|k| dot(&look_w[k * d..(k + 1) * d], zi) + look_b[k]).collect();
                let p = super::model::softmax(&logits);
                loss -= si * p[yi].max(1e-12).ln();
                for k in 0..c {
                    let g = si * (p[k] - f32::from(u8::from(k == yi)));
                    grad_b[k] += g;
                    grad_w[k * d..(k + 1) * d].iter_mut().zip(zi).for_each(|(gw, v)| *gw += g * v);
                }
            }
            for (g, w) in grad_w.iter_mut().zip(&look_w) {
                *g = *g / wsum + opt.l2 * w;
            }
            grad_b.iter_mut().for_each(|g| *g /= wsum);
            for (v, g) in vel_w.iter_mut().zip(&grad_w) {
                *v = momentum * *v - opt.learning_rate * g;
            }
            for (v, g) in vel_b.iter_mut().zip(&grad_b) {
                *v = momentum * *v - opt.learning_rate * g;
            }
            head.weights.iter_mut().zip(&vel_w).for_each(|(w, v)| *w += v);
            head.bias.iter_mut().zip(&vel_b).for_each(|(b, v)| *b += v);
            progress(epoch, loss / wsum);
        }
        Ok(head)
    }

    /// Class probabilities for one embedding.
    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        let z: Vec<f32> = x.iter().zip(self.mean.iter().zip(&self.scale)).map(|(v, (m, s))| (v - m) / s).collect();
        let c = self.labels.len();
        let logits: Vec<f32> =
            (0..c).map(|k| dot(&self.weights[k * self.dim..(k + 1) * self.dim], &z) + self.bias[k]).collect();
        super::model::softmax(&logits)
    }

    /// Parses saved weights, checking their shapes agree.
    pub fn from_json(text: &str) -> Result<Self, ExtractError> {
        let h: Head = serde_json::from_str(text).map_err(|e| ExtractError::Model(format!("head weights: {e}")))?;
        let c = h.labels.len();
        if c == 0
            || h.weights.len() != c * h.dim
            || h.bias.len() != c
            || h.mean.len() != h.dim
            || h.scale.len() != h.dim
        {
            return Err(ExtractError::Model("head weights: shapes do not agree with labels and dim".into()));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learnt() {
        // Three clusters in 4-d; the head must put every point in its own cluster.
        let centres = [[1.0, 0.0, 0.0, 0.2], [0.0, 1.0, 0.0, 0.2], [0.0, 0.0, 1.0, 0.2]];
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let k = i % 3;
            let jitter = (i as f32 * 0.37).sin() * 0.1;
            x.push(centres[k].iter().map(|v| v + jitter).collect::<Vec<f32>>());
            y.push(k);
        }
        let labels = vec!["a".into(), "b".into(), "c".into()];
        let h = Head::train(&x, &y, &vec![1.0; 60], labels, TrainOptions::default(), |_, _| {}).unwrap();
        for (xi, &yi) in x.iter().zip(&y) {
            assert_eq!(crate::extract::model::argmax(&h.predict(xi)), yi);
        }
        let again = Head::from_json(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(again.predict(&x[0]), h.predict(&x[0]));
    }

    #[test]
    fn head_with_wrong_shapes_is_refused() {
        let bad = r#"{"labels":["a","b"],"dim":2,"mean":[0,0],"scale":[1,1],"weights":[1,2,3],"bias":[0,0]}"#;
        assert!(Head::from_json(bad).is_err());
    }
}
