//! DynamoDB requests counted by kind, for benchmarks, tests and logs. The
//! counting belongs to the DynamoDB store: the [`CallStore`] trait knows
//! nothing of it (see [`DynamoStore::downcast`] to reach it from the trait).
//!
//! [`CallStore`]: crate::server::store::CallStore
//! [`DynamoStore::downcast`]: super::DynamoStore::downcast

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// DynamoDB requests made so far, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub query: u64,
    pub get_item: u64,
    pub scan: u64,
    pub get_records: u64,
    /// Transcript items read by Queries (what read units are charged on).
    pub items_read: u64,
}

impl RequestCounts {
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            query: self.query - earlier.query,
            get_item: self.get_item - earlier.get_item,
            scan: self.scan - earlier.scan,
            get_records: self.get_records - earlier.get_records,
            items_read: self.items_read - earlier.items_read,
        }
    }
}

/// GetRecords made per shard, for benchmarks and tests.
#[derive(Default)]
pub struct ShardCounts(Mutex<HashMap<String, u64>>);

impl ShardCounts {
    pub(super) fn add(&self, shard: &str) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(shard.to_string()).or_default() += 1;
    }

    pub fn snapshot(&self) -> HashMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The store's running counts. The stream readers share the GetRecords
/// ones.
#[derive(Default)]
pub(super) struct Counters {
    pub query: AtomicU64,
    pub get_item: AtomicU64,
    pub scan: AtomicU64,
    pub get_records: Arc<AtomicU64>,
    pub per_shard: Arc<ShardCounts>,
    pub items_read: AtomicU64,
}

impl Counters {
    pub fn count(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            query: self.query.load(Ordering::Relaxed),
            get_item: self.get_item.load(Ordering::Relaxed),
            scan: self.scan.load(Ordering::Relaxed),
            get_records: self.get_records.load(Ordering::Relaxed),
            items_read: self.items_read.load(Ordering::Relaxed),
        }
    }
}
