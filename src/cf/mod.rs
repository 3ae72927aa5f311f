//! Collaborative filtering: pure maths on interaction matrices (faer for dense algebra, rayon
//! for parallel rows). No RDF, no I/O, nothing of ours imported.

pub mod als;
pub mod baselines;
pub mod eval;
pub mod hybrid;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod sparse;

pub use sparse::Csr;

/// Runs `f` on a thread of its own and waits for it. faer's matrix products keep a packing
/// buffer per thread for as long as the thread lives (private-gemm-x86 sizes it at twice the L3
/// cache: 64 MiB on a 32 MiB L3), so a long-lived thread (an HTTP pool worker folding in a
/// shopper's events) that multiplies once holds it, and the pages it touched, for good: each
/// pool thread added one in the soak's heap profiles. A scratch thread hands it back when it
/// ends; starting one costs tens of microseconds, nothing next to the products it runs.
pub(crate) fn on_scratch_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Any trained recommender.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// Implicit ALS.
    Als(als::AlsModel),
    /// EASE.
    Ease(baselines::Ease),
    /// Item-kNN.
    ItemKnn(baselines::ItemKnn),
    /// Popularity.
    Popularity(baselines::Popularity),
    /// ALS with item features as extra rows.
    Hybrid(hybrid::HybridModel),
}

impl Model {
    /// Whether every number of the model is finite: a NaN or infinity anywhere makes every
    /// score NaN and every recommendation list empty.
    pub fn is_finite(&self) -> bool {
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        match self {
            Self::Als(m) => finite(&m.user_factors) && finite(&m.item_factors),
            Self::Ease(e) => finite(&e.b),
            Self::ItemKnn(k) => k.sims.iter().all(|row| row.iter().all(|(_, s)| s.is_finite())),
            Self::Popularity(p) => finite(&p.counts),
            Self::Hybrid(h) => {
                finite(&h.als.user_factors)
                    && finite(&h.als.item_factors)
                    && finite(&h.feature_factors)
                    && finite(&h.feature_map)
            }
        }
    }
}

impl Model {
    /// The factor model that serves scores, for ALS and the hybrid.
    pub fn als(&self) -> Option<&als::AlsModel> {
        match self {
            Self::Als(m) => Some(m),
            Self::Hybrid(h) => Some(&h.als),
            _ => None,
        }
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Als(_) => "als",
            Self::Ease(_) => "ease",
            Self::ItemKnn(_) => "item_knn",
            Self::Popularity(_) => "popularity",
            Self::Hybrid(_) => "hybrid",
        }
    }

    /// History recency half-life of the item-item models (`None` for the others).
    pub fn half_life(&self) -> Option<f32> {
        match self {
            Self::Ease(e) => e.half_life,
            Self::ItemKnn(k) => k.half_life,
            Self::Als(_) | Self::Popularity(_) | Self::Hybrid(_) => None,
        }
    }

    /// Sets the history recency half-life of the item-item models (the others have none).
    pub fn set_half_life(&mut self, h: Option<f32>) {
        match self {
            Self::Ease(e) => e.half_life = h,
            Self::ItemKnn(k) => k.half_life = h,
            Self::Als(_) | Self::Popularity(_) | Self::Hybrid(_) => {}
        }
    }

    /// Scores of every item for a user. `user` is the training row when the history is the
    /// training history (ALS then uses its learned factors); `None` folds the history in.
    pub fn scores(&self, user: Option<usize>, h: &History<'_>, out: &mut [f32]) {
        match self {
            Self::Als(m) | Self::Hybrid(hybrid::HybridModel { als: m, .. }) => match user.filter(|u| *u < m.users()) {
                Some(u) => m.scores(m.user(u), out),
                None => m.scores(&m.fold_in(h.items, h.weights), out),
            },
            Self::Ease(e) => e.scores(h, out),
            Self::ItemKnn(k) => k.scores(h, out),
            Self::Popularity(p) => out.copy_from_slice(&p.counts),
        }
    }
}

/// A user's history as the models read it: items (sorted, distinct), their summed event
/// weights, and each item's age: how many of the user's other items were touched after it
/// (0 = the latest). ALS reads weights (its confidence); the item-item models read ages.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// Items, sorted.
    pub items: &'a [u32],
    /// Event weight per item.
    pub weights: &'a [f32],
    /// Age per item, in the user's own events.
    pub ages: &'a [u32],
}

/// Weight of a history item `age` steps back, halving every `half_life` steps (`None`: all 1).
///
/// Why: what a user touched last predicts their next item far better than what they touched
/// long ago (on MovieLens-100k, EASE's nDCG@10 goes from 0.073 to 0.10 with a half-life of 5).
pub fn recency_weight(age: u32, half_life: Option<f32>) -> f32 {
    match half_life {
        Some(h) if h > 0.0 => 0.5f32.powf(age as f32 / h),
        _ => 1.0,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The process's mapped size in KiB.
    fn vm_size_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
        let line = status.lines().find(|l| l.starts_with("VmSize:")).expect("a VmSize line");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of KiB")
    }

    /// A pool thread that folded in one shopper's events kept faer's 64 MiB packing buffer for
    /// good (one more per pool thread over a soak). Mapped size is per process, so the check
    /// runs alone in a child of this test binary, with one malloc arena (a new thread's arena
    /// reserves address space of the same order and would hide the buffer).
    #[test]
    fn faer_products_leave_no_packing_buffer_on_the_calling_thread() {
        const NAME: &str = "cf::tests::faer_products_leave_no_packing_buffer_on_the_calling_thread";
        if std::env::var_os("SHOPGRAPH_TEST_CHILD").is_none() {
            let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
                .args(["--exact", NAME, "--test-threads=1", "--nocapture"])
                .env("SHOPGRAPH_TEST_CHILD", "1")
                .env("MALLOC_ARENA_MAX", "1")
                .output()
                .expect("running the test binary");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("1 passed"),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let (n, f) = (3_000, 32);
        let y: Vec<f32> = (0..n * f).map(|i| ((i * 7919) % 13) as f32 / 13.0).collect();
        let before = vm_size_kib();
        let g = super::als::gram(&y, n, f, 0.1);
        let grown = vm_size_kib().saturating_sub(before);
        // Y^T Y's diagonal is the squared column norms (plus the regularisation).
        let norm0: f32 = (0..n).map(|r| y[r * f] * y[r * f]).sum::<f32>() + 0.1;
        assert!((g[0] - norm0).abs() / norm0 < 1e-4, "gram[0,0] {} against {norm0}", g[0]);
        // Without the scratch thread this thread keeps twice the L3 cache (64 MiB on 32 MiB);
        // with it, what stays is the exited thread's cached stack (2 MiB).
        assert!(grown < 12 * 1024, "the calling thread's mapped size grew {grown} KiB");
    }
}
