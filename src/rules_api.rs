//! Server functions behind the Rules page: list, save (add or edit) and
//! delete alert rules. Supervisors and admins only (asked of
//! [`crate::server::access::CallAccess::rules`]); every change is audited.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Rule;

#[cfg(feature = "ssr")]
mod rules {
    use std::sync::Arc;

    use crate::error::AppError;
    use crate::model::{PatternKind, Rule, RuleId, Severity, Username, Watches};
    use crate::server::access::store_error;
    use crate::server::alerts::{Alerts, RuleChangeError};
    use crate::server::http::server_fn::asking;

    /// The rules and who asks, for someone who may edit them.
    pub fn editor() -> Result<(Arc<Alerts>, Username), AppError> {
        let (state, who) = asking(crate::server::access::Door::Rules)?;
        let alerts = state.access.rules(&who)?.clone();
        Ok((alerts, who.viewer.user.username))
    }

    pub fn parse_id(raw: &str) -> Result<RuleId, AppError> {
        RuleId::parse(raw).ok_or_else(|| AppError::Invalid("No such rule.".into()))
    }

    /// A fresh rule id: ten random letters and digits.
    pub fn new_id() -> Result<RuleId, AppError> {
        use rand::distr::{Alphanumeric, SampleString};
        let raw = Alphanumeric
            .sample_string(&mut rand::rng(), 10)
            .to_lowercase();
        RuleId::parse(&raw).ok_or(AppError::Unavailable)
    }

    pub fn rule(
        id: RuleId,
        kind: &str,
        pattern: String,
        speaker: &str,
        severity: &str,
        label: String,
    ) -> Result<Rule, AppError> {
        let invalid = |what: &str| AppError::Invalid(format!("Pick {what}."));
        Ok(Rule {
            id,
            kind: PatternKind::parse(kind)
                .ok_or_else(|| invalid("a phrase or a regular expression"))?,
            pattern,
            speaker: Watches::parse(speaker).ok_or_else(|| invalid("whose words to watch"))?,
            severity: Severity::parse(severity).ok_or_else(|| invalid("a severity"))?,
            label,
        })
    }

    pub fn change_error(e: RuleChangeError) -> AppError {
        match e {
            RuleChangeError::Invalid(why) => AppError::Invalid(why.to_string()),
            RuleChangeError::Store(e) => store_error(e),
        }
    }
}

#[server(prefix = "/api", endpoint = "rules")]
pub async fn list_rules() -> Result<Vec<Rule>, AppError> {
    crate::server::http::server_fn::answer(
        async move {
            let (alerts, _) = rules::editor()?;
            alerts
                .rules()
                .await
                .map_err(crate::server::access::store_error)
        }
        .await,
    )
}

/// Adds a rule (`id` empty) or replaces the rule with `id`.
#[server(prefix = "/api", endpoint = "rules/save")]
pub async fn save_rule(
    id: String,
    kind: String,
    pattern: String,
    speaker: String,
    severity: String,
    label: String,
) -> Result<Rule, AppError> {
    crate::server::http::server_fn::answer(
        async move {
            let (alerts, by) = rules::editor()?;
            let (id, change) = match id.trim() {
                "" => (rules::new_id()?, "added"),
                raw => (rules::parse_id(raw)?, "edited"),
            };
            let rule = rules::rule(id, &kind, pattern, &speaker, &severity, label)?;
            let saved = alerts.save_rule(rule).await.map_err(rules::change_error)?;
            crate::server::auth::audit::rule_changed(&by, saved.id.as_str(), change);
            Ok(saved)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "rules/delete")]
pub async fn delete_rule(id: String) -> Result<(), AppError> {
    crate::server::http::server_fn::answer(
        async move {
            let (alerts, by) = rules::editor()?;
            let id = rules::parse_id(&id)?;
            if !alerts
                .delete_rule(&id)
                .await
                .map_err(crate::server::access::store_error)?
            {
                return Err(AppError::Invalid("No such rule.".into()));
            }
            crate::server::auth::audit::rule_changed(&by, id.as_str(), "deleted");
            Ok(())
        }
        .await,
    )
}
