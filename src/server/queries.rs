//! The read operations behind both the server functions and the REST
//! endpoints: one implementation, two front doors.

use crate::error::AppError;
use crate::model::{conversation_order, CallDetails, CallId, CallSnapshot, Seq};

use super::hub::PAGE;
use super::store::{CallStore, StoreError};

pub fn parse_id(raw: &str) -> Result<CallId, AppError> {
    CallId::parse(raw).map_err(|reason| AppError::invalid_call_id(raw, reason))
}

/// Maps a store failure to what the client is told; the detail stays in
/// the log.
pub fn store_error(e: StoreError) -> AppError {
    tracing::warn!(error = %e, "store read failed");
    match e {
        StoreError::Unavailable(_) => AppError::Unavailable,
        StoreError::MissingTable(_) => AppError::MissingTable,
        StoreError::AccessDenied(_) | StoreError::Misconfigured(_) => AppError::DataSourceRefused,
    }
}

pub async fn details(store: &dyn CallStore, raw: &str) -> Result<CallDetails, AppError> {
    let id = parse_id(raw)?;
    store
        .call_details(&id)
        .await
        .map_err(store_error)?
        .ok_or(AppError::UnknownCall(id))
}

pub async fn latest(store: &dyn CallStore) -> Result<Option<CallDetails>, AppError> {
    store.latest_call().await.map_err(store_error)
}

/// A call's details and whole transcript so far, in conversation order.
pub async fn snapshot(store: &dyn CallStore, raw: &str) -> Result<CallSnapshot, AppError> {
    let details = details(store, raw).await?;
    snapshot_of(store, details).await
}

pub async fn latest_snapshot(store: &dyn CallStore) -> Result<Option<CallSnapshot>, AppError> {
    match latest(store).await? {
        Some(details) => snapshot_of(store, details).await.map(Some),
        None => Ok(None),
    }
}

async fn snapshot_of(
    store: &dyn CallStore,
    details: CallDetails,
) -> Result<CallSnapshot, AppError> {
    let epoch = store.epoch(&details.call_id).await.map_err(store_error)?;
    let mut segments = Vec::new();
    let mut last = Seq::ZERO;
    loop {
        let page = store
            .segments_after(&details.call_id, last, PAGE)
            .await
            .map_err(store_error)?;
        if let Some(seg) = page.segments.last() {
            last = seg.seq;
        }
        segments.extend(page.segments);
        if !page.more {
            break;
        }
    }
    segments.sort_by(conversation_order);
    Ok(CallSnapshot {
        details,
        segments,
        last_seq: last,
        epoch,
    })
}
