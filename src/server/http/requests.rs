//! Per-user request limits: each signed-in user may make
//! `requests_per_minute` requests (REST, server functions, pages, socket
//! handshakes) on average, in bursts of as many; beyond, 429 with
//! `Retry-After`. One user can't slow the server for everyone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::Username;

/// Above this many tracked users, full buckets are swept.
const SWEEP_ABOVE: usize = 10_000;

pub struct RequestLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<Username, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RequestLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let earned = now.duration_since(bucket.at).as_secs_f64() * self.per_minute / 60.0;
        (bucket.tokens + earned).min(self.per_minute)
    }

    /// Takes one request from the user's budget, or says how long until
    /// there is one.
    pub fn take(&self, user: &Username) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, b| self.refilled(b, now) < self.per_minute);
        }
        let bucket = buckets.entry(user.clone()).or_insert(Bucket {
            tokens: self.per_minute,
            at: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(missing * 60.0 / self.per_minute))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_a_budget_of_their_own() {
        let limiter = RequestLimiter::new(3);
        let (a, b) = (Username::parse("a").unwrap(), Username::parse("b").unwrap());
        assert!((0..3).all(|_| limiter.take(&a).is_ok()));
        let wait = limiter.take(&a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.take(&b).is_ok());
    }
}
