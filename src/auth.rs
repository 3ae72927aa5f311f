//! API keys and roles: creating, listing, revoking and verifying keys, kept hashed in
//! `<data>/keys.json` (mode 0600) under a secret of the data folder.
//!
//! A key is `sg_<id>_<secret>`: the id finds the record, the secret (32 random bytes) is checked
//! against a BLAKE3 keyed hash of the whole key. The secrets are random, not chosen by people,
//! so a keyed hash is enough (no password stretching needed); the hash key lives in
//! `<data>/auth.secret`, so a copy of `keys.json` alone cannot be checked offline. A running
//! server re-reads the file when it changes, so `shopgraph keys create|revoke` take effect
//! without a restart. Imports nothing of ours.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The key file or the secret cannot be read or written.
    #[error("key store {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// No key with that id.
    #[error("no key with id {0:?}")]
    UnknownKey(String),
    /// A role name that is not reader, writer or admin.
    #[error("role must be reader, writer or admin, got {0:?}")]
    BadRole(String),
    /// A key name that is empty or too long.
    #[error("key name must be 1 to 100 characters")]
    BadName,
}

/// What a key may do; each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Queries, named queries, recommendations, search, analysis, Graph Store reads.
    Reader,
    /// Also updates, Graph Store writes, events, loads.
    Writer,
    /// Also training, keys, the protected graphs (ontology, taxonomy, vocabularies, meta).
    Admin,
}

impl std::str::FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        match s {
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "admin" => Ok(Self::Admin),
            other => Err(AuthError::BadRole(other.into())),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        })
    }
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyRecord {
    /// Public id (part of the key).
    pub id: String,
    /// Who or what holds it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Revocation time, if revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    /// Hex BLAKE3 keyed hash of the whole key.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    hash: String,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's id.
    pub key_id: String,
    /// The key's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

#[derive(Default)]
struct Loaded {
    records: Vec<KeyRecord>,
    modified: Option<SystemTime>,
}

/// The keys of one data folder (or of memory, for `--memory` servers and tests).
pub struct Keys {
    path: Option<PathBuf>,
    secret: [u8; 32],
    loaded: RwLock<Loaded>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("path", &self.path).finish_non_exhaustive()
    }
}

/// File holding the hashed keys, in the data folder.
pub const KEYS_FILE: &str = "keys.json";
/// File holding the hash secret, in the data folder.
pub const SECRET_FILE: &str = "auth.secret";

fn io(path: &Path, e: impl std::fmt::Display) -> AuthError {
    AuthError::Io { path: path.to_owned(), message: e.to_string() }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(|e| io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| io(Path::new("getrandom"), e))?;
    Ok(b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Keys {
    /// Keys kept in memory only.
    pub fn memory() -> Result<Self, AuthError> {
        Ok(Self { path: None, secret: random_bytes()?, loaded: RwLock::default() })
    }

    /// The keys of a data folder; creates the secret on first use.
    pub fn open(data_dir: &Path) -> Result<Self, AuthError> {
        std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
        let secret_path = data_dir.join(SECRET_FILE);
        let secret = match std::fs::read_to_string(&secret_path) {
            Ok(text) => {
                let bytes: Vec<u8> = (0..text.trim().len())
                    .step_by(2)
                    .filter_map(|i| text.trim().get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                    .collect();
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| io(&secret_path, "not 64 hex digits"))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let s = random_bytes()?;
                write_private(&secret_path, (hex(&s) + "\n").as_bytes())?;
                s
            }
            Err(e) => return Err(io(&secret_path, e)),
        };
        let keys = Self { path: Some(data_dir.join(KEYS_FILE)), secret, loaded: RwLock::default() };
        keys.refresh()?;
        Ok(keys)
    }

    fn hash(&self, key: &str) -> String {
        blake3::keyed_hash(&self.secret, key.as_bytes()).to_hex().to_string()
    }

    /// Re-reads the file when it changed since it was last read.
    fn refresh(&self) -> Result<(), AuthError> {
        let Some(path) = &self.path else { return Ok(()) };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if self.loaded.read().map(|l| l.modified == modified).unwrap_or(false) && modified.is_some() {
            return Ok(());
        }
        let records: Vec<KeyRecord> = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io(path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(path, e)),
        };
        if let Ok(mut l) = self.loaded.write() {
            *l = Loaded { records, modified };
        }
        Ok(())
    }

    fn save(&self, records: Vec<KeyRecord>) -> Result<(), AuthError> {
        if let Some(path) = &self.path {
            let bytes = serde_json::to_vec_pretty(&records).map_err(|e| io(path, e))?;
            write_private(path, &bytes)?;
        }
        if let Ok(mut l) = self.loaded.write() {
            l.records = records;
            l.modified = self.path.as_ref().and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        }
        Ok(())
    }

    fn records(&self) -> Vec<KeyRecord> {
        self.loaded.read().map(|l| l.records.clone()).unwrap_or_default()
    }

    /// Creates a key; returns its record and the key itself, which is shown this once only.
    pub fn create(&self, name: &str, role: Role) -> Result<(KeyRecord, String), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::BadName);
        }
        self.refresh()?;
        let id = hex(&random_bytes::<6>()?);
        let key = format!("sg_{id}_{}", hex(&random_bytes::<32>()?));
        let record = KeyRecord {
            id,
            name: name.to_owned(),
            role,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            revoked: None,
            hash: self.hash(&key),
        };
        let mut all = self.records();
        all.push(record.clone());
        self.save(all)?;
        Ok((KeyRecord { hash: String::new(), ..record }, key))
    }

    /// Every key, revoked ones included, without hashes.
    pub fn list(&self) -> Result<Vec<KeyRecord>, AuthError> {
        self.refresh()?;
        Ok(self.records().into_iter().map(|r| KeyRecord { hash: String::new(), ..r }).collect())
    }

    /// Revokes a key: it stops working at once (on the server, at its next request).
    pub fn revoke(&self, id: &str) -> Result<KeyRecord, AuthError> {
        self.refresh()?;
        let mut all = self.records();
        let r = all.iter_mut().find(|r| r.id == id).ok_or_else(|| AuthError::UnknownKey(id.into()))?;
        if r.revoked.is_none() {
            r.revoked = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        let out = KeyRecord { hash: String::new(), ..r.clone() };
        self.save(all)?;
        Ok(out)
    }

    /// Whether any key that is not revoked exists.
    pub fn any_active(&self) -> bool {
        let _ = self.refresh();
        self.records().iter().any(|r| r.revoked.is_none())
    }

    /// The caller a presented key belongs to; `None` for unknown, malformed or revoked keys.
    pub fn verify(&self, key: &str) -> Option<Caller> {
        let id = key.strip_prefix("sg_")?.split('_').next()?;
        if let Err(e) = self.refresh() {
            log::warn!("cannot read the key store: {e}");
        }
        let loaded = self.loaded.read().ok()?;
        let r = loaded.records.iter().find(|r| r.id == id && r.revoked.is_none())?;
        // Compared as hashes of equal length, in constant time.
        let want = blake3::Hash::from_hex(&r.hash).ok()?;
        let got = blake3::keyed_hash(&self.secret, key.as_bytes());
        (want == got).then(|| Caller { key_id: r.id.clone(), name: r.name.clone(), role: r.role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_verify_until_revoked_and_survive_reopening_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let (rec, key) = keys.create("shop frontend", Role::Reader).unwrap();
        let (_, admin) = keys.create("ops", Role::Admin).unwrap();
        assert_eq!(keys.verify(&key).unwrap().role, Role::Reader);
        assert_eq!(keys.verify(&admin).unwrap().role, Role::Admin);
        for bad in ["", "sg_", &key[..key.len() - 1], &format!("{key}0"), &key.replace("sg_", "xx_"), "Bearer x"] {
            assert!(keys.verify(bad).is_none(), "{bad:?}");
        }
        let stored = std::fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        assert!(!stored.contains(&key[10..]), "the secret part was stored");
        // Another process (the CLI) revokes; this one sees it at the next check.
        let other = Keys::open(dir.path()).unwrap();
        assert_eq!(other.verify(&key).unwrap().name, "shop frontend");
        std::thread::sleep(std::time::Duration::from_millis(20));
        other.revoke(&rec.id).unwrap();
        assert!(keys.verify(&key).is_none());
        assert!(keys.verify(&admin).is_some());
        assert!(matches!(other.revoke("nope"), Err(AuthError::UnknownKey(_))));
        #[cfg(unix)]
        for f in [KEYS_FILE, SECRET_FILE] {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
        }
    }
}
