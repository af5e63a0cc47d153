//! Password hashing with argon2id (the `argon2` crate's defaults: 19 MiB,
//! two passes, one lane — OWASP's minimum), and the password policy.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest password accepted for an account.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (hashing is costly enough as it is).
pub const MAX_PASSWORD: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
    Length,
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// Checks the policy, then hashes. Slow on purpose: call it off the async
/// threads (see [`hash_blocking`]).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(PasswordError::Length);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored` (a PHC string). A malformed stored
/// hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_PASSWORD * 4 {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Does the work of a verification against a hash nobody has, so a wrong
/// username takes as long as a wrong password.
pub fn verify_nobody(password: &str) {
    static NOBODY: OnceLock<String> = OnceLock::new();
    let stored = NOBODY.get_or_init(|| hash("nobody-has-this-password").unwrap_or_default());
    let _ = verify(password, stored);
}

/// [`hash`] on the blocking pool.
pub async fn hash_blocking(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// A fresh random password: 20 letters and digits (about 119 bits).
pub fn random_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse battery!", &a));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn policy_refuses_short_and_huge_passwords() {
        assert_eq!(hash("short"), Err(PasswordError::Length));
        assert_eq!(
            hash(&"x".repeat(MAX_PASSWORD + 1)),
            Err(PasswordError::Length)
        );
        assert_eq!(random_password().len(), 20);
        assert_ne!(random_password(), random_password());
    }
}
