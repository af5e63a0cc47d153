//! The single sign-on settings (`oidc_*` in Leptos.toml, `TRAVOIQ_OIDC_*`
//! in the environment), and their checked form.

use serde::Deserialize;

use crate::model::Role;

use super::ConfigError;

/// The path this server answers the provider's redirect on.
pub const CALLBACK_PATH: &str = "/signin/sso/callback";

/// The settings as written: strings, empty when unset.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SsoSettings {
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: String,
    pub oidc_redirect_url: String,
    pub oidc_scopes: String,
    pub oidc_username_claim: String,
    pub oidc_roles_claim: String,
    pub oidc_roles: String,
    pub oidc_agent_claim: String,
    pub oidc_label: String,
}

/// Single sign-on, checked: every field is usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoConfig {
    pub issuer: String,
    pub client_id: String,
    /// None for a public client (PKCE alone).
    pub client_secret: Option<String>,
    pub redirect_url: String,
    /// Besides `openid`.
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub roles_claim: String,
    /// Group → role, in the order written.
    pub role_map: Vec<(String, Role)>,
    /// None: the agent id is the username.
    pub agent_claim: Option<String>,
    pub label: String,
}

impl SsoSettings {
    /// The checked settings, or `None` when single sign-on is off.
    pub fn parsed(&self) -> Result<Option<SsoConfig>, ConfigError> {
        let issuer = self.oidc_issuer.trim();
        if issuer.is_empty() {
            return Ok(None);
        }
        let invalid = |why: String| Err(ConfigError::Invalid(why));
        if !(issuer.starts_with("https://") || loopback_http(issuer)) {
            return invalid(format!(
                "oidc_issuer must be an https:// URL (plain http only on loopback), not {issuer:?}"
            ));
        }
        let client_id = self.oidc_client_id.trim();
        if client_id.is_empty() {
            return invalid("oidc_client_id is needed when oidc_issuer is set".into());
        }
        let redirect_url = self.oidc_redirect_url.trim();
        let path = redirect_url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]));
        if path != Some(CALLBACK_PATH) {
            return invalid(format!(
                "oidc_redirect_url must be this server's address followed by {CALLBACK_PATH}, not {redirect_url:?}"
            ));
        }
        let mut role_map = Vec::new();
        for pair in self.oidc_roles.split(',').map(str::trim) {
            if pair.is_empty() {
                continue;
            }
            match pair.rsplit_once('=') {
                Some((group, role)) if !group.trim().is_empty() => match Role::parse(role.trim()) {
                    Some(role) => role_map.push((group.trim().to_string(), role)),
                    None => {
                        return invalid(format!(
                            "oidc_roles: {role:?} is not a role (supervisor, agent, admin)"
                        ))
                    }
                },
                _ => return invalid(format!("oidc_roles: {pair:?} is not \"group=role\"")),
            }
        }
        if role_map.is_empty() {
            return invalid(
                "oidc_roles must map at least one group to a role, e.g. \"monitor-supervisors=supervisor\""
                    .into(),
            );
        }
        let claim = |raw: &str, name: &str| -> Result<String, ConfigError> {
            match raw.trim() {
                "" => Err(ConfigError::Invalid(format!("{name} must name a claim"))),
                c => Ok(c.to_string()),
            }
        };
        Ok(Some(SsoConfig {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            client_secret: Some(self.oidc_client_secret.trim().to_string())
                .filter(|s| !s.is_empty()),
            redirect_url: redirect_url.to_string(),
            scopes: self
                .oidc_scopes
                .split_whitespace()
                .filter(|s| *s != "openid")
                .map(str::to_string)
                .collect(),
            username_claim: claim(&self.oidc_username_claim, "oidc_username_claim")?,
            roles_claim: claim(&self.oidc_roles_claim, "oidc_roles_claim")?,
            role_map,
            agent_claim: Some(self.oidc_agent_claim.trim().to_string()).filter(|s| !s.is_empty()),
            label: match self.oidc_label.trim() {
                "" => "your company account".to_string(),
                label => label.chars().take(60).collect(),
            },
        }))
    }
}

/// `http://` to a loopback address: a provider on this machine (tests).
fn loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(issuer: &str, roles: &str, redirect: &str) -> SsoSettings {
        SsoSettings {
            oidc_issuer: issuer.into(),
            oidc_client_id: "monitor".into(),
            oidc_redirect_url: redirect.into(),
            oidc_scopes: "openid profile email".into(),
            oidc_username_claim: "preferred_username".into(),
            oidc_roles_claim: "groups".into(),
            oidc_roles: roles.into(),
            ..SsoSettings::default()
        }
    }

    #[test]
    fn off_without_an_issuer_and_checked_with_one() {
        let good = "https://monitor.example.com/signin/sso/callback";
        assert_eq!(settings("", "", "").parsed().unwrap(), None);
        let on = settings(
            "https://login.example.com",
            "sup=supervisor, ops=admin,a=b=agent",
            good,
        )
        .parsed()
        .unwrap()
        .unwrap();
        assert_eq!(
            on.role_map,
            vec![
                ("sup".to_string(), Role::Supervisor),
                ("ops".to_string(), Role::Admin),
                ("a=b".to_string(), Role::Agent),
            ]
        );
        assert_eq!(on.scopes, vec!["profile", "email"]);
        assert_eq!(on.client_secret, None);
        assert_eq!(on.agent_claim, None);
        assert!(settings("http://127.0.0.1:4010", "x=agent", good)
            .parsed()
            .is_ok());
        for (issuer, roles, redirect, word) in [
            ("http://login.example.com", "x=agent", good, "https"),
            ("https://login.example.com", "", good, "oidc_roles"),
            ("https://login.example.com", "x=boss", good, "not a role"),
            ("https://login.example.com", "x", good, "group=role"),
            (
                "https://login.example.com",
                "x=agent",
                "https://m.example.com/callback",
                "oidc_redirect_url",
            ),
        ] {
            let err = settings(issuer, roles, redirect).parsed().unwrap_err();
            assert!(err.to_string().contains(word), "{err}");
        }
    }
}
