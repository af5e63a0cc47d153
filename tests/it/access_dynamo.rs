//! Accounts and sessions on DynamoDB (moto on loopback), shared by two
//! server instances: a session opened on one is valid on the other, a
//! sign-out, a disabled account or a role change on one ends it on both;
//! a shared link revoked on one stops opening its call on both.

use std::time::Duration;

use travoiq_monitor::protocol::ErrorCode;

use crate::access::{add_account, OTHER_PASSWORD};
use crate::common::dynamo::{moto_client, start_call, unique_prefix, writer};
use crate::common::{
    next_json, plain_client, pump, sign_in_at, spawn_dynamo_app, until, TestApp, DEMO_PASSWORD,
};
use crate::links::{call_fn, share, told};
use travoiq_monitor::model::{Role, Username};
use travoiq_monitor::server::auth::accounts::{Account, AccountChange};
use travoiq_monitor::server::auth::password;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::now_ms;

async fn status(app: &TestApp, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/latest-call", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_accounts_and_sessions() {
    let prefix = unique_prefix("auth");
    writer(&prefix, WriterFormat::ConnectRt, true).await;
    let a = spawn_dynamo_app(&prefix, &[]).await;
    let b = spawn_dynamo_app(&prefix, &[]).await;

    // Signed in on A, known on B (404: no call yet, but not 401).
    assert_eq!(status(&b, &a.cookie).await, 404);

    // An account added through A's store signs in on B.
    a.auth
        .store()
        .create(Account {
            username: Username::parse("dana").unwrap(),
            role: Role::Agent,
            password_hash: password::hash("dana-password-1").unwrap(),
            agent_id: "dana".into(),
            disabled: false,
            created_ms: now_ms(),
            credentials_version: 0,
            sso_subject: None,
        })
        .await
        .unwrap();
    let dana = sign_in_at(&b.base, "dana", "dana-password-1")
        .await
        .unwrap();
    assert_eq!(status(&a, &dana).await, 404);

    // Signed out on A: B refuses the cookie too.
    let agent = sign_in_at(&b.base, "agent", DEMO_PASSWORD).await.unwrap();
    assert_eq!(status(&a, &agent).await, 404);
    let res = plain_client()
        .post(format!("{}/signout", a.base))
        .header("cookie", agent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(status(&b, &agent).await, 401);
    assert_eq!(status(&a, &agent).await, 401);

    // A password reset through A's store ends the sessions made before it
    // on both instances; the new password works on both.
    let supervisor = sign_in_at(&b.base, "supervisor", DEMO_PASSWORD)
        .await
        .unwrap();
    assert_eq!(status(&a, &supervisor).await, 404);
    let name = Username::parse("supervisor").unwrap();
    a.auth
        .ops("test")
        .reset_password(&name, Some("a brand new password".into()))
        .await
        .unwrap();
    assert_eq!(status(&a, &supervisor).await, 401);
    assert_eq!(status(&b, &supervisor).await, 401);
    let renewed = sign_in_at(&b.base, "supervisor", "a brand new password")
        .await
        .unwrap();
    assert_eq!(status(&a, &renewed).await, 404);

    // Disabled through B's store: A ends the session and refuses sign-in.
    b.auth
        .store()
        .change(
            &Username::parse("dana").unwrap(),
            AccountChange::Disabled(true),
        )
        .await
        .unwrap();
    assert_eq!(status(&a, &dana).await, 401);
    assert!(sign_in_at(&a.base, "dana", "dana-password-1")
        .await
        .unwrap_err()
        .contains("error=invalid"));
    // The store keeps only a hash of each session token.
    let sessions = moto_client()
        .await
        .scan()
        .table_name(format!("{prefix}monitorSessions"))
        .send()
        .await
        .unwrap();
    let raw = a.cookie.trim_start_matches("travoiq_session=");
    assert!(sessions.count() > 0);
    assert!(!format!("{:?}", sessions.items()).contains(raw));
}

/// Two instances on the same tables, signing with the same secret,
/// re-checking sessions (and shared links) every second.
async fn two_instances(prefix: &str) -> (TestApp, TestApp) {
    let extra = [
        (
            "secret",
            "a shared secret of at least thirty-two characters",
        ),
        ("session_recheck_secs", "1"),
    ];
    let a = spawn_dynamo_app(prefix, &extra).await;
    let b = spawn_dynamo_app(prefix, &extra).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_revoked_on_one_instance_closes_its_socket_on_the_other() {
    let prefix = unique_prefix("links");
    let writer = writer(&prefix, WriterFormat::ConnectRt, true).await;
    let call = start_call(&writer, true).await.to_string();
    let (a, b) = two_instances(&prefix).await;
    let grant = share(&a, &a.cookie, &call, "agent").await;
    let agent = sign_in_at(&b.base, "agent", DEMO_PASSWORD).await.unwrap();
    let with = format!("{call}?grant={grant}");
    let mut ws = b
        .connect_as(&format!("/ws/{with}"), Some(&agent))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    // Read all the time from here on, so the socket answers heartbeats.
    let mut frames = pump(ws);
    let (status, body) = call_fn(&b, Some(&b.cookie), "links", &[("id", &call)]).await;
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let link = listed[0]["id"].as_str().unwrap().to_string();

    // Revoked on A by its maker (the demo supervisor, signed in on A).
    let (status, body) = call_fn(
        &a,
        Some(&a.cookie),
        "links/revoke",
        &[("id", &call), ("link", &link)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // B's socket ends at its next re-check (1 s), and B refuses the grant.
    until(
        &mut frames,
        "unknown_call",
        Duration::from_secs(4),
        told(ErrorCode::UnknownCall),
    )
    .await;
    let res = reqwest::Client::new()
        .get(format!("{}/details/{with}", b.base))
        .header("cookie", agent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_ends_old_sessions_on_both_instances() {
    let prefix = unique_prefix("roles");
    writer(&prefix, WriterFormat::ConnectRt, true).await;
    let (a, b) = two_instances(&prefix).await;
    add_account(&a, "root", Role::Admin).await;
    let root = sign_in_at(&a.base, "root", OTHER_PASSWORD).await.unwrap();
    let supervisor = sign_in_at(&b.base, "supervisor", DEMO_PASSWORD)
        .await
        .unwrap();
    assert_eq!(status(&a, &supervisor).await, 404);
    let mut lobby = b.connect_as("/ws/calls", Some(&supervisor)).await.unwrap();
    next_json(&mut lobby).await;
    let mut lobby = pump(lobby);

    // Only an admin changes roles: the supervisor is refused.
    let role = |cookie: String, name: &'static str, role: &'static str| {
        let a = &a;
        async move {
            call_fn(
                a,
                Some(&cookie),
                "accounts/role",
                &[("username", name), ("role", role)],
            )
            .await
        }
    };
    let (code, _) = role(supervisor.clone(), "supervisor", "admin").await;
    assert_eq!(code, 403);
    let (code, body) = role(root.clone(), "supervisor", "agent").await;
    assert_eq!(code, 200, "{body}");
    // Sessions made before end on both instances; B's open socket closes
    // at its next re-check.
    assert_eq!(status(&a, &supervisor).await, 401);
    assert_eq!(status(&b, &supervisor).await, 401);
    until(
        &mut lobby,
        "signed_out",
        Duration::from_secs(4),
        told(ErrorCode::SignedOut),
    )
    .await;
    // Signed in again, the account has its new role everywhere.
    let again = sign_in_at(&b.base, "supervisor", DEMO_PASSWORD)
        .await
        .unwrap();
    let (code, _) = call_fn(&a, Some(&again), "accounts", &[]).await;
    assert_eq!(code, 403);
    let stored = a
        .auth
        .store()
        .account(&Username::parse("supervisor").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.role, Role::Agent);
    // The last enabled admin cannot demote themself.
    let (code, body) = role(root.clone(), "root", "supervisor").await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("last enabled admin"), "{body}");
    assert_eq!(status(&a, &root).await, 404, "root's session lives on");
}
