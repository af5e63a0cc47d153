//! The floor: one shared, live table of the recent calls for every open
//! floor view. It is built once per server from the store's recent calls,
//! then kept by pushes: new calls from the hub's watcher, and each live
//! call's lines and end from that call's shared feed (the same feed its
//! viewers share). No floor viewer reads the store; what each one may see
//! of a row is decided at the door ([`crate::server::access`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, OnceCell, Semaphore};

use crate::model::{Alert, AlertSet, CallDetails, CallId, CallStatus, FloorRow, LastLine, Seq};

use super::hub::{FeedEvent, Hub, PAGE};
use super::store::{StoreError, StoreNotice};

/// What changed on the floor.
#[derive(Clone, Debug)]
pub enum FloorChange {
    /// One call's row as it now stands (boxed: a row is large, and the
    /// channel holds many changes).
    Row(Box<FloorRow>),
    /// Calls left the floor (or many changed): read the whole table again.
    Table,
}

/// Row updates buffered per floor viewer; one further behind is sent the
/// whole table again.
const ROW_CAPACITY: usize = 512;
/// Calls whose last line is read at once when the floor starts.
const FILL_AT_ONCE: usize = 4;

pub struct Floor {
    hub: Arc<Hub>,
    /// How many recent calls the floor holds.
    limit: usize,
    rows: Mutex<HashMap<CallId, FloorRow>>,
    /// Each call's alerts, counted into its row.
    alerts: Mutex<HashMap<CallId, AlertSet>>,
    tx: broadcast::Sender<FloorChange>,
    started: OnceCell<()>,
}

impl Floor {
    pub fn new(hub: Arc<Hub>, limit: usize) -> Arc<Self> {
        let (tx, _) = broadcast::channel(ROW_CAPACITY);
        Arc::new(Self {
            hub,
            limit,
            rows: Mutex::new(HashMap::new()),
            alerts: Mutex::new(HashMap::new()),
            tx,
            started: OnceCell::new(),
        })
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, FloorRow>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every row, newest call first, and the updates that follow them
    /// (subscribed before the rows are read: nothing falls between).
    /// Started by the first floor viewer.
    pub async fn table(
        self: &Arc<Self>,
    ) -> Result<(Vec<FloorRow>, broadcast::Receiver<FloorChange>), StoreError> {
        self.started.get_or_try_init(|| self.start()).await?;
        let updates = self.tx.subscribe();
        Ok((self.snapshot(), updates))
    }

    /// Starts the floor now rather than at its first viewer, trying again
    /// until the store answers. Running, it keeps every live call's feed
    /// open, so every final line is judged for alerts even while nobody
    /// watches that call.
    pub async fn keep_running(self: Arc<Self>) {
        let mut wait = std::time::Duration::from_secs(1);
        while let Err(e) = self.started.get_or_try_init(|| self.start()).await {
            tracing::warn!(error = %e, retry_in = ?wait, "floor not started");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(30));
        }
    }

    /// The rows now, newest call first, at most `limit`.
    pub fn snapshot(&self) -> Vec<FloorRow> {
        let mut rows: Vec<FloorRow> = self.rows().values().cloned().collect();
        sort_newest_first(&mut rows);
        rows.truncate(self.limit);
        rows
    }

    async fn start(self: &Arc<Self>) -> Result<(), StoreError> {
        // Listening first: a call that starts during the read is not missed.
        let new_calls = self.hub.new_calls();
        let notices = self.hub.store().notices();
        let recent = self.hub.store().recent_calls(self.limit).await?;
        {
            let mut rows = self.rows();
            for call in &recent {
                rows.entry(call.call_id.clone())
                    .or_insert_with(|| fresh_row(call));
            }
        }
        let fill = Arc::new(Semaphore::new(FILL_AT_ONCE));
        for call in recent {
            self.follow(call, Some(fill.clone()));
        }
        tokio::spawn(watch_new_calls(Arc::downgrade(self), new_calls));
        tokio::spawn(watch_removals(Arc::downgrade(self), notices));
        tracing::info!(calls = self.rows().len(), "floor started");
        Ok(())
    }

    /// Keeps a call's row: its last line read once, then, while it is live,
    /// its lines and end from its feed. `fill`: read the last line under
    /// this limit (the floor's first read of many calls).
    fn follow(self: &Arc<Self>, call: CallDetails, fill: Option<Arc<Semaphore>>) {
        let floor = Arc::downgrade(self);
        tokio::spawn(async move {
            let live = call.status() == CallStatus::Live;
            // Subscribed before the last line is read: no line between.
            // In the background: a call only the floor follows is unwatched.
            let feed = match floor.upgrade() {
                Some(f) if live => f.hub.subscribe_background(&call.call_id).await.ok(),
                _ => None,
            };
            // The call as it stands once the feed is on: a call that ended
            // before (its end then comes as no feed event) is seen ended.
            let mut feed = feed;
            if let (Some(f), Some(_)) = (floor.upgrade(), feed.as_ref()) {
                if let Ok(Some(now)) = f.hub.store().call_details(&call.call_id).await {
                    let ended = now.status() == CallStatus::Ended;
                    f.update(&call.call_id, |row| {
                        let changed = row.call != now;
                        row.call = now;
                        changed
                    });
                    if ended {
                        feed = None;
                    }
                }
            }
            let permit = match &fill {
                Some(fill) => fill.clone().acquire_owned().await.ok(),
                None => None,
            };
            if let Some(f) = floor.upgrade() {
                f.read_last_line(&call.call_id).await;
                f.read_alerts(&call.call_id).await;
            }
            drop(permit);
            if let Some((feed, _background)) = feed {
                follow_feed(floor, call.call_id, feed).await;
            }
        });
    }

    /// Reads a call's last final line from the store (once per call).
    async fn read_last_line(&self, id: &CallId) {
        let store = self.hub.store();
        let mut after = Seq::ZERO;
        let mut last: Option<LastLine> = None;
        loop {
            match store.segments_after(id, after, PAGE).await {
                Ok(page) => {
                    for seg in &page.segments {
                        after = after.max(seg.seq);
                        if let Some(line) = LastLine::of(seg) {
                            if line.supersedes(last.as_ref()) {
                                last = Some(line);
                            }
                        }
                    }
                    if !page.more {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(call_id = %id, error = %e, "floor: last line not read");
                    return;
                }
            }
        }
        if let Some(line) = last {
            self.update(id, |row| take_line(row, line));
        }
    }

    /// Reads the alerts kept with a call (once per call, and after the
    /// floor fell behind its feed).
    async fn read_alerts(&self, id: &CallId) {
        let Some(alerts) = self.hub.alerts() else {
            return;
        };
        match alerts.of_call(id).await {
            Ok(kept) => self.take_alerts(id, kept),
            Err(e) => tracing::warn!(call_id = %id, error = %e, "floor: alerts not read"),
        }
    }

    /// Counts alerts into a call's row (an alert already counted, the same
    /// rule on the same line, counts once).
    fn take_alerts(&self, id: &CallId, new: impl IntoIterator<Item = Alert>) {
        let counts = {
            let mut sets = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
            let set = sets.entry(id.clone()).or_default();
            let mut changed = false;
            for alert in new {
                changed |= set.add(alert);
            }
            if !changed {
                return;
            }
            set.counts()
        };
        self.update(id, |row| {
            let changed = row.alerts != counts;
            row.alerts = counts;
            changed
        });
    }

    /// Changes a row; tells every floor viewer when it changed.
    fn update(&self, id: &CallId, change: impl FnOnce(&mut FloorRow) -> bool) {
        let changed = {
            let mut rows = self.rows();
            rows.get_mut(id)
                .and_then(|row| change(row).then(|| row.clone()))
        };
        if let Some(row) = changed {
            let _ = self.tx.send(FloorChange::Row(Box::new(row)));
        }
    }

    /// A call gone from the store leaves the floor.
    fn remove(&self, id: &CallId) {
        self.alerts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if self.rows().remove(id).is_some() {
            let _ = self.tx.send(FloorChange::Table);
        }
    }

    /// Reads the recent calls again (the store may have lost or missed
    /// some): the calls it no longer has leave, new ones are added.
    async fn reload(self: &Arc<Self>) {
        let recent = match self.hub.store().recent_calls(self.limit).await {
            Ok(recent) => recent,
            Err(e) => {
                tracing::warn!(error = %e, "floor: recent calls not read again");
                return;
            }
        };
        let added: Vec<CallDetails> = {
            let mut rows = self.rows();
            let keep: std::collections::HashSet<&CallId> =
                recent.iter().map(|c| &c.call_id).collect();
            rows.retain(|id, _| keep.contains(id));
            recent
                .iter()
                .filter(|c| !rows.contains_key(&c.call_id))
                .cloned()
                .collect()
        };
        for call in added {
            self.rows().insert(call.call_id.clone(), fresh_row(&call));
            self.follow(call, None);
        }
        let _ = self.tx.send(FloorChange::Table);
    }

    /// A call that just started: a row of its own, then followed.
    fn add(self: &Arc<Self>, call: CallDetails) {
        let (row, is_new) = {
            let mut rows = self.rows();
            let is_new = !rows.contains_key(&call.call_id);
            // A call announced again (its contact item written anew) keeps
            // the last line its row already has.
            let row = rows
                .entry(call.call_id.clone())
                .and_modify(|row| row.call = call.clone())
                .or_insert_with(|| fresh_row(&call))
                .clone();
            if rows.len() > 2 * self.limit {
                prune(&mut rows, self.limit);
            }
            (row, is_new)
        };
        let _ = self.tx.send(FloorChange::Row(Box::new(row)));
        if is_new {
            self.follow(call, None);
        }
    }
}

/// A row for a call the floor has just heard of.
fn fresh_row(call: &CallDetails) -> FloorRow {
    FloorRow {
        call: call.clone(),
        agent: None,
        last_line: None,
        alerts: Vec::new(),
    }
}

fn take_line(row: &mut FloorRow, line: LastLine) -> bool {
    if line.supersedes(row.last_line.as_ref()) && row.last_line.as_ref() != Some(&line) {
        row.last_line = Some(line);
        true
    } else {
        false
    }
}

/// Newest first; calls that started in the same second by id, so every
/// instance and the browser agree on the order.
pub fn sort_newest_first(rows: &mut [FloorRow]) {
    rows.sort_by(|a, b| {
        b.call
            .started_at_ms
            .cmp(&a.call.started_at_ms)
            .then_with(|| a.call.call_id.as_str().cmp(b.call.call_id.as_str()))
    });
}

/// Keeps the `limit` newest rows.
fn prune(rows: &mut HashMap<CallId, FloorRow>, limit: usize) {
    let mut all: Vec<_> = rows.drain().map(|(_, r)| r).collect();
    sort_newest_first(&mut all);
    all.truncate(limit);
    rows.extend(all.into_iter().map(|r| (r.call.call_id.clone(), r)));
}

async fn watch_new_calls(floor: Weak<Floor>, mut new_calls: broadcast::Receiver<CallDetails>) {
    loop {
        let call = new_calls.recv().await;
        let Some(floor) = floor.upgrade() else { return };
        match call {
            Ok(call) => floor.add(call),
            // Missed some: the store's recent calls hold them.
            Err(RecvError::Lagged(_)) => match floor.hub.store().recent_calls(floor.limit).await {
                Ok(recent) => {
                    let known: Vec<CallId> = floor.rows().keys().cloned().collect();
                    for call in recent.into_iter().filter(|c| !known.contains(&c.call_id)) {
                        floor.add(call);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "floor: new calls missed"),
            },
            Err(RecvError::Closed) => return,
        }
    }
}

/// Calls gone from the store leave the floor; after a resync (or missed
/// notices) the floor reads the recent calls again.
async fn watch_removals(floor: Weak<Floor>, mut notices: broadcast::Receiver<StoreNotice>) {
    loop {
        let notice = notices.recv().await;
        let Some(floor) = floor.upgrade() else { return };
        match notice {
            Ok(StoreNotice::CallRemoved(id)) => floor.remove(&id),
            Ok(StoreNotice::Resync) | Err(RecvError::Lagged(_)) => floor.reload().await,
            Ok(_) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// A live call's lines and end, from its feed, until it ends.
async fn follow_feed(floor: Weak<Floor>, id: CallId, mut feed: broadcast::Receiver<FeedEvent>) {
    loop {
        let event = feed.recv().await;
        let Some(floor) = floor.upgrade() else { return };
        match event {
            Ok(FeedEvent::Segment(live)) => {
                if let Some(line) = LastLine::of(&live.segment) {
                    floor.update(&id, |row| take_line(row, line));
                }
            }
            Ok(FeedEvent::Details(call)) => {
                let ended = call.status() == CallStatus::Ended;
                floor.update(&id, |row| {
                    let changed = row.call != call;
                    row.call = call;
                    changed
                });
                if ended {
                    return;
                }
            }
            Ok(FeedEvent::Alert(alert)) => floor.take_alerts(&id, [alert]),
            Ok(FeedEvent::Source(_)) => {}
            // Fell behind the feed: read the last line and alerts again.
            Err(RecvError::Lagged(_)) => {
                floor.read_last_line(&id).await;
                floor.read_alerts(&id).await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Segment, Speaker};
    use crate::server::store::memory::MemoryStore;
    use crate::server::store::{CallSink, CallStore, NewContact, SegmentWrite};
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn contact(id: &CallId, started: &str, agent: &str) -> NewContact {
        let mut attributes = BTreeMap::new();
        attributes.insert("contactId".into(), id.to_string());
        attributes.insert("customerPhoneNumber".into(), "+14155550100".into());
        attributes.insert("callTimestamp".into(), started.into());
        attributes.insert("agentUsername".into(), agent.into());
        NewContact {
            call_id: id.clone(),
            attributes,
        }
    }

    fn line(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
        SegmentWrite {
            speaker,
            segment_id: format!("{start_ms}"),
            start_ms,
            end_ms: start_ms + 500,
            text: text.into(),
            partial,
        }
    }

    async fn next_row(rx: &mut broadcast::Receiver<FloorChange>) -> FloorRow {
        loop {
            let change = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("a row update in time")
                .expect("the floor is running");
            if let FloorChange::Row(row) = change {
                return *row;
            }
        }
    }

    #[tokio::test]
    async fn the_floor_lists_recent_calls_and_follows_new_ones_lines_and_ends_by_push() {
        let store = Arc::new(MemoryStore::new(10));
        let old = CallId::parse("00000000-0000-4000-8000-000000000001").unwrap();
        store
            .start_call(contact(&old, "2026-11-30T10:00:00Z", "amy"))
            .await
            .unwrap();
        store
            .write_segment(&old, line(Speaker::Customer, 0, "First words", false))
            .await
            .unwrap();
        store
            .write_segment(&old, line(Speaker::Agent, 900, "Still typ", true))
            .await
            .unwrap();
        let hub = Hub::start(store.clone(), Duration::from_secs(1));
        let floor = Floor::new(hub, 100);

        let (rows, mut updates) = floor.table().await.unwrap();
        assert_eq!(rows.len(), 1);
        // The last line is read once the floor starts: a final, not the partial.
        let row = next_row(&mut updates).await;
        assert_eq!(row.last_line.unwrap().text, "First words");

        // A new call appears, pushed.
        let new = CallId::parse("00000000-0000-4000-8000-000000000002").unwrap();
        store
            .start_call(contact(&new, "2026-11-30T10:05:00Z", "bob"))
            .await
            .unwrap();
        let row = next_row(&mut updates).await;
        assert_eq!(row.call.call_id, new);
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Its partial changes nothing; its final is its last line.
        store
            .write_segment(&new, line(Speaker::Customer, 0, "Hel", true))
            .await
            .unwrap();
        store
            .write_segment(&new, line(Speaker::Customer, 0, "Hello there", false))
            .await
            .unwrap();
        let row = loop {
            let row = next_row(&mut updates).await;
            if row.call.call_id == new && row.last_line.is_some() {
                break row;
            }
        };
        assert_eq!(
            row.last_line,
            LastLine::of(&Segment {
                seq: Seq::ZERO,
                segment_id: String::new(),
                speaker: Speaker::Customer,
                start_ms: 0,
                end_ms: 0,
                text: "Hello there".into(),
                partial: false,
            })
        );
        // Its end is pushed.
        store.end_call(&new, 1_764_497_200_000).await.unwrap();
        let row = loop {
            let row = next_row(&mut updates).await;
            if row.call.call_id == new && row.call.ended_at_ms.is_some() {
                break row;
            }
        };
        assert_eq!(row.call.status(), CallStatus::Ended);

        // A call that ended between its announcement and the floor
        // following it (its end then comes as no feed event) is seen ended.
        let quick = CallId::parse("00000000-0000-4000-8000-000000000003").unwrap();
        store
            .start_call(contact(&quick, "2026-11-30T10:06:00Z", "cy"))
            .await
            .unwrap();
        store.end_call(&quick, 1_764_497_300_000).await.unwrap();
        // The floor has heard of it (its announcement read it ended)...
        while !floor.rows().contains_key(&quick) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // ...and now as an announcement a moment older would have it.
        let mut announced = store.call_details(&quick).await.unwrap().unwrap();
        announced.ended_at_ms = None;
        floor.rows().insert(quick.clone(), fresh_row(&announced));
        floor.follow(announced, None);
        let mut seen_ended = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if floor.rows()[&quick].call.status() == CallStatus::Ended {
                seen_ended = true;
                break;
            }
        }
        assert!(seen_ended, "the floor saw the call end");

        // Announced again (its contact item written anew), a call keeps
        // its last line.
        let again = store.call_details(&old).await.unwrap().unwrap();
        floor.add(again);
        assert_eq!(
            floor.rows()[&old]
                .last_line
                .as_ref()
                .map(|l| l.text.as_str()),
            Some("First words")
        );

        // Newest first.
        let ids: Vec<_> = floor
            .snapshot()
            .into_iter()
            .map(|r| r.call.call_id)
            .collect();
        assert_eq!(ids, [quick, new.clone(), old]);

        // A call the store forgets leaves the floor.
        let (_, mut changes) = floor.table().await.unwrap();
        store.clear();
        let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(change, FloorChange::Table));
        assert!(floor.snapshot().is_empty());
    }
}
