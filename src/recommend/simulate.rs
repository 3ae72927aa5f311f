//! A seeded shopper simulator for the demo: SYNTHETIC sessions with planted tastes (favourite
//! categories, a liking for well-rated items), so recommendations can be checked by eye.
//! Nothing it makes is real behaviour; its users are named `sim-NNNN`.

use crate::cf::als::SplitMix;

/// A catalogue item as the simulator sees it.
#[derive(Debug, Clone)]
pub struct SimItem {
    /// Product id.
    pub id: String,
    /// Category concept IRI.
    pub category: Option<String>,
    /// Mean review rating (1-5), 3 when unknown.
    pub quality: f32,
    /// Review count (a popularity proxy).
    pub reviews: u32,
}

/// One synthetic event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimEvent {
    /// Synthetic user id.
    pub user: String,
    /// Product id.
    pub item: String,
    /// view, click, add_to_cart or purchase.
    pub event: &'static str,
    /// RFC 3339.
    pub timestamp: String,
}

/// The taste planted in a synthetic user.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Taste {
    /// Synthetic user id.
    pub user: String,
    /// Favourite category IRIs.
    pub categories: Vec<String>,
}

fn pick(rng: &mut SplitMix, weights: &[f32]) -> usize {
    let total: f32 = weights.iter().sum();
    let mut x = rng.next_f32() * total;
    for (i, w) in weights.iter().enumerate() {
        x -= w;
        if x <= 0.0 {
            return i;
        }
    }
    weights.len() - 1
}

/// Generates sessions for `users` synthetic shoppers.
pub fn simulate(items: &[SimItem], users: usize, seed: u64) -> (Vec<SimEvent>, Vec<Taste>) {
    let mut rng = SplitMix(seed);
    let mut cats: Vec<String> = items.iter().filter_map(|i| i.category.clone()).collect();
    cats.sort();
    cats.dedup();
    let cat_weight: Vec<f32> =
        cats.iter().map(|c| items.iter().filter(|i| i.category.as_ref() == Some(c)).count() as f32).collect();
    // Appeal: well-rated and much-reviewed items are chosen more often.
    let appeal: Vec<f32> =
        items.iter().map(|i| (i.quality / 5.0).powi(3) * (1.0 + (i.reviews as f32).ln_1p())).collect();
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").map(|t| t.timestamp()).unwrap_or(0);
    let (mut events, mut tastes) = (Vec::new(), Vec::new());
    for u in 0..users {
        let user = format!("sim-{u:04}");
        let mut fav = Vec::new();
        while fav.len() < 2.min(cats.len()) {
            let c = cats[pick(&mut rng, &cat_weight)].clone();
            if !fav.contains(&c) {
                fav.push(c);
            }
        }
        let mut t = start + (rng.next_u64() % (90 * 86_400)) as i64;
        for _session in 0..(3 + rng.next_u64() % 6) {
            for _view in 0..(3 + rng.next_u64() % 4) {
                let in_fav = rng.next_f32() < 0.85;
                let w: Vec<f32> = items
                    .iter()
                    .zip(&appeal)
                    .map(
                        |(it, a)| {
                            if !in_fav || it.category.as_ref().is_some_and(|c| fav.contains(c)) { *a } else { 0.0 }
                        },
                    )
                    .collect();
                if w.iter().all(|x| *x == 0.0) {
                    continue;
                }
                let item = &items[pick(&mut rng, &w)];
                let r = rng.next_f32();
                let mut emit = |event: &'static str, t: &mut i64| {
                    *t += 30 + (rng.next_u64() % 300) as i64;
                    let ts = chrono::DateTime::from_timestamp(*t, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
                    events.push(SimEvent { user: user.clone(), item: item.id.clone(), event, timestamp: ts });
                };
                emit("view", &mut t);
                if r < 0.6 {
                    emit("click", &mut t);
                    if r < 0.25 {
                        emit("add_to_cart", &mut t);
                        if r < 0.12 {
                            emit("purchase", &mut t);
                        }
                    }
                }
            }
            t += 86_400 + (rng.next_u64() % (5 * 86_400)) as i64;
        }
        tastes.push(Taste { user, categories: fav });
    }
    (events, tastes)
}
