//! The shared, lazily loaded extraction state of a running server: the extractor (loaded on
//! first use, so a server without models still serves everything else) and the embedding index.

use super::index::EmbeddingIndex;
use super::{ExtractError, Extractor, Lexicon, SENTIMENT_HEAD};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// Where models come from and how to run them.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// Manifest folder.
    pub models: PathBuf,
    /// Fetched files.
    pub cache: PathBuf,
    /// `auto`, `cpu` or `cuda`.
    pub device: String,
    /// Threads per ONNX session.
    pub threads: usize,
    /// Texts per batch.
    pub batch: usize,
}

impl ModelSettings {
    /// Loads a fresh extractor (one ONNX session) with an empty lexicon.
    pub fn load(&self) -> Result<Extractor, ExtractError> {
        let mut ex =
            Extractor::load(&self.models, &self.cache, &self.device, self.threads, Lexicon::default(), SENTIMENT_HEAD)?;
        ex.batch = self.batch.max(1);
        Ok(ex)
    }
}

/// Extraction state shared by the engine, the SPARQL functions and the HTTP layer.
#[derive(Debug)]
pub struct Semantic {
    /// Model settings.
    pub settings: ModelSettings,
    extractor: Mutex<Option<Arc<Extractor>>>,
    index: RwLock<Option<Arc<EmbeddingIndex>>>,
    /// Folder of saved embeddings (`None`: in memory only).
    pub dir: Option<PathBuf>,
}

impl Semantic {
    /// State over `dir` (the data directory's `embeddings/`). Nothing is read until first use.
    pub fn new(settings: ModelSettings, dir: Option<PathBuf>) -> Self {
        Self { settings, extractor: Mutex::new(None), index: RwLock::new(None), dir }
    }

    /// Encoder id and embedding dimension of the default head, from its manifest and weights
    /// (no ONNX session needed).
    pub fn encoder_shape(&self) -> Result<(String, usize), ExtractError> {
        let all = super::manifest::catalog(&self.settings.models, &self.settings.cache)?;
        let head = super::manifest::find(&all, SENTIMENT_HEAD)?;
        let enc =
            head.encoder.clone().ok_or_else(|| ExtractError::Manifest(format!("{SENTIMENT_HEAD}: no encoder")))?;
        let w =
            head.weights.clone().ok_or_else(|| ExtractError::Manifest(format!("{SENTIMENT_HEAD}: no [weights]")))?;
        let path = head.locate(&w, &self.settings.cache)?;
        let text = std::fs::read_to_string(&path).map_err(|e| ExtractError::io(&path, e))?;
        Ok((enc, super::head::Head::from_json(&text)?.dim))
    }

    /// The extractor, loading it on first use. The lock is held while loading so that two
    /// first requests do not load two copies.
    pub fn extractor(&self) -> Result<Arc<Extractor>, ExtractError> {
        let mut slot = self.extractor.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return Ok(Arc::clone(e));
        }
        let e = Arc::new(self.settings.load()?);
        *slot = Some(Arc::clone(&e));
        Ok(e)
    }

    /// The current embedding index (a snapshot: later writes swap in a new one), read from
    /// the data directory on first use.
    pub fn index(&self) -> Result<Arc<EmbeddingIndex>, ExtractError> {
        if let Some(ix) = self.index.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(Arc::clone(ix));
        }
        let (enc, dim) = self.encoder_shape()?;
        let ix = match &self.dir {
            Some(d) => EmbeddingIndex::load(d, &enc, dim)?,
            None => EmbeddingIndex::new(&enc, dim),
        };
        let ix = Arc::new(ix);
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&ix));
        Ok(ix)
    }

    /// Swaps in a new index.
    pub fn set_index(&self, ix: EmbeddingIndex) {
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(ix));
    }

    /// Embedding of a free text with the loaded encoder.
    pub fn embed_text(&self, text: &str) -> Result<Vec<f32>, ExtractError> {
        let ex = self.extractor()?;
        Ok(ex.embed_texts(&[text.to_string()])?.pop().unwrap_or_default())
    }

    /// The `k` stored nodes closest to a node's embedding (`Ok(iri)`, the node itself left out)
    /// or to a text embedded now (`Err(text)`), best first, with the index searched.
    pub fn nearest(
        &self,
        query: Result<&str, &str>,
        k: usize,
    ) -> Result<(Arc<EmbeddingIndex>, super::index::Hits), ExtractError> {
        let ix = self.index()?;
        let (vector, exclude) = match query {
            Ok(iri) => (
                ix.get(iri)
                    .ok_or_else(|| {
                        ExtractError::Input(format!("<{iri}> has no stored embedding (run `shopgraph extract`)"))
                    })?
                    .to_vec(),
                Some(iri),
            ),
            Err(text) => {
                Extractor::check(text)?;
                (self.embed_text(text)?, None)
            }
        };
        let hits = ix.nearest(&vector, k, exclude, &|_| true);
        Ok((ix, hits))
    }
}
