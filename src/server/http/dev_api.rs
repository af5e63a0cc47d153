//! The developer API: endpoints that write calls, so tests (and people)
//! can play exact conversations. It writes calls and shows none. One set
//! of routes, mounted by two processes:
//!
//! - the monitor on the embedded store (`TRAVOIQ_DEV_API=on`), writing into
//!   that store; a monitor on DynamoDB refuses to start with it on;
//! - the writer server (`travoiq-monitor writer serve`), writing the real
//!   DynamoDB tables in an upstream format, which a monitor then reads as
//!   it reads the pipeline's writes.
//!
//! Its requests:
//!
//! - `POST /api/dev/calls` `{"contactId"?, "customerPhoneNumber"?, "attributes"?}`
//! - `POST /api/dev/calls/{id}/segments` `{"speaker", "startMs", "endMs"?, "text", "partial"?, "segmentId"?}`
//! - `POST /api/dev/calls/{id}/end`
//! - `POST /api/dev/reset` forgets every call
//!
//! Only on a server bound to loopback, and every request carries the token
//! (`x-dev-token`) configured or printed at start.

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
use crate::server::dev_target::DevApi;
use crate::server::store::{now_ms, NewContact, SegmentWrite, StoreError};

/// The API's routes, behind its token; they carry their own state, so any
/// server can merge them.
pub fn routes<S>(dev: DevApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/dev/calls", post(create_call))
        .route("/api/dev/calls/{id}/segments", post(write_segment))
        .route("/api/dev/calls/{id}/end", post(end_call))
        .route("/api/dev/reset", post(reset))
        .route_layer(from_fn_with_state(dev.clone(), require_token))
        .with_state(dev)
}

async fn require_token(State(dev): State<DevApi>, req: Request, next: Next) -> Response {
    if dev.admits(req.headers()) {
        next.run(req).await
    } else {
        tracing::warn!("developer API request without its token refused");
        AppError::NotAllowed.into_response()
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

fn write_failed(e: StoreError) -> AppError {
    tracing::warn!(error = %e, "developer write failed");
    AppError::Unavailable
}

async fn create_call(
    State(dev): State<DevApi>,
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
    dev.target
        .sink()
        .start_call(NewContact {
            call_id: id.clone(),
            attributes,
        })
        .await
        .map_err(write_failed)?;
    Ok((StatusCode::CREATED, Json(json!({ "contactId": id }))))
}

/// The id of a call the target knows (on the embedded store, any call in
/// it; on the writer server, one it started): 400 for a malformed id, 404
/// for any other, the target's own error if it cannot tell. Unchecked by
/// [`crate::server::access`]: this API writes calls and shows none.
async fn started_call(dev: &DevApi, raw: &str) -> Result<CallId, AppError> {
    let id = parse_id(raw)?;
    match dev.target.has_call(&id).await {
        Ok(true) => Ok(id),
        Ok(false) => Err(AppError::UnknownCall(id)),
        Err(e) => Err(store_error(e)),
    }
}

async fn write_segment(
    State(dev): State<DevApi>,
    Path(raw): Path<String>,
    Json(body): Json<WriteSegment>,
) -> Result<StatusCode, AppError> {
    let id = started_call(&dev, &raw).await?;
    dev.target
        .sink()
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
    State(dev): State<DevApi>,
    Path(raw): Path<String>,
) -> Result<StatusCode, AppError> {
    let id = started_call(&dev, &raw).await?;
    dev.target
        .sink()
        .end_call(&id, now_ms())
        .await
        .map_err(write_failed)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset(State(dev): State<DevApi>) -> Result<StatusCode, AppError> {
    dev.target.reset().await.map_err(write_failed)?;
    tracing::info!("every call forgotten through the developer API");
    Ok(StatusCode::NO_CONTENT)
}
