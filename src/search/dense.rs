//! Semantic retrieval over the products' stored text embeddings: an exact scan for small
//! catalogues, an inverted-file index (k-means cells stored cell after cell, the closest cells
//! probed) from [`IVF_MIN`] vectors.

/// From this many vectors on, search probes k-means cells instead of scanning everything:
/// below it the exact scan takes about a millisecond on the development machine, above it the
/// cells are ten times faster at full recall@10 on clustered vectors (benches/search.rs,
/// REPORT §12).
pub const IVF_MIN: usize = 20_000;

/// Unit vectors by product key, with an optional cell index.
#[derive(Debug, Default)]
pub struct DenseIndex {
    keys: Vec<u64>,
    dim: usize,
    vectors: Vec<f32>,
    ivf: Option<Ivf>,
}

#[derive(Debug)]
struct Ivf {
    centroids: Vec<f32>,
    /// Each cell's rows: the vectors are stored cell after cell, so a probe reads one run.
    lists: Vec<std::ops::Range<u32>>,
    probe: usize,
}

/// Eight independent sums, so the compiler can keep them in one vector register (a plain
/// `sum()` of f32 is one serial chain: its order is fixed by the language).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl DenseIndex {
    /// An index over `(key, vector)` pairs of dimension `dim`; cells are built when there are
    /// at least `ivf_min` vectors.
    pub fn new(entries: Vec<(u64, Vec<f32>)>, dim: usize, ivf_min: usize) -> Self {
        let mut keys = Vec::with_capacity(entries.len());
        let mut vectors = Vec::with_capacity(entries.len() * dim);
        for (k, v) in entries {
            if v.len() == dim {
                keys.push(k);
                vectors.extend_from_slice(&v);
            }
        }
        let mut ix = Self { keys, dim, vectors, ivf: None };
        if ix.keys.len() >= ivf_min.max(64) {
            ix.cells();
        }
        ix
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether searches probe cells.
    pub fn approximate(&self) -> bool {
        self.ivf.is_some()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// k-means (spherical: centroids renormalised) with sqrt(n) cells, seeded by a fixed
    /// stride through the data so that builds are repeatable, trained on at most 20,000 vectors;
    /// assignments run on all cores.
    fn cells(&mut self) {
        use rayon::prelude::*;
        let n = self.keys.len();
        let c = ((n as f64).sqrt() as usize).clamp(8, 2048);
        let step = (n / c).max(1);
        let mut centroids: Vec<f32> = (0..c).flat_map(|j| self.row((j * step) % n).to_vec()).collect();
        let sample: Vec<usize> = (0..n).step_by((n / 20_000).max(1)).collect();
        for _ in 0..6 {
            let assigned: Vec<usize> =
                sample.par_iter().map(|&i| self.closest(&centroids, self.row(i), 1)[0]).collect();
            let mut sums = vec![0f32; c * self.dim];
            for (&i, &j) in sample.iter().zip(&assigned) {
                for (s, x) in sums[j * self.dim..(j + 1) * self.dim].iter_mut().zip(self.row(i)) {
                    *s += x;
                }
            }
            for j in 0..c {
                let s = &mut sums[j * self.dim..(j + 1) * self.dim];
                let norm = dot(s, s).sqrt();
                if norm > 0.0 {
                    s.iter_mut().for_each(|x| *x /= norm);
                    centroids[j * self.dim..(j + 1) * self.dim].copy_from_slice(s);
                }
            }
        }
        let assigned: Vec<usize> =
            (0..n).into_par_iter().map(|i| self.closest(&centroids, self.row(i), 1)[0]).collect();
        let mut members = vec![Vec::new(); c];
        for (i, j) in assigned.into_iter().enumerate() {
            members[j].push(i);
        }
        let (mut keys, mut vectors, mut lists) = (Vec::with_capacity(n), Vec::with_capacity(n * self.dim), Vec::new());
        for m in members {
            let start = keys.len() as u32;
            for i in m {
                keys.push(self.keys[i]);
                vectors.extend_from_slice(self.row(i));
            }
            lists.push(start..keys.len() as u32);
        }
        self.keys = keys;
        self.vectors = vectors;
        self.ivf = Some(Ivf { centroids, lists, probe: (c / 12).max(8) });
    }

    fn closest(&self, centroids: &[f32], v: &[f32], m: usize) -> Vec<usize> {
        let mut s: Vec<(usize, f32)> =
            centroids.chunks_exact(self.dim).enumerate().map(|(j, c)| (j, dot(c, v))).collect();
        let m = m.min(s.len());
        s.select_nth_unstable_by(m - 1, |a, b| b.1.total_cmp(&a.1));
        s.truncate(m);
        s.into_iter().map(|(j, _)| j).collect()
    }

    /// The `k` closest vectors to `q` (cosine: the vectors are unit length), best first; exact
    /// when `exact` or without cells.
    pub fn nearest(&self, q: &[f32], k: usize, exact: bool) -> Vec<(u64, f32)> {
        if q.len() != self.dim || self.keys.is_empty() || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(u32, f32)> = match (&self.ivf, exact) {
            (Some(ivf), false) => self
                .closest(&ivf.centroids, q, ivf.probe)
                .into_iter()
                .flat_map(|j| ivf.lists[j].clone().map(|i| (i, dot(q, self.row(i as usize)))))
                .collect(),
            _ => (0..self.keys.len()).map(|i| (i as u32, dot(q, self.row(i)))).collect(),
        };
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().map(|(i, s)| (self.keys[i as usize], s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    #[test]
    fn cells_find_most_of_the_exact_neighbours() {
        let dim = 16;
        let entries: Vec<(u64, Vec<f32>)> = (0..5_000u64).map(|i| (i, unit(i, dim))).collect();
        let ix = DenseIndex::new(entries, dim, 1_000);
        assert!(ix.approximate());
        let mut found = 0;
        for q in 0..50u64 {
            let query = unit(100_000 + q, dim);
            let exact: Vec<u64> = ix.nearest(&query, 10, true).into_iter().map(|h| h.0).collect();
            let approx: Vec<u64> = ix.nearest(&query, 10, false).into_iter().map(|h| h.0).collect();
            found += approx.iter().filter(|k| exact.contains(k)).count();
        }
        // Random 16-d vectors are the hard case for cells; real embeddings cluster.
        assert!(found >= 350, "recall@10 of the cells {found}/500");
    }
}
