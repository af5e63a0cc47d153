//! The developer API's side of the server: where it writes (the embedded
//! store itself, or the real DynamoDB tables through the writer, so the
//! monitor reads them back as it reads the upstream pipeline's writes), and
//! when it is on at all (loopback only, with its token).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::store::dynamo::writer::DynamoWriter;
use super::store::dynamo::DynamoStore;
use super::store::memory::MemoryStore;
use super::store::{CallSink, StoreError};

/// Where the developer API writes.
#[derive(Clone)]
pub enum DevTarget {
    Memory(Arc<MemoryStore>),
    Dynamo(Arc<DynamoWriter>, Arc<DynamoStore>),
}

impl DevTarget {
    pub fn sink(&self) -> &dyn CallSink {
        match self {
            DevTarget::Memory(m) => m.as_ref(),
            DevTarget::Dynamo(d, _) => d.as_ref(),
        }
    }

    pub async fn reset(&self) -> Result<(), StoreError> {
        match self {
            DevTarget::Memory(m) => {
                m.clear();
                Ok(())
            }
            DevTarget::Dynamo(d, store) => {
                d.clear().await?;
                store.forget_all().await;
                Ok(())
            }
        }
    }
}

/// The header that carries the developer API's token.
pub const TOKEN_HEADER: &str = "x-dev-token";

/// The developer API, when it is on: where it writes, and the token every
/// request must carry (printed at start unless configured).
#[derive(Clone)]
pub struct DevApi {
    pub target: DevTarget,
    token: Arc<str>,
}

impl DevApi {
    /// On only when the server is bound to loopback: the API writes calls
    /// without a session, so nothing but this machine may reach it.
    pub fn new(target: DevTarget, configured_token: &str, bound: SocketAddr) -> Option<Self> {
        if !bound.ip().is_loopback() {
            tracing::error!(%bound, "developer API refused: the server is not bound to loopback");
            return None;
        }
        let token: Arc<str> = match configured_token.trim() {
            "" => {
                let made = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
                tracing::warn!("developer API token (send as {TOKEN_HEADER}): {made}");
                made.into()
            }
            given => given.into(),
        };
        Some(Self { target, token })
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

    fn target() -> DevTarget {
        DevTarget::Memory(Arc::new(MemoryStore::new(1)))
    }

    #[test]
    fn it_is_on_only_on_loopback_and_asks_for_its_token() {
        assert!(DevApi::new(target(), "t", "0.0.0.0:3000".parse().unwrap()).is_none());
        assert!(DevApi::new(target(), "t", "10.1.2.3:3000".parse().unwrap()).is_none());
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
