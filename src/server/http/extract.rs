//! Extractors for what the gate put on a request: the signed-in viewer
//! and the client's address.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::server::auth::Viewer;

use super::gate::{ClientAddr, NoViewer};

/// The signed-in viewer. Rejects with 401 (or 503 while sign-in can't be
/// checked), so a handler that takes one runs for signed-in users only.
#[derive(Clone, Debug)]
pub struct SignedIn(pub Viewer);

impl SignedIn {
    /// From a request's parts (also for server functions, which get the
    /// parts from their context).
    pub fn from_parts(parts: &Parts) -> Result<Self, AppError> {
        match parts.extensions.get::<Viewer>() {
            Some(viewer) => Ok(Self(viewer.clone())),
            None => Err(match parts.extensions.get::<NoViewer>() {
                Some(NoViewer::Unavailable) => AppError::Unavailable,
                _ => AppError::SignInRequired,
            }),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
    }
}

/// The client's address, if the gate saw one.
pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ClientAddr>().map(|a| a.0)
}

/// The client's address (the gate always puts one on).
pub struct Client(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts)))
    }
}
