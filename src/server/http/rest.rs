//! The original app's REST endpoints, kept compatible, plus a health
//! check. Each asks [`crate::server::access`] for the call.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::AppError;
use crate::server::access::{Asking, Door};

use super::extract::{Client, SignedIn};
use super::state::AppState;

/// A shared link's grant, on any call endpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct GrantQuery {
    #[serde(default)]
    pub grant: Option<String>,
}

/// `GET /details/{call_id}`: the call's item under its table names.
pub async fn details(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    Client(addr): Client,
    Path(raw): Path<String>,
    Query(query): Query<GrantQuery>,
) -> Result<Json<BTreeMap<String, String>>, AppError> {
    let who = Asking::new(viewer, addr, Door::Rest).with_grant(query.grant);
    let details = state.access.open(&who, &raw).await?;
    Ok(Json(details.attributes))
}

/// `GET /latest-call`: the newest call's item, or 404 before the first call.
pub async fn latest_call(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    Client(addr): Client,
) -> Result<Json<BTreeMap<String, String>>, AppError> {
    let who = Asking::new(viewer, addr, Door::Rest);
    match state.access.latest(&who).await? {
        Some(details) => Ok(Json(details.attributes)),
        None => Err(AppError::NoCallYet),
    }
}

/// `GET /healthz`: the process is up and its store answers; on DynamoDB,
/// where each table is read from (its stream, or polling and why).
pub async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.hub.store();
    let tables = store.sources();
    match store.latest_call().await {
        Ok(_) => Json(json!({ "status": "ok", "tables": tables })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "tables": tables })),
            )
                .into_response()
        }
    }
}
