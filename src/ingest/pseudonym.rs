//! Keyed-hash pseudonyms for user ids: the raw id never reaches the store.

use std::path::Path;

use super::IngestError;

/// Turns a shop's user id into a stable pseudonym with a secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<key hidden>)")
    }
}

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "pseudonym.key";

impl Pseudonymizer {
    /// Uses the given key (tests, in-memory stores).
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A fresh random key, for in-memory stores that persist nothing.
    pub fn random() -> Result<Self, IngestError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| IngestError::Key(e.to_string()))?;
        Ok(Self { key })
    }

    /// Loads `pseudonym.key` from the data directory, creating it (mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, IngestError> {
        let path = data_dir.join(KEY_FILE);
        if path.exists() {
            let hex = std::fs::read_to_string(&path).map_err(|e| IngestError::Key(e.to_string()))?;
            let bytes = decode_hex(hex.trim())
                .filter(|b| b.len() == 32)
                .ok_or_else(|| IngestError::Key(format!("{} is not 64 hex digits", path.display())))?;
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(Self { key });
        }
        std::fs::create_dir_all(data_dir).map_err(|e| IngestError::Key(e.to_string()))?;
        let me = Self::random()?;
        let hex: String = me.key.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, hex + "\n").map_err(|e| IngestError::Key(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(me)
    }

    /// The pseudonym of a raw user id: 128 bits of BLAKE3 keyed hash, hex.
    pub fn pseudonym(&self, raw_id: &str) -> String {
        let h = blake3::keyed_hash(&self.key, raw_id.as_bytes());
        h.to_hex()[..32].to_owned()
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_pseudonym_and_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let a = Pseudonymizer::load_or_create(dir.path()).unwrap();
        let b = Pseudonymizer::load_or_create(dir.path()).unwrap();
        assert_eq!(a.pseudonym("alice@example.com"), b.pseudonym("alice@example.com"));
        assert_ne!(a.pseudonym("alice@example.com"), a.pseudonym("bob@example.com"));
        assert!(!a.pseudonym("alice@example.com").contains("alice"));
        let other = Pseudonymizer::random().unwrap();
        assert_ne!(a.pseudonym("alice@example.com"), other.pseudonym("alice@example.com"));
    }

    #[test]
    fn corrupt_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "zz").unwrap();
        assert!(Pseudonymizer::load_or_create(dir.path()).is_err());
    }
}
