//! The one error type that crosses the wire (server functions, REST bodies,
//! page messages). Plain words for people; details stay in the server log.

use serde::{Deserialize, Serialize};

use crate::model::{CallId, CallIdError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("“{input}” is not a valid call id: {reason}")]
    InvalidCallId { input: String, reason: CallIdError },
    #[error("No call with id {0}")]
    UnknownCall(CallId),
    #[error("No such link.")]
    UnknownLink,
    /// A shared link past its time (only its holder can tell it was real).
    #[error("This shared link has expired. Ask whoever shared it for a new one.")]
    LinkExpired,
    /// A shared link that opens nothing for this user: tampered, revoked,
    /// made for someone else, or for a call that does not exist (which
    /// one is not said).
    #[error(
        "This shared link is not valid. Check that it was copied whole, or ask for a new one."
    )]
    LinkNotValid,
    #[error("The data source is unavailable; retrying.")]
    Unavailable,
    #[error("The data source is missing a table; see the server log.")]
    MissingTable,
    #[error("The data source refused the request; see the server log.")]
    DataSourceRefused,
    #[error("Could not reach the server: {0}")]
    Transport(String),
    #[error("Sign in to continue.")]
    SignInRequired,
    #[error("Your role does not allow that.")]
    NotAllowed,
    #[error("{0}")]
    Invalid(String),
    #[error("No call has started yet.")]
    NoCallYet,
    #[error("Requests from other sites are refused.")]
    CrossSite,
    #[error("Too many live connections from this address.")]
    TooManyConnections,
    #[error("This server does not answer for that host name.")]
    UnknownHost,
    #[error("Too many requests; try again in {0} s.")]
    TooManyRequests(u64),
}

impl AppError {
    /// Builds the error for a rejected id, keeping only a short, printable
    /// prefix of what was typed.
    pub fn invalid_call_id(input: &str, reason: CallIdError) -> Self {
        let mut shown: String = input.chars().filter(|c| !c.is_control()).take(40).collect();
        if input.chars().count() > 40 {
            shown.push('…');
        }
        Self::InvalidCallId {
            input: shown,
            reason,
        }
    }

    /// A stable machine-readable code, used in JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidCallId { .. } => "malformed_call_id",
            AppError::UnknownCall(_) => "unknown_call",
            AppError::UnknownLink => "unknown_link",
            AppError::LinkExpired => "link_expired",
            AppError::LinkNotValid => "link_not_valid",
            AppError::Unavailable => "unavailable",
            AppError::MissingTable => "missing_table",
            AppError::DataSourceRefused => "data_source_refused",
            AppError::Transport(_) => "transport",
            AppError::SignInRequired => "sign_in_required",
            AppError::NotAllowed => "not_allowed",
            AppError::Invalid(_) => "invalid",
            AppError::NoCallYet => "no_call",
            AppError::CrossSite => "cross_site",
            AppError::TooManyConnections => "too_many_connections",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::UnknownHost => "unknown_host",
        }
    }

    /// The one table from error to HTTP status, for every door (REST,
    /// server functions, socket handshakes, the gate).
    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidCallId { .. } | AppError::Invalid(_) => 400,
            AppError::SignInRequired => 401,
            AppError::NotAllowed | AppError::CrossSite => 403,
            AppError::UnknownCall(_)
            | AppError::UnknownLink
            | AppError::LinkNotValid
            | AppError::MissingTable
            | AppError::NoCallYet => 404,
            AppError::LinkExpired => 410,
            AppError::UnknownHost => 421,
            AppError::TooManyConnections | AppError::TooManyRequests(_) => 429,
            AppError::DataSourceRefused | AppError::Transport(_) => 502,
            AppError::Unavailable => 503,
        }
    }
}

/// `{"error": code, "message": words}` with the status from
/// [`AppError::status`]; a 503 or 429 says when to retry.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue, StatusCode};
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = match &self {
            AppError::TooManyRequests(secs) => Some(secs.to_string()),
            AppError::Unavailable => Some("5".to_string()),
            _ => None,
        };
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_ids_are_shown_short_and_printable() {
        let e =
            AppError::invalid_call_id(&format!("a\u{0}b{}", "x".repeat(100)), CallIdError::TooLong);
        let AppError::InvalidCallId { input, .. } = &e else {
            panic!()
        };
        assert!(input.starts_with("ab"));
        assert!(input.ends_with('…'));
        assert!(input.chars().count() <= 41);
        assert_eq!(e.code(), "malformed_call_id");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn every_error_has_a_client_or_gateway_status() {
        let id = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        for (e, status) in [
            (AppError::UnknownCall(id), 404),
            (AppError::NoCallYet, 404),
            (AppError::UnknownLink, 404),
            (AppError::LinkNotValid, 404),
            (AppError::LinkExpired, 410),
            (AppError::SignInRequired, 401),
            (AppError::NotAllowed, 403),
            (AppError::CrossSite, 403),
            (AppError::TooManyConnections, 429),
            (AppError::Unavailable, 503),
            (AppError::DataSourceRefused, 502),
        ] {
            assert_eq!(e.status(), status, "{e:?}");
        }
    }
}
