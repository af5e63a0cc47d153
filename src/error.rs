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
            AppError::Unavailable => "unavailable",
            AppError::MissingTable => "missing_table",
            AppError::DataSourceRefused => "data_source_refused",
            AppError::Transport(_) => "transport",
            AppError::SignInRequired => "sign_in_required",
            AppError::NotAllowed => "not_allowed",
            AppError::Invalid(_) => "invalid",
        }
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
    }
}
