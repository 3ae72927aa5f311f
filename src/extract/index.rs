//! Embeddings kept by IRI in the data directory (`embeddings/<model id>/vectors.npy` + `ids.json`),
//! with exact cosine search. Vectors are unit length, so cosine is a dot product.

use super::ExtractError;
use super::model::dot;
use std::collections::HashMap;
use std::path::Path;

/// Nodes with their cosine similarity, best first.
pub type Hits = Vec<(String, f32)>;

/// Embeddings of nodes under one model.
#[derive(Debug, Clone, Default)]
pub struct EmbeddingIndex {
    /// Model id (and folder name).
    pub model: String,
    /// Vector length.
    pub dim: usize,
    ids: Vec<String>,
    pos: HashMap<String, usize>,
    vectors: Vec<f32>,
}

impl EmbeddingIndex {
    /// An empty index.
    pub fn new(model: &str, dim: usize) -> Self {
        Self { model: model.into(), dim, ..Default::default() }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds or replaces the vector of `iri`.
    pub fn upsert(&mut self, iri: &str, v: &[f32]) -> Result<(), ExtractError> {
        if v.len() != self.dim {
            return Err(ExtractError::Input(format!(
                "vector of length {} for an index of dimension {}",
                v.len(),
                self.dim
            )));
        }
        match self.pos.get(iri) {
            Some(&i) => self.vectors[i * self.dim..(i + 1) * self.dim].copy_from_slice(v),
            None => {
                self.pos.insert(iri.into(), self.ids.len());
                self.ids.push(iri.into());
                self.vectors.extend_from_slice(v);
            }
        }
        Ok(())
    }

    /// The vector of `iri`.
    pub fn get(&self, iri: &str) -> Option<&[f32]> {
        self.pos.get(iri).map(|&i| &self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    /// Cosine similarity of two stored nodes.
    pub fn similarity(&self, a: &str, b: &str) -> Option<f32> {
        Some(dot(self.get(a)?, self.get(b)?))
    }

    /// The `k` stored nodes closest to `query`, best first, leaving out `exclude` and any node
    /// `keep` rejects (filters apply before the cut, so `k` come back when `k` qualify).
    pub fn nearest(&self, query: &[f32], k: usize, exclude: Option<&str>, keep: &dyn Fn(&str) -> bool) -> Hits {
        let mut scored: Vec<(usize, f32)> = (0..self.ids.len())
            .filter(|&i| Some(self.ids[i].as_str()) != exclude && keep(&self.ids[i]))
            .map(|i| (i, dot(query, &self.vectors[i * self.dim..(i + 1) * self.dim])))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().map(|(i, s)| (self.ids[i].clone(), s)).collect()
    }

    /// Appends vectors to `dir/<model>/log.bin` and syncs it, so they survive a crash before the
    /// next [`Self::save`]; [`Self::load`] replays the log. Extraction calls this before it
    /// commits a chunk's facts, so a source marked as read always has its vector on disk.
    pub fn append_log(dir: &Path, model: &str, entries: &[(String, Vec<f32>)]) -> Result<(), ExtractError> {
        use std::io::Write;
        let d = dir.join(model);
        std::fs::create_dir_all(&d).map_err(|e| ExtractError::io(&d, e))?;
        let path = d.join("log.bin");
        let mut buf = Vec::new();
        for (iri, v) in entries {
            buf.extend_from_slice(&(iri.len() as u32).to_le_bytes());
            buf.extend_from_slice(iri.as_bytes());
            buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
            v.iter().for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ExtractError::io(&path, e))?;
        f.write_all(&buf).and_then(|()| f.sync_data()).map_err(|e| ExtractError::io(&path, e))
    }

    fn replay(&mut self, bytes: &[u8]) {
        let mut at = 0;
        let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
            let s = bytes.get(*at..*at + n)?;
            *at += n;
            Some(s)
        };
        // A torn last record (crash mid-append) is dropped: its facts were never committed.
        while let Some(len) = take(&mut at, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) {
            let Some(iri) = take(&mut at, len).and_then(|b| std::str::from_utf8(b).ok()).map(str::to_owned) else {
                break;
            };
            let Some(dim) = take(&mut at, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
                break;
            };
            let Some(raw) = take(&mut at, dim * 4) else { break };
            let v: Vec<f32> = raw.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if self.upsert(&iri, &v).is_err() {
                break;
            }
        }
    }

    /// Writes the index under `dir/<model>/`; each file is written aside and renamed into place,
    /// then the log is emptied.
    pub fn save(&self, dir: &Path) -> Result<(), ExtractError> {
        let d = dir.join(&self.model);
        std::fs::create_dir_all(&d).map_err(|e| ExtractError::io(&d, e))?;
        let put = |name: &str, bytes: &[u8]| {
            let tmp = d.join(format!("{name}.tmp"));
            std::fs::write(&tmp, bytes).map_err(|e| ExtractError::io(&tmp, e))?;
            std::fs::rename(&tmp, d.join(name)).map_err(|e| ExtractError::io(&d, e))
        };
        put("vectors.npy", &crate::npy::encode(&self.vectors, self.ids.len(), self.dim))?;
        put("ids.json", serde_json::to_string(&self.ids).unwrap_or_default().as_bytes())?;
        let log = d.join("log.bin");
        if log.exists() {
            std::fs::remove_file(&log).map_err(|e| ExtractError::io(&log, e))?;
        }
        Ok(())
    }

    /// Reads what [`Self::save`] wrote; an absent folder is an empty index.
    pub fn load(dir: &Path, model: &str, dim: usize) -> Result<Self, ExtractError> {
        let d = dir.join(model);
        let ids_path = d.join("ids.json");
        let log = d.join("log.bin");
        let mut ix =
            if ids_path.exists() { Self::load_base(&d, &ids_path, model, dim)? } else { Self::new(model, dim) };
        if log.exists() {
            ix.replay(&std::fs::read(&log).map_err(|e| ExtractError::io(&log, e))?);
        }
        Ok(ix)
    }

    fn load_base(d: &Path, ids_path: &Path, model: &str, dim: usize) -> Result<Self, ExtractError> {
        let ids: Vec<String> =
            serde_json::from_slice(&std::fs::read(ids_path).map_err(|e| ExtractError::io(ids_path, e))?)
                .map_err(|e| ExtractError::Input(format!("{}: {e}", ids_path.display())))?;
        let vp = d.join("vectors.npy");
        let (vectors, rows, cols) = crate::npy::decode(&std::fs::read(&vp).map_err(|e| ExtractError::io(&vp, e))?)
            .map_err(|e| ExtractError::Input(format!("{}: {e}", vp.display())))?;
        if rows != ids.len() || (rows > 0 && cols != dim) {
            return Err(ExtractError::Input(format!(
                "{}: {rows}x{cols} vectors for {} ids of dimension {dim}; run `shopgraph extract` again to rebuild",
                d.display(),
                ids.len()
            )));
        }
        let pos = ids.iter().enumerate().map(|(i, s)| (s.clone(), i)).collect();
        Ok(Self { model: model.into(), dim, ids, pos, vectors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_filters_before_the_cut_and_survives_a_save() {
        let mut ix = EmbeddingIndex::new("m", 2);
        ix.upsert("a", &[1.0, 0.0]).unwrap();
        ix.upsert("b", &[0.8, 0.6]).unwrap();
        ix.upsert("c", &[0.0, 1.0]).unwrap();
        ix.upsert("b", &[0.6, 0.8]).unwrap(); // replaces, does not add
        assert_eq!(ix.len(), 3);
        let got = ix.nearest(&[1.0, 0.0], 2, Some("a"), &|i| i != "b");
        assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), ["c"]);
        let dir = tempfile::tempdir().unwrap();
        ix.save(dir.path()).unwrap();
        let back = EmbeddingIndex::load(dir.path(), "m", 2).unwrap();
        assert_eq!(back.similarity("a", "b"), Some(0.6));
        assert!(EmbeddingIndex::load(dir.path(), "m", 3).is_err());
        // The log is replayed over the saved base, and a torn tail is ignored.
        EmbeddingIndex::append_log(dir.path(), "m", &[("d".into(), vec![0.0, -1.0]), ("a".into(), vec![0.0, 1.0])])
            .unwrap();
        let log = dir.path().join("m/log.bin");
        let mut bytes = std::fs::read(&log).unwrap();
        bytes.extend_from_slice(&[9, 0, 0, 0, b'x']);
        std::fs::write(&log, bytes).unwrap();
        let replayed = EmbeddingIndex::load(dir.path(), "m", 2).unwrap();
        assert_eq!(replayed.len(), 4);
        assert_eq!(replayed.get("a"), Some(&[0.0, 1.0][..]));
    }
}
