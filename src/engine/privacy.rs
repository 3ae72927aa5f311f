//! Forgetting a shopper: their interactions, their authorship of reviews, their node, their
//! rows in every saved model and in the cleaning reports, then a compaction so the deleted
//! quads leave the store's files too.

use super::{Engine, EngineError};
use crate::ontology::vocab;
use crate::recommend::{self, RecommendError};
use crate::store::model::{NamedNode, NamedOrBlankNode, Quad};

/// What forgetting a user removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Forgotten {
    /// Interactions (and events) deleted.
    pub interactions: usize,
    /// Reviews that no longer name the user as author (the reviews stay, anonymous).
    pub reviews_unlinked: usize,
    /// Quads deleted in all.
    pub quads: usize,
    /// The model version trained without the user, if a model was installed.
    pub model_version: Option<String>,
    /// Report lines removed.
    pub report_lines: usize,
}

impl Engine {
    /// Forgets a shop's user id everywhere shopgraph keeps it. Idempotent: forgetting an
    /// unknown user removes nothing and says so.
    pub fn forget_user(&self, raw_user: &str) -> Result<Forgotten, EngineError> {
        if raw_user.trim().is_empty() {
            return Err(EngineError::Input("give a user id".into()));
        }
        let key = self.user_key(raw_user);
        let user = self.minter.user(&key);
        let has_user = NamedNode::new_unchecked(vocab::HAS_USER);
        let mut doomed: Vec<Quad> = Vec::new();
        let interactions = self.store.subjects_with(&has_user, &user)?;
        for i in &interactions {
            if let NamedOrBlankNode::NamedNode(n) = i {
                doomed.extend(self.store.quads_touching(n)?);
            }
        }
        let touching_user = self.store.quads_touching(&user)?;
        let reviews_unlinked = touching_user.iter().filter(|q| q.predicate.as_str() == vocab::AUTHOR).count();
        doomed.extend(touching_user);
        let mut seen = std::collections::HashSet::new();
        doomed.retain(|q| seen.insert(q.clone()));
        self.store.remove(&doomed)?;

        // Every saved version holds the user's rows: retrain without them, keep only that one.
        let mut model_version = None;
        if let Ok(live) = self.rec.current()
            && live.knows_user(&key)
        {
            let alg = live.trained.meta.algorithm.clone();
            match self.train(&alg, Some(format!("retrained to forget a user ({})", alg.name())), |_, _| {}) {
                Ok(meta) => model_version = Some(meta.version),
                Err(EngineError::Recommend(RecommendError::Input(_))) => {
                    // Nothing left to train on: no model at all rather than one that remembers.
                    self.rec.clear();
                }
                Err(e) => return Err(e),
            }
            if let Some(dir) = self.models_dir() {
                recommend::prune_versions(&dir, 1);
                if model_version.is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        let report_lines = self.scrub_reports(&key)?;
        self.store.compact()?;
        Ok(Forgotten {
            interactions: interactions.len(),
            reviews_unlinked,
            quads: doomed.len(),
            model_version,
            report_lines,
        })
    }

    /// Removes the user's rejected rows from the cleaning reports.
    fn scrub_reports(&self, key: &str) -> Result<usize, EngineError> {
        let Some(dir) = self.report_dir() else { return Ok(0) };
        let needle = format!("{}{key}", super::rec::PSEUDONYM_PREFIX);
        let mut removed = 0;
        let io = |e: std::io::Error| EngineError::Input(format!("rewriting reports in {}: {e}", dir.display()));
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".rejected.csv") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(io)?;
            if !text.contains(&needle) {
                continue;
            }
            // A quoted CSV field may hold newlines: read records, not lines.
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
            let mut writer = csv::Writer::from_writer(Vec::new());
            for record in reader.records() {
                let record = record.map_err(|e| io(std::io::Error::other(e)))?;
                if record.iter().any(|f| f.contains(&needle)) {
                    removed += 1;
                } else {
                    writer.write_record(&record).map_err(|e| io(std::io::Error::other(e)))?;
                }
            }
            let bytes = writer.into_inner().map_err(|e| io(std::io::Error::other(e.to_string())))?;
            std::fs::write(&path, bytes).map_err(io)?;
        }
        Ok(removed)
    }
}
