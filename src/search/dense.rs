//! Semantic retrieval over the products' stored text embeddings: an exact scan for small
//! catalogues, an inverted-file index (k-means cells, the closest cells probed) above
//! [`IVF_MIN`] vectors, where the exact scan stops fitting the latency budget.

/// From this many vectors on, search probes k-means cells instead of scanning everything
/// (benches/search.rs measures the crossover).
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
    lists: Vec<Vec<u32>>,
    probe: usize,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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
            ix.ivf = Some(ix.cells());
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
    fn cells(&self) -> Ivf {
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
        let mut lists = vec![Vec::new(); c];
        for (i, j) in assigned.into_iter().enumerate() {
            lists[j].push(i as u32);
        }
        Ivf { centroids, lists, probe: (c / 12).max(8) }
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
                .flat_map(|j| ivf.lists[j].iter().map(|&i| (i, dot(q, self.row(i as usize)))))
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
