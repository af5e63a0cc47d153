//! The one path to a call. Every door that shows call data (pages, server
//! functions, REST, the call socket, the lobby, and every door added
//! later) asks [`CallAccess`]: it parses the id, loads the call, decides
//! whether this viewer may see it, writes the audit line, and redacts the
//! call for the viewer. A live socket asks [`CallAccess::admits`] again
//! whenever access may have changed (the call's details changed, its
//! account changed, a shared link expired or was revoked, and at each
//! session re-check). Shared links are made, listed and revoked here too
//! ([`links`]).
//!
//! A call the viewer may not see is answered exactly as a call that does
//! not exist, so ids can't be probed.

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::AppError;
use crate::model::{
    conversation_order, Alert, AlertSet, CallDetails, CallId, CallSnapshot, FloorRow, Role,
    Segment, SegmentKey, Seq,
};

/// Changes of the floor; each row for [`CallAccess::floor_row`] to filter.
pub type FloorUpdates = tokio::sync::broadcast::Receiver<super::floor::FloorChange>;

use super::alerts::Alerts;
use super::auth::grant::{Granted, Signer};
use super::auth::{audit, Auth, Viewer};
use super::config::Settings;
use super::contact::{ATTR_PHONE, ATTR_PHONE_ALT};
use super::floor::Floor;
use super::hub::{Hub, PAGE};
use super::store::{now_ms, CallStore, StoreError};

/// The kind of door a request came through, for the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// A page load or a page's server function.
    Page,
    /// The REST endpoints.
    Rest,
    /// A call's live socket.
    Socket,
    /// The lobby socket (new calls).
    Lobby,
    /// Making, listing or revoking shared links.
    Share,
    /// Downloading a call's transcript as a file.
    Export,
    /// The floor view: the list of calls, and its live socket.
    Floor,
    /// The alert rules (reading and editing them).
    Rules,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Page => "page",
            Door::Rest => "rest",
            Door::Socket => "socket",
            Door::Lobby => "lobby",
            Door::Share => "share",
            Door::Export => "export",
            Door::Floor => "floor",
            Door::Rules => "rules",
        }
    }
}

/// Who is asking, from where, through which door, with a shared link's
/// grant if the request carried one.
#[derive(Clone, Debug)]
pub struct Asking {
    pub viewer: Viewer,
    pub addr: Option<IpAddr>,
    pub door: Door,
    pub grant: Option<String>,
}

impl Asking {
    pub fn new(viewer: Viewer, addr: Option<IpAddr>, door: Door) -> Self {
        Self {
            viewer,
            addr,
            door,
            grant: None,
        }
    }

    pub fn with_grant(mut self, grant: Option<String>) -> Self {
        self.grant = grant;
        self
    }
}

/// Decides, loads and redacts; see the module documentation.
pub struct CallAccess {
    hub: Arc<Hub>,
    /// Where shared links' records are kept, and where revocations are
    /// announced.
    auth: Arc<Auth>,
    signer: Signer,
    agent_attribute: String,
    masked: Vec<Role>,
    /// What the masked roles see of a call's item (an allow-list).
    masked_see: Vec<String>,
    share_for_ms: i64,
    /// The shared table of recent calls behind every floor view.
    floor: Arc<Floor>,
}

/// How many recent calls the floor view holds.
pub const FLOOR_CALLS: usize = 300;

impl CallAccess {
    pub fn new(hub: Arc<Hub>, auth: Arc<Auth>, settings: &Settings) -> Self {
        let signer = match settings.secret.trim() {
            "" => {
                tracing::warn!("no TRAVOIQ_SECRET: shared call links last only until this server stops, and work on this instance only");
                Signer::random()
            }
            secret => Signer::new(secret.as_bytes()),
        };
        Self {
            floor: Floor::new(hub.clone(), FLOOR_CALLS),
            hub,
            auth,
            signer,
            agent_attribute: settings.agent_attribute.clone(),
            masked: settings.masked_roles(),
            masked_see: settings.masked_roles_see(),
            share_for_ms: settings.share_link_mins.saturating_mul(60_000) as i64,
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    fn store(&self) -> &dyn CallStore {
        self.hub.store().as_ref()
    }

    /// Whether this asker may see this call: supervisors and admins every
    /// call; an agent their own (by the agent attribute; an empty agent id
    /// matches nothing) or one shared with them by a link still valid: its
    /// grant genuine and not expired, its record there and not revoked
    /// (one read of the account store).
    pub async fn admits(&self, who: &Asking, call: &CallDetails) -> Result<bool, AppError> {
        if self.by_right(who, call) {
            return Ok(true);
        }
        let Some(granted) = self.granted(who, call) else {
            return Ok(false);
        };
        let record = self
            .auth
            .store()
            .link(&call.call_id, &granted.link)
            .await
            .map_err(links::account_store_error)?;
        Ok(record.is_some_and(|r| r.opens(&call.call_id, &who.viewer.user.username, now_ms())))
    }

    /// What the asker's grant says, if it is genuine for this call and
    /// this viewer and not expired (its record not yet read).
    fn granted(&self, who: &Asking, call: &CallDetails) -> Option<Granted> {
        let grant = who.grant.as_deref()?;
        self.signer
            .verify(grant, &call.call_id, &who.viewer.user.username, now_ms())
    }

    /// The shared link this asker's access to the call rests on, if any.
    pub fn link_of(&self, who: &Asking, call: &CallDetails) -> Option<crate::model::LinkId> {
        (!self.by_right(who, call))
            .then(|| self.granted(who, call))
            .flatten()
            .map(|g| g.link)
    }

    /// When this asker's access to the call ends by itself: the expiry of
    /// the shared link it rests on; `None` when it rests on their role or
    /// on the call being theirs (or when there is no access to end).
    pub fn ends_at(&self, who: &Asking, call: &CallDetails) -> Option<i64> {
        if self.by_right(who, call) {
            return None;
        }
        let grant = who.grant.as_deref()?;
        self.signer
            .check(grant, &call.call_id, &who.viewer.user.username)
            .map(|g| g.expires_ms)
    }

    /// Access by role, or by the call being the viewer's own.
    fn by_right(&self, who: &Asking, call: &CallDetails) -> bool {
        let viewer = &who.viewer;
        viewer.user.role.sees_every_call()
            || (!viewer.agent_id.is_empty()
                && call.attributes.get(&self.agent_attribute) == Some(&viewer.agent_id))
    }

    /// The call as this viewer is shown it: for the roles configured so,
    /// only the allowed attributes, phone numbers masked.
    pub fn redact(&self, viewer: &Viewer, mut call: CallDetails) -> CallDetails {
        if self.masked.contains(&viewer.user.role) {
            call.attributes
                .retain(|key, _| self.masked_see.contains(key));
            call.customer_phone = call.customer_phone.as_deref().map(mask_phone);
            for key in [ATTR_PHONE, ATTR_PHONE_ALT] {
                if let Some(phone) = call.attributes.get_mut(key) {
                    *phone = mask_phone(phone);
                }
            }
        }
        call
    }

    /// The call redacted for this asker, or `None` if they may not see it
    /// by right (for announcements of new calls: not audited, never told;
    /// a shared link opens only its own call, through [`Self::open`]).
    pub fn visible(&self, who: &Asking, call: CallDetails) -> Option<CallDetails> {
        self.by_right(who, &call)
            .then(|| self.redact(&who.viewer, call))
    }

    /// Decides on a loaded call, writes the audit line and redacts.
    async fn admit(&self, who: &Asking, call: CallDetails) -> Result<CallDetails, AppError> {
        let door = who.door.as_str();
        if self.admits(who, &call).await? {
            if let Some(link) = self.link_of(who, &call) {
                audit::link_used(&who.viewer, &call.call_id, &link, who.addr, door);
            }
            audit::call_opened(&who.viewer, &call.call_id, who.addr, door);
            Ok(self.redact(&who.viewer, call))
        } else {
            audit::call_denied(&who.viewer, &call.call_id, who.addr, door);
            Err(self.refusal(who, call.call_id))
        }
    }

    /// What a refused asker is told. Without a shared link: that there is
    /// no such call (the same as for a call that does not exist). With one:
    /// that it expired, if it is genuine for this call and user (so only
    /// its holder learns that), else that it is not valid.
    fn refusal(&self, who: &Asking, id: CallId) -> AppError {
        let Some(grant) = who.grant.as_deref() else {
            return AppError::UnknownCall(id);
        };
        match self.signer.check(grant, &id, &who.viewer.user.username) {
            Some(g) if g.expires_ms <= now_ms() => AppError::LinkExpired,
            _ => AppError::LinkNotValid,
        }
    }

    /// A call by id, as typed or as in a path.
    pub async fn open(&self, who: &Asking, raw: &str) -> Result<CallDetails, AppError> {
        self.open_id(who, &parse_id(raw)?).await
    }

    /// A call by parsed id.
    pub async fn open_id(&self, who: &Asking, id: &CallId) -> Result<CallDetails, AppError> {
        let call = self
            .store()
            .call_details(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| self.refusal(who, id.clone()))?;
        self.admit(who, call).await
    }

    /// The newest call this asker may see (not audited: nothing is opened).
    pub async fn latest(&self, who: &Asking) -> Result<Option<CallDetails>, AppError> {
        let viewer = &who.viewer;
        let latest = if viewer.user.role.sees_every_call() {
            self.store().latest_call().await
        } else if viewer.agent_id.is_empty() {
            Ok(None)
        } else {
            self.store().latest_call_of(&viewer.agent_id).await
        }
        .map_err(store_error)?;
        Ok(latest.and_then(|call| self.visible(who, call)))
    }

    /// The floor as this asker may see it: the recent calls they may see by
    /// right (supervisors and admins every call, an agent their own; a
    /// shared link opens one call, never a list), redacted for them, newest
    /// first; and the row updates that follow, each to be passed through
    /// [`Self::floor_row`]. Audited once.
    pub async fn floor(&self, who: &Asking) -> Result<(Vec<FloorRow>, FloorUpdates), AppError> {
        let (rows, updates) = self.floor.table().await.map_err(store_error)?;
        let rows: Vec<FloorRow> = rows
            .into_iter()
            .filter_map(|row| self.floor_row(who, row))
            .collect();
        audit::floor_opened(&who.viewer, rows.len(), who.addr, who.door.as_str());
        Ok((rows, updates))
    }

    /// A floor row as this asker sees it, or `None` if it is not theirs to
    /// see.
    pub fn floor_row(&self, who: &Asking, row: FloorRow) -> Option<FloorRow> {
        let FloorRow {
            call,
            last_line,
            alerts,
            ..
        } = row;
        let agent = call
            .attributes
            .get(&self.agent_attribute)
            .filter(|a| !a.is_empty())
            .cloned();
        self.visible(who, call).map(|call| FloorRow {
            call,
            agent,
            last_line,
            alerts,
        })
    }

    /// A call and its whole transcript so far.
    pub async fn snapshot(&self, who: &Asking, raw: &str) -> Result<CallSnapshot, AppError> {
        let details = self.open(who, raw).await?;
        self.snapshot_of(details).await
    }

    /// A call opened for a download of its transcript (`what`: the file's
    /// format, for the audit line), and the transcript to read page by
    /// page, so a long call is never held whole.
    pub async fn export(
        &self,
        who: &Asking,
        raw: &str,
        what: &str,
    ) -> Result<(CallDetails, TranscriptPages, AlertSet), AppError> {
        let details = self.open(who, raw).await?;
        audit::transcript_exported(&who.viewer, &details.call_id, what, who.addr);
        let alerts = AlertSet::new(self.alerts_of(&details.call_id).await);
        let pages = TranscriptPages {
            hub: self.hub.clone(),
            id: details.call_id.clone(),
            after: None,
            done: false,
        };
        Ok((details, pages, alerts))
    }

    /// The newest call this asker may see, opened, with its transcript.
    pub async fn latest_snapshot(&self, who: &Asking) -> Result<Option<CallSnapshot>, AppError> {
        match self.latest(who).await? {
            Some(details) => {
                audit::call_opened(&who.viewer, &details.call_id, who.addr, who.door.as_str());
                self.snapshot_of(details).await.map(Some)
            }
            None => Ok(None),
        }
    }

    /// A call's details (already admitted) and whole transcript so far, in
    /// conversation order.
    async fn snapshot_of(&self, details: CallDetails) -> Result<CallSnapshot, AppError> {
        let store = self.store();
        let epoch = store.epoch(&details.call_id).await.map_err(store_error)?;
        let mut segments = Vec::new();
        let mut last = Seq::ZERO;
        loop {
            let page = store
                .segments_after(&details.call_id, last, PAGE)
                .await
                .map_err(store_error)?;
            if let Some(seg) = page.segments.last() {
                last = seg.seq;
            }
            segments.extend(page.segments);
            if !page.more {
                break;
            }
        }
        segments.sort_by(conversation_order);
        let alerts = self.alerts_of(&details.call_id).await;
        Ok(CallSnapshot {
            details,
            segments,
            last_seq: last,
            epoch,
            alerts,
        })
    }

    /// The alerts kept with a call the asker was admitted to. Alerts that
    /// can't be read are left out (and logged): the transcript still shows.
    pub async fn alerts_of(&self, id: &CallId) -> Vec<Alert> {
        let Some(alerts) = self.hub.alerts() else {
            return Vec::new();
        };
        alerts.of_call(id).await.unwrap_or_else(|e| {
            tracing::warn!(call_id = %id, error = %e, "alerts not read");
            Vec::new()
        })
    }

    /// The rules, for someone who may edit them (supervisors and admins).
    pub fn rules(&self, who: &Asking) -> Result<&Arc<Alerts>, AppError> {
        match who.viewer.user.role {
            Role::Supervisor | Role::Admin => self.hub.alerts().ok_or(AppError::Unavailable),
            Role::Agent => Err(AppError::NotAllowed),
        }
    }

    /// The shared floor (started at server start, so that every live
    /// call's finals are judged).
    pub fn shared_floor(&self) -> &Arc<Floor> {
        &self.floor
    }
}

/// An admitted call's transcript in conversation order, [`PAGE`] segments
/// at a time, each in its latest state (from [`CallAccess::export`]). A
/// line written meanwhile is included if it sorts after the last page.
pub struct TranscriptPages {
    hub: Arc<Hub>,
    id: CallId,
    after: Option<SegmentKey>,
    done: bool,
}

impl TranscriptPages {
    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Segment>>, AppError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .hub
            .store()
            .segments_in_order(&self.id, self.after, PAGE)
            .await
            .map_err(store_error)?;
        self.done = !page.more;
        match page.segments.last() {
            Some(last) => self.after = Some(last.key()),
            None => self.done = true,
        }
        Ok((!page.segments.is_empty()).then_some(page.segments))
    }
}

pub fn parse_id(raw: &str) -> Result<CallId, AppError> {
    CallId::parse(raw).map_err(|reason| AppError::invalid_call_id(raw, reason))
}

/// Maps a store failure to what the client is told; the detail stays in
/// the log.
pub fn store_error(e: StoreError) -> AppError {
    tracing::warn!(error = %e, "store read failed");
    match e {
        StoreError::Unavailable(_) => AppError::Unavailable,
        StoreError::MissingTable(_) => AppError::MissingTable,
        StoreError::AccessDenied(_) | StoreError::Misconfigured(_) => AppError::DataSourceRefused,
    }
}

/// Digits but the last four replaced: `+1 555-010-4567` → `+• •••-•••-4567`.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    phone
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= digits.saturating_sub(4) {
                    return '•';
                }
            }
            c
        })
        .collect()
}

mod links;
#[cfg(test)]
mod tests;
