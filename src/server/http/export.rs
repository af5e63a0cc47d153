//! `GET /calls/{call_id}/transcript.{txt,csv,json}`: a call's transcript
//! as a download. The call is opened through [`crate::server::access`]
//! like at every other door (a shared link's `?grant=` honoured, the
//! phone masked per role, the export audited), then streamed a page of
//! segments at a time: a long call starts downloading at once and is never
//! held whole.

mod format;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};

use crate::error::AppError;
use crate::model::AlertSet;
use crate::server::access::{Asking, Door, TranscriptPages};
use crate::server::store::now_ms;

use super::extract::{Client, SignedIn};
use super::rest::GrantQuery;
use super::state::AppState;
use format::{Format, Writer};

/// `GET /calls/{call_id}/{file}`: `file` names the format
/// (`transcript.txt`, `.csv` or `.json`); any other name is not found.
pub async fn download(
    state: State<AppState>,
    viewer: SignedIn,
    addr: Client,
    Path((raw, file)): Path<(String, String)>,
    query: Query<GrantQuery>,
) -> Result<Response, AppError> {
    match Format::from_file_name(&file) {
        Some(format) => export(state, viewer, addr, raw, query, format).await,
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

#[tracing::instrument(skip_all, fields(call = %raw, format = format.ext()))]
async fn export(
    State(state): State<AppState>,
    SignedIn(viewer): SignedIn,
    Client(addr): Client,
    raw: String,
    Query(query): Query<GrantQuery>,
    format: Format,
) -> Result<Response, AppError> {
    let who = Asking::new(viewer, addr, Door::Export).with_grant(query.grant);
    let (call, pages, alerts) = state.access.export(&who, &raw, format.ext()).await?;

    let name = format::file_name(&call, format, now_ms());
    let writer = Writer::new(format);
    let head = Bytes::from(writer.head(&call));
    let body = stream::once(async move { Ok(head) }).chain(rows(pages, writer, alerts));

    // The name is a parsed UUID and digits: always a valid header value.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// One chunk per page of segments, then the tail. A store failure midway
/// ends the body with an error (the download fails rather than stopping
/// short as if complete).
fn rows(
    pages: TranscriptPages,
    writer: Writer,
    alerts: AlertSet,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    stream::try_unfold(Some((pages, writer, alerts)), |state| async move {
        let Some((mut pages, mut writer, alerts)) = state else {
            return Ok(None);
        };
        match pages.next_page().await {
            Ok(Some(segments)) => {
                let mut chunk = String::new();
                for segment in &segments {
                    // Labels of alerts on this line, once each.
                    let mut labels: Vec<String> =
                        alerts.on(segment.key()).map(|a| a.label.clone()).collect();
                    labels.dedup();
                    writer.segment(segment, &labels, &mut chunk);
                }
                Ok(Some((Bytes::from(chunk), Some((pages, writer, alerts)))))
            }
            Ok(None) => {
                tracing::debug!(rows = writer.rows(), "export complete");
                Ok(Some((Bytes::from_static(writer.tail().as_bytes()), None)))
            }
            Err(e) => {
                tracing::warn!(error = %e, rows = writer.rows(), "export cut short");
                Err(std::io::Error::other(e.to_string()))
            }
        }
    })
}
