//! The seed's REST endpoints, kept compatible, plus a health check. Thin
//! wrappers over `queries`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde_json::json;

use crate::error::AppError;

use super::auth::gate::ClientAddr;
use super::auth::Viewer;
use super::queries::Asker;
use super::state::AppState;

/// A shared link's grant, on any call endpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct GrantQuery {
    #[serde(default)]
    pub grant: Option<String>,
}

/// The signed-in viewer (the gate puts one on every request it lets
/// through to these handlers; absent means not signed in).
fn asker<'a>(
    state: &'a AppState,
    viewer: &'a Option<Extension<Viewer>>,
    addr: Option<Extension<ClientAddr>>,
    grant: Option<&'a str>,
) -> Result<Asker<'a>, ApiError> {
    let Some(Extension(viewer)) = viewer else {
        return Err(ApiError(AppError::SignInRequired));
    };
    Ok(Asker::new(
        &state.auth,
        viewer,
        addr.map(|Extension(ClientAddr(a))| a),
        "rest",
    )
    .with_grant(grant))
}

/// JSON error bodies: `{"error": code, "message": words}`.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            AppError::InvalidCallId { .. } => StatusCode::BAD_REQUEST,
            AppError::UnknownCall(_) => StatusCode::NOT_FOUND,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::MissingTable => StatusCode::NOT_FOUND,
            AppError::DataSourceRefused => StatusCode::BAD_GATEWAY,
            AppError::Transport(_) => StatusCode::BAD_GATEWAY,
            AppError::SignInRequired => StatusCode::UNAUTHORIZED,
            AppError::NotAllowed => StatusCode::FORBIDDEN,
            AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        let body = Json(json!({ "error": self.0.code(), "message": self.0.to_string() }));
        let mut response = (status, body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        response
    }
}

/// `GET /details/{call_id}`: the call's item under its table names.
pub async fn details(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    addr: Option<Extension<ClientAddr>>,
    Path(raw): Path<String>,
    Query(query): Query<GrantQuery>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let asker = asker(&state, &viewer, addr, query.grant.as_deref())?;
    let details = asker.details(state.hub.store().as_ref(), &raw).await?;
    Ok(Json(details.attributes))
}

/// `GET /latest-call`: the newest call's item, or 404 before the first call.
pub async fn latest_call(
    State(state): State<AppState>,
    viewer: Option<Extension<Viewer>>,
    addr: Option<Extension<ClientAddr>>,
) -> Response {
    let asker = match asker(&state, &viewer, addr, None) {
        Ok(asker) => asker,
        Err(e) => return e.into_response(),
    };
    match asker.latest(state.hub.store().as_ref()).await {
        Ok(Some(details)) => Json(details.attributes).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no_call", "message": "No call has started yet." })),
        )
            .into_response(),
        Err(e) => ApiError(e).into_response(),
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
