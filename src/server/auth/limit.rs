//! Sign-in rate limits, per account and per client address, so passwords
//! cannot be guessed quickly. Both limits must allow an attempt; the
//! refusal reads the same whether or not the account exists.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Above this many tracked keys, forgotten ones are swept.
const SWEEP_ABOVE: usize = 10_000;

pub struct SignInLimiter {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

impl SignInLimiter {
    /// `per_account` and `per_address` attempts a minute (and as a burst).
    pub fn new(per_account: NonZeroU32, per_address: NonZeroU32) -> Self {
        Self {
            accounts: RateLimiter::keyed(Quota::per_minute(per_account)),
            addresses: RateLimiter::keyed(Quota::per_minute(per_address)),
        }
    }

    /// Takes one attempt for this account name and address, or refuses.
    pub fn attempt(&self, account: &str, addr: IpAddr) -> bool {
        if self.accounts.len() > SWEEP_ABOVE {
            self.accounts.retain_recent();
        }
        if self.addresses.len() > SWEEP_ABOVE {
            self.addresses.retain_recent();
        }
        // Check the address first: a spray over many names stops there.
        self.addresses.check_key(&addr).is_ok()
            && self.accounts.check_key(&account.to_lowercase()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn each_account_and_each_address_has_its_own_budget() {
        let limiter = SignInLimiter::new(n(3), n(5));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.attempt("alice", a)));
        assert!(
            !limiter.attempt("alice", b),
            "the account is spent, from anywhere"
        );
        assert!(
            !limiter.attempt("ALICE", b),
            "names are compared lower-cased"
        );
        assert!(limiter.attempt("bob", a));
        assert!(limiter.attempt("carol", a));
        assert!(
            !limiter.attempt("dave", a),
            "the address is spent, for any name"
        );
        assert!(limiter.attempt("dave", b));
    }
}
