//! The served model: a trained model plus the events that arrived since, scoring, filters,
//! similarity, explanations and the atomic swap a retrain does.

use super::facets::{Facets, Filter};
use super::{MAX_K, RecommendError, Scored, Source, Trained};
use crate::cf::{self, Csr, Model, als, eval};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// The live model plus events that arrived since it was trained.
#[derive(Debug)]
pub struct Live {
    /// The trained model.
    pub trained: Trained,
    /// Item attributes for filters.
    pub facets: Facets,
    user_ix: HashMap<String, u32>,
    item_ix: HashMap<String, u32>,
    /// New (user key -> item, weight) events since training.
    overlay: Mutex<HashMap<String, Vec<(u32, f32)>>>,
    /// Folded-in user vectors for users with overlay events (ALS).
    folded: Mutex<HashMap<String, Vec<f32>>>,
    /// ALS item Gram matrix, computed on first use (it is items x factors^2 of work).
    gram: std::sync::OnceLock<Vec<f32>>,
    /// Item x user history, built on first use (popularity similarity).
    item_users: std::sync::OnceLock<Csr>,
    /// Hybrid: the Gram matrix of shopper and feature rows, computed on first explanation.
    row_gram: std::sync::OnceLock<Vec<f32>>,
}

impl Live {
    pub(super) fn new(trained: Trained, facets: Facets) -> Self {
        let user_ix = trained.users.iter().enumerate().map(|(i, u)| (u.clone(), i as u32)).collect();
        let item_ix = trained.items.iter().enumerate().map(|(i, u)| (u.clone(), i as u32)).collect();
        Self {
            trained,
            facets,
            user_ix,
            item_ix,
            overlay: Mutex::default(),
            folded: Mutex::default(),
            gram: Default::default(),
            item_users: Default::default(),
            row_gram: Default::default(),
        }
    }

    fn als_gram(&self, m: &als::AlsModel) -> &[f32] {
        self.gram.get_or_init(|| m.item_gram())
    }

    /// Whether the user has any history (training or since).
    pub fn knows_user(&self, user: &str) -> bool {
        !self.history(user).is_empty()
    }

    /// Index of a user key.
    pub fn user_index(&self, user: &str) -> Option<u32> {
        self.user_ix.get(user).copied()
    }

    /// Index of an item key.
    pub fn item_index(&self, item: &str) -> Option<u32> {
        self.item_ix.get(item).copied()
    }

    /// The user's history: training rows plus events since, merged by item. Events since
    /// training are the newest: they take the lowest ages, in arrival order.
    pub fn history(&self, user: &str) -> UserHistory {
        let mut h: Vec<(u32, f32, u32)> = match self.user_ix.get(user) {
            Some(&u) => {
                let u = u as usize;
                let (c, w) = self.trained.history.row(u);
                let a = &self.trained.ages[self.trained.history.indptr[u]..self.trained.history.indptr[u + 1]];
                c.iter().zip(w).zip(a).map(|((&c, &w), &a)| (c, w, a)).collect()
            }
            None => Vec::new(),
        };
        if let Some(extra) = self.overlay.lock().ok().and_then(|o| o.get(user).cloned()) {
            // Distinct new items, latest arrival first.
            let mut newest: Vec<u32> = Vec::new();
            for &(i, _) in extra.iter().rev() {
                if !newest.contains(&i) {
                    newest.push(i);
                }
            }
            for x in &mut h {
                x.2 += newest.len() as u32;
            }
            for (i, w) in extra {
                match h.iter_mut().find(|x| x.0 == i) {
                    Some(x) => x.1 += w,
                    None => h.push((i, w, 0)),
                }
            }
            for (age, i) in newest.iter().enumerate() {
                if let Some(x) = h.iter_mut().find(|x| x.0 == *i) {
                    x.2 = age as u32;
                }
            }
        }
        h.sort_by_key(|x| x.0);
        UserHistory {
            items: h.iter().map(|x| x.0).collect(),
            weights: h.iter().map(|x| x.1).collect(),
            ages: h.iter().map(|x| x.2).collect(),
        }
    }

    /// Scores of every item for a user (`None` when the user has no history at all).
    pub fn user_scores(&self, user: &str) -> Option<Vec<f32>> {
        self.scores_for(user, &self.history(user))
    }

    /// [`Self::user_scores`] for a history already read.
    fn scores_for(&self, user: &str, h: &UserHistory) -> Option<Vec<f32>> {
        if h.is_empty() {
            return None;
        }
        let mut out = vec![0f32; self.trained.items.len()];
        let has_overlay = self.overlay.lock().is_ok_and(|o| o.contains_key(user));
        match (self.trained.model.als(), has_overlay) {
            (Some(m), true) => {
                let folded = self.folded.lock().ok().and_then(|f| f.get(user).cloned());
                let x = folded.unwrap_or_else(|| m.fold_in_with(self.als_gram(m), &h.items, &h.weights));
                m.scores(&x, &mut out);
            }
            _ => self.trained.model.scores(self.user_ix.get(user).map(|u| *u as usize), &h.view(), &mut out),
        }
        Some(out)
    }

    /// Top k for a user among items passing `filter`, not already seen when `exclude_seen`.
    /// Filters apply before the cut, so k come back whenever k qualify.
    pub fn recommend(
        &self,
        user: &str,
        k: usize,
        filter: &Filter,
        exclude_seen: bool,
    ) -> Result<(Vec<Scored>, Source), RecommendError> {
        let allowed = self.facets.allowed(filter);
        let allowed = allowed.as_ref();
        if k == 0 || k > MAX_K {
            return Err(RecommendError::BadK { got: k, max: MAX_K });
        }
        let h = self.history(user);
        let (scores, source) = match self.scores_for(user, &h) {
            Some(s) => (s, Source::Model),
            None => (self.trained.popularity.clone(), Source::ColdStartPopular),
        };
        let mut exclude: Vec<u32> = if exclude_seen { h.items } else { Vec::new() };
        if let Some(allowed) = allowed {
            exclude.extend((0..self.trained.items.len() as u32).filter(|i| !allowed.contains(i)));
        }
        exclude.sort_unstable();
        exclude.dedup();
        let top = eval::top_k(&scores, k, &exclude);
        Ok((
            top.into_iter()
                .map(|i| Scored { item: self.trained.items[i as usize].clone(), score: scores[i as usize] })
                .collect(),
            source,
        ))
    }

    /// Items most similar to `item`: cosine of ALS item factors, else kNN similarity.
    pub fn similar(&self, item: &str, k: usize, filter: &Filter) -> Result<Vec<Scored>, RecommendError> {
        let allowed = self.facets.allowed(filter);
        let allowed = allowed.as_ref();
        if k == 0 || k > MAX_K {
            return Err(RecommendError::BadK { got: k, max: MAX_K });
        }
        let i = self.item_index(item).ok_or_else(|| RecommendError::UnknownItem(item.into()))?;
        let n = self.trained.items.len();
        let scores: Vec<f32> = (0..n as u32).map(|j| self.similarity(i, j)).collect();
        let mut exclude = vec![i];
        if let Some(allowed) = allowed {
            exclude.extend((0..n as u32).filter(|j| !allowed.contains(j)));
        }
        exclude.sort_unstable();
        exclude.dedup();
        Ok(eval::top_k(&scores, k, &exclude)
            .into_iter()
            .map(|j| Scored { item: self.trained.items[j as usize].clone(), score: scores[j as usize] })
            .collect())
    }

    /// Similarity of two items by index.
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        match &self.trained.model {
            Model::Als(m) | Model::Hybrid(cf::hybrid::HybridModel { als: m, .. }) => {
                cosine(m.item(a as usize), m.item(b as usize))
            }
            Model::ItemKnn(k) => k.sims[a as usize].iter().find(|x| x.0 == b).map_or(0.0, |x| x.1),
            Model::Ease(e) => e.weight(a, b),
            Model::Popularity(_) => {
                // Co-occurrence cosine from the history: the only signal popularity has. The
                // item x user transpose is built once, so a pair costs a merge, not a user scan.
                let it = self.item_users.get_or_init(|| self.trained.history.transpose());
                let (ua, ub) = (it.row(a as usize).0, it.row(b as usize).0);
                let (mut x, mut y, mut inter) = (0, 0, 0usize);
                while x < ua.len() && y < ub.len() {
                    match ua[x].cmp(&ub[y]) {
                        std::cmp::Ordering::Less => x += 1,
                        std::cmp::Ordering::Greater => y += 1,
                        std::cmp::Ordering::Equal => {
                            inter += 1;
                            x += 1;
                            y += 1;
                        }
                    }
                }
                inter as f32 / ((ua.len() * ub.len()) as f32).sqrt().max(1e-9)
            }
        }
    }

    /// Score of one item for one user.
    ///
    /// Scores one item without scoring the catalogue: SPARQL calls this once per row.
    pub fn score(&self, user: &str, item: &str) -> Result<f32, RecommendError> {
        let i = self.item_index(item).ok_or_else(|| RecommendError::UnknownItem(item.into()))? as usize;
        let has_overlay = self.overlay.lock().is_ok_and(|o| o.contains_key(user));
        match (self.trained.model.als(), self.user_ix.get(user)) {
            (Some(m), Some(&u)) if !has_overlay => return Ok(cf_dot(m.user(u as usize), m.item(i))),
            (Some(m), _) if has_overlay => {
                if let Some(x) = self.folded.lock().ok().and_then(|f| f.get(user).cloned()) {
                    return Ok(cf_dot(&x, m.item(i)));
                }
            }
            _ => {}
        }
        let h = self.history(user);
        if h.is_empty() {
            return Err(RecommendError::UnknownUser(user.into()));
        }
        Ok(match &self.trained.model {
            Model::Ease(_) | Model::ItemKnn(_) => self.item_item_parts(&h, i as u32).iter().map(|p| p.1).sum(),
            Model::Popularity(_) | Model::Als(_) | Model::Hybrid(_) => {
                let s = self.scores_for(user, &h).ok_or_else(|| RecommendError::UnknownUser(user.into()))?;
                s[i]
            }
        })
    }

    /// Each past item's part of an item-item model's score for `i`: its recency weight times
    /// its similarity to `i`. The scores are exactly these sums, so explanations add up.
    fn item_item_parts(&self, h: &UserHistory, i: u32) -> Vec<(u32, f32)> {
        let half_life = self.trained.model.half_life();
        h.items
            .iter()
            .zip(&h.ages)
            .map(|(&j, &age)| (j, cf::recency_weight(age, half_life) * self.similarity(j, i)))
            .collect()
    }

    /// Per-history-item contributions to a score (exact for ALS; similarity-weighted for the
    /// item-item models), best first.
    pub fn contributions(&self, user: &str, item: &str) -> Result<(Vec<(String, f32)>, f32), RecommendError> {
        let i = self.item_index(item).ok_or_else(|| RecommendError::UnknownItem(item.into()))?;
        let h = self.history(user);
        if h.is_empty() {
            return Err(RecommendError::UnknownUser(user.into()));
        }
        let (parts, total) = match self.trained.model.als() {
            Some(m) => m.explain_with(self.als_gram(m), &h.items, &h.weights, i),
            None => {
                let mut p = self.item_item_parts(&h, i);
                p.sort_by(|a, b| b.1.total_cmp(&a.1));
                let t = p.iter().map(|x| x.1).sum();
                (p, t)
            }
        };
        Ok((parts.into_iter().map(|(j, c)| (self.trained.items[j as usize].clone(), c)).collect(), total))
    }

    /// Hybrid models: which of the item's features put it in front of this user, and how much
    /// of the score the item's own shoppers account for (see
    /// [`cf::hybrid::HybridModel::feature_parts`]). `None` for the other models.
    pub fn feature_contributions(&self, user: &str, item: &str) -> Result<Option<FeatureSplit>, RecommendError> {
        let Model::Hybrid(hm) = &self.trained.model else { return Ok(None) };
        let i = self.item_index(item).ok_or_else(|| RecommendError::UnknownItem(item.into()))?;
        let h = self.history(user);
        if h.is_empty() {
            return Err(RecommendError::UnknownUser(user.into()));
        }
        let has_overlay = self.overlay.lock().is_ok_and(|o| o.contains_key(user));
        let m = &hm.als;
        let x = match self.user_ix.get(user) {
            Some(&u) if !has_overlay => m.user(u as usize).to_vec(),
            _ => m.fold_in_with(self.als_gram(m), &h.items, &h.weights),
        };
        let it = self.item_users.get_or_init(|| self.trained.history.transpose());
        let g = self.row_gram.get_or_init(|| hm.row_gram());
        let (parts, shoppers) = hm.feature_parts(g, &x, i, it.row(i as usize));
        Ok(Some((parts.into_iter().map(|(k, c)| (hm.features.names[k as usize].clone(), c)).collect(), shoppers)))
    }

    /// The users most likely to want `item` (who would like this), best first, leaving out
    /// those who already have it: for the factor models every user's score of the item, for the
    /// item-item models each user's history summed against it, for popularity nobody.
    pub fn audience(&self, item: &str, k: usize) -> Result<Vec<(String, f32)>, RecommendError> {
        if k == 0 || k > MAX_K {
            return Err(RecommendError::BadK { got: k, max: MAX_K });
        }
        let i = self.item_index(item).ok_or_else(|| RecommendError::UnknownItem(item.into()))?;
        let n = self.trained.users.len();
        let scores: Vec<f32> = match &self.trained.model {
            Model::Popularity(_) => return Ok(Vec::new()),
            model => match model.als() {
                Some(m) => (0..n).map(|u| cf_dot(m.user(u), m.item(i as usize))).collect(),
                None => (0..n)
                    .map(|u| {
                        let h = self.history(&self.trained.users[u]);
                        self.item_item_parts(&h, i).iter().map(|p| p.1).sum()
                    })
                    .collect(),
            },
        };
        let it = self.item_users.get_or_init(|| self.trained.history.transpose());
        let have = it.row(i as usize).0;
        Ok(eval::top_k(&scores, k, have)
            .into_iter()
            .map(|u| (self.trained.users[u as usize].clone(), scores[u as usize]))
            .collect())
    }

    /// Records new events and refolds the user (ALS) so the next call reflects them.
    pub fn add_events(&self, user: &str, events: &[(String, f32)]) -> usize {
        let mut added = 0;
        if let Ok(mut o) = self.overlay.lock() {
            let list = o.entry(user.to_owned()).or_default();
            for (item, w) in events {
                if let Some(i) = self.item_index(item) {
                    list.push((i, *w));
                    added += 1;
                }
            }
        }
        if let Some(m) = self.trained.model.als() {
            let h = self.history(user);
            let x = m.fold_in_with(self.als_gram(m), &h.items, &h.weights);
            if let Ok(mut f) = self.folded.lock() {
                f.insert(user.to_owned(), x);
            }
        }
        added
    }

    /// Events received since training.
    pub fn pending_events(&self) -> usize {
        self.overlay.lock().map_or(0, |o| o.values().map(Vec::len).sum())
    }
}

fn cf_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut d, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        d += x * y;
        na += x * x;
        nb += y * y;
    }
    d / (na.sqrt() * nb.sqrt()).max(1e-12)
}

/// A hybrid score split: (feature, part) best first, and the item's shoppers' part.
pub type FeatureSplit = (Vec<(String, f32)>, f32);

/// A user's merged history (training rows and events since), in item order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserHistory {
    /// Items, sorted.
    pub items: Vec<u32>,
    /// Summed event weight per item.
    pub weights: Vec<f32>,
    /// Age per item: how many of the user's other items came after it (0 = latest).
    pub ages: Vec<u32>,
}

impl UserHistory {
    /// Distinct items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No history at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The view the cf models score.
    pub fn view(&self) -> cf::History<'_> {
        cf::History { items: &self.items, weights: &self.weights, ages: &self.ages }
    }
}

/// Holds the live model; a retrain swaps it atomically while readers keep their snapshot.
#[derive(Debug, Default)]
pub struct Recommender {
    live: RwLock<Option<Arc<Live>>>,
}

impl Recommender {
    /// Installs a trained model; readers holding the old one finish with it.
    pub fn swap(&self, trained: Trained, facets: Facets) {
        let live = Arc::new(Live::new(trained, facets));
        if let Ok(mut l) = self.live.write() {
            *l = Some(live);
        }
    }

    /// Drops the live model (nothing is served until the next training).
    pub fn clear(&self) {
        if let Ok(mut l) = self.live.write() {
            *l = None;
        }
    }

    /// The current model.
    pub fn current(&self) -> Result<Arc<Live>, RecommendError> {
        self.live.read().ok().and_then(|l| l.clone()).ok_or(RecommendError::NoModel)
    }
}
