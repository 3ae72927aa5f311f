//! Offline evaluation: splits (leave-last-out, time-ordered, random) and ranking metrics at k.

use super::Model;
use super::sparse::Csr;
use rayon::prelude::*;

/// One interaction in index space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// User index.
    pub user: u32,
    /// Item index.
    pub item: u32,
    /// Implicit weight.
    pub weight: f32,
    /// Unix seconds (0 when unknown).
    pub ts: i64,
}

/// Training matrix plus each user's held-out items.
#[derive(Debug, Clone)]
pub struct Split {
    /// Users x items weights.
    pub train: Csr,
    /// Age of each stored training pair, aligned with `train.indices` (see [`ages`]).
    pub ages: Vec<u32>,
    /// Held-out items per user (empty for users without test items).
    pub test: Vec<Vec<u32>>,
}

/// A split from given train and test events (one id space); test items the user already has in
/// train are not prediction targets.
pub fn build(train: &[Event], test: &[Event], users: usize, items: usize) -> Split {
    let t: Vec<(u32, u32, f32)> = train.iter().map(|e| (e.user, e.item, e.weight)).collect();
    let train_m = Csr::from_triplets(users, items, &t);
    let mut test_v = vec![Vec::new(); users];
    for e in test {
        if train_m.row(e.user as usize).0.binary_search(&e.item).is_err() && !test_v[e.user as usize].contains(&e.item)
        {
            test_v[e.user as usize].push(e.item);
        }
    }
    let ages = ages(&train_m, train);
    Split { train: train_m, ages, test: test_v }
}

/// For each stored pair of `m` (aligned with `m.indices`), how many of the user's other items
/// were last touched after this one was (0 = the user's latest item). Events order by
/// timestamp, then by their place in `events`, so files without times fall back to file order.
pub fn ages(m: &Csr, events: &[Event]) -> Vec<u32> {
    // Latest (ts, position) per stored pair.
    let mut latest = vec![(i64::MIN, 0usize); m.nnz()];
    for (k, e) in events.iter().enumerate() {
        let (start, end) = (m.indptr[e.user as usize], m.indptr[e.user as usize + 1]);
        if let Ok(p) = m.indices[start..end].binary_search(&e.item) {
            let slot = &mut latest[start + p];
            *slot = (*slot).max((e.ts, k));
        }
    }
    let mut out = vec![0u32; m.nnz()];
    let mut order: Vec<usize> = Vec::new();
    for u in 0..m.rows {
        let (start, end) = (m.indptr[u], m.indptr[u + 1]);
        order.clear();
        order.extend(start..end);
        order.sort_by(|&a, &b| latest[b].cmp(&latest[a]));
        for (age, &p) in order.iter().enumerate() {
            out[p] = age as u32;
        }
    }
    out
}

/// Each user's last interaction (by time, then input order) is held out, for users with >= 2.
pub fn leave_last_out(events: &[Event], users: usize, items: usize) -> Split {
    let mut last: Vec<Option<usize>> = vec![None; users];
    for (k, e) in events.iter().enumerate() {
        let slot = &mut last[e.user as usize];
        if slot.is_none_or(|p| events[p].ts <= e.ts) {
            *slot = Some(k);
        }
    }
    let mut per_user = vec![0usize; users];
    for e in events {
        per_user[e.user as usize] += 1;
    }
    let held: std::collections::HashSet<usize> =
        last.iter().enumerate().filter(|(u, _)| per_user[*u] >= 2).filter_map(|(_, k)| *k).collect();
    let (test, train): (Vec<_>, Vec<_>) = events.iter().enumerate().partition(|(k, _)| held.contains(k));
    let strip = |v: Vec<(usize, &Event)>| v.into_iter().map(|(_, e)| *e).collect::<Vec<_>>();
    build(&strip(train), &strip(test), users, items)
}

/// Leave-last-out one step back in time: each user's events after their `back`-th last are
/// dropped and that event is held out (`back = 0` is [`leave_last_out`]). Validation folds made
/// this way ask what the leave-last-out test asks (the next event from the past), at earlier
/// moments, without touching the test events.
pub fn leave_kth_last_out(events: &[Event], users: usize, items: usize, back: usize) -> Split {
    let mut per_user: Vec<Vec<usize>> = vec![Vec::new(); users];
    for (k, e) in events.iter().enumerate() {
        per_user[e.user as usize].push(k);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut ks in per_user {
        ks.sort_by_key(|&k| (events[k].ts, k));
        // At least one event must remain to learn from.
        if ks.len() < back + 2 {
            train.extend(ks.iter().take(ks.len().saturating_sub(back)).map(|&k| events[k]));
            continue;
        }
        let held = ks.len() - 1 - back;
        train.extend(ks[..held].iter().map(|&k| events[k]));
        test.push(events[ks[held]]);
    }
    build(&train, &test, users, items)
}

/// One seeded random event of each user with two or more events is held out: validation for
/// data without timestamps, where "the user's last event" would only be the file's order.
pub fn leave_one_random_out(events: &[Event], users: usize, items: usize, seed: u64) -> Split {
    let mut per_user: Vec<Vec<usize>> = vec![Vec::new(); users];
    for (k, e) in events.iter().enumerate() {
        per_user[e.user as usize].push(k);
    }
    let mut rng = super::als::SplitMix(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for ks in per_user {
        if ks.len() < 2 {
            train.extend(ks.iter().map(|&k| events[k]));
            continue;
        }
        let held = ((rng.next_f32() as f64) * ks.len() as f64) as usize % ks.len();
        for (j, &k) in ks.iter().enumerate() {
            if j == held { test.push(events[k]) } else { train.push(events[k]) }
        }
    }
    build(&train, &test, users, items)
}

/// Whether events carry real times: most of them non-zero and not all the same. Recency
/// weighting and time-ordered validation mean nothing without them.
pub fn has_timestamps(events: &[Event]) -> bool {
    let timed = events.iter().filter(|e| e.ts != 0).count();
    let first = events.iter().find(|e| e.ts != 0).map(|e| e.ts);
    timed * 2 > events.len() && events.iter().any(|e| e.ts != 0 && Some(e.ts) != first)
}

/// The latest `test_fraction` of events (by timestamp) are held out.
pub fn time_split(events: &[Event], users: usize, items: usize, test_fraction: f64) -> Split {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&k| (events[k].ts, k));
    let cut = ((1.0 - test_fraction) * events.len() as f64).round() as usize;
    let train: Vec<Event> = order[..cut].iter().map(|&k| events[k]).collect();
    let test: Vec<Event> = order[cut..].iter().map(|&k| events[k]).collect();
    build(&train, &test, users, items)
}

/// A seeded random `test_fraction` of each user's events is held out.
pub fn random_split(events: &[Event], users: usize, items: usize, test_fraction: f64, seed: u64) -> Split {
    let mut rng = super::als::SplitMix(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for e in events {
        if (rng.next_f32() as f64) < test_fraction { test.push(*e) } else { train.push(*e) }
    }
    build(&train, &test, users, items)
}

/// Keeps the held-out items of at most `max` users (a seeded sample of those that have any);
/// the others' are cleared, so evaluation scores only the sample. Training rows are untouched.
pub fn sample_test_users(split: &mut Split, max: usize, seed: u64) {
    let mut with: Vec<usize> = (0..split.test.len()).filter(|&u| !split.test[u].is_empty()).collect();
    if with.len() <= max {
        return;
    }
    // Partial Fisher-Yates: the first `max` places hold the sample.
    let mut rng = super::als::SplitMix(seed);
    for k in 0..max {
        let j = k + (rng.next_u64() % (with.len() - k) as u64) as usize;
        with.swap(k, j);
    }
    let keep: std::collections::HashSet<usize> = with[..max].iter().copied().collect();
    for (u, t) in split.test.iter_mut().enumerate() {
        if !keep.contains(&u) {
            t.clear();
        }
    }
}

/// Ranking quality at k, averaged over users with held-out items.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Cut-off.
    pub k: usize,
    /// Users evaluated.
    pub users: usize,
    /// hits / k.
    pub precision: f64,
    /// hits / |test|.
    pub recall: f64,
    /// Binary-relevance nDCG.
    pub ndcg: f64,
    /// Mean average precision (normalised by min(|test|, k)).
    pub map: f64,
    /// Share of users with at least one hit.
    pub hit_rate: f64,
    /// Share of the catalogue recommended to at least one user.
    pub coverage: f64,
}

/// Indices of the k best scores, skipping `exclude` (sorted), ties by lower index.
pub fn top_k(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<u32> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(ordered::F, u32)>> =
        std::collections::BinaryHeap::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        let key = std::cmp::Reverse((ordered::F(s), u32::MAX - i as u32));
        // Most items lose to the k-th best so far: that compare comes before the exclusion
        // lookup, so the scan over a large catalogue is mostly one comparison per item.
        let full = heap.len() >= k;
        if full && heap.peek().is_some_and(|top| key >= *top) {
            continue;
        }
        if !s.is_finite() || exclude.binary_search(&(i as u32)).is_ok() {
            continue;
        }
        if full {
            heap.pop();
        }
        heap.push(key);
    }
    let mut v: Vec<(f32, u32)> = heap.into_iter().map(|std::cmp::Reverse((s, i))| (s.0, u32::MAX - i)).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|x| x.1).collect()
}

mod ordered {
    /// Total order on f32 for the heap.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct F(pub f32);
    impl Eq for F {}
    impl PartialOrd for F {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for F {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.0.total_cmp(&o.0)
        }
    }
}

/// Scores every user with test items, excluding their training items, and averages.
pub fn evaluate(model: &Model, split: &Split, k: usize) -> Metrics {
    evaluate_among(model, split, k, None)
}

/// [`evaluate`] ranking only the items `among` marks (all when `None`): the cold-item protocol
/// ranks the items withheld from training among themselves. Test items outside `among` are
/// not counted.
pub fn evaluate_among(model: &Model, split: &Split, k: usize, among: Option<&[bool]>) -> Metrics {
    let items = split.train.cols;
    let keep = |i: &u32| among.is_none_or(|a| a.get(*i as usize).copied().unwrap_or(false));
    let per_user: Vec<(f64, f64, f64, f64, f64, Vec<u32>)> = (0..split.train.rows)
        .into_par_iter()
        .filter(|&u| split.test[u].iter().any(keep))
        .map_init(
            || vec![0f32; items],
            |scores, u| {
                let (hist, w) = split.train.row(u);
                let ages = &split.ages[split.train.indptr[u]..split.train.indptr[u + 1]];
                model.scores(Some(u), &super::History { items: hist, weights: w, ages }, scores);
                if let Some(a) = among {
                    for (s, ok) in scores.iter_mut().zip(a) {
                        if !ok {
                            *s = f32::NEG_INFINITY;
                        }
                    }
                }
                let recs = top_k(scores, k, hist);
                let test: Vec<u32> = split.test[u].iter().copied().filter(keep).collect();
                let (mut hits, mut dcg, mut ap) = (0usize, 0f64, 0f64);
                for (r, i) in recs.iter().enumerate() {
                    if test.contains(i) {
                        hits += 1;
                        dcg += 1.0 / ((r + 2) as f64).log2();
                        ap += hits as f64 / (r + 1) as f64;
                    }
                }
                let ideal: f64 = (0..test.len().min(k)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
                let denom = test.len().min(k) as f64;
                (
                    hits as f64 / k as f64,
                    hits as f64 / test.len() as f64,
                    dcg / ideal,
                    ap / denom,
                    if hits > 0 { 1.0 } else { 0.0 },
                    recs,
                )
            },
        )
        .collect();
    let n = per_user.len().max(1) as f64;
    let mut seen = vec![false; items];
    for r in &per_user {
        for &i in &r.5 {
            seen[i as usize] = true;
        }
    }
    Metrics {
        k,
        users: per_user.len(),
        precision: per_user.iter().map(|r| r.0).sum::<f64>() / n,
        recall: per_user.iter().map(|r| r.1).sum::<f64>() / n,
        ndcg: per_user.iter().map(|r| r.2).sum::<f64>() / n,
        map: per_user.iter().map(|r| r.3).sum::<f64>() / n,
        hit_rate: per_user.iter().map(|r| r.4).sum::<f64>() / n,
        coverage: seen.iter().filter(|s| **s).count() as f64
            / among.map_or(items, |a| a.iter().filter(|x| **x).count()).max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leave_kth_last_out_holds_out_the_kth_last_and_drops_what_follows() {
        let ev = |user, item, ts| Event { user, item, weight: 1.0, ts };
        let events = [ev(0, 0, 1), ev(0, 1, 2), ev(0, 2, 3), ev(0, 3, 4), ev(1, 0, 5), ev(1, 1, 6)];
        let s = leave_kth_last_out(&events, 2, 4, 1);
        // User 0: item 2 held out, items 0 and 1 kept, item 3 (later) dropped. User 1 has too
        // few events to hold one out a step back: only its first is kept.
        assert_eq!(s.test, [vec![2], vec![]]);
        assert_eq!(s.train.row(0).0, [0, 1]);
        assert_eq!(s.train.row(1).0, [0]);
    }

    #[test]
    fn sampling_test_users_keeps_that_many_and_their_items_and_is_seeded() {
        let ev = |user, item, ts| Event { user, item, weight: 1.0, ts };
        let events: Vec<Event> = (0..50u32).flat_map(|u| [ev(u, 0, 1), ev(u, 1 + u % 3, 2)]).collect();
        let full = leave_last_out(&events, 50, 4);
        let mut a = full.clone();
        sample_test_users(&mut a, 10, 7);
        let kept: Vec<usize> = (0..50).filter(|&u| !a.test[u].is_empty()).collect();
        assert_eq!(kept.len(), 10);
        for &u in &kept {
            assert_eq!(a.test[u], full.test[u]);
        }
        assert_eq!(a.train, full.train);
        let mut b = full.clone();
        sample_test_users(&mut b, 10, 7);
        assert_eq!(a.test, b.test);
        let mut c = full.clone();
        sample_test_users(&mut c, 100, 7);
        assert_eq!(c.test, full.test);
    }

    #[test]
    fn top_k_orders_skips_and_breaks_ties_by_index() {
        assert_eq!(top_k(&[0.1, 0.9, 0.5, 0.9, 0.2], 3, &[]), vec![1, 3, 2]);
        assert_eq!(top_k(&[0.1, 0.9, 0.5, 0.9, 0.2], 2, &[1]), vec![3, 2]);
        assert_eq!(top_k(&[0.1, 0.9], 0, &[]), Vec::<u32>::new());
        assert_eq!(top_k(&[f32::NAN, 0.3, f32::INFINITY, 0.4], 5, &[3]), vec![1]);
    }

    #[test]
    fn leave_last_out_holds_the_latest_event_of_users_with_two_or_more() {
        let ev = |user, item, ts| Event { user, item, weight: 1.0, ts };
        let s = leave_last_out(&[ev(0, 0, 5), ev(0, 1, 9), ev(0, 2, 7), ev(1, 3, 1)], 2, 4);
        assert_eq!(s.test, vec![vec![1], vec![]]);
        assert_eq!(s.train.row(0).0, &[0, 2]);
        assert_eq!(s.train.row(1).0, &[3]);
    }

    #[test]
    fn ages_count_later_items_by_time_then_file_order() {
        let ev = |user, item, ts| Event { user, item, weight: 1.0, ts };
        // User 0: item 2 at t=1, item 0 at t=3, item 1 at t=2, item 2 again at t=5 (its
        // latest touch counts); user 1: no times, so file order (item 1 after item 0).
        let events = [ev(0, 2, 1), ev(0, 0, 3), ev(0, 1, 2), ev(0, 2, 5), ev(1, 0, 0), ev(1, 1, 0)];
        let s = build(&events, &[], 2, 3);
        assert_eq!(s.train.row(0).0, &[0, 1, 2]);
        assert_eq!(&s.ages[..3], &[1, 2, 0]);
        assert_eq!(&s.ages[3..], &[1, 0]);
    }

    #[test]
    fn perfect_ranking_scores_one() {
        // Popularity puts item 2 first; user 0's held-out item is 2.
        let ev = |user, item, ts| Event { user, item, weight: 1.0, ts };
        let events = [ev(0, 0, 1), ev(0, 2, 2), ev(1, 2, 1), ev(2, 2, 1), ev(1, 1, 1)];
        let s = leave_last_out(&events, 3, 3);
        let model = Model::Popularity(super::super::baselines::Popularity::fit(&s.train));
        let m = evaluate(&model, &s, 1);
        assert_eq!(m.users, 2);
        assert!(m.ndcg > 0.0);
        let only0 = Split { train: s.train.clone(), ages: s.ages.clone(), test: vec![vec![2], vec![], vec![]] };
        let m = evaluate(&model, &only0, 1);
        assert_eq!((m.ndcg, m.precision, m.recall, m.map, m.hit_rate), (1.0, 1.0, 1.0, 1.0, 1.0));
    }
}
