//! Single sign-on against a real OpenID provider: the certified npm
//! `oidc-provider`, started on loopback (end2end/oidc/provider.mjs, its
//! directory of accounts there). A browser is played by an HTTP client with
//! a cookie jar that follows redirects by hand, so each hop can be checked
//! or tampered with.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};
use travoiq_monitor::model::{Role, Username};
use travoiq_monitor::server::auth::sso::pending::{Pending, COOKIE as PENDING_COOKIE};

use crate::common::dynamo::free_port;
use crate::common::{eventually, plain_client, spawn_app_at, TestApp};

const SECRET: &str = "a test secret of at least thirty-two characters";

/// The provider process; killed when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_provider(app_base: &str) -> Provider {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/end2end/oidc/provider.mjs");
    assert!(
        std::path::Path::new(&format!("{root}/end2end/node_modules/oidc-provider")).exists(),
        "the OpenID provider is not installed: run `bash scripts/setup --with-browser` (npm ci in end2end/)"
    );
    let port = free_port();
    let child = Command::new("node")
        .arg(&script)
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_CLIENT_ID", "monitor")
        .env("OIDC_CLIENT_SECRET", "monitor-secret")
        .env(
            "OIDC_REDIRECT_URIS",
            format!("{app_base}/signin/sso/callback"),
        )
        .env(
            "OIDC_POST_LOGOUT_URIS",
            format!("{app_base}/signin?signed_out=1"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts (is Node.js installed?)");
    let issuer = format!("http://127.0.0.1:{port}");
    let provider = Provider { child, issuer };
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
    let up = eventually(Duration::from_secs(20), || {
        let url = discovery.clone();
        async move {
            let res = plain_client().get(url).send().await.ok()?;
            res.status().is_success().then_some(())
        }
    })
    .await;
    assert!(up.is_some(), "the OpenID provider answers discovery");
    provider
}

/// The monitor with single sign-on to a fresh provider.
async fn sso_app() -> (TestApp, Provider) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = start_provider(&base).await;
    let redirect = format!("{base}/signin/sso/callback");
    let app = spawn_app_at(
        &format!("127.0.0.1:{port}"),
        &[
            ("secret", SECRET),
            ("oidc_issuer", provider.issuer.as_str()),
            ("oidc_client_id", "monitor"),
            ("oidc_client_secret", "monitor-secret"),
            ("oidc_redirect_url", redirect.as_str()),
            ("oidc_scopes", "profile email groups connect"),
            (
                "oidc_roles",
                "monitor-agents=agent,monitor-supervisors=supervisor,monitor-admins=admin",
            ),
            ("oidc_agent_claim", "connect_username"),
            ("oidc_label", "Example Corp"),
        ],
    )
    .await;
    (app, provider)
}

/// A browser: a cookie jar, redirects followed by hand.
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Follows redirects from `url` until `stop` says so or a page
    /// answers; the last URL and the answer's body.
    async fn follow_until(&self, url: String, stop: impl Fn(&str) -> bool) -> (String, String) {
        let mut url = url;
        for _ in 0..20 {
            if stop(&url) {
                return (url, String::new());
            }
            let res = self.http.get(&url).send().await.expect("request");
            match res.headers().get(LOCATION).and_then(|l| l.to_str().ok()) {
                Some(location) if res.status().is_redirection() => {
                    url = absolute(&url, location);
                }
                _ => return (url, res.text().await.unwrap_or_default()),
            }
        }
        panic!("too many redirects");
    }

    async fn follow(&self, url: String) -> (String, String) {
        self.follow_until(url, |_| false).await
    }

    /// From the monitor's "Sign in with …" to the provider's login form,
    /// signed in there as `login`; returns the first URL back on the
    /// monitor's callback (not yet followed).
    async fn at_provider(&self, app: &TestApp, login: &str) -> String {
        self.log_in_from(format!("{}/signin/sso?next=/", app.base), app, login)
            .await
    }

    /// From `start` (the monitor's start of a sign-in, or the provider's
    /// authorize URL it sent the browser to) through the provider's login
    /// form as `login`; the first URL back on the monitor's callback.
    async fn log_in_from(&self, start: String, app: &TestApp, login: &str) -> String {
        let (page, html) = self.follow(start).await;
        assert!(
            html.contains("name=\"login\""),
            "the provider's login form at {page}"
        );
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the form's action");
        let res = self
            .http
            .post(absolute(&page, action))
            .form(&[("prompt", "login"), ("login", login), ("password", "any")])
            .send()
            .await
            .expect("login posted");
        let next = res
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .expect("the provider redirects after login");
        let callback = format!("{}/signin/sso/callback", app.base);
        let (url, _) = self
            .follow_until(absolute(&page, next), |u| u.starts_with(&callback))
            .await;
        assert!(url.starts_with(&callback), "back at the monitor: {url}");
        url
    }

    /// The whole sign-in as `login`: where the browser ends up.
    async fn sign_in(&self, app: &TestApp, login: &str) -> String {
        let callback = self.at_provider(app, login).await;
        self.follow(callback).await.0
    }

    /// Whether this browser has a session on the monitor.
    async fn signed_in(&self, app: &TestApp) -> bool {
        let res = self
            .http
            .get(format!("{}/latest-call", app.base))
            .send()
            .await
            .expect("request");
        res.status() != 401
    }
}

fn absolute(current: &str, location: &str) -> String {
    reqwest::Url::parse(current)
        .and_then(|base| base.join(location))
        .expect("a URL")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_accounts_sign_in_with_the_role_their_groups_give() {
    let (app, _provider) = sso_app().await;
    let own = app
        .create_call_with(json!({ "attributes": { "agentUsername": "agent" } }))
        .await;
    let other = app
        .create_call_with(json!({ "attributes": { "agentUsername": "bob" } }))
        .await;

    // sam is in monitor-supervisors: signed in, every call visible.
    let sam = Browser::new();
    let landed = sam.sign_in(&app, "sam").await;
    assert_eq!(landed, format!("{}/", app.base), "lands where it was going");
    assert!(sam.signed_in(&app).await);
    for id in [&own, &other] {
        let res = sam
            .http
            .get(format!("{}/details/{id}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "a supervisor sees {id}");
    }

    // alex is an agent whose Connect username (a claim) is "agent": only
    // that agent's call.
    let alex = Browser::new();
    alex.sign_in(&app, "alex").await;
    let status = |id: String| {
        let http = alex.http.clone();
        let base = app.base.clone();
        async move {
            http.get(format!("{base}/details/{id}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(own.clone()).await, 200);
    assert_eq!(
        status(other.clone()).await,
        404,
        "another agent's call is unknown"
    );

    let ada = Browser::new();
    ada.sign_in(&app, "ada").await;
    let store = app.auth.store();
    let role = |name: &str| {
        let name = Username::parse(name).unwrap();
        async move { store.account(&name).await.unwrap().map(|a| a.role) }
    };
    assert_eq!(role("sam").await, Some(Role::Supervisor));
    assert_eq!(role("alex").await, Some(Role::Agent));
    assert_eq!(role("ada").await, Some(Role::Admin));
    // A company account has no password here.
    assert!(
        crate::common::sign_in_at(&app.base, "sam", "")
            .await
            .is_err()
            && crate::common::sign_in_at(&app.base, "sam", "any")
                .await
                .is_err()
    );

    // Sign-out ends the local session and offers the provider's.
    let res = sam
        .http
        .post(format!("{}/signout", app.base))
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(!sam.signed_in(&app).await);
    let hint: Value = plain_client()
        .post(format!("{}/api/signin_hint", app.base))
        .header("origin", &app.base)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hint["ssoLabel"], "Example Corp");
    let out = hint["ssoSignOut"].as_str().expect("an end-session URL");
    assert!(
        out.starts_with(&format!(
            "{}/session/end?client_id=monitor",
            _provider.issuer
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_without_a_role_or_with_a_local_name_are_refused_clearly() {
    let (app, _provider) = sso_app().await;
    // nora's groups map to no role.
    let nora = Browser::new();
    let landed = nora.sign_in(&app, "nora").await;
    assert!(landed.ends_with("/signin?error=sso-no-role"), "{landed}");
    assert!(!nora.signed_in(&app).await);
    let nobody = Username::parse("nora").unwrap();
    assert!(app.auth.store().account(&nobody).await.unwrap().is_none());

    // "clash" says its username is "supervisor", a local account: it is
    // never taken over.
    let clash = Browser::new();
    let landed = clash.sign_in(&app, "clash").await;
    assert!(landed.ends_with("/signin?error=sso-name-taken"), "{landed}");
    assert!(!clash.signed_in(&app).await);
    let local = app
        .auth
        .store()
        .account(&Username::parse("supervisor").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((local.role, local.sso_subject), (Role::Supervisor, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_state_nonce_or_missing_sign_in_opens_nothing() {
    let (app, _provider) = sso_app().await;

    // The state the provider hands back must be the one we sent.
    let browser = Browser::new();
    let callback = browser.at_provider(&app, "sam").await;
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { "forged".into() } else { v };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let (landed, _) = browser.follow(url.to_string()).await;
    assert!(landed.ends_with("/signin?error=sso-refused"), "{landed}");
    assert!(!browser.signed_in(&app).await);

    // The nonce in the ID token must be the one sealed in this browser's
    // cookie: one sealed with another nonce (here forged with the server's
    // own key, so nothing but the nonce differs) is refused.
    let browser = Browser::new();
    let first = plain_client()
        .get(format!("{}/signin/sso?next=/", app.base))
        .send()
        .await
        .unwrap();
    let sealed = first
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{PENDING_COOKIE}=")))
        .and_then(|v| v.split(';').next())
        .expect("the pending sign-in cookie")
        .to_string();
    let mut pending = Pending::open(
        &sealed,
        SECRET.as_bytes(),
        travoiq_monitor::server::store::now_ms(),
    )
    .expect("sealed with the server's key");
    let authorize = first.headers()[LOCATION].to_str().unwrap().to_string();
    // The provider leg, in a browser that never saw our cookie.
    let callback = browser.log_in_from(authorize, &app, "sam").await;
    let finish = |cookie: String| {
        let callback = callback.clone();
        async move {
            let res = plain_client()
                .get(callback)
                .header(COOKIE, format!("{PENDING_COOKIE}={cookie}"))
                .send()
                .await
                .unwrap();
            let signed_in = res
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.starts_with("travoiq_session=") && !v.starts_with("travoiq_session=;"));
            let location = res.headers()[LOCATION].to_str().unwrap().to_string();
            (location, signed_in)
        }
    };
    pending.nonce = "not the nonce the provider signed".into();
    let (location, signed_in) = finish(pending.seal(SECRET.as_bytes())).await;
    assert_eq!(location, "/signin?error=sso-refused");
    assert!(!signed_in);

    // No sign-in in progress at all (the cookie gone, or forged).
    let (location, _) = finish(String::new()).await;
    assert_eq!(location, "/signin?error=sso-expired");
    let (location, _) = finish(format!("{sealed}x")).await;
    assert_eq!(location, "/signin?error=sso-expired");

    // The provider's own refusal.
    let res = plain_client()
        .get(format!(
            "{}/signin/sso/callback?error=access_denied",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/signin?error=sso-refused");
}
