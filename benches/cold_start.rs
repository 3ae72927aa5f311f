//! How well items without interactions are placed by their graph neighbours. On the demo graph
//! (23,486 real reviews, real categories) with SYNTHETIC shoppers, 10% of the interacted items
//! lose all their interactions before training; ALS then places them by category (else brand)
//! peers. For every user who had touched such an item, the held-out cold items are ranked
//! among all cold items: mean AUC and hit rate at 10, against the same model with the cold
//! items left unplaced (zero factors: ties broken at random) and the hybrid (the graph's item
//! features as extra rows, untouched items placed by the feature map) in the same run; and the
//! same models for warm users (each shopper's latest event held out).
//! `cargo bench --bench cold_start`; writes benches/results/cold_start.json.

use shopgraph::cf::als::{AlsParams, Solver};
use shopgraph::cf::eval;
use shopgraph::cf::hybrid::HybridParams;
use shopgraph::config::Config;
use shopgraph::engine::Engine;
use shopgraph::ingest::mapping::Mapping;
use shopgraph::ingest::pseudonym::Pseudonymizer;
use shopgraph::recommend::dataset::Dataset;
use shopgraph::recommend::{Algorithm, Trained, fit, place_cold_items};
use shopgraph::store::Store;
use std::collections::{HashMap, HashSet};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let engine = Engine::with_parts(
        Config { memory: true, ..Config::default() },
        Store::memory().expect("store"),
        Pseudonymizer::with_key([3; 32]),
    )
    .expect("engine");
    let csv = root.join("tests/data/demo/womens-clothing-reviews.csv");
    let mapping = Mapping::from_file(&Mapping::beside(&csv).expect("mapping")).expect("mapping");
    engine.load_tabular(&csv, &mapping, None, Box::new(|_| {})).expect("load");
    engine.simulate(2000, 11).expect("simulate");
    let full = engine.interaction_dataset_with_features().expect("dataset");

    // Every 10th interacted item becomes cold.
    let mut touched: Vec<u32> = full.events.iter().map(|e| e.item).collect::<HashSet<_>>().into_iter().collect();
    touched.sort_unstable();
    let cold: HashSet<u32> = touched.iter().copied().step_by(10).collect();
    let mut ds = Dataset::default();
    for it in &full.items {
        ds.add_item(it);
    }
    let mut held: HashMap<String, HashSet<u32>> = HashMap::new();
    for e in &full.events {
        let user = &full.users[e.user as usize];
        if cold.contains(&e.item) {
            held.entry(user.clone()).or_default().insert(e.item);
        } else {
            ds.push(user, &full.items[e.item as usize], e.weight, e.ts);
        }
    }
    let alg = Algorithm::Als(AlsParams {
        factors: 32,
        regularization: 0.1,
        alpha: 10.0,
        iterations: 15,
        solver: Solver::Cg { steps: 3 },
        seed: 1,
    });
    for (i, name, w) in &full.item_features {
        ds.add_feature(&full.items[*i as usize], name, *w);
    }
    let Algorithm::Als(params) = alg.clone() else { unreachable!("ALS") };
    let hybrid_alg = Algorithm::Hybrid(HybridParams {
        als: params,
        feature_weight: shopgraph::recommend::DEFAULT_FEATURE_WEIGHT,
        feature_ridge: shopgraph::cf::hybrid::DEFAULT_RIDGE,
    });
    let hybrid = Trained::train(&ds, &hybrid_alg, None, |_, _| {}).expect("train hybrid");
    let unplaced = Trained::train(&ds, &alg, None, |_, _| {}).expect("train");
    let mut placed = unplaced.clone();
    let facets = engine.facets(&placed.items).expect("facets");
    let n_placed = place_cold_items(&mut placed, &facets);
    let cold_ix: Vec<u32> = cold.iter().map(|&i| ds.item_index(&full.items[i as usize]).expect("same items")).collect();

    let measure = |t: &Trained, seed: u64| -> (f64, f64, f64, usize) {
        let m = t.model.als().expect("a factor model");
        let mut rng = seed;
        let (mut auc, mut hits, mut ndcg, mut n) = (0.0, 0.0, 0.0, 0usize);
        for (user, items) in &held {
            let Some(u) = ds.user_index(user) else { continue };
            let x = m.user(u as usize);
            // Tiny random jitter breaks the ties of unplaced (all-zero) items fairly.
            let scored: Vec<(f32, bool)> = cold
                .iter()
                .zip(&cold_ix)
                .map(|(orig, &ix)| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let jitter = (rng >> 40) as f32 * 1e-12;
                    (m.item(ix as usize).iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + jitter, items.contains(orig))
                })
                .collect();
            let pos: Vec<f32> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
            let neg: Vec<f32> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
            if pos.is_empty() || neg.is_empty() {
                continue;
            }
            let wins: usize = pos.iter().map(|p| neg.iter().filter(|q| p > q).count()).sum();
            auc += wins as f64 / (pos.len() * neg.len()) as f64;
            let mut order: Vec<&(f32, bool)> = scored.iter().collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0));
            hits += if order.iter().take(10).any(|s| s.1) { 1.0 } else { 0.0 };
            let dcg: f64 = order
                .iter()
                .take(10)
                .enumerate()
                .filter(|(_, s)| s.1)
                .map(|(r, _)| 1.0 / ((r + 2) as f64).log2())
                .sum();
            let ideal: f64 = (0..pos.len().min(10)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
            ndcg += dcg / ideal;
            n += 1;
        }
        (auc / n as f64, hits / n as f64, ndcg / n as f64, n)
    };
    let (auc_p, hr_p, nd_p, users) = measure(&placed, 7);
    let (auc_u, hr_u, nd_u, _) = measure(&unplaced, 7);
    let (auc_h, hr_h, nd_h, _) = measure(&hybrid, 7);

    // Warm users on the same graph: each shopper's latest event held out, every item ranked.
    let split = eval::leave_last_out(&full.events, full.users.len(), full.items.len());
    let features = full.features();
    let mut warm = serde_json::Map::new();
    for (name, a) in [
        ("als", alg.clone()),
        ("hybrid", hybrid_alg.clone()),
        ("ease", Algorithm::Ease { lambda: 200.0, half_life: None }),
        ("popularity", Algorithm::Popularity),
    ] {
        let m = fit(&a, &split.train, Some(&features), |_, _| {}).expect("fit");
        warm.insert(name.into(), serde_json::json!(eval::evaluate(&m, &split, 10).ndcg));
    }
    let res = serde_json::json!({
        "synthetic_shoppers": 2000, "cold_items": cold.len(), "placed_items": n_placed, "users_evaluated": users,
        "item_features": features.len(), "item_feature_pairs": features.pairs(),
        "placed_by_graph": {"auc": auc_p, "hit_rate_at_10_among_cold": hr_p, "ndcg_at_10_among_cold": nd_p},
        "hybrid": {"auc": auc_h, "hit_rate_at_10_among_cold": hr_h, "ndcg_at_10_among_cold": nd_h},
        "unplaced": {"auc": auc_u, "hit_rate_at_10_among_cold": hr_u, "ndcg_at_10_among_cold": nd_u},
        "warm_users_ndcg_at_10": warm,
    });
    println!("{}", serde_json::to_string_pretty(&res).expect("json"));
    let out = root.join("benches/results/cold_start.json");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    std::fs::write(out, serde_json::to_vec_pretty(&res).expect("json")).expect("write");
}
