//! What the server counts for `/metrics` (Prometheus text format): open
//! sockets by kind, live feeds, frames sent and dropped, resyncs, store
//! requests by operation and outcome, and their latency.
//!
//! Every handle is resolved once, when [`Metrics::new`] builds the
//! registry: recording is one atomic operation, with no label look-up, no
//! lock and no allocation. Serving the figures is
//! `server::http::metrics`'s job; this module knows nothing of HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The kinds of live socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// `/ws/{call_id}`: one call's transcript.
    Call,
    /// `/ws/calls`: new calls.
    Lobby,
}

/// Why a frame meant for a viewer was not sent on the live path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The viewer fell behind its call's broadcast; it re-reads them from
    /// the store (a resync), so nothing is lost on screen.
    Lagged,
    /// The client took no frame for `ws_send_timeout_secs`: the socket
    /// was closed.
    SlowClient,
}

/// Why a reader read again from the store instead of following live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resync {
    /// A viewer fell behind its call's broadcast.
    ViewerLagged,
    /// The data source answered again after failing.
    SourceBack,
    /// The store said changes may have been missed (a stream became
    /// readable, or stopped being readable; its notices lagged).
    Store,
}

/// The store's operations (the `CallStore` trait's reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    LatestCall,
    LatestCallOf,
    CallDetails,
    RecentCalls,
    SegmentsAfter,
    SegmentsInOrder,
    Epoch,
    LastSeq,
}

impl StoreOp {
    const ALL: [StoreOp; 8] = [
        StoreOp::LatestCall,
        StoreOp::LatestCallOf,
        StoreOp::CallDetails,
        StoreOp::RecentCalls,
        StoreOp::SegmentsAfter,
        StoreOp::SegmentsInOrder,
        StoreOp::Epoch,
        StoreOp::LastSeq,
    ];

    fn label(self) -> &'static str {
        match self {
            StoreOp::LatestCall => "latest_call",
            StoreOp::LatestCallOf => "latest_call_of",
            StoreOp::CallDetails => "call_details",
            StoreOp::RecentCalls => "recent_calls",
            StoreOp::SegmentsAfter => "segments_after",
            StoreOp::SegmentsInOrder => "segments_in_order",
            StoreOp::Epoch => "epoch",
            StoreOp::LastSeq => "last_seq",
        }
    }
}

/// How a store request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Unavailable,
    MissingTable,
    AccessDenied,
    Misconfigured,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Unavailable,
        Outcome::MissingTable,
        Outcome::AccessDenied,
        Outcome::Misconfigured,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unavailable => "unavailable",
            Outcome::MissingTable => "missing_table",
            Outcome::AccessDenied => "access_denied",
            Outcome::Misconfigured => "misconfigured",
        }
    }
}

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];

/// The server's metrics: a registry and the handles that record into it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    call_sockets: Gauge,
    lobby_sockets: Gauge,
    feeds: Gauge,
    frames_sent: Counter,
    dropped_lagged: Counter,
    dropped_slow: Counter,
    resync_lagged: Counter,
    resync_source: Counter,
    resync_store: Counter,
    /// `[operation][outcome]`, in the order of `StoreOp::ALL` and `Outcome::ALL`.
    store_requests: Vec<Vec<Counter>>,
    store_latency: Vec<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Store request latency buckets, in seconds: from a cache hit (well under
/// a millisecond) to the SDK's operation timeout (3 s by default).
const STORE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("travoiq");

        let sockets = Family::<Labels1, Gauge>::default();
        registry.register(
            "sockets",
            "Live sockets open, by kind (call: one call's transcript; lobby: new calls)",
            sockets.clone(),
        );
        let feeds = Gauge::default();
        registry.register(
            "feeds",
            "Calls with a live feed (one shared reader per watched call)",
            feeds.clone(),
        );
        let frames_sent = Counter::default();
        registry.register(
            "frames_sent",
            "Frames sent to browsers on live sockets",
            frames_sent.clone(),
        );
        let dropped = Family::<Labels1, Counter>::default();
        registry.register(
            "frames_dropped",
            "Frames not sent on the live path: lagged (a viewer behind its call's broadcast, re-read from the store instead) or slow_client (the socket closed: its client took no frame in time)",
            dropped.clone(),
        );
        let resyncs = Family::<Labels1, Counter>::default();
        registry.register(
            "resyncs",
            "Reads from the store to catch up instead of following live, by reason",
            resyncs.clone(),
        );
        let requests = Family::<Labels2, Counter>::default();
        registry.register(
            "store_requests",
            "Store requests by operation and outcome",
            requests.clone(),
        );
        let latency = Family::<Labels1, Histogram, fn() -> Histogram>::new_with_constructor(|| {
            Histogram::new(STORE_BUCKETS)
        });
        registry.register(
            "store_request_duration_seconds",
            "Store request latency by operation",
            latency.clone(),
        );

        let one = |family: &Family<Labels1, Counter>, key, value| {
            family.get_or_create_owned(&[(key, value)])
        };
        Self {
            call_sockets: sockets.get_or_create_owned(&[("kind", "call")]),
            lobby_sockets: sockets.get_or_create_owned(&[("kind", "lobby")]),
            feeds,
            frames_sent,
            dropped_lagged: one(&dropped, "reason", "lagged"),
            dropped_slow: one(&dropped, "reason", "slow_client"),
            resync_lagged: one(&resyncs, "reason", "viewer_lagged"),
            resync_source: one(&resyncs, "reason", "source_back"),
            resync_store: one(&resyncs, "reason", "store"),
            store_requests: StoreOp::ALL
                .iter()
                .map(|op| {
                    Outcome::ALL
                        .iter()
                        .map(|outcome| {
                            requests.get_or_create_owned(&[
                                ("operation", op.label()),
                                ("outcome", outcome.label()),
                            ])
                        })
                        .collect()
                })
                .collect(),
            store_latency: StoreOp::ALL
                .iter()
                .map(|op| latency.get_or_create_owned(&[("operation", op.label())]))
                .collect(),
            registry,
        }
    }

    /// Counts a socket open until the returned guard is dropped.
    pub fn socket_open(&self, kind: SocketKind) -> Open {
        let gauge = match kind {
            SocketKind::Call => self.call_sockets.clone(),
            SocketKind::Lobby => self.lobby_sockets.clone(),
        };
        gauge.inc();
        Open(gauge)
    }

    /// Counts a call's feed running until the returned guard is dropped.
    pub fn feed_running(&self) -> Open {
        self.feeds.inc();
        Open(self.feeds.clone())
    }

    pub fn frames_sent(&self, n: u64) {
        self.frames_sent.inc_by(n);
    }

    pub fn frames_dropped(&self, why: Dropped, n: u64) {
        match why {
            Dropped::Lagged => self.dropped_lagged.inc_by(n),
            Dropped::SlowClient => self.dropped_slow.inc_by(n),
        };
    }

    pub fn resync(&self, why: Resync) {
        match why {
            Resync::ViewerLagged => self.resync_lagged.inc(),
            Resync::SourceBack => self.resync_source.inc(),
            Resync::Store => self.resync_store.inc(),
        };
    }

    /// One store request: its operation, outcome and how long it took.
    pub fn store_request(&self, op: StoreOp, outcome: Outcome, took: Duration) {
        let (o, r) = (op as usize, outcome as usize);
        if let Some(counter) = self.store_requests.get(o).and_then(|row| row.get(r)) {
            counter.inc();
        }
        if let Some(histogram) = self.store_latency.get(o) {
            histogram.observe(took);
        }
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Something counted as open (a socket, a feed) while this lives.
#[derive(Debug)]
pub struct Open(Gauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A latency histogram recorded with atomics only (the library's own
/// takes a lock per observation): fixed buckets, counts per bucket, the
/// sum in microseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    inner: Arc<HistogramInner>,
}

#[derive(Debug)]
struct HistogramInner {
    /// Upper bounds in seconds, ascending; one more count for +Inf.
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            inner: Arc::new(HistogramInner {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum_micros: AtomicU64::new(0),
            }),
        }
    }

    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = self.inner.bounds.partition_point(|&b| b < secs);
        if let Some(count) = self.inner.counts.get(i) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.inner.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts: Vec<u64> = self
            .inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let buckets: Vec<(f64, u64)> = self
            .inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(counts.iter().copied())
            .collect();
        let sum = self.inner.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, counts.iter().sum(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
    }

    #[test]
    fn counts_show_in_the_text_format() {
        let metrics = Arc::new(Metrics::new());
        let call = metrics.socket_open(SocketKind::Call);
        let _lobby = metrics.socket_open(SocketKind::Lobby);
        let _feed = metrics.feed_running();
        metrics.frames_sent(2);
        metrics.frames_dropped(Dropped::Lagged, 7);
        metrics.resync(Resync::ViewerLagged);
        metrics.store_request(
            StoreOp::SegmentsAfter,
            Outcome::Ok,
            Duration::from_millis(3),
        );
        metrics.store_request(
            StoreOp::CallDetails,
            Outcome::Unavailable,
            Duration::from_secs(9),
        );
        let text = metrics.encode().unwrap();
        assert_eq!(line(&text, "travoiq_sockets{kind=\"call\"}"), Some("1"));
        assert_eq!(line(&text, "travoiq_sockets{kind=\"lobby\"}"), Some("1"));
        assert_eq!(line(&text, "travoiq_feeds "), Some("1"));
        assert_eq!(line(&text, "travoiq_frames_sent_total "), Some("2"));
        assert_eq!(
            line(&text, "travoiq_frames_dropped_total{reason=\"lagged\"}"),
            Some("7")
        );
        assert_eq!(
            line(&text, "travoiq_resyncs_total{reason=\"viewer_lagged\"}"),
            Some("1")
        );
        assert_eq!(
            line(
                &text,
                "travoiq_store_requests_total{operation=\"segments_after\",outcome=\"ok\"}"
            ),
            Some("1")
        );
        // 3 ms: in the 5 ms bucket, not the 2.5 ms one (buckets are cumulative).
        let seg = "travoiq_store_request_duration_seconds_bucket{operation=\"segments_after\"";
        assert_eq!(line(&text, &format!("{seg},le=\"0.0025\"}}")), Some("0"));
        assert_eq!(line(&text, &format!("{seg},le=\"0.005\"}}")), Some("1"));
        assert_eq!(line(&text, &format!("{seg},le=\"+Inf\"}}")), Some("1"));
        // 9 s: past every bound, counted only in +Inf.
        let det = "travoiq_store_request_duration_seconds_bucket{operation=\"call_details\"";
        assert_eq!(line(&text, &format!("{det},le=\"5\"}}")), Some("0"));
        assert_eq!(line(&text, &format!("{det},le=\"+Inf\"}}")), Some("1"));
        drop(call);
        let text = metrics.encode().unwrap();
        assert_eq!(line(&text, "travoiq_sockets{kind=\"call\"}"), Some("0"));
    }
}
