//! Random secrets and their stored hashes.
//!
//! Personal access tokens are `solo_pat_` followed by 43 base62 characters
//! (256 bits of entropy from the OS generator). Session cookies are 43 base62
//! characters too. Only the SHA-256 of either is stored: a leaked database
//! reveals no usable credential. SHA-256 (not argon2) is right here because the
//! secrets are random and long, so there is nothing to brute-force.

use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};

pub const PAT_PREFIX: &str = "solo_pat_";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters carry just over 256 bits.
const SECRET_LEN: usize = 43;

pub fn random_base62(len: usize) -> String {
    let mut rng = OsRng;
    (0..len).map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char).collect()
}

/// A new personal access token (the secret shown to the user exactly once).
pub fn new_pat() -> String {
    format!("{PAT_PREFIX}{}", random_base62(SECRET_LEN))
}

/// A new session cookie value.
pub fn new_session_token() -> String {
    random_base62(SECRET_LEN)
}

/// Whether a string has the shape of a PAT (checked before any database lookup).
pub fn looks_like_pat(value: &str) -> bool {
    value
        .strip_prefix(PAT_PREFIX)
        .is_some_and(|rest| rest.len() == SECRET_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The hex SHA-256 under which a secret is stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pats_have_the_documented_shape() {
        let pat = new_pat();
        assert!(looks_like_pat(&pat));
        assert_eq!(pat.len(), PAT_PREFIX.len() + 43);
        assert!(!looks_like_pat("solo_pat_short"));
        assert_ne!(new_pat(), new_pat());
        assert_eq!(hash_secret(&pat).len(), 64);
    }
}
