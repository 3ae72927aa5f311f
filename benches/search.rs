//! Where semantic retrieval should stop scanning every vector: exact scan against the k-means
//! cells of `search::dense` at growing catalogue sizes (384-d unit vectors drawn around 300
//! topics, like sentence embeddings of a catalogue), side by side in one run. Prints JSON and
//! writes benches/results/search_dense.json.
//!
//!     cargo bench --bench search

use shopgraph::search::dense::DenseIndex;
use std::time::Instant;

const DIM: usize = 384;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 20_000) as f32 / 10_000.0 - 1.0
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn main() {
    let mut rng = Rng(0x5eed);
    let topics: Vec<Vec<f32>> = (0..300).map(|_| unit((0..DIM).map(|_| rng.next()).collect())).collect();
    let point = |rng: &mut Rng| {
        let t = &topics[(rng.next().abs() * 299.0) as usize];
        unit(t.iter().map(|x| x + 0.09 * rng.next()).collect())
    };
    let mut rows = Vec::new();
    for n in [2_000usize, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000] {
        let entries: Vec<(u64, Vec<f32>)> = (0..n as u64).map(|i| (i, point(&mut rng))).collect();
        let t0 = Instant::now();
        let ix = DenseIndex::new(entries, DIM, 0);
        let build = t0.elapsed().as_secs_f64();
        let queries: Vec<Vec<f32>> = (0..100).map(|_| point(&mut rng)).collect();
        let (mut exact_s, mut cells_s, mut found) = (0.0, 0.0, 0usize);
        for q in &queries {
            let t = Instant::now();
            let e = ix.nearest(q, 10, true);
            exact_s += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let a = ix.nearest(q, 10, false);
            cells_s += t.elapsed().as_secs_f64();
            found += a.iter().filter(|h| e.iter().any(|x| x.0 == h.0)).count();
        }
        let row = serde_json::json!({
            "vectors": n,
            "exact_ms": exact_s * 10.0,
            "cells_ms": cells_s * 10.0,
            "speedup": exact_s / cells_s,
            "recall_at_10": found as f64 / 1000.0,
            "cells_build_s": build,
        });
        eprintln!("{row}");
        rows.push(row);
    }
    let out = serde_json::json!({ "dim": DIM, "queries": 100, "rows": rows });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/search_dense.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
