//! Shared links at their doors: a link opens one call for the one agent
//! it names; supervisors and admins list a call's links, agents never;
//! the maker or an admin revokes a link (another supervisor is told it
//! does not exist), and a revoked link opens nothing: its open socket
//! closes at once.

use std::time::Duration;

use serde_json::Value;
use travoiq_monitor::model::Role;
use travoiq_monitor::protocol::{ErrorCode, ServerMsg};

use crate::access::{
    add_account, call_for, knock, world, Door, World, OTHER_PASSWORD, PHONE_DIGITS,
};
use crate::common::{next_json, plain_client, pump, recv_within, sign_in_at, until, TestApp};

/// A server function's answer: its status and body.
pub(crate) async fn call_fn(
    app: &TestApp,
    cookie: Option<&str>,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let mut request = plain_client()
        .post(format!("{}/api/{path}", app.base))
        .form(form);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie.to_string());
    }
    let res = request.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Keeps an error frame with this code (the socket closes right after).
pub(crate) fn told(code: ErrorCode) -> impl FnMut(ServerMsg) -> Option<()> {
    move |msg| match msg {
        ServerMsg::Error { code: c, .. } if c == code => Some(()),
        _ => None,
    }
}

/// Shares `call` with `agent` as `cookie`'s user; the grant.
pub(crate) async fn share(app: &TestApp, cookie: &str, call: &str, agent: &str) -> String {
    let (status, body) = call_fn(
        app,
        Some(cookie),
        "share",
        &[("id", call), ("agent", agent)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (path, _): (String, i64) = serde_json::from_str(&body).unwrap();
    path.split("grant=").nth(1).unwrap().to_string()
}

/// The links to `call`, as `cookie`'s user sees them.
async fn links(app: &TestApp, cookie: &str, call: &str) -> Vec<Value> {
    let (status, body) = call_fn(app, Some(cookie), "links", &[("id", call)]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn revoke(app: &TestApp, cookie: Option<&str>, call: &str, link: &str) -> (u16, String) {
    call_fn(app, cookie, "links/revoke", &[("id", call), ("link", link)]).await
}

async fn tess(w: &World) -> String {
    add_account(&w.app, "tess", Role::Supervisor).await;
    sign_in_at(&w.app.base, "tess", OTHER_PASSWORD)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_opens_for_its_agent_only_until_its_maker_or_an_admin_revokes_it() {
    let w = world().await;
    let tess = tess(&w).await;
    // Carol's call: neither the demo agent's nor bob's.
    let call = call_for(&w.app, "carol", "carol's call").await;
    let grant = share(&w.app, &w.app.cookie, &call, "agent").await;
    let with = format!("{call}?grant={grant}");
    assert_eq!(
        knock(&w.app, Door::RestDetails, Some(&w.agent), &with)
            .await
            .status,
        200
    );
    // Bound to one agent: another agent holding it gets nothing.
    let a = knock(&w.app, Door::RestDetails, Some(&w.bob), &with).await;
    assert_eq!(a.status, 404, "{a:?}");
    assert!(!a.leaks());
    let mut ws = w
        .app
        .connect_as(&format!("/ws/{with}"), Some(&w.agent))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    // Read all the time from here on, so the socket answers heartbeats.
    let mut frames = pump(ws);

    // Listed for its maker (who may revoke it), and for another supervisor
    // (who may not); never with its grant.
    let listed = links(&w.app, &w.app.cookie, &call).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let row = &listed[0];
    assert_eq!(row["agent"], "agent");
    assert_eq!(row["madeBy"], "supervisor");
    assert_eq!(row["state"]["kind"], "active");
    assert_eq!(row["mayRevoke"], true);
    let (_, mac) = grant.rsplit_once('.').unwrap();
    assert!(!serde_json::to_string(&listed).unwrap().contains(mac));
    let link = row["id"].as_str().unwrap().to_string();
    assert_eq!(links(&w.app, &tess, &call).await[0]["mayRevoke"], false);

    // Agents neither list nor revoke, even the agent it names.
    for agent in [&w.agent, &w.bob] {
        let (status, body) = call_fn(&w.app, Some(agent), "links", &[("id", &call)]).await;
        assert_eq!(status, 403, "{body}");
        assert!(!body.contains(&link));
        assert_eq!(revoke(&w.app, Some(agent), &call, &link).await.0, 403);
    }
    // Another supervisor: the same answer as a link that does not exist.
    let refused = revoke(&w.app, Some(&tess), &call, &link).await;
    let unknown = revoke(&w.app, Some(&tess), &call, &"x".repeat(22)).await;
    assert_eq!(refused.0, 404, "{refused:?}");
    assert_eq!(refused, unknown);
    assert_eq!(
        knock(&w.app, Door::RestDetails, Some(&w.agent), &with)
            .await
            .status,
        200
    );

    // An admin revokes it: the open socket closes at once (well before the
    // 5 s session re-check), and the grant opens nothing at any door.
    let (status, body) = revoke(&w.app, Some(&w.admin), &call, &link).await;
    assert_eq!(status, 200, "{body}");
    until(
        &mut frames,
        "unknown_call at once",
        Duration::from_secs(2),
        told(ErrorCode::UnknownCall),
    )
    .await;
    assert!(
        recv_within(&mut frames, Duration::from_secs(2))
            .await
            .is_none(),
        "then closed"
    );
    for door in [Door::RestDetails, Door::FnCall, Door::Socket] {
        let a = knock(&w.app, door, Some(&w.agent), &with).await;
        assert!(!a.leaks(), "{door:?}: {a:?}");
        assert!(!a.body.contains(PHONE_DIGITS));
    }
    assert_eq!(
        knock(&w.app, Door::RestDetails, Some(&w.agent), &with)
            .await
            .status,
        404
    );
    let row = &links(&w.app, &w.app.cookie, &call).await[0];
    assert_eq!(row["state"]["kind"], "revoked");
    assert_eq!(row["state"]["by"], "root");
    assert_eq!(row["mayRevoke"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_and_role_doors_answer_each_role() {
    let w = world().await;
    let grant = share(&w.app, &w.app.cookie, &w.other, "agent").await;
    let link = links(&w.app, &w.app.cookie, &w.other).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(grant.starts_with(&format!("{link}.")));
    // No session, an expired one, a forged cookie, a disabled account.
    for cookie in [None, Some(&w.expired), Some(&w.forged), Some(&w.disabled)] {
        let cookie = cookie.map(String::as_str);
        for (path, form) in [
            ("links", vec![("id", w.other.as_str())]),
            (
                "links/revoke",
                vec![("id", w.other.as_str()), ("link", link.as_str())],
            ),
            ("share", vec![("id", w.other.as_str()), ("agent", "agent")]),
            (
                "accounts/role",
                vec![("username", "bob"), ("role", "admin")],
            ),
        ] {
            let (status, body) = call_fn(&w.app, cookie, path, &form).await;
            assert_eq!(status, 401, "{path} {cookie:?}: {body}");
        }
    }
    // The role door: admins only.
    for (cookie, want) in [(&w.agent, 403), (&w.app.cookie, 403), (&w.admin, 200)] {
        let form = [("username", "bob"), ("role", "agent")];
        let (status, body) = call_fn(&w.app, Some(cookie), "accounts/role", &form).await;
        assert_eq!(status, want, "{body}");
    }
    // Agents: refused for their role.
    let (status, _) = call_fn(
        &w.app,
        Some(&w.agent),
        "share",
        &[("id", &w.own), ("agent", "bob")],
    )
    .await;
    assert_eq!(status, 403);
    // Supervisors and admins list; an unknown call is an unknown call.
    for cookie in [&w.app.cookie, &w.admin] {
        assert_eq!(links(&w.app, cookie, &w.other).await.len(), 1);
        let (status, _) = call_fn(
            &w.app,
            Some(cookie),
            "links",
            &[("id", "00000000-0000-4000-8000-00000000beef")],
        )
        .await;
        assert_eq!(status, 404);
    }
    // A malformed link id is refused before any store read.
    let (status, _) = revoke(&w.app, Some(&w.admin), &w.other, "not-a-link").await;
    assert_ne!(status, 200);
    // Revoking twice is fine; the first revocation's who stays.
    assert_eq!(
        revoke(&w.app, Some(&w.app.cookie), &w.other, &link).await.0,
        200
    );
    assert_eq!(revoke(&w.app, Some(&w.admin), &w.other, &link).await.0, 200);
    let row = &links(&w.app, &w.admin, &w.other).await[0];
    assert_eq!(row["state"]["by"], "supervisor");
}
