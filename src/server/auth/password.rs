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
    capped(move || hash(&password))
        .await
        .map_err(PasswordError::Hash)?
}

/// At most this many hashes or checks at once (each takes 19 MiB and a
/// core for tens of milliseconds), so a burst of sign-ins queues instead
/// of exhausting memory.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(hashing_cap()))
}

fn hashing_cap() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs password work on the blocking pool, within the hashing cap.
pub async fn capped<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let _slot = hashing_slots().acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn password_work_never_runs_beyond_the_cap() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let cap = hashing_cap();
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..cap * 4 + 4)
            .map(|_| {
                let (now, peak) = (now.clone(), peak.clone());
                tokio::spawn(capped(move || {
                    let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(running, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= cap, "{peak} at once, cap {cap}");
        assert!(peak >= 1);
    }
}
