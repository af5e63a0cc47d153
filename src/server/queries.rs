//! The read operations behind both the server functions and the REST
//! endpoints: one implementation, two front doors.

use crate::error::AppError;
use crate::model::{conversation_order, CallDetails, CallId, CallSnapshot, Seq};

use std::net::IpAddr;

use super::auth::{Auth, Viewer};
use super::hub::PAGE;
use super::store::{CallStore, StoreError};

/// Who is asking, from where, through which door (for the audit log), and
/// a shared-link grant if the request carried one.
pub struct Asker<'a> {
    pub auth: &'a Auth,
    pub viewer: &'a Viewer,
    pub addr: Option<IpAddr>,
    pub via: &'static str,
    pub grant: Option<&'a str>,
}

impl<'a> Asker<'a> {
    pub fn new(
        auth: &'a Auth,
        viewer: &'a Viewer,
        addr: Option<IpAddr>,
        via: &'static str,
    ) -> Self {
        Self {
            auth,
            viewer,
            addr,
            via,
            grant: None,
        }
    }

    /// With a shared link's grant, if the request carried one.
    pub fn with_grant(mut self, grant: Option<&'a str>) -> Self {
        self.grant = grant;
        self
    }

    /// The call as this asker may see it, or "no such call" when they may
    /// not (the same answer as for a call that does not exist).
    pub async fn details(&self, store: &dyn CallStore, raw: &str) -> Result<CallDetails, AppError> {
        let call = details(store, raw).await?;
        self.auth
            .admit_call(self.viewer, call, self.grant, self.addr, self.via)
    }

    /// The newest call this asker may see.
    pub async fn latest(&self, store: &dyn CallStore) -> Result<Option<CallDetails>, AppError> {
        let latest = match self.auth.owner_filter(self.viewer) {
            None => store.latest_call().await,
            Some(owner) => store.latest_call_of(owner).await,
        }
        .map_err(store_error)?;
        Ok(latest.map(|call| self.auth.present(self.viewer, call)))
    }

    pub async fn snapshot(
        &self,
        store: &dyn CallStore,
        raw: &str,
    ) -> Result<CallSnapshot, AppError> {
        let details = self.details(store, raw).await?;
        snapshot_of(store, details).await
    }

    pub async fn latest_snapshot(
        &self,
        store: &dyn CallStore,
    ) -> Result<Option<CallSnapshot>, AppError> {
        match self.latest(store).await? {
            Some(details) => {
                crate::server::auth::audit::call_opened(
                    self.viewer,
                    &details.call_id,
                    self.addr,
                    self.via,
                );
                snapshot_of(store, details).await.map(Some)
            }
            None => Ok(None),
        }
    }
}

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

/// A call by id, unchecked: for the developer API, which writes calls and
/// shows none. Everything a user is shown goes through [`Asker`].
pub async fn details(store: &dyn CallStore, raw: &str) -> Result<CallDetails, AppError> {
    let id = parse_id(raw)?;
    store
        .call_details(&id)
        .await
        .map_err(store_error)?
        .ok_or(AppError::UnknownCall(id))
}

/// A call's details (already admitted) and whole transcript so far, in
/// conversation order.
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
