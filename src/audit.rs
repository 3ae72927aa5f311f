//! The audit log: one JSON line per applied write (who, when, what), appended to
//! `<data>/audit/audit.jsonl` and rotated by size. Imports nothing of ours.
//!
//! Entries are written after the write committed, so the log never claims a write that did not
//! happen; a crash between the commit and the append can lose the entry (the write itself is
//! durable). Update texts are kept as a BLAKE3 digest and a length, not verbatim: they can hold
//! customers' data that the log should not copy.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bytes after which the log rotates.
pub const ROTATE_BYTES: u64 = 64 * 1024 * 1024;
/// Rotated files kept (`audit.1.jsonl` newest).
pub const KEEP_ROTATED: usize = 5;
/// Entries an in-memory log keeps.
const MEMORY_ENTRIES: usize = 10_000;

/// One applied write.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// RFC 3339 time of the append.
    pub time: String,
    /// `key:<id>` or `anonymous` (auth off).
    pub who: String,
    /// What was done: `sparql-update`, `gsp-put`, `gsp-post`, `gsp-delete`, `events`, `train`,
    /// `key-create`, `key-revoke`.
    pub action: String,
    /// The graph, dataset, key id or model version it acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// BLAKE3 of the request body or update text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Body length in bytes.
    pub bytes: usize,
    /// Quads written (GSP) or events stored, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

impl Entry {
    /// An entry stamped now, with the body's digest and length.
    pub fn new(who: String, action: &str, target: Option<String>, body: &[u8], count: Option<usize>) -> Self {
        Self {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who,
            action: action.into(),
            target,
            digest: (!body.is_empty()).then(|| blake3::hash(body).to_hex().to_string()),
            bytes: body.len(),
            count,
        }
    }
}

/// The log of one data folder, or of memory.
#[derive(Debug)]
pub struct AuditLog {
    dir: Option<PathBuf>,
    rotate_bytes: u64,
    state: Mutex<Vec<Entry>>,
}

impl AuditLog {
    /// A log kept in memory (the last entries only).
    pub fn memory() -> Self {
        Self { dir: None, rotate_bytes: ROTATE_BYTES, state: Mutex::new(Vec::new()) }
    }

    /// The log under `<data>/audit`.
    pub fn open(data_dir: &Path) -> Self {
        Self { dir: Some(data_dir.join("audit")), rotate_bytes: ROTATE_BYTES, state: Mutex::new(Vec::new()) }
    }

    /// The same log rotating after `bytes` (tests).
    pub fn with_rotation(mut self, bytes: u64) -> Self {
        self.rotate_bytes = bytes;
        self
    }

    /// Appends an entry; a failure to write is logged, never returned: the write it records
    /// has already been applied.
    pub fn record(&self, entry: Entry) {
        let Ok(mut mem) = self.state.lock() else { return };
        let Some(dir) = &self.dir else {
            mem.push(entry);
            if mem.len() > MEMORY_ENTRIES {
                mem.remove(0);
            }
            return;
        };
        if let Err(e) = append(dir, &entry, self.rotate_bytes) {
            log::error!("audit log {}: {e}", dir.display());
        }
    }

    /// The newest `limit` entries, oldest first.
    pub fn tail(&self, limit: usize) -> Vec<Entry> {
        let Ok(mem) = self.state.lock() else { return Vec::new() };
        let Some(dir) = &self.dir else {
            return mem[mem.len().saturating_sub(limit)..].to_vec();
        };
        let mut out: Vec<Entry> = Vec::new();
        // Newest file first, until enough lines.
        for i in 0..=KEEP_ROTATED {
            let Ok(text) = std::fs::read_to_string(file(dir, i)) else { continue };
            let mut lines: Vec<Entry> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            lines.append(&mut out);
            out = lines;
            if out.len() >= limit {
                break;
            }
        }
        out.split_off(out.len().saturating_sub(limit))
    }
}

fn file(dir: &Path, generation: usize) -> PathBuf {
    if generation == 0 { dir.join("audit.jsonl") } else { dir.join(format!("audit.{generation}.jsonl")) }
}

fn append(dir: &Path, entry: &Entry, rotate_bytes: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let current = file(dir, 0);
    if std::fs::metadata(&current).is_ok_and(|m| m.len() >= rotate_bytes) {
        let _ = std::fs::remove_file(file(dir, KEEP_ROTATED));
        for g in (0..KEEP_ROTATED).rev() {
            let from = file(dir, g);
            if from.exists() {
                std::fs::rename(&from, file(dir, g + 1))?;
            }
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&current)?;
    let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    f.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_append_rotate_and_read_back_newest_last() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).with_rotation(600);
        for i in 0..40 {
            log.record(Entry::new(format!("key:{i}"), "sparql-update", None, b"INSERT DATA {}", None));
        }
        let tail = log.tail(10);
        assert_eq!(tail.len(), 10);
        assert_eq!(tail.last().unwrap().who, "key:39");
        assert_eq!(tail.first().unwrap().who, "key:30");
        assert!(dir.path().join("audit/audit.1.jsonl").exists(), "no rotation");
        assert!(!dir.path().join(format!("audit/audit.{}.jsonl", KEEP_ROTATED + 1)).exists());
        assert!(!std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap().contains("INSERT"));
    }
}
