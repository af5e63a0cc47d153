//! Sign-in limits: failed attempts are counted, never successful ones, so
//! guessing is slow and nobody can lock another person out.
//!
//! - Per account *and* address: `per_account` failures a minute, then that
//!   address is refused for that account. Someone guessing from elsewhere
//!   does not lock the account's owner out.
//! - Per address: `per_address` failures a minute, whatever the names (a
//!   spray over many accounts stops here).
//! - Per account from everywhere: past a ceiling (four times
//!   `per_account`), every attempt on the account waits a little first,
//!   slowing a distributed guess without refusing its owner.
//!
//! IPv6 clients are counted by their /64 (one subscriber's network).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// How long an attempt on an account past its ceiling waits.
pub const CEILING_DELAY: Duration = Duration::from_secs(2);
/// Above this many tracked keys, empty windows are swept.
const SWEEP_ABOVE: usize = 10_000;

/// What to do with a sign-in attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Go, after this wait.
    Wait(Duration),
    Refuse,
}

pub struct SignInLimiter {
    per_pair: usize,
    per_address: usize,
    account_ceiling: usize,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    pairs: HashMap<(String, IpAddr), Window>,
    addresses: HashMap<IpAddr, Window>,
    accounts: HashMap<String, Window>,
}

/// Failures in the last minute.
#[derive(Default)]
struct Window(VecDeque<Instant>);

impl Window {
    fn count(&mut self, now: Instant) -> usize {
        while self
            .0
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            self.0.pop_front();
        }
        self.0.len()
    }

    fn add(&mut self, now: Instant, cap: usize) {
        self.count(now);
        if self.0.len() < cap {
            self.0.push_back(now);
        }
    }
}

/// The address limits count: IPv6 by its /64.
pub fn client_group(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

fn sweep<K>(map: &mut HashMap<K, Window>, now: Instant) {
    if map.len() > SWEEP_ABOVE {
        map.retain(|_, w| w.count(now) > 0);
    }
}

impl SignInLimiter {
    /// `per_account` failures a minute per account and address,
    /// `per_address` per address.
    pub fn new(per_account: u32, per_address: u32) -> Self {
        let per_pair = per_account.max(1) as usize;
        Self {
            per_pair,
            per_address: per_address.max(1) as usize,
            account_ceiling: per_pair * 4,
            failures: Mutex::new(Failures::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an attempt on this account from this address may go ahead
    /// (counts nothing).
    pub fn check(&self, account: &str, addr: IpAddr) -> Verdict {
        let now = Instant::now();
        let (account, addr) = (account.to_lowercase(), client_group(addr));
        let mut f = self.lock();
        let failed = |map: Option<&mut Window>| map.map_or(0, |w| w.count(now));
        if failed(f.addresses.get_mut(&addr)) >= self.per_address
            || failed(f.pairs.get_mut(&(account.clone(), addr))) >= self.per_pair
        {
            return Verdict::Refuse;
        }
        if failed(f.accounts.get_mut(&account)) >= self.account_ceiling {
            return Verdict::Wait(CEILING_DELAY);
        }
        Verdict::Go
    }

    /// Counts a failed attempt.
    pub fn failed(&self, account: &str, addr: IpAddr) {
        let now = Instant::now();
        let (account, addr) = (account.to_lowercase(), client_group(addr));
        let mut f = self.lock();
        sweep(&mut f.pairs, now);
        sweep(&mut f.addresses, now);
        sweep(&mut f.accounts, now);
        let (pair, address, ceiling) = (self.per_pair, self.per_address, self.account_ceiling);
        f.pairs
            .entry((account.clone(), addr))
            .or_default()
            .add(now, pair);
        f.addresses.entry(addr).or_default().add(now, address);
        f.accounts.entry(account).or_default().add(now, ceiling);
    }

    /// A successful sign-in clears this address's failures on the account.
    pub fn succeeded(&self, account: &str, addr: IpAddr) {
        let key = (account.to_lowercase(), client_group(addr));
        self.lock().pairs.remove(&key);
    }
}

/// Session lookups that found nothing, per address: past
/// [`FailedLookups::PER_MINUTE`] a minute, the address's tokens are not
/// looked up at all (a guesser can't make the store work for them).
#[derive(Default)]
pub struct FailedLookups {
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

impl FailedLookups {
    pub const PER_MINUTE: usize = 300;

    pub fn allowed(&self, addr: IpAddr) -> bool {
        let now = Instant::now();
        let mut map = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        map.get_mut(&client_group(addr))
            .is_none_or(|w| w.count(now) < Self::PER_MINUTE)
    }

    pub fn missed(&self, addr: IpAddr) {
        let now = Instant::now();
        let mut map = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        sweep(&mut map, now);
        map.entry(client_group(addr))
            .or_default()
            .add(now, Self::PER_MINUTE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_failures_count() {
        let limiter = SignInLimiter::new(3, 5);
        let a = ip("10.0.0.1");
        for _ in 0..50 {
            assert_eq!(limiter.check("alice", a), Verdict::Go);
            limiter.succeeded("alice", a);
        }
        for _ in 0..3 {
            assert_eq!(limiter.check("alice", a), Verdict::Go);
            limiter.failed("alice", a);
        }
        assert_eq!(
            limiter.check("ALICE", a),
            Verdict::Refuse,
            "names lower-cased"
        );
    }

    #[test]
    fn a_guesser_elsewhere_does_not_lock_the_owner_out() {
        let limiter = SignInLimiter::new(3, 100);
        let (owner, attacker) = (ip("10.0.0.1"), ip("192.0.2.9"));
        for _ in 0..3 {
            limiter.failed("alice", attacker);
        }
        assert_eq!(limiter.check("alice", attacker), Verdict::Refuse);
        assert_eq!(limiter.check("alice", owner), Verdict::Go);
    }

    #[test]
    fn many_addresses_on_one_account_are_slowed_not_refused() {
        let limiter = SignInLimiter::new(3, 100);
        for n in 0..12 {
            limiter.failed("alice", ip(&format!("192.0.2.{n}")));
        }
        assert_eq!(
            limiter.check("alice", ip("10.0.0.1")),
            Verdict::Wait(CEILING_DELAY)
        );
        assert_eq!(limiter.check("bob", ip("10.0.0.1")), Verdict::Go);
    }

    #[test]
    fn a_spray_over_many_names_stops_at_the_address() {
        let limiter = SignInLimiter::new(3, 5);
        let a = ip("10.0.0.1");
        for n in 0..5 {
            limiter.failed(&format!("user{n}"), a);
        }
        assert_eq!(limiter.check("someone-else", a), Verdict::Refuse);
        assert_eq!(limiter.check("someone-else", ip("10.0.0.2")), Verdict::Go);
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64() {
        let limiter = SignInLimiter::new(3, 5);
        for n in 0..5 {
            limiter.failed(&format!("user{n}"), ip(&format!("2001:db8:1:2::{n}")));
        }
        assert_eq!(
            limiter.check("x", ip("2001:db8:1:2:ffff::1")),
            Verdict::Refuse
        );
        assert_eq!(limiter.check("x", ip("2001:db8:1:3::1")), Verdict::Go);
        assert_eq!(client_group(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }
}
