//! A store that counts: every read of the store it wraps is timed and
//! counted by operation and outcome in [`Metrics`], whichever backend it
//! is. Notices, sources and the poll interval pass through untouched.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::model::{CallDetails, CallId, SegmentKey, Seq};
use crate::server::metrics::{Metrics, Outcome, StoreOp};

use super::sources::TableSource;
use super::{CallStore, SegmentPage, StoreError, StoreNotice};

pub struct MeteredStore {
    inner: Arc<dyn CallStore>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn CallStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        op: StoreOp,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = read.await;
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(StoreError::Unavailable(_)) => Outcome::Unavailable,
            Err(StoreError::MissingTable(_)) => Outcome::MissingTable,
            Err(StoreError::AccessDenied(_)) => Outcome::AccessDenied,
            Err(StoreError::Misconfigured(_)) => Outcome::Misconfigured,
        };
        self.metrics.store_request(op, outcome, started.elapsed());
        result
    }
}

/// The backend behind `store`: the store a [`MeteredStore`] wraps, or
/// `store` itself (for tests and benchmarks that reach a backend's own
/// counts or writes).
pub fn backend(store: &Arc<dyn CallStore>) -> Arc<dyn CallStore> {
    let any: &dyn std::any::Any = store.as_ref();
    match any.downcast_ref::<MeteredStore>() {
        Some(metered) => metered.inner.clone(),
        None => store.clone(),
    }
}

#[async_trait]
impl CallStore for MeteredStore {
    async fn latest_call(&self) -> Result<Option<CallDetails>, StoreError> {
        self.timed(StoreOp::LatestCall, self.inner.latest_call())
            .await
    }

    async fn latest_call_of(&self, owner: &str) -> Result<Option<CallDetails>, StoreError> {
        self.timed(StoreOp::LatestCallOf, self.inner.latest_call_of(owner))
            .await
    }

    async fn call_details(&self, id: &CallId) -> Result<Option<CallDetails>, StoreError> {
        self.timed(StoreOp::CallDetails, self.inner.call_details(id))
            .await
    }

    async fn recent_calls(&self, limit: usize) -> Result<Vec<CallDetails>, StoreError> {
        self.timed(StoreOp::RecentCalls, self.inner.recent_calls(limit))
            .await
    }

    async fn segments_after(
        &self,
        id: &CallId,
        after: Seq,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        self.timed(
            StoreOp::SegmentsAfter,
            self.inner.segments_after(id, after, limit),
        )
        .await
    }

    async fn segments_in_order(
        &self,
        id: &CallId,
        after: Option<SegmentKey>,
        limit: usize,
    ) -> Result<SegmentPage, StoreError> {
        self.timed(
            StoreOp::SegmentsInOrder,
            self.inner.segments_in_order(id, after, limit),
        )
        .await
    }

    fn notices(&self) -> broadcast::Receiver<StoreNotice> {
        self.inner.notices()
    }

    fn poll_interval(&self) -> Option<Duration> {
        self.inner.poll_interval()
    }

    async fn epoch(&self, id: &CallId) -> Result<u64, StoreError> {
        self.timed(StoreOp::Epoch, self.inner.epoch(id)).await
    }

    fn sources(&self) -> Vec<TableSource> {
        self.inner.sources()
    }

    async fn last_seq(&self, id: &CallId) -> Result<Seq, StoreError> {
        self.timed(StoreOp::LastSeq, self.inner.last_seq(id)).await
    }
}
