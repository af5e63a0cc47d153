//! Accounts and sessions on DynamoDB (moto on loopback), shared by two
//! server instances: a session opened on one is valid on the other, a
//! sign-out or a disabled account on one ends it on both.

use crate::common::dynamo::{moto_client, unique_prefix, writer};
use crate::common::{plain_client, sign_in_at, spawn_dynamo_app, TestApp, DEMO_PASSWORD};
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

#[tokio::test]
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
