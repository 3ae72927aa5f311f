//! Implicit-feedback ALS (Hu, Koren and Volinsky 2008) with an exact Cholesky solver and a
//! conjugate-gradient solver (Takács, Pilászy and Tikk 2011), f32, parallel over rows.

use super::sparse::Csr;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// How each user's (item's) least-squares system is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Solver {
    /// Exact: builds the f x f system and factorises it (O(n_u f^2 + f^3) per row).
    Cholesky,
    /// A few conjugate-gradient steps warm-started from the previous factors (O(steps (n_u f + f^2))).
    Cg {
        /// CG steps per row per sweep.
        steps: usize,
    },
}

/// Hyper-parameters, named as in `implicit` so settings compare one to one.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlsParams {
    /// Latent dimensions.
    pub factors: usize,
    /// L2 penalty, unscaled (as in implicit).
    pub regularization: f32,
    /// Confidence slope: c = 1 + alpha * weight.
    pub alpha: f32,
    /// Sweeps over users then items.
    pub iterations: usize,
    /// Solver.
    pub solver: Solver,
    /// Seed of the initial factors.
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        // implicit 0.7's defaults.
        Self {
            factors: 100,
            regularization: 0.01,
            alpha: 1.0,
            iterations: 15,
            solver: Solver::Cg { steps: 3 },
            seed: 0,
        }
    }
}

/// Learned factors, row-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlsModel {
    /// Settings it was trained with.
    pub params: AlsParams,
    /// `users x factors`.
    pub user_factors: Vec<f32>,
    /// `items x factors`.
    pub item_factors: Vec<f32>,
}

/// SplitMix64: a tiny seeded generator, enough for initial factors.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Dot product with eight independent accumulators: a plain `.sum()` is a serial chain of
/// float adds the compiler may not reorder, so it never vectorises; this does.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += a * x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `Y^T Y + reg I` with faer (the one dense product per sweep), on a scratch thread so that
/// no long-lived thread keeps faer's packing buffer ([`super::on_scratch_thread`]).
pub(crate) fn gram(y: &[f32], n: usize, f: usize, reg: f32) -> Vec<f32> {
    let mut g = vec![0f32; f * f];
    super::on_scratch_thread(|| {
        let yr = MatRef::from_row_major_slice(y, n, f);
        let gm = MatMut::from_row_major_slice_mut(&mut g, f, f);
        let par = if n * f * f > 1 << 22 { Par::rayon(0) } else { Par::Seq };
        faer::linalg::matmul::matmul(gm, Accum::Replace, yr.transpose(), yr, 1.0f32, par);
    });
    for i in 0..f {
        g[i * f + i] += reg;
    }
    g
}

/// In-place Cholesky of a symmetric positive-definite f x f row-major matrix, then solves
/// `A x = b` into `b`. Hand-written because these systems are tiny and there is one per row:
/// per-call overhead would dominate.
#[inline(always)]
pub(crate) fn cholesky_solve(a: &mut [f32], b: &mut [f32], f: usize) -> bool {
    for j in 0..f {
        let mut d = a[j * f + j] as f64;
        for k in 0..j {
            d -= (a[j * f + k] as f64).powi(2);
        }
        if d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * f + j] = d as f32;
        for i in j + 1..f {
            let mut s = a[i * f + j] as f64;
            for k in 0..j {
                s -= a[i * f + k] as f64 * a[j * f + k] as f64;
            }
            a[i * f + j] = (s / d) as f32;
        }
    }
    for i in 0..f {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * f + k] * b[k];
        }
        b[i] = s / a[i * f + i];
    }
    for i in (0..f).rev() {
        let mut s = b[i];
        for k in i + 1..f {
            s -= a[k * f + i] * b[k];
        }
        b[i] = s / a[i * f + i];
    }
    true
}

/// Exact least squares for one row: `(G + sum (c-1) y y^T) x = sum c y`.
#[inline(always)]
fn solve_cholesky(g: &[f32], y: &[f32], f: usize, cols: &[u32], vals: &[f32], alpha: f32, out: &mut [f32]) {
    let mut a = g.to_vec();
    out.fill(0.0);
    for (&i, &w) in cols.iter().zip(vals) {
        let c = 1.0 + alpha * w;
        let yi = &y[i as usize * f..(i as usize + 1) * f];
        for r in 0..f {
            let s = (c - 1.0) * yi[r];
            for k in 0..=r {
                a[r * f + k] += s * yi[k];
            }
            out[r] += c * yi[r];
        }
    }
    for r in 0..f {
        for k in r + 1..f {
            a[r * f + k] = a[k * f + r];
        }
    }
    if !cholesky_solve(&mut a, out, f) {
        out.fill(0.0);
    }
}

/// `out += scale * G v` for symmetric `G`, as a sum of scaled rows: independent vector
/// updates instead of `f` dot products, each a serial chain.
#[inline(always)]
fn sym_matvec(g: &[f32], v: &[f32], scale: f32, out: &mut [f32]) {
    let f = v.len();
    for (k, &vk) in v.iter().enumerate() {
        axpy(scale * vk, &g[k * f..(k + 1) * f], out);
    }
}

/// CG from the current `x` with residual `r = b - A x`, `steps` times at most; `apply(p, ap)`
/// adds `A p` into the zeroed `ap`. The two solvers differ only in how they compute `A p`.
#[inline(always)]
fn cg_iterate(x: &mut [f32], mut r: Vec<f32>, steps: usize, mut apply: impl FnMut(&[f32], &mut [f32])) {
    let mut p = r.clone();
    let mut rsold = dot(&r, &r);
    if rsold < 1e-20 {
        return;
    }
    let mut ap = vec![0f32; p.len()];
    for _ in 0..steps {
        ap.fill(0.0);
        apply(&p, &mut ap);
        let a = rsold / dot(&p, &ap);
        for k in 0..x.len() {
            x[k] += a * p[k];
            r[k] -= a * ap[k];
        }
        let rsnew = dot(&r, &r);
        if rsnew < 1e-20 {
            return;
        }
        for k in 0..p.len() {
            p[k] = r[k] + (rsnew / rsold) * p[k];
        }
        rsold = rsnew;
    }
}

/// Conjugate-gradient steps from the current `x` (implicit's formulation).
#[allow(clippy::too_many_arguments)] // the hot kernel takes its operands flat, not in a struct
#[inline(always)]
fn solve_cg(g: &[f32], y: &[f32], f: usize, cols: &[u32], vals: &[f32], alpha: f32, steps: usize, x: &mut [f32]) {
    let mut r = vec![0f32; f];
    // r = b - A x
    sym_matvec(g, x, -1.0, &mut r);
    for (&i, &w) in cols.iter().zip(vals) {
        let c = 1.0 + alpha * w;
        let yi = &y[i as usize * f..(i as usize + 1) * f];
        let s = c - (c - 1.0) * dot(yi, x);
        axpy(s, yi, &mut r);
    }
    cg_iterate(x, r, steps, |p, ap| {
        sym_matvec(g, p, 1.0, ap);
        for (&i, &w) in cols.iter().zip(vals) {
            let c = 1.0 + alpha * w;
            let yi = &y[i as usize * f..(i as usize + 1) * f];
            let s = (c - 1.0) * dot(yi, p);
            axpy(s, yi, ap);
        }
    });
}

/// One sweep: recomputes every row of `x` from the fixed other side `y`.
fn sweep(m: &Csr, x: &mut [f32], y: &[f32], n_y: usize, p: &AlsParams) {
    let f = p.factors;
    let g = gram(y, n_y, f, p.regularization);
    let wide = wide_simd();
    x.par_chunks_mut(f).enumerate().for_each_init(Scratch::default, |scratch, (u, xu)| {
        let (cols, vals) = m.row(u);
        if wide {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `wide` is true only when the CPU reported AVX2 and FMA at run time, the
            // features `solve_row_avx2` is compiled for.
            #[allow(unsafe_code)]
            unsafe {
                solve_row_avx2(&g, y, cols, vals, p, xu, scratch)
            }
        } else {
            solve_row(&g, y, cols, vals, p, xu)
        }
    });
}

/// One worker's reusable buffers for the AVX2 CG solver: the history's factor rows gathered
/// into one block, and per-row coefficients.
#[derive(Default)]
struct Scratch {
    rows: Vec<f32>,
    dots: Vec<f32>,
    coef: Vec<f32>,
}

/// CG as [`solve_cg`], on the history's rows gathered once into a contiguous block: the first
/// pass pays the scattered reads (with prefetch), the later passes stream from cache, and
/// every product is a batched kernel from [`super::simd`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)] // the hot kernel takes its operands flat, not in a struct
fn solve_cg_avx2(
    g: &[f32],
    y: &[f32],
    f: usize,
    cols: &[u32],
    vals: &[f32],
    alpha: f32,
    steps: usize,
    x: &mut [f32],
    s: &mut Scratch,
) {
    use super::simd::{dot_rows, gather, gemv_t};
    let n = cols.len();
    s.rows.resize(n * f, 0.0);
    s.dots.resize(n, 0.0);
    s.coef.resize(n, 0.0);
    gather(y, f, cols, &mut s.rows);
    // r = b - A x = sum (c - (c-1) y.x) y - G x
    dot_rows(&s.rows, f, x, &mut s.dots);
    for ((w, &d), &v) in s.coef.iter_mut().zip(&s.dots).zip(vals) {
        let c = 1.0 + alpha * v;
        *w = c - (c - 1.0) * d;
    }
    let mut r = vec![0f32; f];
    gemv_t(g, f, x, &mut r);
    for v in &mut r {
        *v = -*v;
    }
    gemv_t(&s.rows, f, &s.coef, &mut r);
    cg_iterate(x, r, steps, |p, ap| {
        gemv_t(g, f, p, ap);
        dot_rows(&s.rows, f, p, &mut s.dots);
        for ((w, &d), &v) in s.coef.iter_mut().zip(&s.dots).zip(vals) {
            *w = alpha * v * d;
        }
        gemv_t(&s.rows, f, &s.coef, ap);
    });
}

/// Whether this CPU runs the AVX2+FMA build of the row solver. The portable build only assumes
/// SSE2, where the peer's BLAS would use AVX2: detecting at run time keeps one binary for all.
fn wide_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline(always)]
fn solve_row(g: &[f32], y: &[f32], cols: &[u32], vals: &[f32], p: &AlsParams, xu: &mut [f32]) {
    match p.solver {
        Solver::Cholesky => solve_cholesky(g, y, p.factors, cols, vals, p.alpha, xu),
        Solver::Cg { steps } => solve_cg(g, y, p.factors, cols, vals, p.alpha, steps, xu),
    }
}

/// Largest gathered block per worker: a row whose history's factors exceed it (an item bought by
/// millions) is solved in place instead, so memory stays bounded whatever the data.
const MAX_GATHER_BYTES: usize = 32 << 20;

/// [`solve_row`] compiled with AVX2 and FMA (everything it calls is inlined), taking the
/// gathered-block CG where it applies.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn solve_row_avx2(g: &[f32], y: &[f32], cols: &[u32], vals: &[f32], p: &AlsParams, xu: &mut [f32], s: &mut Scratch) {
    match p.solver {
        Solver::Cg { steps } if p.factors.is_multiple_of(8) && cols.len() * p.factors * 4 <= MAX_GATHER_BYTES => {
            solve_cg_avx2(g, y, p.factors, cols, vals, p.alpha, steps, xu, s)
        }
        _ => solve_row(g, y, cols, vals, p, xu),
    }
}

/// Trains on a user x item weight matrix. `on_iteration(i)` is called after each sweep pair.
pub fn fit(m: &Csr, p: &AlsParams, mut on_iteration: impl FnMut(usize, &AlsModel)) -> AlsModel {
    let f = p.factors;
    let mut rng = SplitMix(p.seed);
    let mut model = AlsModel {
        params: *p,
        user_factors: (0..m.rows * f).map(|_| rng.next_f32() * 0.01).collect(),
        item_factors: (0..m.cols * f).map(|_| rng.next_f32() * 0.01).collect(),
    };
    let mt = m.transpose();
    for it in 0..p.iterations {
        sweep(m, &mut model.user_factors, &model.item_factors, m.cols, p);
        sweep(&mt, &mut model.item_factors, &model.user_factors, m.rows, p);
        on_iteration(it, &model);
    }
    model
}

impl AlsModel {
    /// Latent dimensions.
    pub fn factors(&self) -> usize {
        self.params.factors
    }

    /// Number of items.
    pub fn items(&self) -> usize {
        self.item_factors.len() / self.params.factors
    }

    /// Number of users.
    pub fn users(&self) -> usize {
        self.user_factors.len() / self.params.factors
    }

    /// Item factor row.
    pub fn item(&self, i: usize) -> &[f32] {
        let f = self.params.factors;
        &self.item_factors[i * f..(i + 1) * f]
    }

    /// User factor row.
    pub fn user(&self, u: usize) -> &[f32] {
        let f = self.params.factors;
        &self.user_factors[u * f..(u + 1) * f]
    }

    /// Exact user factors for a history against the fixed item factors: the feedback path, so
    /// a new event changes the next recommendation without a retrain.
    pub fn fold_in(&self, items: &[u32], weights: &[f32]) -> Vec<f32> {
        self.fold_in_with(&self.item_gram(), items, weights)
    }

    /// `Y^T Y + reg I` of the item factors: fixed for a trained model, so servers compute it once
    /// and pass it to [`Self::fold_in_with`] and [`Self::explain_with`].
    pub fn item_gram(&self) -> Vec<f32> {
        gram(&self.item_factors, self.items(), self.params.factors, self.params.regularization)
    }

    /// [`Self::fold_in`] with a precomputed [`Self::item_gram`].
    pub fn fold_in_with(&self, g: &[f32], items: &[u32], weights: &[f32]) -> Vec<f32> {
        let f = self.params.factors;
        let mut x = vec![0f32; f];
        solve_cholesky(g, &self.item_factors, f, items, weights, self.params.alpha, &mut x);
        x
    }

    /// Scores of every item for a user vector: one streaming pass over the item factors, in
    /// blocks of 4,096 items across threads, with the batched AVX2 kernel where the CPU has it.
    pub fn scores(&self, user: &[f32], out: &mut [f32]) {
        const BLOCK: usize = 4096;
        let f = self.params.factors;
        let wide = wide_simd() && f.is_multiple_of(8);
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(c, o)| {
            let rows = &self.item_factors[c * BLOCK * f..(c * BLOCK + o.len()) * f];
            if wide {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `wide` is true only when the CPU reported AVX2 and FMA at run time.
                #[allow(unsafe_code)]
                unsafe {
                    super::simd::dot_rows(rows, f, user, o)
                };
            } else {
                for (k, o) in o.iter_mut().enumerate() {
                    *o = dot(user, &rows[k * f..(k + 1) * f]);
                }
            }
        });
    }

    /// How much each history item contributes to the score of `item` (implicit's `explain`):
    /// with `W = A_u^{-1}` the user's system inverse, score = sum_j c_uj * y_item^T W y_j.
    /// Returns (history item, contribution) sorted by contribution, and the total.
    pub fn explain(&self, items: &[u32], weights: &[f32], item: u32) -> (Vec<(u32, f32)>, f32) {
        self.explain_with(&self.item_gram(), items, weights, item)
    }

    /// [`Self::explain`] with a precomputed [`Self::item_gram`].
    pub fn explain_with(&self, g: &[f32], items: &[u32], weights: &[f32], item: u32) -> (Vec<(u32, f32)>, f32) {
        let f = self.params.factors;
        let y = &self.item_factors;
        let mut a = g.to_vec();
        for (&i, &w) in items.iter().zip(weights) {
            let c = 1.0 + self.params.alpha * w;
            let yi = &y[i as usize * f..(i as usize + 1) * f];
            for r in 0..f {
                for k in 0..f {
                    a[r * f + k] += (c - 1.0) * yi[r] * yi[k];
                }
            }
        }
        // Solve A z = y_item once; then contribution_j = c_j * z . y_j (A symmetric).
        let mut z = self.item(item as usize).to_vec();
        if !cholesky_solve(&mut a, &mut z, f) {
            return (Vec::new(), 0.0);
        }
        let mut out: Vec<(u32, f32)> = items
            .iter()
            .zip(weights)
            .map(|(&j, &w)| (j, (1.0 + self.params.alpha * w) * dot(&z, &y[j as usize * f..(j as usize + 1) * f])))
            .collect();
        let total = out.iter().map(|x| x.1).sum();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        (out, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dense reference: minimises sum_u,i c_ui (p_ui - x_u.y_i)^2 + reg(|x|^2 + |y|^2) for one
    /// user with the item factors fixed, by the normal equations built naively over all items.
    fn dense_user_solution(y: &[f32], n_items: usize, f: usize, hist: &[(u32, f32)], reg: f32, alpha: f32) -> Vec<f64> {
        let mut a = vec![0f64; f * f];
        let mut b = vec![0f64; f];
        for i in 0..n_items {
            let w = hist.iter().find(|h| h.0 as usize == i).map(|h| h.1);
            let (c, p) = match w {
                Some(w) => (1.0 + alpha as f64 * w as f64, 1.0),
                None => (1.0, 0.0),
            };
            let yi = &y[i * f..(i + 1) * f];
            for r in 0..f {
                for k in 0..f {
                    a[r * f + k] += c * yi[r] as f64 * yi[k] as f64;
                }
                b[r] += c * p * yi[r] as f64;
            }
        }
        for r in 0..f {
            a[r * f + r] += reg as f64;
        }
        // Gaussian elimination.
        for col in 0..f {
            let piv = (col..f).max_by(|&i, &j| a[i * f + col].abs().total_cmp(&a[j * f + col].abs())).unwrap();
            for k in 0..f {
                a.swap(col * f + k, piv * f + k);
            }
            b.swap(col, piv);
            for row in col + 1..f {
                let m = a[row * f + col] / a[col * f + col];
                for k in col..f {
                    a[row * f + k] -= m * a[col * f + k];
                }
                b[row] -= m * b[col];
            }
        }
        let mut x = vec![0f64; f];
        for r in (0..f).rev() {
            let s: f64 = (r + 1..f).map(|k| a[r * f + k] * x[k]).sum();
            x[r] = (b[r] - s) / a[r * f + r];
        }
        x
    }

    fn toy() -> Csr {
        let mut t = Vec::new();
        let mut rng = SplitMix(42);
        for u in 0..30u32 {
            for i in 0..20u32 {
                if (u % 3 == i % 3) && rng.next_f32() < 0.7 || rng.next_f32() < 0.05 {
                    t.push((u, i, 1.0 + (rng.next_f32() * 4.0).floor()));
                }
            }
        }
        Csr::from_triplets(30, 20, &t)
    }

    #[test]
    fn cholesky_user_step_matches_the_dense_reference() {
        let m = toy();
        let p =
            AlsParams { factors: 6, regularization: 0.1, alpha: 2.0, iterations: 3, solver: Solver::Cholesky, seed: 1 };
        let model = fit(&m, &p, |_, _| {});
        for u in [0usize, 7, 29] {
            let (cols, vals) = m.row(u);
            let hist: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
            let want = dense_user_solution(&model.item_factors, 20, 6, &hist, 0.1, 2.0);
            let got = model.fold_in(cols, vals);
            for (g, w) in got.iter().zip(&want) {
                assert!((*g as f64 - w).abs() < 1e-3 * w.abs().max(1e-2), "user {u}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn cg_converges_to_the_cholesky_solution_with_enough_steps() {
        let m = toy();
        let base =
            AlsParams { factors: 6, regularization: 0.1, alpha: 2.0, iterations: 1, solver: Solver::Cholesky, seed: 1 };
        let model = fit(&m, &base, |_, _| {});
        let g = gram(&model.item_factors, 20, 6, 0.1);
        let (cols, vals) = m.row(3);
        let mut exact = vec![0f32; 6];
        solve_cholesky(&g, &model.item_factors, 6, cols, vals, 2.0, &mut exact);
        let mut x = vec![0f32; 6];
        solve_cg(&g, &model.item_factors, 6, cols, vals, 2.0, 30, &mut x);
        for (a, b) in x.iter().zip(&exact) {
            assert!((a - b).abs() < 1e-3 * b.abs().max(1e-1), "{x:?} vs {exact:?}");
        }
    }

    /// The gathered-rows AVX2 solver is the same CG: with enough steps it lands on the exact
    /// solution too (16 factors, so it is the path taken).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_cg_converges_to_the_cholesky_solution_with_enough_steps() {
        if !wide_simd() {
            return;
        }
        let m = toy();
        let base = AlsParams {
            factors: 16,
            regularization: 0.1,
            alpha: 2.0,
            iterations: 1,
            solver: Solver::Cholesky,
            seed: 1,
        };
        let model = fit(&m, &base, |_, _| {});
        let g = gram(&model.item_factors, 20, 16, 0.1);
        for u in [3usize, 11] {
            let (cols, vals) = m.row(u);
            let mut exact = vec![0f32; 16];
            solve_cholesky(&g, &model.item_factors, 16, cols, vals, 2.0, &mut exact);
            let mut x = vec![0f32; 16];
            // SAFETY: wide_simd() reported AVX2 and FMA.
            #[allow(unsafe_code)]
            unsafe {
                solve_cg_avx2(&g, &model.item_factors, 16, cols, vals, 2.0, 60, &mut x, &mut Scratch::default())
            };
            for (a, b) in x.iter().zip(&exact) {
                assert!((a - b).abs() < 1e-3 * b.abs().max(1e-1), "user {u}: {x:?} vs {exact:?}");
            }
        }
    }

    #[test]
    fn training_recovers_planted_groups_and_explain_sums_to_the_score() {
        let m = toy();
        let p = AlsParams {
            factors: 8,
            regularization: 0.05,
            alpha: 5.0,
            iterations: 10,
            solver: Solver::Cg { steps: 3 },
            seed: 3,
        };
        let model = fit(&m, &p, |_, _| {});
        // Items of the user's own group (i % 3 == u % 3) outscore the others on average.
        let mut s = vec![0f32; 20];
        model.scores(model.user(4), &mut s);
        let own: f32 = (0..20).filter(|i| i % 3 == 1).map(|i| s[i]).sum::<f32>() / 7.0;
        let other: f32 = (0..20).filter(|i| i % 3 != 1).map(|i| s[i]).sum::<f32>() / 13.0;
        assert!(own > other + 0.2, "own {own} other {other}");
        let (cols, vals) = m.row(4);
        let (parts, total) = model.explain(cols, vals, 10);
        let mut s2 = vec![0f32; 20];
        model.scores(&model.fold_in(cols, vals), &mut s2);
        assert!((total - s2[10]).abs() < 1e-3, "{total} vs {}", s2[10]);
        assert_eq!(parts.len(), cols.len());
    }
}
