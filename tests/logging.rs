//! What the server logs: the audit trail (a JSON line for every sign-in,
//! failed attempt, sign-out, call opened or refused, and shared link made,
//! used or revoked: who, which call, from where), and nothing secret in
//! the request log. A binary of its
//! own: tracing's callsite cache is process-wide, so these tests share a
//! process only with tests that capture logs too (see `tests/it/main.rs`).

#[allow(dead_code, unused_imports)]
#[path = "it/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;
use travoiq_monitor::server::telemetry::{self, AuditSink};

use crate::common::{sign_in_at, spawn_app, DEMO_PASSWORD};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sign_ins_sign_outs_and_opened_calls_are_audited() {
    let captured = Captured::default();
    // The production subscriber, with the production default filter, its
    // audit trail written here. It is this thread's subscriber, not the
    // process's: the tests share one process. The server below runs on
    // this test's runtime, which has this one thread, so every line it
    // logs comes here and no other test's does.
    let audit = AuditSink::Writer(Arc::new(Mutex::new(captured.clone())));
    let filter = EnvFilter::new(telemetry::DEFAULT_FILTER);
    let _subscriber = telemetry::subscriber(filter, std::io::sink, audit).set_default();

    let app = spawn_app().await;
    let id = app
        .create_call_with(serde_json::json!({ "attributes": { "agentUsername": "bob" } }))
        .await;
    assert!(sign_in_at(&app.base, "agent", "wrong-password-9")
        .await
        .is_err());
    let agent = sign_in_at(&app.base, "agent", DEMO_PASSWORD).await.unwrap();
    let client = reqwest::Client::new();
    let get = |cookie: &str| {
        client
            .get(format!("{}/details/{id}", app.base))
            .header("cookie", cookie.to_string())
            .send()
    };
    assert_eq!(get(&app.cookie).await.unwrap().status(), 200);
    assert_eq!(get(&agent).await.unwrap().status(), 404);
    // A transcript downloaded, and one refused.
    let export = |cookie: &str| {
        client
            .get(format!("{}/calls/{id}/transcript.csv", app.base))
            .header("cookie", cookie.to_string())
            .send()
    };
    assert_eq!(export(&app.cookie).await.unwrap().status(), 200);
    assert_eq!(export(&agent).await.unwrap().status(), 404);
    // A link made, used and revoked: each audited with the link's id,
    // never its grant.
    let post = |cookie: &str, path: &str, form: &[(&str, &str)]| {
        client
            .post(format!("{}/api/{path}", app.base))
            .header("cookie", cookie.to_string())
            .form(form)
            .send()
    };
    let res = post(
        &app.cookie,
        "share",
        &[("id", id.as_str()), ("agent", "agent")],
    )
    .await
    .unwrap();
    let (path, _): (String, i64) = res.json().await.unwrap();
    let grant = path.split("grant=").nth(1).unwrap().to_string();
    let (link, _) = grant.split_once('.').unwrap();
    let (_, mac) = grant.rsplit_once('.').unwrap();
    let with_grant = client
        .get(format!("{}/details/{id}?grant={grant}", app.base))
        .header("cookie", agent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(with_grant.status(), 200);
    let res = post(
        &app.cookie,
        "links/revoke",
        &[("id", id.as_str()), ("link", link)],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    client
        .post(format!("{}/signout", app.base))
        .header("cookie", agent.clone())
        .send()
        .await
        .unwrap();

    // One JSON object per line, each an audit event with its time.
    let events: Vec<Value> = captured
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let find = |pairs: &[(&str, &str)]| {
        events
            .iter()
            .any(|e| pairs.iter().all(|(k, v)| e[*k].as_str() == Some(*v)))
    };
    let call = id.as_str();
    for expected in [
        &[
            ("event", "sign_in_failed"),
            ("attempted", "\"agent\""),
            ("addr", "127.0.0.1"),
        ][..],
        &[
            ("event", "sign_in"),
            ("user", "supervisor"),
            ("addr", "127.0.0.1"),
        ],
        &[("event", "sign_in"), ("user", "agent"), ("level", "INFO")],
        &[
            ("event", "call_opened"),
            ("user", "supervisor"),
            ("call", call),
            ("via", "rest"),
        ],
        &[
            ("event", "call_denied"),
            ("user", "agent"),
            ("call", call),
            ("level", "WARN"),
        ],
        &[
            ("event", "transcript_exported"),
            ("user", "supervisor"),
            ("call", call),
            ("format", "csv"),
            ("addr", "Some(127.0.0.1)"),
        ],
        &[
            ("event", "call_opened"),
            ("user", "supervisor"),
            ("call", call),
            ("via", "export"),
        ],
        &[
            ("event", "call_denied"),
            ("user", "agent"),
            ("call", call),
            ("via", "export"),
        ],
        &[
            ("event", "sign_out"),
            ("user", "agent"),
            ("addr", "127.0.0.1"),
        ],
        &[
            ("event", "link_made"),
            ("user", "supervisor"),
            ("call", call),
            ("link", link),
            ("agent", "agent"),
        ],
        &[
            ("event", "link_used"),
            ("user", "agent"),
            ("call", call),
            ("link", link),
            ("via", "rest"),
        ],
        &[
            ("event", "link_revoked"),
            ("user", "supervisor"),
            ("call", call),
            ("link", link),
        ],
    ] {
        assert!(find(expected), "{expected:?} not in {events:#?}");
    }
    assert!(
        !captured.lines().iter().any(|l| l.contains(mac)),
        "a grant's MAC reached the audit log"
    );
    assert!(
        events
            .iter()
            .all(|e| e["event"].is_string() && e["timestamp"].is_string()),
        "only audit events, each with its time: {events:#?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_shared_links_grant_never_reaches_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything the server logs, request spans included.
    let _subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter("debug")
        .set_default();
    let app = spawn_app().await;
    let id = app.create_call("+14155550199").await;
    // A real grant, made for the agent: its MAC must appear nowhere.
    let res = reqwest::Client::new()
        .post(format!("{}/api/share", app.base))
        .header("cookie", app.cookie.clone())
        .form(&[("id", id.as_str()), ("agent", "agent")])
        .send()
        .await
        .unwrap();
    let (path, _): (String, i64) = res.json().await.unwrap();
    let grant = path.split("grant=").nth(1).unwrap().to_string();
    let (_, mac) = grant.rsplit_once('.').unwrap();
    let agent = sign_in_at(&app.base, "agent", DEMO_PASSWORD).await.unwrap();
    for path in [
        format!("/calls/{id}?grant={grant}"),
        format!("/details/{id}?grant={grant}"),
    ] {
        reqwest::Client::new()
            .get(format!("{}{path}", app.base))
            .header("cookie", agent.clone())
            .send()
            .await
            .unwrap();
    }
    let lines = captured.lines();
    assert!(
        lines.iter().any(|l| l.contains(&format!("/details/{id}"))),
        "requests are logged with their path"
    );
    let leaked: Vec<_> = lines.iter().filter(|l| l.contains(mac)).collect();
    assert!(leaked.is_empty(), "the grant was logged: {leaked:?}");
}

/// Mistyped input is the asker's mistake: a 4xx answer, at most a WARN in
/// the log, never a 500 or an ERROR line (which would page someone).
#[tokio::test(flavor = "current_thread")]
async fn bad_input_is_a_4xx_and_never_an_error_in_the_log() {
    use travoiq_monitor::model::{Role, Username};
    use travoiq_monitor::server::auth::ops::Write as Mode;

    let log = Captured::default();
    let sink = log.clone();
    let filter = EnvFilter::new(telemetry::DEFAULT_FILTER);
    let _subscriber =
        telemetry::subscriber(filter, move || sink.clone(), AuditSink::Off).set_default();

    let app = spawn_app().await;
    let admin_password = app
        .auth
        .ops("test")
        .add(
            &Username::parse("root").unwrap(),
            Role::Admin,
            None,
            None,
            Mode::New,
        )
        .await
        .unwrap();
    let admin = sign_in_at(&app.base, "root", &admin_password)
        .await
        .unwrap();
    let client = common::plain_client();
    let mut answers = Vec::new();
    for path in ["/calls/not-a-call!", "/calls/bad%20id", "/details/bad%20id"] {
        let res = client
            .get(format!("{}{path}", app.base))
            .header("cookie", app.cookie.clone())
            .send()
            .await
            .unwrap();
        answers.push((format!("GET {path}"), res.status().as_u16()));
    }
    let post = |cookie: &str, path: &str, form: &[(&str, &str)]| {
        client
            .post(format!("{}/api/{path}", app.base))
            .header("cookie", cookie.to_string())
            .form(form)
            .send()
    };
    let admin = admin.as_str();
    // (who asks, which server function, its form)
    let bad = [
        (app.cookie.as_str(), "call", vec![("id", "not-a-call!")]),
        (app.cookie.as_str(), "call", vec![("id", "bad id")]),
        (
            admin,
            "accounts/add",
            vec![("username", ""), ("role", "agent"), ("agent_id", "")],
        ),
        (
            admin,
            "accounts/add",
            vec![("username", "agent"), ("role", "agent"), ("agent_id", "")],
        ),
        (
            admin,
            "accounts/add",
            vec![("username", "newbie"), ("role", ""), ("agent_id", "")],
        ),
        (
            admin,
            "accounts/role",
            vec![("username", "nobody"), ("role", "agent")],
        ),
    ];
    for (cookie, path, form) in bad {
        let res = post(cookie, path, &form).await.unwrap();
        answers.push((format!("POST /api/{path} {form:?}"), res.status().as_u16()));
    }
    let wrong: Vec<_> = answers
        .iter()
        .filter(|(_, status)| !(400..500).contains(status))
        .collect();
    assert!(wrong.is_empty(), "not a 4xx: {wrong:?}");
    let errors: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("ERROR"))
        .collect();
    assert!(errors.is_empty(), "logged as errors: {errors:#?}");
}
