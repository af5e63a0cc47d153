//! The audit trail: one log line (target `audit`) for every sign-in,
//! failed or throttled attempt, sign-out, expiry, and every call opened or
//! refused: who, which call, when (the log's timestamp), from where.
//! Shared links: made, used, revoked (never their grant).
//! Route it with `RUST_LOG=audit=info` (on by default).

use std::net::IpAddr;

use crate::model::{CallId, LinkId, Username};

use super::Viewer;

/// `via`: "password" or "sso" (a company account).
pub fn signed_in(user: &Username, addr: IpAddr, via: &str) {
    tracing::info!(target: "audit", event = "sign_in", user = %user, addr = %addr, via);
}

/// A company sign-in refused: by the provider, by our checks of what it
/// sent (state, nonce, signature), or by the mapping to an account here.
pub fn sso_refused(user: Option<&Username>, reason: &str, addr: IpAddr) {
    tracing::warn!(target: "audit", event = "sso_refused", user = ?user.map(Username::as_str), reason, addr = %addr);
}

pub fn sign_in_failed(attempted: &str, addr: IpAddr) {
    tracing::warn!(target: "audit", event = "sign_in_failed", attempted = ?attempted, addr = %addr);
}

pub fn sign_in_throttled(attempted: &str, addr: IpAddr) {
    tracing::warn!(target: "audit", event = "sign_in_throttled", attempted = ?attempted, addr = %addr);
}

pub fn signed_out(user: &Username, addr: IpAddr) {
    tracing::info!(target: "audit", event = "sign_out", user = %user, addr = %addr);
}

pub fn session_expired(user: &Username) {
    tracing::info!(target: "audit", event = "session_expired", user = %user);
}

/// The floor (the list of calls) opened: which calls it shows follows
/// from the viewer's role, so they are not listed one by one.
pub fn floor_opened(viewer: &Viewer, rows: usize, addr: Option<IpAddr>, via: &str) {
    tracing::info!(target: "audit", event = "floor_opened", user = %viewer.user.username, role = viewer.user.role.as_str(), rows, addr = ?addr, via);
}

pub fn call_opened(viewer: &Viewer, call: &CallId, addr: Option<IpAddr>, via: &str) {
    tracing::info!(target: "audit", event = "call_opened", user = %viewer.user.username, role = %viewer.user.role, call = %call, addr = ?addr, via);
}

/// A call's transcript downloaded (`format`: txt, csv or json); follows
/// its `call_opened` line.
pub fn transcript_exported(viewer: &Viewer, call: &CallId, format: &str, addr: Option<IpAddr>) {
    tracing::info!(target: "audit", event = "transcript_exported", user = %viewer.user.username, role = %viewer.user.role, call = %call, format, addr = ?addr);
}

pub fn call_denied(viewer: &Viewer, call: &CallId, addr: Option<IpAddr>, via: &str) {
    tracing::warn!(target: "audit", event = "call_denied", user = %viewer.user.username, role = %viewer.user.role, call = %call, addr = ?addr, via);
}

pub fn cross_site_refused(path: &str, origin: Option<&str>, addr: IpAddr) {
    tracing::warn!(target: "audit", event = "cross_site_refused", path, origin = ?origin, addr = %addr);
}

pub fn account_changed(by: &str, user: &Username, change: &str) {
    tracing::info!(target: "audit", event = "account_changed", by, user = %user, change);
}

pub fn link_made(by: &Username, call: &CallId, link: &LinkId, agent: &Username, expires_ms: i64) {
    tracing::info!(target: "audit", event = "link_made", user = %by, call = %call, link = %link, agent = %agent, expires_ms);
}

pub fn link_used(viewer: &Viewer, call: &CallId, link: &LinkId, addr: Option<IpAddr>, via: &str) {
    tracing::info!(target: "audit", event = "link_used", user = %viewer.user.username, call = %call, link = %link, addr = ?addr, via);
}

pub fn link_revoked(by: &Username, call: &CallId, link: &LinkId) {
    tracing::info!(target: "audit", event = "link_revoked", user = %by, call = %call, link = %link);
}

pub fn link_revoke_refused(by: &Username, call: &CallId, link: &LinkId) {
    tracing::warn!(target: "audit", event = "link_revoke_refused", user = %by, call = %call, link = %link);
}

pub fn rule_changed(by: &Username, rule: &str, change: &str) {
    tracing::info!(target: "audit", event = "rule_changed", by = %by, rule, change);
}
