//! From a verified ID token's claims to who the user is here: a username,
//! a role from their groups, and the agent id that marks their calls.

use serde_json::Value;

use crate::model::{Role, Username};
use crate::server::config::sso::SsoConfig;

/// A company account, as this server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoIdentity {
    pub username: Username,
    pub role: Role,
    pub agent_id: String,
    /// The issuer and the provider's subject id: which company account this
    /// is, whatever its username claim says.
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("the ID token has no {0:?} claim to name the user")]
    NoUsername(String),
    #[error("the {claim:?} claim {value:?} is not a username here: {why}")]
    BadUsername {
        claim: String,
        value: String,
        why: String,
    },
    #[error("{username}'s groups ({groups}) give no role here")]
    NoRole { username: Username, groups: String },
    #[error("{0} is an agent but the ID token has no agent username claim")]
    NoAgent(Username),
}

/// Who the claims say the user is, under `config`'s mapping.
pub fn identity(claims: &Value, config: &SsoConfig) -> Result<SsoIdentity, ClaimsError> {
    let raw_name = claim(claims, &config.username_claim)
        .and_then(Value::as_str)
        .ok_or_else(|| ClaimsError::NoUsername(config.username_claim.clone()))?;
    let username = Username::parse(raw_name).map_err(|e| ClaimsError::BadUsername {
        claim: config.username_claim.clone(),
        value: raw_name.chars().take(80).collect(),
        why: e.to_string(),
    })?;
    let groups = claim(claims, &config.roles_claim)
        .map(strings)
        .unwrap_or_default();
    let role = role_of(&groups, &config.role_map).ok_or_else(|| ClaimsError::NoRole {
        username: username.clone(),
        groups: match groups.join(", ") {
            g if g.is_empty() => "none".to_string(),
            g => g.chars().take(200).collect(),
        },
    })?;
    let agent_id = match &config.agent_claim {
        None => username.to_string(),
        Some(name) => match claim(claims, name).and_then(Value::as_str).map(str::trim) {
            Some(id) if !id.is_empty() => id.chars().take(128).collect(),
            // An agent with no agent id would see nothing, unexplained.
            _ if role == Role::Agent => return Err(ClaimsError::NoAgent(username)),
            _ => String::new(),
        },
    };
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(SsoIdentity {
        username,
        role,
        agent_id,
        subject: format!("{issuer} {sub}"),
    })
}

/// A claim by its exact name (names like `cognito:groups` or a URL are
/// common), or else by a dotted path into nested objects
/// (`realm_access.roles`).
fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    claims.get(name).or_else(|| {
        name.split('.')
            .try_fold(claims, |value, part| value.get(part))
    })
}

/// A list claim's strings: an array, or one string of names separated by
/// spaces or commas.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Value::String(s) => s
            .split([' ', ','])
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The highest role any of `groups` maps to.
fn role_of(groups: &[String], map: &[(String, Role)]) -> Option<Role> {
    let rank = |role: Role| match role {
        Role::Agent => 0,
        Role::Supervisor => 1,
        Role::Admin => 2,
    };
    map.iter()
        .filter(|(group, _)| groups.iter().any(|g| g == group))
        .map(|(_, role)| *role)
        .max_by_key(|role| rank(*role))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(agent_claim: Option<&str>) -> SsoConfig {
        SsoConfig {
            issuer: "https://login.example.com".into(),
            client_id: "monitor".into(),
            client_secret: None,
            redirect_url: "https://m.example.com/signin/sso/callback".into(),
            scopes: vec![],
            username_claim: "preferred_username".into(),
            roles_claim: "cognito:groups".into(),
            role_map: vec![
                ("agents".into(), Role::Agent),
                ("leads".into(), Role::Supervisor),
                ("it".into(), Role::Admin),
            ],
            agent_claim: agent_claim.map(str::to_string),
            label: "Example".into(),
        }
    }

    #[test]
    fn groups_map_to_the_highest_role_and_names_are_checked() {
        let claims = json!({
            "iss": "https://login.example.com", "sub": "abc",
            "preferred_username": "Sam@Example.com",
            "cognito:groups": ["agents", "leads", "other"],
        });
        let who = identity(&claims, &config(None)).unwrap();
        assert_eq!(who.username.as_str(), "sam@example.com");
        assert_eq!(who.role, Role::Supervisor);
        assert_eq!(who.agent_id, "sam@example.com");
        assert_eq!(who.subject, "https://login.example.com abc");

        let as_string = json!({"preferred_username": "kim", "cognito:groups": "x, it"});
        assert_eq!(
            identity(&as_string, &config(None)).unwrap().role,
            Role::Admin
        );

        let none = json!({"preferred_username": "nora", "cognito:groups": ["sales"]});
        assert!(matches!(
            identity(&none, &config(None)),
            Err(ClaimsError::NoRole { .. })
        ));
        let missing = json!({"preferred_username": "nora"});
        assert!(matches!(
            identity(&missing, &config(None)),
            Err(ClaimsError::NoRole { .. })
        ));
        let hostile = json!({"preferred_username": "<script>", "cognito:groups": ["it"]});
        assert!(matches!(
            identity(&hostile, &config(None)),
            Err(ClaimsError::BadUsername { .. })
        ));
        assert!(matches!(
            identity(&json!({"cognito:groups": ["it"]}), &config(None)),
            Err(ClaimsError::NoUsername(_))
        ));
    }

    #[test]
    fn the_agent_id_comes_from_its_claim_or_nested_paths() {
        let mut cfg = config(Some("custom:connect_user"));
        let claims = json!({
            "preferred_username": "alex", "cognito:groups": ["agents"],
            "custom:connect_user": "alex.connect",
        });
        assert_eq!(identity(&claims, &cfg).unwrap().agent_id, "alex.connect");
        let no_agent = json!({"preferred_username": "alex", "cognito:groups": ["agents"]});
        assert!(matches!(
            identity(&no_agent, &cfg),
            Err(ClaimsError::NoAgent(_))
        ));
        // A supervisor without one is fine: their agent id matches nothing.
        let lead = json!({"preferred_username": "lee", "cognito:groups": ["leads"]});
        assert_eq!(identity(&lead, &cfg).unwrap().agent_id, "");

        cfg.roles_claim = "realm_access.roles".into();
        let nested = json!({
            "preferred_username": "alex", "custom:connect_user": "a1",
            "realm_access": {"roles": ["agents"]},
        });
        assert_eq!(identity(&nested, &cfg).unwrap().role, Role::Agent);
    }
}
