//! Shared links through the one access path: made (for one agent, by a
//! supervisor or admin who may see the call), listed on the call for
//! supervisors and admins, and revoked by their maker or any admin.
//! A link another supervisor made is answered as a link that does not
//! exist.

use crate::error::AppError;
use crate::model::{CallId, LinkId, LinkSummary, Role, Username};
use crate::server::auth::accounts::AccountStoreError;
use crate::server::auth::links::LinkRecord;
use crate::server::auth::{audit, AccessChange, Viewer};
use crate::server::store::now_ms;

use super::{Asking, CallAccess};

/// Maps an account store failure to what the client is told; the detail
/// stays in the log.
pub(super) fn account_store_error(e: AccountStoreError) -> AppError {
    tracing::warn!(error = %e, "account store read failed");
    AppError::Unavailable
}

/// Whether `viewer` may revoke `link`: its maker, or any admin.
fn may_revoke(viewer: &Viewer, link: &LinkRecord) -> bool {
    viewer.user.role == Role::Admin || link.made_by == viewer.user.username
}

impl CallAccess {
    /// Supervisors and admins only; others are refused before anything is
    /// read.
    fn sharer(who: &Asking) -> Result<(), AppError> {
        if who.viewer.user.role.sees_every_call() {
            Ok(())
        } else {
            Err(AppError::NotAllowed)
        }
    }

    /// A signed link to one call the asker may see, for `agent` only, made
    /// by supervisors and admins, and kept on record: the path and its
    /// expiry.
    pub async fn share(
        &self,
        who: &Asking,
        id: &CallId,
        agent: &Username,
    ) -> Result<(String, i64), AppError> {
        Self::sharer(who)?;
        let call = self.open_id(who, id).await?;
        let maker = &who.viewer.user.username;
        let link = LinkRecord::new(
            call.call_id.clone(),
            agent.clone(),
            maker.clone(),
            now_ms(),
            self.share_for_ms,
        );
        self.auth
            .store()
            .create_link(&link)
            .await
            .map_err(account_store_error)?;
        let grant = self
            .signer
            .issue(&link.call, &link.id, agent, link.expires_ms);
        audit::link_made(maker, &link.call, &link.id, agent, link.expires_ms);
        Ok((
            format!("/calls/{}?grant={grant}", link.call),
            link.expires_ms,
        ))
    }

    /// The links to a call, for supervisors and admins (agents never see
    /// them), each with whether the asker may revoke it.
    pub async fn links(&self, who: &Asking, id: &CallId) -> Result<Vec<LinkSummary>, AppError> {
        Self::sharer(who)?;
        let call = self.open_id(who, id).await?;
        let records = self
            .auth
            .store()
            .links_of(&call.call_id)
            .await
            .map_err(account_store_error)?;
        let now = now_ms();
        Ok(records
            .into_iter()
            .filter(|l| !l.forgotten(now))
            .map(|l| {
                let state = l.state(now);
                LinkSummary {
                    may_revoke: may_revoke(&who.viewer, &l)
                        && state == crate::model::LinkState::Active,
                    id: l.id,
                    agent: l.agent,
                    made_by: l.made_by,
                    made_ms: l.made_ms,
                    expires_ms: l.expires_ms,
                    state,
                }
            })
            .collect())
    }

    /// Revokes a link to a call: by its maker or any admin. Sockets open
    /// with it close at once on this instance, and at their next session
    /// re-check on the others. A link the asker may not revoke is answered
    /// as one that does not exist.
    pub async fn revoke(&self, who: &Asking, id: &CallId, link: &LinkId) -> Result<(), AppError> {
        Self::sharer(who)?;
        let store = self.auth.store();
        let by = &who.viewer.user.username;
        let record = store.link(id, link).await.map_err(account_store_error)?;
        match record {
            Some(record) if may_revoke(&who.viewer, &record) => {}
            Some(_) => {
                audit::link_revoke_refused(by, id, link);
                return Err(AppError::UnknownLink);
            }
            None => return Err(AppError::UnknownLink),
        }
        store
            .revoke_link(id, link, by, now_ms())
            .await
            .map_err(account_store_error)?
            .ok_or(AppError::UnknownLink)?;
        audit::link_revoked(by, id, link);
        self.auth.announce(AccessChange::LinkRevoked(link.clone()));
        Ok(())
    }
}
