//! Developer endpoints that write calls, so tests (and people) can play
//! exact conversations: `TRAVOIQ_DEV_API=on` only. On the embedded store
//! they write into it; on DynamoDB they write the real tables through the
//! writer, in the configured upstream format.
//!
//! - `POST /api/dev/calls` `{"contactId"?, "customerPhoneNumber"?, "attributes"?}`
//! - `POST /api/dev/calls/{id}/segments` `{"speaker", "startMs", "endMs"?, "text", "partial"?, "segmentId"?}`
//! - `POST /api/dev/calls/{id}/end`
//! - `POST /api/dev/reset` forgets every call
//!
//! Only when the server is bound to loopback, and every request carries the
//! token (`x-dev-token`) configured or printed at start.

use std::collections::BTreeMap;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::error::AppError;
use crate::model::{CallId, Speaker};

use crate::server::access::{parse_id, store_error};
use crate::server::contact::new_contact_attributes;
use crate::server::store::{now_ms, CallSink, NewContact, SegmentWrite, StoreError};

use super::state::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/dev/calls", post(create_call))
        .route("/api/dev/calls/{id}/segments", post(write_segment))
        .route("/api/dev/calls/{id}/end", post(end_call))
        .route("/api/dev/reset", post(reset))
        .route_layer(from_fn_with_state(state.clone(), require_token))
}

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match &state.dev {
        Some(dev) if dev.admits(req.headers()) => next.run(req).await,
        _ => {
            tracing::warn!("developer API request without its token refused");
            AppError::NotAllowed.into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateCall {
    contact_id: Option<String>,
    customer_phone_number: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WriteSegment {
    speaker: Speaker,
    start_ms: i64,
    end_ms: Option<i64>,
    text: String,
    #[serde(default)]
    partial: bool,
    segment_id: Option<String>,
}

fn sink(state: &AppState) -> Result<&dyn CallSink, AppError> {
    state
        .dev
        .as_ref()
        .map(|dev| dev.target.sink())
        .ok_or(AppError::Unavailable)
}

fn write_failed(e: StoreError) -> AppError {
    tracing::warn!(error = %e, "developer write failed");
    AppError::Unavailable
}

async fn create_call(
    State(state): State<AppState>,
    Json(body): Json<CreateCall>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let id = match body.contact_id.as_deref() {
        Some(raw) => parse_id(raw)?,
        None => CallId::parse(&crate::server::simulator::random_call_id_string())
            .map_err(|e| AppError::invalid_call_id("generated", e))?,
    };
    let attributes = new_contact_attributes(
        &id,
        OffsetDateTime::now_utc(),
        body.customer_phone_number,
        body.attributes,
    );
    sink(&state)?
        .start_call(NewContact {
            call_id: id.clone(),
            attributes,
        })
        .await
        .map_err(write_failed)?;
    Ok((StatusCode::CREATED, Json(json!({ "contactId": id }))))
}

/// The id of a call that exists (400 for a malformed id, 404 for an
/// unknown one, the store's own error if it cannot tell). Unchecked by
/// [`crate::server::access`]: this API writes calls and shows none.
async fn existing_call(state: &AppState, raw: &str) -> Result<CallId, AppError> {
    let id = parse_id(raw)?;
    match state.hub.store().call_details(&id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(AppError::UnknownCall(id)),
        Err(e) => Err(store_error(e)),
    }
}

async fn write_segment(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(body): Json<WriteSegment>,
) -> Result<StatusCode, AppError> {
    let id = existing_call(&state, &raw).await?;
    sink(&state)?
        .write_segment(
            &id,
            SegmentWrite {
                speaker: body.speaker,
                segment_id: body
                    .segment_id
                    .unwrap_or_else(|| format!("dev-{}", body.start_ms)),
                start_ms: body.start_ms,
                end_ms: body.end_ms.unwrap_or(body.start_ms),
                text: body.text,
                partial: body.partial,
            },
        )
        .await
        .map_err(write_failed)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end_call(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, AppError> {
    let id = existing_call(&state, &raw).await?;
    sink(&state)?
        .end_call(&id, now_ms())
        .await
        .map_err(write_failed)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset(State(state): State<AppState>) -> Result<StatusCode, AppError> {
    let target = &state.dev.as_ref().ok_or(AppError::Unavailable)?.target;
    target.reset().await.map_err(write_failed)?;
    tracing::info!("store cleared through the developer API");
    Ok(StatusCode::NO_CONTENT)
}
