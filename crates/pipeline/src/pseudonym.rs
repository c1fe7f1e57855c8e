//! Phone numbers become keyed pseudonyms on arrival: HMAC-SHA256 under a tenant's secret key,
//! so the same caller gets the same pseudonym within a tenant (for erasure and repeat-caller
//! analysis) and nobody without the key can go back to the number. The key's id travels in
//! the pseudonym, so keys can be rotated.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Shortest secret accepted: 256 bits, the HMAC-SHA256 block's worth of strength.
pub const MIN_SECRET_BYTES: usize = 32;

/// A tenant's pseudonymisation key: an id (recorded in every pseudonym) and a secret.
#[derive(Clone)]
pub struct PseudonymKey {
    id: String,
    secret: Vec<u8>,
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // the secret never reaches a log
        f.debug_struct("PseudonymKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The id is not 1-32 letters, digits, `_` or `-`.
    #[error("key id {0:?} must be 1 to 32 letters, digits, '_' or '-'")]
    Id(String),
    /// The secret is too short.
    #[error("the secret of key {id:?} has {len} bytes; at least {MIN_SECRET_BYTES} are needed")]
    Short {
        /// The key's id.
        id: String,
        /// Its length.
        len: usize,
    },
}

impl PseudonymKey {
    /// A key from its id and secret bytes.
    pub fn new(id: &str, secret: Vec<u8>) -> Result<PseudonymKey, KeyError> {
        if !valid_id(id) {
            return Err(KeyError::Id(id.to_string()));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::Short {
                id: id.to_string(),
                len: secret.len(),
            });
        }
        Ok(PseudonymKey {
            id: id.to_string(),
            secret,
        })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pseudonym of `number` in `tenant`: `ps-<key id>-<64 hex digits>`. Formatting of the
    /// number (spaces, dashes, brackets) does not change it; the tenant does, so pseudonyms
    /// cannot be joined across tenants.
    pub fn pseudonymize(&self, tenant: &str, number: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC accepts a key of any length");
        mac.update(tenant.as_bytes());
        // a separator no tenant id contains, so ("ab","1") and ("a","b1") differ
        mac.update(&[0]);
        mac.update(crate::numbers::as_written(number).as_bytes());
        format!("ps-{}-{}", self.id, hex(&mac.finalize().into_bytes()))
    }
}

/// Whether `text` has the form of a pseudonym: `ps-`, a valid key id, `-`, 64 lowercase hex
/// digits.
pub fn is_pseudonym(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("ps-") else {
        return false;
    };
    let Some((id, mac)) = rest.rsplit_once('-') else {
        return false;
    };
    valid_id(id) && mac.len() == 64 && mac.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::new("k1", vec![7; 32]).expect("valid key")
    }

    #[test]
    fn formatting_does_not_change_the_pseudonym_but_the_tenant_does() {
        let a = key().pseudonymize("acme", "+31 20 555-0101");
        assert_eq!(a, key().pseudonymize("acme", "+31205550101"));
        assert_ne!(a, key().pseudonymize("other", "+31205550101"));
        assert_ne!(a, key().pseudonymize("acme", "+31205550102"));
        assert!(a.starts_with("ps-k1-") && a.len() == 6 + 64);
        assert!(!a.contains("31205550101"));
    }

    #[test]
    fn rotating_the_key_changes_every_pseudonym() {
        let other = PseudonymKey::new("k2", vec![8; 32]).expect("valid key");
        assert_ne!(
            key().pseudonymize("acme", "+3120"),
            other.pseudonymize("acme", "+3120")
        );
    }

    #[test]
    fn weak_keys_are_refused_and_secrets_never_printed() {
        assert!(matches!(
            PseudonymKey::new("k1", vec![1; 16]),
            Err(KeyError::Short { len: 16, .. })
        ));
        assert!(PseudonymKey::new("bad id", vec![1; 32]).is_err());
        let printed = format!(
            "{:?}",
            PseudonymKey::new("k9", vec![0xAB; 32]).expect("valid")
        );
        assert!(!printed.contains("171") && !printed.to_lowercase().contains("ab, "));
    }
}
