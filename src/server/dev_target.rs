//! The developer API's side of the server: where it writes, and when it is
//! on at all (loopback only, with its token).
//!
//! Two processes mount the API ([`crate::server::http::dev_api`]): the
//! monitor on the embedded store, writing into that store, and the writer
//! server (`travoiq-monitor writer serve`), writing the real DynamoDB
//! tables as the upstream pipeline does. A monitor on DynamoDB never
//! writes for it: it reads the writer's calls as it reads the pipeline's.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::model::CallId;

use super::store::dynamo::writer::DynamoWriter;
use super::store::memory::MemoryStore;
use super::store::{CallSink, CallStore, NewContact, SegmentWrite, StoreError};

/// Where the developer API writes.
#[async_trait]
pub trait DevTarget: Send + Sync + 'static {
    fn sink(&self) -> &dyn CallSink;

    /// Whether a call was started here, so a write to any other id is
    /// answered 404.
    async fn has_call(&self, id: &CallId) -> Result<bool, StoreError>;

    /// Forgets every call.
    async fn reset(&self) -> Result<(), StoreError>;
}

/// The embedded store: the API writes into the store the monitor reads.
#[async_trait]
impl DevTarget for MemoryStore {
    fn sink(&self) -> &dyn CallSink {
        self
    }

    async fn has_call(&self, id: &CallId) -> Result<bool, StoreError> {
        Ok(self.call_details(id).await?.is_some())
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.clear();
        Ok(())
    }
}

/// The real tables, written as the upstream pipeline writes them. It reads
/// nothing back: the calls it knows are the ones it started (since its
/// start or the last reset).
pub struct TableTarget {
    writer: DynamoWriter,
    started: Mutex<HashSet<CallId>>,
}

impl TableTarget {
    pub fn new(writer: DynamoWriter) -> Self {
        Self {
            writer,
            started: Mutex::new(HashSet::new()),
        }
    }

    fn started(&self) -> std::sync::MutexGuard<'_, HashSet<CallId>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl DevTarget for TableTarget {
    fn sink(&self) -> &dyn CallSink {
        self
    }

    async fn has_call(&self, id: &CallId) -> Result<bool, StoreError> {
        Ok(self.started().contains(id))
    }

    /// Empties the three tables; a monitor reading them hears of it as it
    /// hears of any deletion (on their streams).
    async fn reset(&self) -> Result<(), StoreError> {
        self.started().clear();
        self.writer.clear().await
    }
}

/// Writes through the writer, remembering each call it started.
#[async_trait]
impl CallSink for TableTarget {
    async fn start_call(&self, contact: NewContact) -> Result<(), StoreError> {
        let id = contact.call_id.clone();
        self.writer.start_call(contact).await?;
        self.started().insert(id);
        Ok(())
    }

    async fn write_segment(&self, id: &CallId, write: SegmentWrite) -> Result<(), StoreError> {
        self.writer.write_segment(id, write).await
    }

    async fn end_call(&self, id: &CallId, ended_at_ms: i64) -> Result<(), StoreError> {
        self.writer.end_call(id, ended_at_ms).await
    }
}

/// The header that carries the developer API's token.
pub const TOKEN_HEADER: &str = "x-dev-token";

/// Why the developer API is not on.
#[derive(Debug, thiserror::Error)]
#[error("the developer API listens only on loopback, and {bound} is not")]
pub struct NotLoopback {
    pub bound: SocketAddr,
}

/// The developer API, when it is on: where it writes, and the token every
/// request must carry (printed at start unless configured).
#[derive(Clone)]
pub struct DevApi {
    pub target: Arc<dyn DevTarget>,
    token: Arc<str>,
}

impl DevApi {
    /// On only when the server is bound to loopback: the API writes calls
    /// without a session, so nothing but this machine may reach it.
    pub fn new(
        target: Arc<dyn DevTarget>,
        configured_token: &str,
        bound: SocketAddr,
    ) -> Result<Self, NotLoopback> {
        if !bound.ip().is_loopback() {
            return Err(NotLoopback { bound });
        }
        let token: Arc<str> = match configured_token.trim() {
            "" => {
                let made = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
                tracing::warn!("developer API token (send as {TOKEN_HEADER}): {made}");
                made.into()
            }
            given => given.into(),
        };
        Ok(Self { target, token })
    }

    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        // Compare digests: no early exit on the first differing byte.
        Sha256::digest(given) == Sha256::digest(self.token.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Arc<dyn DevTarget> {
        Arc::new(MemoryStore::new(1))
    }

    #[test]
    fn it_is_on_only_on_loopback_and_asks_for_its_token() {
        assert!(DevApi::new(target(), "t", "0.0.0.0:3000".parse().unwrap()).is_err());
        assert!(DevApi::new(target(), "t", "10.1.2.3:3000".parse().unwrap()).is_err());
        let dev = DevApi::new(target(), "the-token", "127.0.0.1:3000".parse().unwrap()).unwrap();
        let mut headers = HeaderMap::new();
        assert!(!dev.admits(&headers));
        headers.insert(TOKEN_HEADER, "the-tokem".parse().unwrap());
        assert!(!dev.admits(&headers));
        headers.insert(TOKEN_HEADER, "the-token".parse().unwrap());
        assert!(dev.admits(&headers));
        // Unconfigured: a random token, not an empty one.
        let random = DevApi::new(target(), "", "[::1]:3000".parse().unwrap()).unwrap();
        assert!(!random.admits(&HeaderMap::new()));
    }
}
