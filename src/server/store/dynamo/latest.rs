//! The newest call, overall and per agent: kept from the contactDetails
//! stream when it is readable, otherwise from a Scan of that table. No lock
//! is held across a request: a Scan builds its answer apart and merges it.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use aws_sdk_dynamodb::Client;

use crate::model::{CallDetails, CallId, ATTR_CONTACT_ID};
use crate::server::store::sources::TableRole;
use crate::server::store::{StoreError, StoreNotice};

use super::attrs::scalar_string;
use super::counts::Counters;
use super::errors::classify;
use super::items;
use super::DynamoStore;

/// How many of the newest calls are kept for the floor view (at most
/// twice as many between prunings).
pub const RECENT_KEPT: usize = 1000;

#[derive(Clone, Default)]
struct Newest {
    details: Option<CallDetails>,
    /// The newest call of each agent (by the owner attribute).
    by_owner: HashMap<String, CallDetails>,
    /// The newest calls, each in its latest copy (for the floor view).
    recent: HashMap<CallId, CallDetails>,
}

impl Newest {
    /// Takes a call in; whether it is now the newest overall.
    fn take(&mut self, details: CallDetails, owner_attribute: &str, tie_wins: bool) -> bool {
        self.recent.insert(details.call_id.clone(), details.clone());
        if self.recent.len() > 2 * RECENT_KEPT {
            self.prune();
        }
        if let Some(owner) = details.attributes.get(owner_attribute) {
            if !owner.is_empty() && is_newer(&details, self.by_owner.get(owner), tie_wins) {
                self.by_owner.insert(owner.clone(), details.clone());
            }
        }
        let newer = is_newer(&details, self.details.as_ref(), tie_wins);
        if newer {
            self.details = Some(details);
        }
        newer
    }

    /// Keeps the [`RECENT_KEPT`] newest calls.
    fn prune(&mut self) {
        let mut calls: Vec<_> = self.recent.drain().map(|(_, d)| d).collect();
        calls.sort_by_key(|d| std::cmp::Reverse(d.started_at_ms.unwrap_or(i64::MIN)));
        calls.truncate(RECENT_KEPT);
        self.recent = calls.into_iter().map(|d| (d.call_id.clone(), d)).collect();
    }

    /// The newest `limit` calls, newest first.
    fn recent(&self, limit: usize) -> Vec<CallDetails> {
        let mut calls: Vec<_> = self.recent.values().cloned().collect();
        calls.sort_by_key(|d| std::cmp::Reverse(d.started_at_ms.unwrap_or(i64::MIN)));
        calls.truncate(limit);
        calls
    }

    /// What a Scan `found`, with what was known before it. While the table
    /// is followed on its stream, a newer call seen there stays (the Scan,
    /// eventually consistent, may have missed it; a deleted one comes off
    /// the stream as such). Polled, the Scan is all there is to go by: a
    /// call no longer in the table (deleted) goes.
    fn after_scan(&self, found: Newest, streamed: bool, owner_attribute: &str) -> Newest {
        let mut merged = found;
        if !streamed {
            return merged;
        }
        if let Some(current) = self.details.clone() {
            merged.take(current, owner_attribute, false);
        }
        for (owner, current) in &self.by_owner {
            if is_newer(current, merged.by_owner.get(owner), false) {
                merged.by_owner.insert(owner.clone(), current.clone());
            }
        }
        for (id, current) in &self.recent {
            merged
                .recent
                .entry(id.clone())
                .or_insert_with(|| current.clone());
        }
        merged
    }
}

/// Whether `candidate` replaces `current` as the newest: the same call (a
/// fresher copy), or a later start (on the stream, a later event wins a
/// tie: timestamps have one-second resolution).
fn is_newer(candidate: &CallDetails, current: Option<&CallDetails>, tie_wins: bool) -> bool {
    let Some(current) = current else { return true };
    let (a, b) = (
        candidate.started_at_ms.unwrap_or(i64::MIN),
        current.started_at_ms.unwrap_or(i64::MIN),
    );
    candidate.call_id == current.call_id || a > b || (tie_wins && a == b)
}

pub struct LatestTracker {
    owner_attribute: String,
    newest: Mutex<Newest>,
    /// When a Scan last completed (none since start, or since the newest
    /// call was deleted).
    scanned: Mutex<Option<std::time::Instant>>,
    /// One Scan at a time.
    scanning: tokio::sync::Mutex<()>,
    /// Items already warned about, so each is logged once.
    warned: Mutex<HashSet<String>>,
}

impl LatestTracker {
    pub fn new(owner_attribute: String) -> Self {
        Self {
            owner_attribute,
            newest: Mutex::new(Newest::default()),
            scanned: Mutex::new(None),
            scanning: tokio::sync::Mutex::new(()),
            warned: Mutex::new(HashSet::new()),
        }
    }

    fn newest(&self) -> std::sync::MutexGuard<'_, Newest> {
        self.newest.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn scanned_at(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        self.scanned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an answer of "no call" (`found` false) is to be checked
    /// with a Scan first: always before the first Scan, then when the last
    /// one is at least `min_age` old (a call written a moment ago may not
    /// have come off the stream yet).
    pub fn needs_scan(&self, found: bool, min_age: std::time::Duration) -> bool {
        match *self.scanned_at() {
            None => true,
            Some(at) => !found && at.elapsed() >= min_age,
        }
    }

    pub fn current(&self) -> Option<CallDetails> {
        self.newest().details.clone()
    }

    pub fn of(&self, owner: &str) -> Option<CallDetails> {
        self.newest().by_owner.get(owner).cloned()
    }

    /// The newest `limit` calls known, newest first.
    pub fn recent(&self, limit: usize) -> Vec<CallDetails> {
        self.newest().recent(limit)
    }

    pub fn forget(&self) {
        *self.newest() = Newest::default();
        *self.scanned_at() = None;
    }

    /// A contact item seen on the stream (inserted or updated). Whether a
    /// different call became the newest: that is a new call to announce.
    pub fn on_change(&self, details: CallDetails) -> bool {
        let mut newest = self.newest();
        let before = newest.details.as_ref().map(|d| d.call_id.clone());
        let id = details.call_id.clone();
        newest.take(details, &self.owner_attribute, true) && before.as_ref() != Some(&id)
    }

    /// A contact item deleted: if it was a newest call (overall or an
    /// agent's), the next ask scans again.
    pub fn on_remove(&self, contact_id: Option<&str>) {
        let mut newest = self.newest();
        let gone = |d: &CallDetails| Some(d.call_id.as_str()) == contact_id;
        newest.recent.retain(|_, d| !gone(d));
        if newest.details.as_ref().is_some_and(gone) || newest.by_owner.values().any(gone) {
            // The other recent calls stay on the floor meanwhile.
            let recent = std::mem::take(&mut newest.recent);
            *newest = Newest {
                recent,
                ..Newest::default()
            };
            *self.scanned_at() = None;
        }
    }

    /// Scans the table and takes what it found in (see
    /// [`Newest::after_scan`]; `streamed`: the table is followed on its
    /// stream). The newest call, if it changed.
    pub async fn scan(
        &self,
        client: &Client,
        table: &str,
        streamed: bool,
        page_limit: Option<i32>,
        audio_stream_prefix: Option<&str>,
        on_page: impl Fn(),
    ) -> Result<Option<CallId>, StoreError> {
        let _one = self.scanning.lock().await;
        let mut found = Newest::default();
        let mut pages = client
            .scan()
            .table_name(table)
            .set_limit(page_limit)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            on_page();
            let page = page.map_err(|e| classify("Scan", table, e))?;
            for item in page.items() {
                match items::contact_details(item, audio_stream_prefix) {
                    Ok(d) => {
                        found.take(d, &self.owner_attribute, false);
                    }
                    Err(e) => {
                        let key = item
                            .get(ATTR_CONTACT_ID)
                            .and_then(scalar_string)
                            .unwrap_or_default();
                        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
                        if warned.insert(key.clone()) {
                            tracing::warn!(table, contact_id = %key.chars().take(64).collect::<String>(), error = %e, "contact item skipped");
                        }
                    }
                }
            }
        }
        if found.recent.len() > RECENT_KEPT {
            found.prune();
        }
        let mut newest = self.newest();
        let before = newest.details.as_ref().map(|d| d.call_id.clone());
        let merged = newest.after_scan(found, streamed, &self.owner_attribute);
        let after = merged.details.as_ref().map(|d| d.call_id.clone());
        *newest = merged;
        drop(newest);
        *self.scanned_at() = Some(std::time::Instant::now());
        Ok(after.filter(|a| before.as_ref() != Some(a)))
    }
}

impl DynamoStore {
    /// Scans contactDetails for the newest call (by parsed timestamp).
    pub(super) async fn scan_latest(&self) -> Result<Option<CallId>, StoreError> {
        self.latest
            .scan(
                &self.client,
                &self.settings.tables.contact,
                self.sources.is_streamed(TableRole::Contact),
                self.settings.page_limit,
                self.settings.audio_stream_prefix.as_deref(),
                || Counters::count(&self.counters.scan),
            )
            .await
    }

    /// One Scan, announcing the newest call if it changed.
    pub(super) async fn look_for_new_calls(&self) {
        match self.scan_latest().await {
            Ok(Some(id)) => self.notify(StoreNotice::CallStarted(id)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for new calls failed"),
        }
    }
}

/// While contactDetails can't be followed on its stream, looks for new
/// calls every `every`.
pub(super) async fn poll_latest(store: Weak<DynamoStore>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(store) = store.upgrade() else { return };
        if !store.sources.is_streamed(TableRole::Contact) {
            store.look_for_new_calls().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn call(n: u8, started: i64, owner: &str) -> CallDetails {
        let id = CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap();
        let mut attributes = BTreeMap::new();
        if !owner.is_empty() {
            attributes.insert("agentUsername".to_string(), owner.to_string());
        }
        CallDetails {
            call_id: id,
            customer_phone: None,
            started_at_ms: Some(started),
            ended_at_ms: None,
            audio_stream: None,
            attributes,
        }
    }

    #[test]
    fn a_new_call_is_announced_whether_inserted_or_completed_by_an_update() {
        let t = LatestTracker::new("agentUsername".into());
        assert!(t.on_change(call(1, 1_000, "amy")));
        // The same call again (an update) is not a new call.
        assert!(!t.on_change(call(1, 1_000, "amy")));
        // A later call announced, whatever the event kind.
        assert!(t.on_change(call(2, 2_000, "bob")));
        // An older call completed late does not take over.
        assert!(!t.on_change(call(3, 500, "amy")));
        assert_eq!(t.current().unwrap().call_id, call(2, 0, "").call_id);
        assert_eq!(t.of("amy").unwrap().call_id, call(1, 0, "").call_id);
        assert_eq!(t.of("bob").unwrap().call_id, call(2, 0, "").call_id);
    }

    #[test]
    fn no_call_is_checked_with_a_scan_no_more_often_than_asked() {
        let t = LatestTracker::new("agentUsername".into());
        let second = std::time::Duration::from_secs(1);
        assert!(t.needs_scan(true, second), "before the first scan");
        *t.scanned_at() = Some(std::time::Instant::now());
        assert!(!t.needs_scan(true, second));
        assert!(!t.needs_scan(false, second), "just scanned");
        assert!(t.needs_scan(false, std::time::Duration::ZERO));
        *t.scanned_at() = Some(std::time::Instant::now() - 2 * second);
        assert!(t.needs_scan(false, second));
        assert!(!t.needs_scan(true, second));
    }

    #[test]
    fn an_empty_agent_id_is_never_an_owner() {
        let t = LatestTracker::new("agentUsername".into());
        let mut c = call(1, 1_000, "");
        c.attributes.insert("agentUsername".into(), String::new());
        t.on_change(c);
        assert!(t.of("").is_none());
    }

    #[test]
    fn a_scan_keeps_a_streamed_call_it_missed_and_drops_a_deleted_one_when_polled() {
        let owner = "agentUsername";
        let mut known = Newest::default();
        known.take(call(2, 2_000, "amy"), owner, true);
        let mut found = Newest::default();
        found.take(call(1, 1_000, "amy"), owner, false);
        let id = |n| call(n, 0, "").call_id;

        let streamed = known.after_scan(found.clone(), true, owner);
        assert_eq!(streamed.details.map(|d| d.call_id), Some(id(2)));
        assert_eq!(streamed.by_owner["amy"].call_id, id(2));

        let polled = known.after_scan(found, false, owner);
        assert_eq!(polled.details.map(|d| d.call_id), Some(id(1)));
        assert_eq!(polled.by_owner["amy"].call_id, id(1));
        let emptied = known.after_scan(Newest::default(), false, owner);
        assert!(emptied.details.is_none() && emptied.by_owner.is_empty());
    }

    #[test]
    fn the_recent_calls_are_the_newest_first_each_in_its_latest_copy_and_bounded() {
        let t = LatestTracker::new("agentUsername".into());
        for n in 1..=5 {
            t.on_change(call(n, i64::from(n) * 1_000, "amy"));
        }
        let mut ended = call(2, 2_000, "amy");
        ended.ended_at_ms = Some(9_000);
        t.on_change(ended);
        let recent = t.recent(3);
        let ids: Vec<_> = recent.iter().map(|d| d.started_at_ms).collect();
        assert_eq!(ids, [Some(5_000), Some(4_000), Some(3_000)]);
        assert_eq!(t.recent(10)[3].ended_at_ms, Some(9_000));
        t.on_remove(Some("00000000-0000-4000-8000-000000000005"));
        assert_eq!(t.recent(1)[0].started_at_ms, Some(4_000));

        let mut many = Newest::default();
        for n in 0..(2 * RECENT_KEPT + 1) {
            let id = CallId::parse(&format!("00000000-0000-4000-8000-{n:012}")).unwrap();
            let mut d = call(1, n as i64, "");
            d.call_id = id;
            many.take(d, "agentUsername", false);
        }
        assert_eq!(many.recent.len(), RECENT_KEPT);
        assert_eq!(
            many.recent(1)[0].started_at_ms,
            Some(2 * RECENT_KEPT as i64)
        );
    }

    #[test]
    fn deleting_the_newest_call_asks_for_a_new_scan() {
        let t = LatestTracker::new("agentUsername".into());
        t.on_change(call(1, 1_000, "amy"));
        *t.scanned_at() = Some(std::time::Instant::now());
        t.on_remove(Some("00000000-0000-4000-8000-000000000099"));
        assert!(!t.needs_scan(true, std::time::Duration::ZERO));
        t.on_remove(Some("00000000-0000-4000-8000-000000000001"));
        assert!(t.needs_scan(true, std::time::Duration::ZERO));
        assert!(t.current().is_none());
    }
}
