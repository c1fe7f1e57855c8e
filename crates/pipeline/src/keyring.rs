//! Pseudonymisation keys that rotate and are destroyed: a [`Keyring`].
//!
//! The scheme. Each tenant has its own keys in `KEYRING/TENANT/`, one file per key,
//! `kYYYYMMDD.key`, holding the secret in hex; the date is the first day the key is current.
//! A recording processed on day D is pseudonymised with the tenant's key current on D (the
//! latest whose first day is not after D), so a caller's pseudonym changes at every rotation
//! and `ps-KEYID-…` names the key it was made with. Older keys are kept for look-ups (erasure,
//! export and consent by number compute the number's pseudonym under every key still held).
//!
//! A key is retired the day before its successor becomes current. Everything written under it
//! was processed on or before that day, from calls on or before it, so it expires at the
//! latest the tenant's longest retention period (capped) later. The day after that, the key is
//! destroyed (its file overwritten and removed), and nobody, callscore included, can link its
//! pseudonyms to a number any more: what remains under them is anonymous. A key under which a
//! recording is still held (legal hold) is kept until the hold is released, and the report
//! says so.
//!
//! `callscore keys rotate` creates the next key when the configured rotation period has passed
//! (from a daily cron job, or `serve`'s own schedule on its one elected sweeper);
//! `callscore retention sweep` destroys the keys whose time has come. Both leave audit records.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jiff::Span;
use jiff::civil::Date;

use crate::pseudonym::{KeyError, PseudonymKey, hex};

/// Bytes of a new key's secret.
const SECRET_BYTES: usize = 32;
/// The extension of key files.
const KEY_EXTENSION: &str = "key";

/// A key of a keyring, with its life.
#[derive(Debug, Clone)]
pub struct RingKey {
    /// The key.
    pub key: PseudonymKey,
    /// The first day it is current.
    pub current_from: Date,
    /// The last day it is current; `None` while it is the newest.
    pub retired_on: Option<Date>,
}

/// Why a keyring cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The directory or a key file cannot be read or written.
    #[error("keyring {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// A key file holds no valid key.
    #[error("keyring {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A tenant has no key current on the day.
    #[error(
        "tenant {tenant} has no pseudonymisation key current on {day}: run `callscore keys rotate`"
    )]
    NoKey {
        /// The tenant.
        tenant: String,
        /// The day.
        day: Date,
    },
}

/// Every tenant's keys, oldest first.
type Keys = BTreeMap<String, Vec<RingKey>>;

/// Tenants' rotating pseudonymisation keys in a directory. Cheap to clone; [`Keyring::reload`]
/// picks up keys created or destroyed by another process.
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
    keys: Arc<RwLock<Arc<Keys>>>,
}

fn io_error(path: &Path, source: io::Error) -> KeyringError {
    KeyringError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Keyring {
    /// The keyring in `dir`, created if missing, with its keys loaded.
    pub fn open(dir: &Path) -> Result<Keyring, KeyringError> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let keyring = Keyring {
            dir: dir.to_path_buf(),
            keys: Arc::new(RwLock::new(Arc::new(BTreeMap::new()))),
        };
        keyring.reload()?;
        Ok(keyring)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the keys again.
    pub fn reload(&self) -> Result<(), KeyringError> {
        let mut all = BTreeMap::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&self.dir, e))?;
            let tenant = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() || tenant.starts_with('.') {
                continue;
            }
            all.insert(tenant, load_tenant(&entry.path())?);
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(all);
        Ok(())
    }

    fn snapshot(&self) -> Arc<Keys> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The tenants with keys.
    pub fn tenants(&self) -> Vec<String> {
        self.snapshot().keys().cloned().collect()
    }

    /// Every key `tenant` still holds, oldest first.
    pub fn held(&self, tenant: &str) -> Vec<RingKey> {
        self.snapshot().get(tenant).cloned().unwrap_or_default()
    }

    /// The key of `tenant` current on `day`.
    pub fn current(&self, tenant: &str, day: Date) -> Result<PseudonymKey, KeyringError> {
        self.snapshot()
            .get(tenant)
            .and_then(|keys| {
                keys.iter()
                    .rev()
                    .find(|k| k.current_from <= day)
                    .map(|k| k.key.clone())
            })
            .ok_or_else(|| KeyringError::NoKey {
                tenant: tenant.to_string(),
                day,
            })
    }

    /// Creates a new key for `tenant`, current from `today`, when it has none current or its
    /// current one has been current for `rotation` or longer. The new key's id; `None` when
    /// none was due.
    pub fn rotate(
        &self,
        tenant: &str,
        today: Date,
        rotation: Span,
    ) -> Result<Option<String>, KeyringError> {
        self.reload()?;
        let due = match self.current(tenant, today) {
            Err(_) => true,
            Ok(_) => {
                let keys = self.held(tenant);
                let newest = keys
                    .iter()
                    .rev()
                    .find(|k| k.current_from <= today)
                    .map(|k| k.current_from);
                let later_exists = keys.iter().any(|k| k.current_from > today);
                !later_exists
                    && newest
                        .is_some_and(|from| from.checked_add(rotation).is_ok_and(|d| d <= today))
            }
        };
        if !due {
            return Ok(None);
        }
        let id = key_id(today);
        let dir = self.dir.join(tenant);
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let path = dir.join(format!("{id}.{KEY_EXTENSION}"));
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| KeyringError::Invalid {
            path: path.display().to_string(),
            message: format!("no randomness for a new key: {e}"),
        })?;
        let temporary = dir.join(format!(".{id}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(hex(&secret).as_bytes())?;
            file.sync_all()?;
            // a hard link fails when the key exists: a second rotation the same day, or
            // another process's, never replaces a key in use
            fs::hard_link(&temporary, &path)
        })();
        let _ = fs::remove_file(&temporary);
        written.map_err(|e| io_error(&path, e))?;
        self.reload()?;
        Ok(Some(id))
    }

    /// Keys of `tenant` whose pseudonyms may no longer be linkable on `today`: retired, and
    /// `longest` (the tenant's longest retention) past their retirement.
    pub fn due_for_destruction(&self, tenant: &str, today: Date, longest: Span) -> Vec<RingKey> {
        self.held(tenant)
            .into_iter()
            .filter(|k| {
                k.retired_on
                    .and_then(|retired| retired.checked_add(longest).ok())
                    .is_some_and(|last| last < today)
            })
            .collect()
    }

    /// Destroys a key: its file is overwritten and removed, and it is gone from memory.
    pub fn destroy(&self, tenant: &str, key_id: &str) -> Result<(), KeyringError> {
        let path = self
            .dir
            .join(tenant)
            .join(format!("{key_id}.{KEY_EXTENSION}"));
        let overwrite = (|| {
            let length = fs::metadata(&path)?.len();
            let mut file = fs::OpenOptions::new().write(true).open(&path)?;
            file.write_all(&vec![0u8; usize::try_from(length).unwrap_or(0)])?;
            file.sync_all()
        })();
        match overwrite {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(&path, e)),
        }
        fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        self.reload()
    }
}

/// The id of a key current from `day`: `kYYYYMMDD`.
pub fn key_id(day: Date) -> String {
    format!("k{:04}{:02}{:02}", day.year(), day.month(), day.day())
}

fn day_of_id(id: &str) -> Option<Date> {
    let digits = id.strip_prefix('k')?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = digits[..4].parse().ok()?;
    let month = digits[4..6].parse().ok()?;
    let day = digits[6..].parse().ok()?;
    Date::new(year, month, day).ok()
}

fn load_tenant(dir: &Path) -> Result<Vec<RingKey>, KeyringError> {
    let mut keys = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(KEY_EXTENSION) {
            continue;
        }
        let invalid = |message: String| KeyringError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let current_from =
            day_of_id(&id).ok_or_else(|| invalid("the file is not named kYYYYMMDD.key".into()))?;
        let text = fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
        let secret =
            from_hex(text.trim()).ok_or_else(|| invalid("the key is not hexadecimal".into()))?;
        let key = PseudonymKey::new(&id, secret).map_err(|e: KeyError| invalid(e.to_string()))?;
        keys.push(RingKey {
            key,
            current_from,
            retired_on: None,
        });
    }
    keys.sort_by_key(|k| k.current_from);
    for i in 1..keys.len() {
        let next = keys[i].current_from;
        keys[i - 1].retired_on = next.yesterday().ok();
    }
    Ok(keys)
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn keys_rotate_on_schedule_and_look_ups_work_across_rotation() {
        let dir = tempfile::tempdir().expect("a directory");
        let ring = Keyring::open(dir.path()).expect("opens");
        let month = Span::new().months(1);
        assert!(ring.current("acme", date(2026, 1, 1)).is_err());
        assert_eq!(
            ring.rotate("acme", date(2026, 1, 1), month)
                .expect("rotates")
                .as_deref(),
            Some("k20260101")
        );
        assert_eq!(
            ring.rotate("acme", date(2026, 1, 20), month)
                .expect("not due"),
            None
        );
        assert_eq!(
            ring.rotate("acme", date(2026, 2, 1), month)
                .expect("rotates")
                .as_deref(),
            Some("k20260201")
        );
        let january = ring.current("acme", date(2026, 1, 31)).expect("a key");
        let february = ring.current("acme", date(2026, 2, 1)).expect("a key");
        assert_eq!(january.id(), "k20260101");
        assert_eq!(february.id(), "k20260201");
        let number = "+31205550001";
        assert_ne!(
            january.pseudonymize("acme", number),
            february.pseudonymize("acme", number)
        );
        // another process sees the same keys: pseudonyms are stable
        let again = Keyring::open(dir.path()).expect("opens");
        let held = again.held("acme");
        assert_eq!(held.len(), 2);
        assert_eq!(held[0].retired_on, Some(date(2026, 1, 31)));
        assert_eq!(held[1].retired_on, None);
        assert_eq!(
            held[0].key.pseudonymize("acme", number),
            january.pseudonymize("acme", number),
            "look-ups under an older key still find its pseudonyms"
        );
    }

    #[test]
    fn a_key_is_destroyed_only_after_the_longest_retention_past_its_retirement() {
        let dir = tempfile::tempdir().expect("a directory");
        let ring = Keyring::open(dir.path()).expect("opens");
        let month = Span::new().months(1);
        ring.rotate("acme", date(2026, 1, 1), month)
            .expect("rotates");
        ring.rotate("acme", date(2026, 2, 1), month)
            .expect("rotates");
        let longest = Span::new().months(12);
        // retired 2026-01-31, its last data may be kept until 2027-01-31
        assert!(
            ring.due_for_destruction("acme", date(2027, 1, 31), longest)
                .is_empty()
        );
        let due = ring.due_for_destruction("acme", date(2027, 2, 1), longest);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].key.id(), "k20260101");
        let pseudonym = due[0].key.pseudonymize("acme", "+31205550001");
        ring.destroy("acme", "k20260101").expect("destroyed");
        assert!(!dir.path().join("acme/k20260101.key").exists());
        let left = Keyring::open(dir.path()).expect("opens").held("acme");
        assert_eq!(left.len(), 1);
        assert!(
            left.iter()
                .all(|k| k.key.pseudonymize("acme", "+31205550001") != pseudonym),
            "no key left links the old pseudonym to the number"
        );
    }
}
