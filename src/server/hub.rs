//! Fan-out: one shared reader per watched call, and one shared watcher for
//! new calls, however many browsers are open.
//!
//! The store announces *that* something changed; a call's feed then reads
//! *what* changed after its own position, once, and broadcasts it to every
//! viewer of that call. Viewers that fall behind the broadcast re-read from
//! the store after their own position, so nothing is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, Notify, OnceCell};
use tracing::Instrument;

use crate::model::{Alert, CallDetails, CallId, Segment, SegmentKey, Seq};
use crate::protocol::ServerMsg;

use super::alerts::Alerts;
use super::metrics::{Metrics, Resync};
use super::store::metered::MeteredStore;
use super::store::{CallStore, StoreError, StoreNotice};

/// Events a call's feed broadcasts to its viewers.
#[derive(Clone, Debug)]
pub enum FeedEvent {
    /// Shared: every viewer's copy of the event is a reference count.
    Segment(Arc<LiveSegment>),
    Details(CallDetails),
    /// The store stopped (false) or resumed (true) answering for this call.
    Source(bool),
    /// A final line raised an alert (already kept with the call).
    Alert(Alert),
}

/// A line as its call's feed read it, with its `transcript` frame
/// serialized once for all the call's viewers: with N viewers the same
/// text went through JSON N times before, once per socket.
#[derive(Debug)]
pub struct LiveSegment {
    pub segment: Segment,
    /// The frame's text, shared (cloning it does not copy the bytes). None
    /// only if it could not be encoded: each socket then tries itself and
    /// reports it as before.
    pub frame: Option<Utf8Bytes>,
}

impl LiveSegment {
    pub fn new(segment: Segment) -> Self {
        // One clone per line, for all its viewers.
        let frame = match serde_json::to_string(&ServerMsg::Transcript(segment.clone())) {
            Ok(text) => Some(Utf8Bytes::from(text)),
            Err(e) => {
                tracing::error!(error = %e, "could not encode a transcript frame");
                None
            }
        };
        Self { segment, frame }
    }
}

/// Per-feed broadcast capacity. A viewer further behind than this re-reads
/// from the store instead (see `ws`), so it bounds memory, not correctness.
const FEED_CAPACITY: usize = 256;
const NEW_CALL_CAPACITY: usize = 64;
/// Page size for reads of a call's changes.
pub const PAGE: usize = 500;

pub struct Hub {
    store: Arc<dyn CallStore>,
    /// Each watched call's feed, started once by its first viewer. The map
    /// is locked only to look up or remove; starting a feed reads the store
    /// outside it, so a slow call never holds up another.
    feeds: std::sync::Mutex<HashMap<CallId, Slot>>,
    new_calls: broadcast::Sender<CallDetails>,
    linger: Duration,
    metrics: Arc<Metrics>,
    /// Judges each final line a feed reads (none: no alerts).
    alerts: std::sync::OnceLock<Arc<Alerts>>,
}

struct Feed {
    tx: broadcast::Sender<FeedEvent>,
    wake: Notify,
    /// Listeners that watch in the background (the floor, which follows
    /// every live call): a feed heard by no one else is unwatched.
    background: AtomicUsize,
}

impl Feed {
    /// Whether someone other than a background listener is subscribed.
    fn watched(&self) -> bool {
        self.tx.receiver_count() > self.background.load(Ordering::Relaxed)
    }
}

/// A background listener's place on a feed; let go when dropped.
pub struct Background(Arc<Feed>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.background.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An unwatched feed whose call has not changed for this many reads in a
/// row reads half as often, then again, up to [`QUIET_MAX`]: a call left
/// live upstream long after anyone spoke costs little. A viewer's
/// subscription wakes it and it reads at its pace again.
const QUIET_AFTER: u32 = 10;
const QUIET_MAX: Duration = Duration::from_secs(4);

/// How long an unwatched feed waits between reads after `quiet` reads
/// that found nothing new.
fn unwatched_tick(tick: Duration, quiet: u32) -> Duration {
    let doublings = (quiet / QUIET_AFTER).min(3);
    (tick * 2u32.pow(doublings)).min(QUIET_MAX.max(tick))
}

type Slot = Arc<OnceCell<Arc<Feed>>>;

impl Hub {
    /// Starts the shared new-call watcher. `linger` is how long a call's feed
    /// outlives its last viewer.
    /// Its counts go to metrics of its own, which nothing serves.
    pub fn start(store: Arc<dyn CallStore>, linger: Duration) -> Arc<Self> {
        Self::start_metered(store, linger, Arc::new(Metrics::new()))
    }

    /// As [`Hub::start`], counting into `metrics`: every store read (the
    /// store is wrapped in a [`MeteredStore`]), feeds, and resyncs.
    pub fn start_metered(
        store: Arc<dyn CallStore>,
        linger: Duration,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let (new_calls, _) = broadcast::channel(NEW_CALL_CAPACITY);
        let hub = Arc::new(Self {
            store: Arc::new(MeteredStore::new(store, metrics.clone())),
            feeds: std::sync::Mutex::new(HashMap::new()),
            new_calls,
            linger,
            metrics,
            alerts: std::sync::OnceLock::new(),
        });
        tokio::spawn(watch_store(Arc::downgrade(&hub)));
        hub
    }

    /// Judges every final line the feeds read from now on (set once, at
    /// start).
    pub fn set_alerts(&self, alerts: Arc<Alerts>) {
        let _ = self.alerts.set(alerts);
    }

    /// The rules and the alerts kept, if alerts are on.
    pub fn alerts(&self) -> Option<&Arc<Alerts>> {
        self.alerts.get()
    }

    pub fn store(&self) -> &Arc<dyn CallStore> {
        &self.store
    }

    /// What the server counts (served at `/metrics` when configured).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// New calls, as they start.
    pub fn new_calls(&self) -> broadcast::Receiver<CallDetails> {
        self.new_calls.subscribe()
    }

    /// Subscribes to a call's live changes, starting its feed if this is the
    /// first viewer. Everything written after this returns is delivered
    /// (or, if the viewer lags, can be re-read from the store).
    pub async fn subscribe(
        self: &Arc<Self>,
        id: &CallId,
    ) -> Result<broadcast::Receiver<FeedEvent>, StoreError> {
        let (rx, feed) = self.join(id).await?;
        // A quiet unwatched feed may be reading slowly: at its pace again.
        feed.wake.notify_one();
        Ok(rx)
    }

    /// Subscribes in the background (the floor): the feed runs for this
    /// listener too, but counts as unwatched while no one else listens.
    pub async fn subscribe_background(
        self: &Arc<Self>,
        id: &CallId,
    ) -> Result<(broadcast::Receiver<FeedEvent>, Background), StoreError> {
        let (rx, feed) = self.join(id).await?;
        feed.background.fetch_add(1, Ordering::Relaxed);
        Ok((rx, Background(feed)))
    }

    async fn join(
        self: &Arc<Self>,
        id: &CallId,
    ) -> Result<(broadcast::Receiver<FeedEvent>, Arc<Feed>), StoreError> {
        loop {
            let slot = self.feeds().entry(id.clone()).or_default().clone();
            let started = slot.get_or_try_init(|| self.start_feed(id)).await;
            let feed = match started {
                Ok(feed) => feed,
                Err(e) => {
                    let mut feeds = self.feeds();
                    if feeds
                        .get(id)
                        .is_some_and(|s| Arc::ptr_eq(s, &slot) && s.get().is_none())
                    {
                        feeds.remove(id);
                    }
                    return Err(e);
                }
            };
            let rx = feed.tx.subscribe();
            // The feed may have retired between the look-up and the
            // subscription: then start again.
            if self
                .feeds()
                .get(id)
                .is_some_and(|current| Arc::ptr_eq(current, &slot))
            {
                return Ok((rx, feed.clone()));
            }
        }
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, Slot>> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Positions a call's feed and starts it. Called once per slot.
    async fn start_feed(self: &Arc<Self>, id: &CallId) -> Result<Arc<Feed>, StoreError> {
        // Position the feed before anyone can subscribe, so that the
        // viewer's own read of the backlog (made after this) overlaps it.
        let start = self.store.last_seq(id).await?;
        let details = self.store.call_details(id).await?;
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        let feed = Arc::new(Feed {
            tx,
            wake: Notify::new(),
            background: AtomicUsize::new(0),
        });
        // A change written while the feed was being positioned woke no
        // one (the feed was not registered yet): its first turn reads.
        feed.wake.notify_one();
        let span = tracing::info_span!("feed", call_id = %id);
        tokio::spawn(
            run_feed(self.clone(), id.clone(), feed.clone(), start, details).instrument(span),
        );
        Ok(feed)
    }

    /// Number of calls with a running feed (for metrics and tests).
    pub async fn active_feeds(&self) -> usize {
        self.feeds().values().filter(|s| s.get().is_some()).count()
    }

    async fn wake(&self, id: &CallId) {
        if let Some(feed) = self.feeds().get(id).and_then(|s| s.get()) {
            feed.wake.notify_one();
        }
    }

    async fn wake_all(&self) {
        for feed in self.feeds().values().filter_map(|s| s.get()) {
            feed.wake.notify_one();
        }
    }

    /// Removes a feed if nobody listens; returns whether it did.
    async fn retire_if_idle(&self, id: &CallId, feed: &Arc<Feed>) -> bool {
        let mut feeds = self.feeds();
        let mine = feeds
            .get(id)
            .and_then(|s| s.get())
            .is_some_and(|f| Arc::ptr_eq(f, feed));
        if mine && feed.tx.receiver_count() == 0 {
            feeds.remove(id);
            true
        } else {
            false
        }
    }
}

/// The one watcher of the store's notices: routes changes to feeds and
/// announces new calls.
async fn watch_store(hub: std::sync::Weak<Hub>) {
    let Some(mut notices) = hub.upgrade().map(|h| h.store.notices()) else {
        return;
    };
    loop {
        let notice = notices.recv().await;
        let Some(hub) = hub.upgrade() else { return };
        match notice {
            // Read apart, so a slow read never holds up the other notices.
            Ok(StoreNotice::CallStarted(id)) => {
                tokio::spawn(async move {
                    match hub.store.call_details(&id).await {
                        Ok(Some(details)) => {
                            tracing::info!(call_id = %id, "new call");
                            let _ = hub.new_calls.send(details);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(call_id = %id, error = %e, "new call not readable")
                        }
                    }
                });
            }
            Ok(StoreNotice::SegmentsChanged(id) | StoreNotice::DetailsChanged(id)) => {
                hub.wake(&id).await
            }
            Ok(StoreNotice::Resync) => {
                hub.metrics.resync(Resync::Store);
                hub.wake_all().await
            }
            // The floor drops its row; a feed of the call ends with its
            // viewers.
            Ok(StoreNotice::CallRemoved(_)) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                hub.metrics.resync(Resync::Store);
                tracing::warn!(
                    missed = n,
                    "store notices lagged; re-reading every watched call"
                );
                hub.wake_all().await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// A call's shared reader: on every wake-up (or poll tick), reads what
/// changed after its position and broadcasts it.
async fn run_feed(
    hub: Arc<Hub>,
    id: CallId,
    feed: Arc<Feed>,
    mut last: Seq,
    mut details: Option<CallDetails>,
) {
    tracing::debug!(after = %last, "feed started");
    let _running = hub.metrics.feed_running();
    let mut idle_since: Option<tokio::time::Instant> = None;
    let mut backoff = Duration::from_millis(250);
    let mut healthy = true;
    let mut judged = Judged::default();
    // Reads in a row that found nothing new.
    let mut quiet: u32 = 0;
    judge_backlog(&hub, &id, &feed, last, &mut judged).await;
    loop {
        // Asked every time: a backend polls faster while a stream is down.
        let poll = hub.store.poll_interval();
        let tick = poll.unwrap_or(hub.linger).min(hub.linger);
        let tick = if feed.watched() {
            tick
        } else {
            unwatched_tick(tick, quiet)
        };
        let woken = tokio::time::timeout(tick, feed.wake.notified())
            .await
            .is_ok();

        if feed.tx.receiver_count() == 0 {
            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= hub.linger && hub.retire_if_idle(&id, &feed).await {
                tracing::debug!("feed stopped: no viewers");
                return;
            }
        } else {
            idle_since = None;
        }
        if !woken && poll.is_none() {
            continue;
        }
        let before = (last, details.clone());
        match read_changes(&hub, &id, &feed, &mut last, &mut details, &mut judged).await {
            Ok(()) => {
                quiet = if before == (last, details.clone()) {
                    quiet.saturating_add(1)
                } else {
                    0
                };
                if !healthy {
                    tracing::info!("data source answering again");
                    healthy = true;
                    let _ = feed.tx.send(FeedEvent::Source(true));
                }
                backoff = Duration::from_millis(250);
            }
            Err(e) => {
                if healthy {
                    healthy = false;
                    let _ = feed.tx.send(FeedEvent::Source(false));
                }
                tracing::warn!(error = %e, retry_in = ?backoff, "feed read failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                feed.wake.notify_one();
            }
        }
    }
}

/// The text of each final line already judged, so a final is judged once
/// (again only if a late update changes its words).
#[derive(Default)]
struct Judged(HashMap<SegmentKey, String>);

impl Judged {
    /// Whether `seg` is a final not judged yet in these words.
    fn is_new(&mut self, seg: &Segment) -> bool {
        if seg.partial || self.0.get(&seg.key()) == Some(&seg.text) {
            return false;
        }
        self.0.insert(seg.key(), seg.text.clone());
        true
    }
}

/// Judges the lines written before the feed started (a call's first
/// lines can come before the server hears of the call; a server started
/// mid-call): alerts are kept once whoever judges, and announced.
async fn judge_backlog(hub: &Hub, id: &CallId, feed: &Feed, until: Seq, judged: &mut Judged) {
    let Some(alerts) = hub.alerts() else { return };
    let mut after = Seq::ZERO;
    while after < until {
        let page = match hub.store.segments_after(id, after, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "earlier lines not judged for alerts");
                return;
            }
        };
        for seg in page.segments.iter().filter(|s| s.seq <= until) {
            if judged.is_new(seg) {
                for alert in alerts.raise(id, seg).await {
                    let _ = feed.tx.send(FeedEvent::Alert(alert));
                }
            }
        }
        match page.segments.last() {
            Some(last) if page.more => after = last.seq,
            _ => return,
        }
    }
}

async fn read_changes(
    hub: &Hub,
    id: &CallId,
    feed: &Feed,
    last: &mut Seq,
    details: &mut Option<CallDetails>,
    judged: &mut Judged,
) -> Result<(), StoreError> {
    if let Some(current) = hub.store.call_details(id).await? {
        if details.as_ref() != Some(&current) {
            let _ = feed.tx.send(FeedEvent::Details(current.clone()));
            *details = Some(current);
        }
    }
    loop {
        let page = hub.store.segments_after(id, *last, PAGE).await?;
        for seg in page.segments {
            *last = seg.seq;
            let raised = match hub.alerts() {
                Some(alerts) if judged.is_new(&seg) => alerts.raise(id, &seg).await,
                _ => Vec::new(),
            };
            let _ = feed
                .tx
                .send(FeedEvent::Segment(Arc::new(LiveSegment::new(seg))));
            for alert in raised {
                let _ = feed.tx.send(FeedEvent::Alert(alert));
            }
        }
        if !page.more {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::Speaker;
    use crate::server::alerts::book::LocalBook;
    use crate::server::store::memory::MemoryStore;
    use crate::server::store::{CallSink, NewContact, SegmentWrite};

    /// A hub on an embedded store holding one started call.
    async fn hub_with_a_call() -> (Arc<MemoryStore>, Arc<Hub>, CallId) {
        let store = Arc::new(MemoryStore::new(10));
        let hub = Hub::start(store.clone(), Duration::from_secs(1));
        let id = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        store
            .start_call(NewContact {
                call_id: id.clone(),
                attributes: BTreeMap::from([("contactId".to_string(), id.to_string())]),
            })
            .await
            .unwrap();
        (store, hub, id)
    }

    #[test]
    fn a_lines_frame_is_its_transcript_frame_encoded_once() {
        let segment = Segment {
            seq: Seq(3),
            segment_id: "s-1".into(),
            speaker: Speaker::Agent,
            start_ms: 1200,
            end_ms: 2400,
            text: "Hello \"there\"".into(),
            partial: true,
        };
        let live = LiveSegment::new(segment.clone());
        assert_eq!(live.segment, segment);
        let frame = live.frame.expect("encoded");
        let back: ServerMsg = serde_json::from_str(&frame).unwrap();
        assert_eq!(back, ServerMsg::Transcript(segment));
    }

    #[test]
    fn an_unwatched_quiet_feed_reads_less_often_up_to_a_cap() {
        let tick = Duration::from_millis(500);
        assert_eq!(unwatched_tick(tick, 0), tick);
        assert_eq!(unwatched_tick(tick, QUIET_AFTER - 1), tick);
        assert_eq!(unwatched_tick(tick, QUIET_AFTER), tick * 2);
        assert_eq!(unwatched_tick(tick, 2 * QUIET_AFTER), tick * 4);
        assert_eq!(unwatched_tick(tick, 3 * QUIET_AFTER), QUIET_MAX);
        assert_eq!(unwatched_tick(tick, u32::MAX), QUIET_MAX);
        // A pace already slower than the cap is kept.
        let slow = Duration::from_secs(10);
        assert_eq!(unwatched_tick(slow, u32::MAX), slow);
    }

    #[tokio::test]
    async fn a_feed_heard_only_in_the_background_is_unwatched_until_a_viewer_comes() {
        let (_store, hub, id) = hub_with_a_call().await;
        let (floor_rx, floor) = hub.subscribe_background(&id).await.unwrap();
        let feed = hub.feeds().get(&id).and_then(|s| s.get().cloned()).unwrap();
        assert!(!feed.watched());
        let viewer = hub.subscribe(&id).await.unwrap();
        assert!(feed.watched());
        drop(viewer);
        assert!(!feed.watched());
        drop(floor);
        drop(floor_rx);
        assert_eq!(feed.background.load(Ordering::Relaxed), 0);
        assert!(!feed.watched());
    }

    #[tokio::test]
    async fn lines_written_before_a_feed_started_are_judged_once_it_starts() {
        let (store, hub, id) = hub_with_a_call().await;
        let rules =
            std::env::temp_dir().join(format!("travoiq-hub-rules-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&rules);
        hub.set_alerts(Arc::new(Alerts::new(Arc::new(LocalBook::new(&rules)))));
        let line = |start_ms, text: &str, partial| SegmentWrite {
            speaker: Speaker::Customer,
            segment_id: format!("{start_ms}"),
            start_ms,
            end_ms: start_ms + 500,
            text: text.into(),
            partial,
        };
        // Before anyone watches: a final that matches, a partial that would.
        store
            .write_segment(&id, line(0, "I want a refund", false))
            .await
            .unwrap();
        store
            .write_segment(&id, line(900, "cancel", true))
            .await
            .unwrap();
        let mut rx = hub.subscribe(&id).await.unwrap();
        let alert = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(FeedEvent::Alert(alert)) = rx.recv().await {
                    return alert;
                }
            }
        })
        .await
        .expect("the earlier final is judged");
        assert_eq!(alert.label, "Refund");
        // The partial's final comes live, judged once.
        store
            .write_segment(&id, line(900, "cancel it", false))
            .await
            .unwrap();
        store
            .write_segment(&id, line(900, "cancel it", false))
            .await
            .unwrap();
        let mut labels = Vec::new();
        while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
        {
            if let FeedEvent::Alert(a) = event {
                labels.push(a.label);
            }
        }
        assert_eq!(labels, ["Cancellation"]);
        let _ = std::fs::remove_file(&rules);
    }
}
