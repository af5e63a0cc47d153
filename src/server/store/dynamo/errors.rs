//! Turning AWS SDK errors into [`StoreError`]s that say what is wrong, with
//! the full cause kept for the log.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::server::store::StoreError;

/// Classifies a failed `op` on `table`.
pub fn classify<E, R>(op: &str, table: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let context = DisplayErrorContext(&err).to_string();
    if let SdkError::ServiceError(service) = &err {
        let code = service.err().code().unwrap_or_default();
        let message = service.err().message().unwrap_or_default();
        return match code {
            "ResourceNotFoundException" => {
                StoreError::MissingTable(format!("table {table} does not exist ({op})"))
            }
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationTokenException"
            | "ExpiredTokenException" => StoreError::AccessDenied(format!(
                "{op} on {table} was refused ({code}): {message}; the role needs dynamodb:{op} on it"
            )),
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded" => {
                StoreError::Unavailable(format!("{op} on {table} was throttled ({code})"))
            }
            _ => StoreError::Unavailable(format!("{op} on {table} failed: {context}")),
        };
    }
    // Timeouts, refused connections, unreadable responses.
    StoreError::Unavailable(format!("{op} on {table}: {context}"))
}
