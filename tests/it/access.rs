//! Who sees what, at every door: REST, server functions, pages and both
//! sockets, tried by a supervisor, an agent on their own call, an agent on
//! another agent's call, on an unknown call, and by requests with no
//! session, an expired one, a forged cookie and a disabled account. Every
//! refused answer is checked for leaks of the transcript and the phone.

use std::time::Duration;

use crate::common::{
    close_code, next_json, plain_client, sign_in_at, spawn_app_with, TestApp, DEMO_PASSWORD,
};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use travoiq_monitor::model::{Role, Username};
use travoiq_monitor::server::auth::accounts::{
    Account, AccountChange, SessionRecord, SessionToken,
};
use travoiq_monitor::server::auth::password;
use travoiq_monitor::server::store::now_ms;

pub(crate) const SECRET: &str = "SECRET-WORDS-7731";
const PHONE: &str = "+14155550199";
pub(crate) const PHONE_DIGITS: &str = "4155550199";
pub(crate) const OTHER_PASSWORD: &str = "another-password-1";
const UNKNOWN: &str = "00000000-0000-4000-8000-00000000beef";

pub(crate) struct World {
    pub(crate) app: TestApp,
    /// The demo agent's call.
    pub(crate) own: String,
    /// Bob's call (started after `own`: the newest overall).
    pub(crate) other: String,
    pub(crate) agent: String,
    pub(crate) bob: String,
    pub(crate) admin: String,
    pub(crate) expired: String,
    pub(crate) forged: String,
    pub(crate) disabled: String,
}

pub(crate) async fn add_account(app: &TestApp, name: &str, role: Role) {
    app.auth
        .store()
        .create(Account {
            username: Username::parse(name).unwrap(),
            role,
            password_hash: password::hash(OTHER_PASSWORD).unwrap(),
            agent_id: name.to_string(),
            disabled: false,
            created_ms: now_ms(),
            credentials_version: 0,
            sso_subject: None,
        })
        .await
        .unwrap();
}

pub(crate) async fn call_for(app: &TestApp, agent: &str, words: &str) -> String {
    let id = app
        .create_call_with(json!({
            "customerPhoneNumber": PHONE,
            "attributes": { "agentUsername": agent },
        }))
        .await;
    app.say(&id, "Customer", 0, &format!("{SECRET} {words}"), false)
        .await;
    id
}

pub(crate) async fn world_with(extra: &[(&str, &str)]) -> World {
    let app = spawn_app_with(extra).await;
    add_account(&app, "bob", Role::Agent).await;
    add_account(&app, "root", Role::Admin).await;
    add_account(&app, "gone", Role::Agent).await;
    let own = call_for(&app, "agent", "own").await;
    // Started in the same second or a later one: newer either way (the
    // store breaks a tie by arrival).
    let other = call_for(&app, "bob", "other").await;

    let agent = sign_in_at(&app.base, "agent", DEMO_PASSWORD).await.unwrap();
    let bob = sign_in_at(&app.base, "bob", OTHER_PASSWORD).await.unwrap();
    let admin = sign_in_at(&app.base, "root", OTHER_PASSWORD).await.unwrap();
    let disabled = sign_in_at(&app.base, "gone", OTHER_PASSWORD).await.unwrap();
    app.auth
        .store()
        .change(
            &Username::parse("gone").unwrap(),
            AccountChange::Disabled(true),
        )
        .await
        .unwrap();
    // A session that began 13 hours ago (the limit is 12).
    let token = SessionToken::generate();
    let long_ago = now_ms() - 13 * 3_600_000;
    app.auth
        .store()
        .create_session(&SessionRecord {
            key: token.key(),
            username: Username::parse("agent").unwrap(),
            created_ms: long_ago,
            last_seen_ms: now_ms(),
            credentials_version: 0,
        })
        .await
        .unwrap();
    let expired = format!("travoiq_session={}", token.as_str());
    let forged = format!("travoiq_session={}", SessionToken::generate().as_str());
    World {
        app,
        own,
        other,
        agent,
        bob,
        admin,
        expired,
        forged,
        disabled,
    }
}

pub(crate) async fn world() -> World {
    world_with(&[]).await
}

/// One answer from a door: its status (101 for an accepted socket) and
/// everything it sent.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn leaks(&self) -> bool {
        self.body.contains(SECRET) || self.body.contains(PHONE_DIGITS)
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Door {
    RestDetails,
    RestLatest,
    FnCall,
    FnLatest,
    Page,
    Socket,
    Lobby,
    /// The floor: its page, its server function, its socket.
    FloorPage,
    FnFloor,
    FloorSocket,
    /// The wall's page, naming a call (its tiles then ask [`Door::FnCall`]
    /// and [`Door::Socket`] for each call).
    WallPage,
}

const DOORS: [Door; 11] = [
    Door::RestDetails,
    Door::RestLatest,
    Door::FnCall,
    Door::FnLatest,
    Door::Page,
    Door::Socket,
    Door::Lobby,
    Door::FloorPage,
    Door::FnFloor,
    Door::FloorSocket,
    Door::WallPage,
];

pub(crate) async fn knock(app: &TestApp, door: Door, cookie: Option<&str>, call: &str) -> Answer {
    let client = plain_client();
    let with_cookie = |rb: reqwest::RequestBuilder| match cookie {
        Some(c) => rb.header("cookie", c),
        None => rb,
    };
    let response = match door {
        Door::RestDetails => {
            with_cookie(client.get(format!("{}/details/{call}", app.base)))
                .send()
                .await
        }
        Door::RestLatest => {
            with_cookie(client.get(format!("{}/latest-call", app.base)))
                .send()
                .await
        }
        Door::FnCall => {
            with_cookie(client.post(format!("{}/api/call", app.base)))
                .form(&[("id", call)])
                .send()
                .await
        }
        Door::FnLatest => {
            with_cookie(client.post(format!("{}/api/latest", app.base)))
                .send()
                .await
        }
        Door::FnFloor => {
            with_cookie(client.post(format!("{}/api/floor", app.base)))
                .send()
                .await
        }
        Door::FloorPage => {
            with_cookie(client.get(format!("{}/calls", app.base)))
                .send()
                .await
        }
        Door::Page => {
            with_cookie(client.get(format!("{}/calls/{call}", app.base)))
                .send()
                .await
        }
        Door::WallPage => {
            with_cookie(client.get(format!("{}/wall?calls={call}", app.base)))
                .send()
                .await
        }
        Door::Socket | Door::Lobby | Door::FloorSocket => {
            let path = match door {
                Door::Socket => format!("/ws/{call}"),
                Door::FloorSocket => "/ws/floor".to_string(),
                _ => "/ws/calls".to_string(),
            };
            return match app.connect_as(&path, cookie).await {
                Err(status) => Answer {
                    status,
                    body: String::new(),
                },
                Ok(mut ws) => {
                    let mut body = String::new();
                    // What the socket says first (and whether it closes).
                    for _ in 0..3 {
                        match tokio::time::timeout(
                            Duration::from_millis(500),
                            next_json_or_close(&mut ws),
                        )
                        .await
                        {
                            Ok(Some(frame)) => body.push_str(&frame),
                            _ => break,
                        }
                    }
                    Answer { status: 101, body }
                }
            };
        }
    }
    .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.unwrap();
    Answer {
        status,
        body: format!("{location}\n{body}"),
    }
}

/// The next frame as text, or `None` once closed.
async fn next_json_or_close(ws: &mut crate::common::Ws) -> Option<String> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) if !t.contains("\"heartbeat\"") => return Some(t.to_string()),
            Ok(Message::Close(frame)) => {
                return Some(format!(
                    "close {}",
                    frame.map(|f| u16::from(f.code)).unwrap_or(0)
                ))
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_valid_session_no_door_opens_and_nothing_leaks() {
    let w = world().await;
    let cases = [
        ("no session", None),
        ("expired session", Some(w.expired.as_str())),
        ("forged cookie", Some(w.forged.as_str())),
        ("disabled account", Some(w.disabled.as_str())),
    ];
    for (what, cookie) in cases {
        for door in DOORS {
            let a = knock(&w.app, door, cookie, &w.own).await;
            assert!(!a.leaks(), "{what} at {door:?} leaked: {a:?}");
            let expected = match door {
                Door::Page | Door::FloorPage | Door::WallPage => 303,
                _ => 401,
            };
            assert_eq!(a.status, expected, "{what} at {door:?}: {a:?}");
            match door {
                Door::Page => assert!(a.body.starts_with("/signin?next=/calls/"), "{a:?}"),
                Door::FloorPage => assert!(
                    a.body.starts_with("/signin?next=/calls")
                        && !a.body.starts_with("/signin?next=/calls/"),
                    "{a:?}"
                ),
                Door::WallPage => assert!(a.body.starts_with("/signin?next=/wall"), "{a:?}"),
                _ => {}
            }
        }
    }
}

/// The wall's page loads each call it names as the viewer may see it:
/// an agent's own call masked, another agent's call told exactly as an
/// unknown one; a supervisor and an admin see every call in full. The
/// following wall (no calls named) is drawn in the browser from the floor's
/// doors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_shows_each_role_only_the_calls_it_may_see() {
    let w = world().await;
    // An agent: their own call masked, Bob's not at all.
    for (cookie, mine, theirs) in [(&w.agent, &w.own, &w.other), (&w.bob, &w.other, &w.own)] {
        let a = knock(&w.app, Door::WallPage, Some(cookie), mine).await;
        assert_eq!(a.status, 200, "{a:?}");
        assert!(a.body.contains(SECRET), "{a:?}");
        assert!(a.body.contains("0199"), "{a:?}");
        assert!(!a.body.contains(PHONE_DIGITS), "unmasked: {a:?}");
        let refused = knock(&w.app, Door::WallPage, Some(cookie), theirs).await;
        assert_eq!(refused.status, 200, "{refused:?}");
        assert!(!refused.leaks(), "{refused:?}");
        assert!(
            refused.body.contains(&format!("No call with id {theirs}")),
            "{refused:?}"
        );
        let unknown = knock(&w.app, Door::WallPage, Some(cookie), UNKNOWN).await;
        assert!(
            unknown.body.contains(&format!("No call with id {UNKNOWN}")),
            "{unknown:?}"
        );
    }
    // A supervisor and an admin: both calls, in full, on one wall.
    for cookie in [w.app.cookie.as_str(), w.admin.as_str()] {
        let both = format!("{},{}", w.own, w.other);
        let a = knock(&w.app, Door::WallPage, Some(cookie), &both).await;
        assert_eq!(a.status, 200, "{a:?}");
        assert!(a.body.contains(&format!("{SECRET} own")), "{a:?}");
        assert!(a.body.contains(&format!("{SECRET} other")), "{a:?}");
        assert!(a.body.contains(PHONE_DIGITS), "{a:?}");
    }
    // The following wall carries no call itself, for anyone.
    for cookie in [&w.agent, &w.bob, &w.admin, &w.app.cookie] {
        let a = knock(&w.app, Door::WallPage, Some(cookie), "").await;
        assert_eq!(a.status, 200, "{a:?}");
        assert!(!a.leaks(), "{a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agents_call_looks_exactly_like_an_unknown_one() {
    let w = world().await;
    for door in [Door::RestDetails, Door::FnCall, Door::Page, Door::Socket] {
        let theirs = knock(&w.app, door, Some(&w.agent), &w.other).await;
        let unknown = knock(&w.app, door, Some(&w.agent), UNKNOWN).await;
        assert!(!theirs.leaks(), "{door:?}: {theirs:?}");
        assert_eq!(theirs.status, unknown.status, "{door:?}");
        // The same words, but for the id asked about (pages differ in their
        // CSP nonce as well, so compare what they say).
        match door {
            Door::Page => {
                assert_eq!(theirs.status, 200);
                assert!(theirs
                    .body
                    .contains(&format!("No call with id {}", w.other)));
                assert!(unknown.body.contains(&format!("No call with id {UNKNOWN}")));
            }
            _ => assert_eq!(
                theirs.body.replace(&w.other, "ID"),
                unknown.body.replace(UNKNOWN, "ID"),
                "{door:?}"
            ),
        }
    }
    let socket = knock(&w.app, Door::Socket, Some(&w.agent), &w.other).await;
    assert!(
        socket.body.contains("unknown_call") && socket.body.contains("close 4404"),
        "{socket:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_their_own_call_with_the_phone_masked() {
    let w = world().await;
    for door in [Door::RestDetails, Door::FnCall, Door::Page, Door::Socket] {
        let a = knock(&w.app, door, Some(&w.agent), &w.own).await;
        assert!(matches!(a.status, 200 | 101), "{door:?}: {a:?}");
        assert!(
            !a.body.contains(PHONE_DIGITS),
            "{door:?} shows the whole phone: {a:?}"
        );
        assert!(
            a.body.contains("0199"),
            "{door:?} shows the last digits: {a:?}"
        );
        if !matches!(door, Door::RestDetails) {
            assert!(a.body.contains(&format!("{SECRET} own")), "{door:?}: {a:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_and_an_admin_see_every_call_in_full() {
    let w = world().await;
    for cookie in [w.app.cookie.as_str(), w.admin.as_str()] {
        for call in [&w.own, &w.other] {
            for door in [Door::RestDetails, Door::FnCall, Door::Socket] {
                let a = knock(&w.app, door, Some(cookie), call).await;
                assert!(matches!(a.status, 200 | 101), "{door:?}: {a:?}");
                assert!(a.body.contains(PHONE_DIGITS), "{door:?}: {a:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_lists_for_each_role_only_the_calls_it_may_see() {
    let w = world().await;
    let floor_doors = [Door::FloorPage, Door::FnFloor, Door::FloorSocket];
    // An agent: their own call, masked, with its last line; never Bob's.
    for (cookie, mine, theirs) in [(&w.agent, &w.own, &w.other), (&w.bob, &w.other, &w.own)] {
        for door in floor_doors {
            let a = knock(&w.app, door, Some(cookie), "").await;
            assert!(matches!(a.status, 200 | 101), "{door:?}: {a:?}");
            assert!(a.body.contains(mine.as_str()), "{door:?}: {a:?}");
            assert!(!a.body.contains(theirs.as_str()), "{door:?}: {a:?}");
            assert!(!a.body.contains(PHONE_DIGITS), "{door:?} unmasked: {a:?}");
        }
    }
    // The socket pushes the agent's own new call and line, never Bob's.
    let mut floor = w.app.connect_as("/ws/floor", Some(&w.agent)).await.unwrap();
    assert_eq!(next_json(&mut floor).await["type"], "floor");
    let bobs = call_for(&w.app, "bob", "newer").await;
    let mine = call_for(&w.app, "agent", "newer").await;
    let mut heard = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !heard.contains(&format!("{SECRET} newer")) {
        let frame = tokio::time::timeout_at(deadline, next_json(&mut floor))
            .await
            .unwrap_or_else(|_| panic!("the agent's new line is pushed; heard {heard}"));
        assert_eq!(frame["type"], "floorRow", "{frame}");
        assert_eq!(frame["row"]["call"]["callId"], mine.as_str(), "not {bobs}");
        heard.push_str(&frame.to_string());
    }
    assert!(!heard.contains(PHONE_DIGITS));

    // A supervisor and an admin: every call, in full.
    for cookie in [w.app.cookie.as_str(), w.admin.as_str()] {
        for door in floor_doors {
            let a = knock(&w.app, door, Some(cookie), "").await;
            for call in [&w.own, &w.other, &bobs, &mine] {
                assert!(a.body.contains(call.as_str()), "{door:?}: {a:?}");
            }
            assert!(a.body.contains(PHONE_DIGITS), "{door:?}: {a:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_call_and_the_lobby_name_only_the_agents_own_calls() {
    let w = world().await;
    // Bob's call is the newest overall; the agent is told of their own.
    for (door, cookie, expected) in [
        (Door::RestLatest, &w.agent, &w.own),
        (Door::FnLatest, &w.agent, &w.own),
        (Door::Lobby, &w.agent, &w.own),
        (Door::RestLatest, &w.bob, &w.other),
        (Door::RestLatest, &w.app.cookie, &w.other),
    ] {
        let a = knock(&w.app, door, Some(cookie), "").await;
        assert!(a.body.contains(expected.as_str()), "{door:?}: {a:?}");
        let not_expected = if expected == &w.own { &w.other } else { &w.own };
        assert!(!a.body.contains(not_expected.as_str()), "{door:?}: {a:?}");
    }

    // New calls: the agent's lobby hears of their own, never of Bob's.
    let mut lobby = w.app.connect_as("/ws/calls", Some(&w.agent)).await.unwrap();
    assert_eq!(next_json(&mut lobby).await["type"], "latest");
    let bobs = call_for(&w.app, "bob", "newer").await;
    let mine = call_for(&w.app, "agent", "newer").await;
    let heard = next_json(&mut lobby).await;
    assert_eq!(heard["type"], "newCall");
    assert_eq!(heard["call"]["callId"], mine.as_str(), "not {bobs}");
    assert!(!heard.to_string().contains(PHONE_DIGITS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_link_opens_one_call_for_an_agent_until_it_expires() {
    let w = world().await;
    let share = |cookie: &str, id: &str| {
        plain_client()
            .post(format!("{}/api/share", w.app.base))
            .header("cookie", cookie.to_string())
            .form(&[("id", id), ("agent", "agent")])
            .send()
    };
    // Agents cannot make links.
    let refused = share(&w.agent, &w.other).await.unwrap();
    assert_ne!(refused.status(), 200);
    assert!(refused.text().await.unwrap().contains("NotAllowed"));

    let res = share(&w.app.cookie, &w.other).await.unwrap();
    assert_eq!(res.status(), 200);
    let (path, _expires): (String, i64) = res.json().await.unwrap();
    let grant = path.split("grant=").nth(1).unwrap().to_string();

    let with = |g: &str| format!("{}?grant={g}", w.other);
    let a = knock(&w.app, Door::RestDetails, Some(&w.agent), &with(&grant)).await;
    assert_eq!(a.status, 200, "{a:?}");
    let mut ws = w
        .app
        .connect_as(&format!("/ws/{}?grant={grant}", w.other), Some(&w.agent))
        .await
        .unwrap();
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert!(!hello.to_string().contains(PHONE_DIGITS), "still masked");

    // Tampered, moved to another call, or without a session: refused.
    let mut tampered = grant.clone();
    tampered.replace_range(0..1, if grant.starts_with('9') { "8" } else { "9" });
    let a = knock(&w.app, Door::RestDetails, Some(&w.agent), &with(&tampered)).await;
    assert_eq!(a.status, 404, "{a:?}");
    let third = call_for(&w.app, "bob", "third").await;
    let a = knock(
        &w.app,
        Door::RestDetails,
        Some(&w.agent),
        &format!("{third}?grant={grant}"),
    )
    .await;
    assert_eq!(a.status, 404, "{a:?}");
    assert!(!a.leaks());
    let a = knock(&w.app, Door::RestDetails, None, &with(&grant)).await;
    assert_eq!(a.status, 401);
    // The link names the agent it was made for: another agent holding it
    // gets nothing.
    let carols = call_for(&w.app, "carol", "carol's call").await;
    let res = share(&w.app.cookie, &carols).await.unwrap();
    let (path, _): (String, i64) = res.json().await.unwrap();
    let grant = path.split("grant=").nth(1).unwrap().to_string();
    let link = format!("{carols}?grant={grant}");
    let a = knock(&w.app, Door::RestDetails, Some(&w.agent), &link).await;
    assert_eq!(a.status, 200, "the agent it names: {a:?}");
    let bob = sign_in_at(&w.app.base, "bob", OTHER_PASSWORD)
        .await
        .unwrap();
    let a = knock(&w.app, Door::RestDetails, Some(&bob), &link).await;
    assert_eq!(a.status, 404, "another agent: {a:?}");
    assert!(!a.leaks());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_and_its_live_sockets() {
    let w = world().await;
    let mut ws = w
        .app
        .connect_as(&format!("/ws/{}", w.own), Some(&w.agent))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    let res = plain_client()
        .post(format!("{}/signout", w.app.base))
        .header("cookie", w.agent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cleared = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let mut saw_signed_out = false;
    for _ in 0..5 {
        let frame = next_json(&mut ws).await;
        if frame["type"] == "error" {
            assert_eq!(frame["code"], "signed_out");
            saw_signed_out = true;
            break;
        }
    }
    assert!(saw_signed_out);
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Library(4401)));
    let a = knock(&w.app, Door::RestDetails, Some(&w.agent), &w.own).await;
    assert_eq!(a.status, 401, "the old cookie opens nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_and_same_site() {
    let w = world().await;
    let res = plain_client()
        .post(format!("{}/signin", w.app.base))
        .form(&[("username", "bob"), ("password", OTHER_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Behind a TLS proxy the cookie is Secure.
    let res = plain_client()
        .post(format!("{}/signin", w.app.base))
        .header("x-forwarded-proto", "https")
        .form(&[("username", "bob"), ("password", OTHER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("strict-transport-security"));
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
    // A Secure cookie is a `__Host-` one: only this host, over TLS, every
    // path. It opens the session like the plain one.
    assert!(cookie.starts_with("__Host-travoiq_session="), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let res = plain_client()
        .get(format!("{}/latest-call", w.app.base))
        .header("cookie", pair)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 401);
    // Plain HTTP gets no Strict-Transport-Security.
    let res = plain_client()
        .get(format!("{}/healthz", w.app.base))
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("strict-transport-security"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_state_changes_are_refused() {
    let w = world().await;
    let evil = "https://evil.example";
    let attempts = [
        ("/signout", vec![]),
        ("/api/call", vec![("id", w.own.as_str())]),
        (
            "/api/share",
            vec![("id", w.own.as_str()), ("agent", "agent")],
        ),
        (
            "/signin",
            vec![("username", "supervisor"), ("password", DEMO_PASSWORD)],
        ),
    ];
    for (path, form) in &attempts {
        for (header, value) in [("origin", evil), ("sec-fetch-site", "cross-site")] {
            let res = plain_client()
                .post(format!("{}{path}", w.app.base))
                .header("cookie", w.app.cookie.clone())
                .header(header, value)
                .form(form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{path} with {header}");
            assert!(!res.text().await.unwrap().contains(SECRET));
        }
    }
    // The supervisor is still signed in: the forged sign-out did nothing.
    let a = knock(&w.app, Door::RestDetails, Some(&w.app.cookie), &w.own).await;
    assert_eq!(a.status, 200);
    // The same requests from the site's own page go through.
    let res = plain_client()
        .post(format!("{}/api/call", w.app.base))
        .header("cookie", w.app.cookie.clone())
        .header("origin", w.app.base.clone())
        .form(&[("id", w.own.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_rate_limited_per_account_and_per_address_without_naming_accounts() {
    let w = world_with(&[("sign_in_per_account", "3"), ("sign_in_per_address", "8")]).await;
    let base = &w.app.base;
    // Three wrong guesses at bob from this address...
    for _ in 0..3 {
        let refused = sign_in_at(base, "bob", "wrong-password-0")
            .await
            .unwrap_err();
        assert!(refused.contains("error=invalid"), "{refused}");
    }
    // ...and bob is refused from here, even with the right password.
    let refused = sign_in_at(base, "bob", OTHER_PASSWORD).await.unwrap_err();
    assert!(refused.contains("error=throttled"), "{refused}");
    // Other names from here go on until the address has failed 8 times;
    // a missing account reads like an existing one.
    for n in 0..5 {
        let refused = sign_in_at(base, &format!("nobody-{n}"), "wrong-password-0")
            .await
            .unwrap_err();
        assert!(refused.contains("error=invalid"), "{refused}");
    }
    for (name, pw) in [("agent", DEMO_PASSWORD), ("nobody-at-all", "x-password-1")] {
        let refused = sign_in_at(base, name, pw).await.unwrap_err();
        assert!(refused.contains("error=throttled"), "{name}: {refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_failed_sign_ins_count() {
    let w = world_with(&[("sign_in_per_account", "3"), ("sign_in_per_address", "100")]).await;
    // Signing in again and again is no attack.
    for _ in 0..6 {
        assert!(sign_in_at(&w.app.base, "supervisor", DEMO_PASSWORD)
            .await
            .is_ok());
    }
    for _ in 0..3 {
        let refused = sign_in_at(&w.app.base, "supervisor", "wrong-password-0")
            .await
            .unwrap_err();
        assert!(refused.contains("error=invalid"), "{refused}");
    }
    let refused = sign_in_at(&w.app.base, "supervisor", DEMO_PASSWORD)
        .await
        .unwrap_err();
    assert!(refused.contains("error=throttled"), "{refused}");
    // Another account is not held up.
    assert!(sign_in_at(&w.app.base, "bob", OTHER_PASSWORD).await.is_ok());
}

/// A failed sign-in that says it was forwarded for `client`: the answer's
/// `error=` reason.
async fn fail_via(base: &str, client: &str, name: &str) -> String {
    let res = plain_client()
        .post(format!("{base}/signin"))
        .header("x-forwarded-for", client)
        .form(&[("username", name), ("password", "wrong-password-0")])
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_string();
    location
        .split("error=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    // Behind a trusted proxy, each client has its own address budget.
    let w = world_with(&[
        ("sign_in_per_address", "3"),
        ("trusted_proxies", "127.0.0.1"),
    ])
    .await;
    for n in 0..3 {
        assert_eq!(
            fail_via(&w.app.base, "203.0.113.1", &format!("x{n}")).await,
            "invalid"
        );
    }
    assert_eq!(
        fail_via(&w.app.base, "203.0.113.1", "x9").await,
        "throttled"
    );
    assert_eq!(fail_via(&w.app.base, "203.0.113.2", "x9").await, "invalid");
    // Without one, the header is the client's word: ignored, so changing it
    // dodges nothing.
    let w = world_with(&[("sign_in_per_address", "3")]).await;
    for n in 0..3 {
        assert_eq!(
            fail_via(&w.app.base, &format!("203.0.113.{n}"), &format!("x{n}")).await,
            "invalid"
        );
    }
    assert_eq!(
        fail_via(&w.app.base, "203.0.113.99", "x9").await,
        "throttled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_managed_by_admins_only() {
    let w = world().await;
    let call = |cookie: &str, path: &str, form: Vec<(&str, &str)>| {
        plain_client()
            .post(format!("{}/api/{path}", w.app.base))
            .header("cookie", cookie.to_string())
            .form(&form)
            .send()
    };
    for cookie in [w.agent.as_str(), w.app.cookie.as_str()] {
        let res = call(cookie, "accounts", vec![]).await.unwrap();
        assert!(res.text().await.unwrap().contains("NotAllowed"));
        let res = call(
            cookie,
            "accounts/add",
            vec![("username", "mallory"), ("role", "admin"), ("agent_id", "")],
        )
        .await
        .unwrap();
        assert!(res.text().await.unwrap().contains("NotAllowed"));
    }
    let res = call(&w.admin, "accounts", vec![]).await.unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let text = list.to_string();
    assert!(
        text.contains("\"bob\"") && text.contains("\"supervisor\""),
        "{text}"
    );
    assert!(!text.contains("argon2"), "never a hash");

    // Add, sign in with the shown password, disable: the session ends.
    let res = call(
        &w.admin,
        "accounts/add",
        vec![("username", "carol"), ("role", "agent"), ("agent_id", "")],
    )
    .await
    .unwrap();
    let password: String = res.json().await.unwrap();
    let carol = sign_in_at(&w.app.base, "carol", &password).await.unwrap();
    let res = call(
        &w.admin,
        "accounts/disable",
        vec![("username", "carol"), ("disabled", "true")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let a = knock(&w.app, Door::RestLatest, Some(&carol), "").await;
    assert_eq!(a.status, 401);
    assert!(sign_in_at(&w.app.base, "carol", &password).await.is_err());
}

/// A rules server function, as the Rules page calls it.
pub(crate) async fn rules_fn(
    app: &TestApp,
    cookie: Option<&str>,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let client = plain_client();
    let mut rb = client
        .post(format!("{}/api/{endpoint}", app.base))
        .form(form);
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    let res = rb.send().await.expect("the server answers");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

pub(crate) fn rule_form<'a>(
    id: &'a str,
    pattern: &'a str,
    kind: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("id", id),
        ("kind", kind),
        ("pattern", pattern),
        ("speaker", "either"),
        ("severity", "critical"),
        ("label", "Chargeback"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_supervisors_and_admins_read_and_change_the_rules_at_every_rules_door() {
    let w = world().await;
    let new_rule = rule_form("", "chargeback", "phrase");
    // No session, a forged or expired one, a disabled account: nothing.
    for cookie in [
        None,
        Some(w.forged.as_str()),
        Some(w.expired.as_str()),
        Some(w.disabled.as_str()),
    ] {
        for (endpoint, form) in [
            ("rules", vec![]),
            ("rules/save", new_rule.clone()),
            ("rules/delete", vec![("id", "refund")]),
        ] {
            let (status, body) = rules_fn(&w.app, cookie, endpoint, &form).await;
            assert_eq!(status, 401, "{endpoint} {cookie:?}: {body}");
        }
    }
    // An agent: refused at each, and nothing changes.
    for (endpoint, form) in [
        ("rules", vec![]),
        ("rules/save", new_rule.clone()),
        ("rules/delete", vec![("id", "refund")]),
    ] {
        let (status, body) = rules_fn(&w.app, Some(&w.agent), endpoint, &form).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
        assert!(!body.contains("Escalation"), "{body}");
    }
    // The page itself: sign-in first without a session; an agent is told
    // they may not see the rules.
    let page = |cookie: Option<String>| {
        let client = plain_client();
        let url = format!("{}/rules", w.app.base);
        async move {
            let mut rb = client.get(url);
            if let Some(c) = cookie {
                rb = rb.header("cookie", c);
            }
            let res = rb.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap_or_default())
        }
    };
    assert_eq!(page(None).await.0, 303);
    let (status, body) = page(Some(w.agent.clone())).await;
    assert_eq!(status, 200);
    assert!(
        !body.contains("speak to (a|your)"),
        "no rule reaches an agent's page"
    );

    // A supervisor and an admin: the shipped rules, then a change each.
    for (cookie, id) in [(w.app.cookie.as_str(), "sup"), (w.admin.as_str(), "adm")] {
        let (status, body) = rules_fn(&w.app, Some(cookie), "rules", &[]).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("Escalation") && body.contains("speak to (a|your)"),
            "{body}"
        );
        let (status, body) = page(Some(cookie.to_string())).await;
        assert_eq!(status, 200);
        assert!(
            body.contains("rules-table"),
            "{id}: the page lists the rules"
        );
        let (status, body) = rules_fn(
            &w.app,
            Some(cookie),
            "rules/save",
            &rule_form("", &format!("chargeback {id}"), "phrase"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let saved: Value = serde_json::from_str(&body).unwrap();
        let (status, _) = rules_fn(
            &w.app,
            Some(cookie),
            "rules/delete",
            &[("id", saved["id"].as_str().unwrap())],
        )
        .await;
        assert_eq!(status, 200);
    }
    // A rule that can't work is refused with the reason.
    let (status, body) = rules_fn(
        &w.app,
        Some(&w.app.cookie),
        "rules/save",
        &rule_form("", "speak to (a|your", "regex"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unclosed"), "{body}");
    let (status, body) = rules_fn(
        &w.app,
        Some(&w.app.cookie),
        "rules/save",
        &rule_form("<script>", "x", "phrase"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_only_those_who_may_see_the_call_and_a_new_rule_applies_to_the_next_final() {
    let w = world().await;
    // The agent watches their own call.
    let mut own = w
        .app
        .connect_as(&format!("/ws/{}", w.own), Some(&w.agent))
        .await
        .unwrap();
    assert_eq!(next_json(&mut own).await["type"], "hello");
    while next_json(&mut own).await["type"] != "caughtUp" {}
    // Bob's customer asks for a manager: the agent never hears of it.
    w.app
        .say(
            &w.other,
            "Customer",
            5_000,
            "Let me speak to a manager",
            false,
        )
        .await;
    // A partial of the agent's customer: no alert (it may still change).
    w.app
        .say(&w.own, "Customer", 6_000, "I want a refu", true)
        .await;
    w.app
        .say(&w.own, "Customer", 6_000, "I want a refund now", false)
        .await;
    let mut alert = None;
    while alert.is_none() {
        let frame = tokio::time::timeout(Duration::from_secs(5), next_json(&mut own))
            .await
            .expect("the alert is pushed");
        assert_ne!(frame["type"], "alert", "{frame}",);
        if frame["type"] == "transcript" && frame["partial"] == false && frame["startMs"] == 6_000 {
            let next = tokio::time::timeout(Duration::from_secs(5), next_json(&mut own))
                .await
                .expect("the alert follows its line");
            alert = Some(next);
        }
    }
    let alert = alert.unwrap();
    assert_eq!(alert["type"], "alert", "{alert}");
    assert_eq!(alert["alert"]["label"], "Refund");
    assert_eq!(alert["alert"]["startMs"], 6_000);
    // Kept with the call: a page opened later has it; Bob's stays Bob's.
    let (status, body) = {
        let res = plain_client()
            .post(format!("{}/api/call", w.app.base))
            .header("cookie", &w.agent)
            .form(&[("id", w.own.as_str())])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(
        body.contains("\"Refund\"") && !body.contains("Escalation"),
        "{body}"
    );
    let a = knock(&w.app, Door::FnFloor, Some(&w.agent), "").await;
    assert!(
        a.body.contains("\"Refund\"") && !a.body.contains("Escalation"),
        "{a:?}"
    );
    let a = knock(&w.app, Door::FnFloor, Some(&w.app.cookie), "").await;
    assert!(
        a.body.contains("\"Refund\"") && a.body.contains("Escalation"),
        "{a:?}"
    );
    // The export names the alert on its line.
    let csv = plain_client()
        .get(format!("{}/calls/{}/transcript.csv", w.app.base, w.own))
        .header("cookie", &w.agent)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("I want a refund now,Refund"), "{csv}");

    // A supervisor adds a rule: the next final is judged by it.
    let (status, body) = rules_fn(
        &w.app,
        Some(&w.app.cookie),
        "rules/save",
        &rule_form("", "chargeback", "phrase"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    w.app
        .say(&w.own, "Agent", 7_000, "No CHARGEBACK needed", false)
        .await;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), next_json(&mut own))
            .await
            .expect("the new rule's alert is pushed");
        if frame["type"] == "alert" {
            assert_eq!(frame["alert"]["label"], "Chargeback");
            assert_eq!(frame["alert"]["severity"], "critical");
            break;
        }
    }
}
