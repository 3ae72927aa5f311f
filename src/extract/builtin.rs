//! The default model manifests and the small trained parts, built into the binary (as the
//! named queries are), so `analyze` and `extract` work from any directory. They are written
//! once to a folder named by their content under the model cache, where the manifests'
//! checksums verify them like any other files.

use super::ExtractError;
use std::path::{Path, PathBuf};

/// Path inside models/ and contents, for every built-in file.
const FILES: &[(&str, &[u8])] = &[
    ("all-minilm-l6-v2.toml", include_bytes!("../../models/all-minilm-l6-v2.toml")),
    ("all-minilm-l6-v2-int8.toml", include_bytes!("../../models/all-minilm-l6-v2-int8.toml")),
    ("onnxruntime.toml", include_bytes!("../../models/onnxruntime.toml")),
    ("review-minilm.toml", include_bytes!("../../models/review-minilm.toml")),
    ("review-minilm.safetensors", include_bytes!("../../models/review-minilm.safetensors")),
    ("heads/sentiment-minilm.toml", include_bytes!("../../models/heads/sentiment-minilm.toml")),
    ("heads/sentiment-minilm.json", include_bytes!("../../models/heads/sentiment-minilm.json")),
];

/// The built-in models folder, written under `cache` if not there yet.
pub fn dir(cache: &Path) -> Result<PathBuf, ExtractError> {
    let mut h = blake3::Hasher::new();
    for (name, bytes) in FILES {
        h.update(name.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let hex = h.finalize().to_hex();
    let dir = cache.join("builtin").join(&hex[..16]);
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    // Written beside, then renamed into place: a reader never sees half a folder.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = cache.join("builtin").join(format!(".{}-{}-{n}", &hex[..16], std::process::id()));
    for (name, bytes) in FILES {
        let p = tmp.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| ExtractError::io(d, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| ExtractError::io(&p, e))?;
    }
    let done = tmp.join(".complete");
    std::fs::write(&done, b"").map_err(|e| ExtractError::io(&done, e))?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another process got there first: its copy is the same bytes.
        Err(_) if dir.join(".complete").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(ExtractError::io(&dir, e)),
    }
}
