//! Model versions on disk: `<data>/models/<version>/` files, `CURRENT` swapped by rename,
//! loading with fallback to the newest usable version, and pruning of old versions.

use super::RecommendError;
use super::{Algorithm, Meta, Trained};
use crate::cf::{Csr, Model, als, baselines};
use crate::npy;
use std::path::{Path, PathBuf};

impl Trained {
    /// Writes the model under `dir/<version>/` and points `dir/CURRENT` at it (atomic rename).
    ///
    /// Layout: `meta.json`, `users.txt`, `items.txt` (one key per line, line n = index n),
    /// `history.tsv` (user index, item index, weight, age: how many of the user's items came
    /// after this one), and the model arrays: ALS
    /// `user_factors.npy` + `item_factors.npy` (the hybrid also `feature_factors.npy`, `feature_map.npy` and `features.json`), EASE `b.npy` (and `head.json` when fitted on the most interacted items only), popularity `counts.npy`,
    /// item-kNN `neighbours.json`. `.npy` files open with `numpy.load`.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, RecommendError> {
        let vdir = dir.join(&self.meta.version);
        let err = |e: std::io::Error| RecommendError::Persist { path: vdir.clone(), message: e.to_string() };
        std::fs::create_dir_all(&vdir).map_err(err)?;
        let write = |name: &str, bytes: &[u8]| std::fs::write(vdir.join(name), bytes).map_err(err);
        write("meta.json", &serde_json::to_vec_pretty(&self.meta).map_err(|e| err(std::io::Error::other(e)))?)?;
        write("users.txt", (self.users.join("\n") + "\n").as_bytes())?;
        write("items.txt", (self.items.join("\n") + "\n").as_bytes())?;
        let mut h = String::new();
        for u in 0..self.history.rows {
            let (cs, ws) = self.history.row(u);
            let ages = &self.ages[self.history.indptr[u]..self.history.indptr[u + 1]];
            for ((c, w), a) in cs.iter().zip(ws).zip(ages) {
                h.push_str(&format!("{u}\t{c}\t{w}\t{a}\n"));
            }
        }
        write("history.tsv", h.as_bytes())?;
        match &self.model {
            Model::Als(m) => {
                write("user_factors.npy", &npy::encode(&m.user_factors, m.users(), m.factors()))?;
                write("item_factors.npy", &npy::encode(&m.item_factors, m.items(), m.factors()))?;
            }
            Model::Ease(e) => {
                let n = if e.head.is_empty() { e.items } else { e.head.len() };
                write("b.npy", &npy::encode(&e.b, n, n))?;
                if !e.head.is_empty() {
                    let head = serde_json::json!({"head": e.head, "counts": e.counts});
                    write("head.json", &serde_json::to_vec(&head).map_err(|e| err(std::io::Error::other(e)))?)?;
                }
            }
            Model::ItemKnn(k) => {
                write("neighbours.json", &serde_json::to_vec(&k.sims).map_err(|e| err(std::io::Error::other(e)))?)?
            }
            Model::Popularity(p) => write("counts.npy", &npy::encode(&p.counts, 1, p.counts.len()))?,
            Model::Hybrid(h) => {
                let (m, f) = (&h.als, h.als.factors());
                write("user_factors.npy", &npy::encode(&m.user_factors, m.users(), f))?;
                write("item_factors.npy", &npy::encode(&m.item_factors, m.items(), f))?;
                write("feature_factors.npy", &npy::encode(&h.feature_factors, h.features.len(), f))?;
                write("feature_map.npy", &npy::encode(&h.feature_map, h.features.len(), f))?;
                write("features.json", &serde_json::to_vec(&h.features).map_err(|e| err(std::io::Error::other(e)))?)?;
            }
        }
        let tmp = dir.join("CURRENT.tmp");
        std::fs::write(&tmp, &self.meta.version).map_err(err)?;
        std::fs::rename(&tmp, dir.join("CURRENT")).map_err(err)?;
        Ok(vdir)
    }

    /// Loads the version `dir/CURRENT` names, or, when that one cannot be read or is not
    /// usable, the newest older version that is (saying so in the log). `None` when nothing
    /// usable was saved: a bad model must never stop the store from opening.
    pub fn load_current(dir: &Path) -> Result<Option<Self>, RecommendError> {
        let current = std::fs::read_to_string(dir.join("CURRENT")).ok().map(|v| v.trim().to_owned());
        let mut versions = saved_versions(dir);
        versions.retain(|v| Some(v) != current.as_ref());
        for (i, version) in current.iter().chain(versions.iter().rev()).enumerate() {
            match Self::load_version(dir, version) {
                Ok(t) => {
                    if i > 0 {
                        log::warn!("loaded older model version {version} instead of the one CURRENT names");
                    }
                    return Ok(Some(t));
                }
                Err(e) => log::warn!("model version {version} is not usable, skipped: {e}"),
            }
        }
        Ok(None)
    }

    /// Loads one saved version and checks it is usable.
    pub fn load_version(dir: &Path, version: &str) -> Result<Self, RecommendError> {
        let vdir = dir.join(version);
        let err = |m: String| RecommendError::Persist { path: vdir.clone(), message: m };
        let read = |name: &str| std::fs::read(vdir.join(name)).map_err(|e| err(format!("{name}: {e}")));
        let meta: Meta = serde_json::from_slice(&read("meta.json")?).map_err(|e| err(e.to_string()))?;
        let lines = |b: Vec<u8>| -> Vec<String> { String::from_utf8_lossy(&b).lines().map(str::to_owned).collect() };
        let users = lines(read("users.txt")?);
        let items = lines(read("items.txt")?);
        let mut t = Vec::new();
        let mut saved_ages = Vec::new();
        for l in String::from_utf8_lossy(&read("history.tsv")?).lines() {
            let mut p = l.split('\t');
            let parsed = (|| Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?)))();
            t.push(parsed.ok_or_else(|| err(format!("bad history line {l:?}")))?);
            // Versions saved before ages existed have three columns: every item then counts as
            // recent, which is how those models scored anyway.
            saved_ages.push(match p.next() {
                Some(a) => a.parse::<u32>().map_err(|_| err(format!("bad age in history line {l:?}")))?,
                None => 0,
            });
        }
        let history = Csr::from_triplets(users.len(), items.len(), &t);
        let mut ages = vec![0u32; history.nnz()];
        for (&(u, i, _), &a) in t.iter().zip(&saved_ages) {
            let (start, end) = (history.indptr[u as usize], history.indptr[u as usize + 1]);
            if let Ok(p) = history.indices[start..end].binary_search(&i) {
                ages[start + p] = a;
            }
        }
        let npy = |name: &str| npy::decode(&read(name)?).map_err(|e| err(e.to_string()));
        let model = match &meta.algorithm {
            Algorithm::Als(p) => Model::Als(als::AlsModel {
                params: *p,
                user_factors: npy("user_factors.npy")?.0,
                item_factors: npy("item_factors.npy")?.0,
            }),
            Algorithm::Ease { lambda, half_life } => {
                #[derive(serde::Deserialize, Default)]
                struct Head {
                    head: Vec<u32>,
                    counts: Vec<f32>,
                }
                let h: Head = match std::fs::read(vdir.join("head.json")) {
                    Ok(b) => serde_json::from_slice(&b).map_err(|e| err(e.to_string()))?,
                    Err(_) => Head::default(),
                };
                let b = npy("b.npy")?.0;
                let n = if h.head.is_empty() { items.len() } else { h.head.len() };
                if b.len() != n * n
                    || h.head.iter().any(|&i| i as usize >= items.len())
                    || (!h.head.is_empty() && h.counts.len() != items.len())
                {
                    return Err(err("the EASE matrix does not match the items".into()));
                }
                Model::Ease(baselines::Ease {
                    lambda: *lambda,
                    half_life: *half_life,
                    items: items.len(),
                    b,
                    head: h.head,
                    counts: h.counts,
                })
            }
            Algorithm::ItemKnn { neighbours, half_life } => Model::ItemKnn(baselines::ItemKnn {
                neighbours: *neighbours,
                half_life: *half_life,
                sims: serde_json::from_slice(&read("neighbours.json")?).map_err(|e| err(e.to_string()))?,
            }),
            Algorithm::Popularity => Model::Popularity(baselines::Popularity { counts: npy("counts.npy")?.0 }),
            Algorithm::Hybrid(p) => {
                let features: crate::cf::hybrid::ItemFeatures =
                    serde_json::from_slice(&read("features.json")?).map_err(|e| err(e.to_string()))?;
                let feature_factors = npy("feature_factors.npy")?.0;
                if feature_factors.len() != features.len() * p.als.factors || features.items.len() > items.len() {
                    return Err(err("feature factors do not match the features".into()));
                }
                Model::Hybrid(crate::cf::hybrid::HybridModel {
                    als: als::AlsModel {
                        params: p.als,
                        user_factors: npy("user_factors.npy")?.0,
                        item_factors: npy("item_factors.npy")?.0,
                    },
                    feature_factors,
                    feature_map: npy("feature_map.npy")?.0,
                    features,
                    feature_weight: p.feature_weight,
                })
            }
        };
        if let Err(e) = meta.algorithm.validate() {
            return Err(err(format!("settings out of range: {e}")));
        }
        if !model.is_finite() {
            return Err(err("the model holds non-finite numbers".into()));
        }
        let popularity = baselines::Popularity::fit(&history).counts;
        Ok(Self { model, users, items, history, ages, popularity, meta })
    }
}

/// Saved version directories under `dir`, oldest first (names are UTC times).
pub fn saved_versions(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("meta.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort();
    v
}

/// What each saved version's `meta.json` says, oldest first (versions whose file cannot be read
/// are left out).
pub fn saved_metas(dir: &Path) -> Vec<Meta> {
    saved_versions(dir)
        .into_iter()
        .filter_map(|v| serde_json::from_slice(&std::fs::read(dir.join(v).join("meta.json")).ok()?).ok())
        .collect()
}

/// Deletes all but the newest `keep` versions (never the one CURRENT names). Returns how
/// many were deleted.
pub fn prune_versions(dir: &Path, keep: usize) -> usize {
    let current = std::fs::read_to_string(dir.join("CURRENT")).ok().map(|v| v.trim().to_owned());
    let versions = saved_versions(dir);
    let excess = versions.len().saturating_sub(keep.max(1));
    let mut deleted = 0;
    for v in versions.iter().take(excess) {
        if Some(v) == current.as_ref() {
            continue;
        }
        match std::fs::remove_dir_all(dir.join(v)) {
            Ok(()) => deleted += 1,
            Err(e) => log::warn!("could not delete old model version {v}: {e}"),
        }
    }
    deleted
}
