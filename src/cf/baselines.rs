//! Strong simple baselines: popularity, item-kNN (cosine), EASE (closed-form item-item).

use super::sparse::Csr;
use super::{History, recency_weight};
use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use rayon::prelude::*;

/// Item popularity: how many users interacted with each item.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Popularity {
    /// Per item.
    pub counts: Vec<f32>,
}

impl Popularity {
    /// Counts users per item.
    pub fn fit(m: &Csr) -> Self {
        let mut counts = vec![0f32; m.cols];
        for &i in &m.indices {
            counts[i as usize] += 1.0;
        }
        Self { counts }
    }
}

/// Item-item cosine similarity over binarised interactions, top `neighbours` per item.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemKnn {
    /// Neighbours kept per item.
    pub neighbours: usize,
    /// History recency half-life in events (see [`recency_weight`]); `None` weighs all alike.
    #[serde(default)]
    pub half_life: Option<f32>,
    /// Per item: (neighbour, similarity), best first.
    pub sims: Vec<Vec<(u32, f32)>>,
}

impl ItemKnn {
    /// Computes similarities through the user lists (cost sum over users of n_u^2).
    pub fn fit(m: &Csr, neighbours: usize, half_life: Option<f32>) -> Self {
        let mt = m.transpose();
        let norms: Vec<f32> = (0..mt.rows).map(|i| (mt.row(i).0.len() as f32).sqrt()).collect();
        let sims = (0..mt.rows)
            .into_par_iter()
            .map(|i| {
                let mut acc: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
                for &u in mt.row(i).0 {
                    for &j in m.row(u as usize).0 {
                        if j as usize != i {
                            *acc.entry(j).or_default() += 1.0;
                        }
                    }
                }
                let mut v: Vec<(u32, f32)> =
                    acc.into_iter().map(|(j, c)| (j, c / (norms[i] * norms[j as usize]).max(1e-9))).collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(neighbours);
                v
            })
            .collect();
        Self { neighbours, half_life, sims }
    }

    /// Scores: sum over history items of their (recency-weighted) similarity to each candidate.
    pub fn scores(&self, h: &History<'_>, out: &mut [f32]) {
        out.fill(0.0);
        for (&j, &age) in h.items.iter().zip(h.ages) {
            let r = recency_weight(age, self.half_life);
            for &(i, s) in &self.sims[j as usize] {
                out[i as usize] += r * s;
            }
        }
    }
}

/// EASE (Steck 2019): B = I - P diagMat(1 / diag(P)), P = (X^T X + lambda I)^-1, diag(B) = 0.
/// Dense items x items: for catalogues up to a few tens of thousands of items.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ease {
    /// L2 penalty.
    pub lambda: f32,
    /// History recency half-life in events (see [`recency_weight`]); `None` weighs all alike.
    #[serde(default)]
    pub half_life: Option<f32>,
    /// Items.
    pub items: usize,
    /// `h x h`, row-major over the head (all items when `head` is empty):
    /// score_i = sum_j x_j B[j][i].
    pub b: Vec<f32>,
    /// Catalogues over [`EASE_MAX_ITEMS`]: the [`EASE_HEAD`] most interacted items, ascending,
    /// that EASE is fitted on. Empty: every item.
    #[serde(default)]
    pub head: Vec<u32>,
    /// With a head: every item's interaction count, which orders the items outside the head
    /// after all head items.
    #[serde(default)]
    pub counts: Vec<f32>,
}

/// Errors of EASE.
#[derive(Debug, thiserror::Error)]
pub enum EaseError {
    /// The Gram matrix is not positive definite (lambda too small).
    #[error("EASE: X^T X + lambda I is not positive definite; raise lambda")]
    NotPositiveDefinite,
}

/// Largest catalogue EASE is fitted on whole (the matrix takes items^2 x 8 bytes while solving).
pub const EASE_MAX_ITEMS: usize = 20_000;

/// Above [`EASE_MAX_ITEMS`], EASE is fitted on this many most interacted items (the head): a
/// solve of about a minute on two cores, so tuning can afford it. On catalogues this large the
/// head usually holds most interactions (the report measures how many); the tail is ranked by
/// popularity after the head.
pub const EASE_HEAD: usize = 8_000;

impl Ease {
    /// Closed-form fit on binarised interactions; over [`EASE_MAX_ITEMS`] items, on the head.
    pub fn fit(m: &Csr, lambda: f32, half_life: Option<f32>) -> Result<Self, EaseError> {
        Self::fit_limited(m, lambda, half_life, EASE_MAX_ITEMS, EASE_HEAD)
    }

    /// [`Self::fit`] with the item limit and head size given.
    fn fit_limited(
        m: &Csr,
        lambda: f32,
        half_life: Option<f32>,
        limit: usize,
        head_size: usize,
    ) -> Result<Self, EaseError> {
        let n_all = m.cols;
        let counts = Popularity::fit(m).counts;
        let head: Vec<u32> = if n_all > limit {
            let mut order: Vec<u32> = (0..n_all as u32).collect();
            order.sort_by(|a, b| counts[*b as usize].total_cmp(&counts[*a as usize]).then(a.cmp(b)));
            order.truncate(head_size);
            order.sort_unstable();
            order
        } else {
            Vec::new()
        };
        let pos: Option<Vec<u32>> = (!head.is_empty()).then(|| {
            let mut p = vec![u32::MAX; n_all];
            for (k, &i) in head.iter().enumerate() {
                p[i as usize] = k as u32;
            }
            p
        });
        let n = if head.is_empty() { n_all } else { head.len() };
        let mut g = Mat::<f64>::zeros(n, n);
        let mut cols = Vec::new();
        for u in 0..m.rows {
            cols.clear();
            cols.extend(m.row(u).0.iter().filter_map(|&c| match &pos {
                Some(p) => (p[c as usize] != u32::MAX).then_some(p[c as usize]),
                None => Some(c),
            }));
            for &a in &cols {
                for &b in &cols {
                    g[(a as usize, b as usize)] += 1.0;
                }
            }
        }
        for i in 0..n {
            g[(i, i)] += lambda as f64;
        }
        // The inverse runs faer's products: on a scratch thread, like `als::gram`.
        let p = super::on_scratch_thread(|| g.llt(Side::Lower).map(|llt| llt.inverse()))
            .map_err(|_| EaseError::NotPositiveDefinite)?;
        let mut b = vec![0f32; n * n];
        b.par_chunks_mut(n.max(1)).enumerate().for_each(|(j, row)| {
            for i in 0..n {
                row[i] = if i == j { 0.0 } else { (-p[(j, i)] / p[(i, i)]) as f32 };
            }
        });
        let counts = if head.is_empty() { Vec::new() } else { counts };
        Ok(Self { lambda, half_life, items: n_all, b, head, counts })
    }

    /// Position of an item in the head (every item is, without a head).
    fn position(&self, i: u32) -> Option<usize> {
        if self.head.is_empty() { Some(i as usize) } else { self.head.binary_search(&i).ok() }
    }

    /// B[a][b] (0 when either is outside the head).
    pub fn weight(&self, a: u32, b: u32) -> f32 {
        let n = if self.head.is_empty() { self.items } else { self.head.len() };
        match (self.position(a), self.position(b)) {
            (Some(x), Some(y)) => self.b[x * n + y],
            _ => 0.0,
        }
    }

    /// Scores for a binarised history, each item weighted by its recency.
    pub fn scores(&self, h: &History<'_>, out: &mut [f32]) {
        out.fill(0.0);
        if self.head.is_empty() {
            for (&j, &age) in h.items.iter().zip(h.ages) {
                let r = recency_weight(age, self.half_life);
                let row = &self.b[j as usize * self.items..(j as usize + 1) * self.items];
                for (o, v) in out.iter_mut().zip(row) {
                    *o += r * v;
                }
            }
            return;
        }
        // Outside the head: below every head item (EASE scores are small numbers), by
        // popularity among themselves.
        let top = self.counts.iter().copied().fold(0f32, f32::max) + 1.0;
        for (o, c) in out.iter_mut().zip(&self.counts) {
            *o = -1.0e3 + c / top;
        }
        let n = self.head.len();
        let mut acc = vec![0f32; n];
        for (&j, &age) in h.items.iter().zip(h.ages) {
            let Some(x) = self.position(j) else { continue };
            let r = recency_weight(age, self.half_life);
            for (a, v) in acc.iter_mut().zip(&self.b[x * n..(x + 1) * n]) {
                *a += r * v;
            }
        }
        for (&i, a) in self.head.iter().zip(acc) {
            out[i as usize] = a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Csr {
        // Users 0-2 like items 0,1; users 3-4 like items 2,3; user 5 likes 0 and 3.
        Csr::from_triplets(
            6,
            4,
            &[
                (0, 0, 1.),
                (0, 1, 1.),
                (1, 0, 1.),
                (1, 1, 1.),
                (2, 0, 1.),
                (2, 1, 1.),
                (3, 2, 1.),
                (3, 3, 1.),
                (4, 2, 1.),
                (4, 3, 1.),
                (5, 0, 1.),
                (5, 3, 1.),
            ],
        )
    }

    #[test]
    fn knn_cosine_matches_hand_computation() {
        let k = ItemKnn::fit(&m(), 10, None);
        // items 0 and 1 share 3 users; |0| = 4 users, |1| = 3: 3 / sqrt(12).
        let s01 = k.sims[0].iter().find(|x| x.0 == 1).unwrap().1;
        assert!((s01 - 3.0 / 12f32.sqrt()).abs() < 1e-6);
        assert_eq!(k.sims[0][0].0, 1);
    }

    #[test]
    fn ease_solves_its_normal_equations() {
        let x = m();
        let e = Ease::fit(&x, 0.5, None).unwrap();
        // Off-diagonal optimality: for i != j, (G B)[j][i] = G[j][i] - lambda*B[j][i]... check
        // instead the defining property B = I - P diag(1/diag P) through a dense reference.
        let n = 4;
        let mut g = [[0f64; 4]; 4];
        for u in 0..x.rows {
            for &a in x.row(u).0 {
                for &b in x.row(u).0 {
                    g[a as usize][b as usize] += 1.0;
                }
            }
        }
        // (G + lambda I) B = G - diagMat(mu) with mu chosen so diag(B)=0: check column residuals
        // are zero off the diagonal.
        #[allow(clippy::needless_range_loop)] // (j, i) index a matrix, not a sequence
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let lhs: f64 = (0..n).map(|k| (g[j][k] + if j == k { 0.5 } else { 0.0 }) * e.b[k * n + i] as f64).sum();
                assert!((lhs - g[j][i]).abs() < 1e-4, "({j},{i}): {lhs} vs {}", g[j][i]);
            }
        }
        assert!(e.b.iter().step_by(n + 1).all(|d| *d == 0.0));
    }

    #[test]
    fn recency_halves_a_past_item_every_half_life() {
        let x = m();
        let mut e = Ease::fit(&x, 0.5, Some(1.0)).unwrap();
        let n = 4;
        // History: item 0 (latest) and item 3 (one step older): weights 1 and 0.5.
        let h = History { items: &[0, 3], weights: &[1.0, 1.0], ages: &[0, 1] };
        let mut got = vec![0f32; n];
        e.scores(&h, &mut got);
        for (i, g) in got.iter().enumerate() {
            let want = e.b[i] + 0.5 * e.b[3 * n + i];
            assert!((g - want).abs() < 1e-6, "item {i}: {g} vs {want}");
        }
        // Without a half-life both count fully.
        e.half_life = None;
        e.scores(&h, &mut got);
        assert!((got[1] - (e.b[1] + e.b[3 * n + 1])).abs() < 1e-6);
        assert_eq!(recency_weight(3, Some(1.5)), 0.25);
    }

    #[test]
    fn popularity_counts_users() {
        assert_eq!(Popularity::fit(&m()).counts, vec![4.0, 3.0, 2.0, 3.0]);
    }

    #[test]
    fn over_the_item_limit_ease_fits_the_head_and_ranks_the_tail_by_popularity_after_it() {
        // Items 0-3 as in m(); items 4 and 5 are touched once each (the tail), item 5 twice.
        let mut t: Vec<(u32, u32, f32)> = Vec::new();
        let small = m();
        for u in 0..small.rows {
            let (cs, _) = small.row(u);
            t.extend(cs.iter().map(|&c| (u as u32, c, 1.0)));
        }
        t.extend([(0, 4, 1.0), (1, 5, 1.0), (2, 5, 1.0)]);
        let big = Csr::from_triplets(6, 6, &t);
        let e = Ease::fit_limited(&big, 0.5, None, 5, 4).unwrap();
        assert_eq!(e.head, [0, 1, 2, 3]);
        let whole = Ease::fit_limited(&m(), 0.5, None, 10, 10).unwrap();
        // On the head it is the EASE of the head items' columns.
        let hist = [0u32, 4];
        let mut out = vec![0f32; 6];
        e.scores(&History { items: &hist, weights: &[1.0, 1.0], ages: &[0, 0] }, &mut out);
        let mut want = vec![0f32; 4];
        whole.scores(&History { items: &hist[..1], weights: &[1.0], ages: &[0] }, &mut want);
        for i in 0..4 {
            assert!((out[i] - want[i]).abs() < 1e-5, "{out:?} vs {want:?}");
        }
        assert!(out[5] > out[4] && out[4] < out[..4].iter().copied().fold(f32::MAX, f32::min));
        assert_eq!(e.weight(0, 1), whole.weight(0, 1));
        assert_eq!(e.weight(0, 5), 0.0);
    }
}
