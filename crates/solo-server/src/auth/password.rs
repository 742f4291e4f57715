//! Password hashing with argon2id (the OWASP-recommended default parameters of the
//! `argon2` crate). Hashing is deliberately slow, so it runs on the blocking pool.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 8;

/// A PHC string (`$argon2id$v=19$…`) for `password`.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a random password, verified against when a login names an unknown
/// user, so the response takes as long as for a known one.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&super::secrets::random_base62(24)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify() {
        let phc = super::hash("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &phc));
        assert!(!super::verify("wrong horse", &phc));
        assert!(!super::verify("x", "not a hash"));
    }
}
