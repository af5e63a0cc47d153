//! Access decided again while a socket is open: another agent's call,
//! a call moved to someone else, a shared link that expires, account
//! changes here and elsewhere, sign-out; and the lobby's filtering.

use crate::server::auth::links::LinkRecord;

use super::*;

#[tokio::test]
async fn another_agents_call_is_an_unknown_call() {
    let rig = rig(2).await;
    let (conn, mut peer) = connect(&rig, asking(Role::Agent, "bob"));
    tokio::spawn(conn.call(call_id(), Resume::default()));
    assert!(matches!(
        peer.frame().await,
        ServerMsg::Error {
            code: ErrorCode::UnknownCall,
            ..
        }
    ));
    assert_eq!(peer.closed().await, close::UNKNOWN_CALL);
}

#[tokio::test]
async fn access_ends_when_the_call_moves_to_another_agent() {
    let rig = rig(1).await;
    let (conn, mut peer) = connect(&rig, asking(Role::Agent, "alice"));
    tokio::spawn(conn.call(call_id(), Resume::default()));
    let frames = until_caught_up(&mut peer).await;
    assert_eq!(texts(&frames), ["line 0"]);
    contact(&rig.store, "bob").await;
    line(&rig.store, 1).await;
    let mut after_move = Vec::new();
    let code = loop {
        match peer.next().await {
            Got::Frame(frame) => after_move.push(frame),
            Got::Closed(code) => break code,
        }
    };
    assert_eq!(code, close::UNKNOWN_CALL);
    assert!(
        texts(&after_move).is_empty(),
        "nothing of the call is sent once it is someone else's: {after_move:?}"
    );
}

#[tokio::test]
async fn a_new_call_reaches_the_lobby_of_those_who_may_see_it() {
    let rig = rig(0).await;
    let (conn, mut peer) = connect(&rig, asking(Role::Agent, "carol"));
    tokio::spawn(conn.lobby());
    assert!(matches!(
        peer.frame().await,
        ServerMsg::Latest { call: None }
    ));
    // Alice's call is re-announced; carol never hears of it, then hers
    // arrives.
    contact(&rig.store, "alice").await;
    let theirs = CallId::parse("7c9e6679-7425-40de-944b-e07fc1f90ae7").unwrap();
    let attributes = BTreeMap::from([
        ("contactId".to_string(), theirs.to_string()),
        ("agentUsername".to_string(), "carol".to_string()),
    ]);
    rig.store
        .start_call(NewContact {
            call_id: theirs.clone(),
            attributes,
        })
        .await
        .unwrap();
    match peer.frame().await {
        ServerMsg::NewCall { call } => assert_eq!(call.call_id, theirs),
        other => panic!("expected carol's call, got {other:?}"),
    }
}

/// Signs `name` in as an agent whose calls are `agent_id`'s, through the
/// real account store and sessions.
async fn signed_in(rig: &Rig, name: &str, role: Role, agent_id: &str) -> Asking {
    let username = Username::parse(name).unwrap();
    let password = "a password long enough".to_string();
    rig.ctx
        .auth
        .ops("test")
        .add(
            &username,
            role,
            Some(agent_id),
            Some(password.clone()),
            crate::server::auth::ops::Write::New,
        )
        .await
        .unwrap();
    let addr = std::net::IpAddr::from([127, 0, 0, 1]);
    let (_, viewer) = rig.ctx.auth.sign_in(name, &password, addr).await.unwrap();
    Asking::new(viewer, Some(addr), Door::Socket)
}

const NEVER: Duration = Duration::from_secs(3600);

/// A link to the rig's call for `agent`, kept on record, that expires in
/// `for_ms`: its record and its grant, signed as the server signs.
async fn link_for(rig: &Rig, agent: &str, for_ms: i64) -> (LinkRecord, String) {
    let link = LinkRecord::new(
        call_id(),
        Username::parse(agent).unwrap(),
        Username::parse("sam").unwrap(),
        now_ms(),
        for_ms,
    );
    rig.ctx.auth.store().create_link(&link).await.unwrap();
    let grant = crate::server::auth::grant::Signer::new(SECRET.as_bytes()).issue(
        &link.call,
        &link.id,
        &link.agent,
        link.expires_ms,
    );
    (link, grant)
}

/// Opens the rig's call as `who` and reads until caught up.
async fn watching(rig: &Rig, who: Asking) -> Peer {
    let (conn, mut peer) = connect(rig, who);
    tokio::spawn(conn.call(call_id(), Resume::default()));
    until_caught_up(&mut peer).await;
    peer
}

/// The socket says `code` within two seconds (no heartbeat or re-check is
/// due by then), then closes with `close_code`.
async fn told_then_closed(peer: &mut Peer, code: ErrorCode, close_code: u16) {
    match tokio::time::timeout(Duration::from_secs(2), peer.frame()).await {
        Ok(ServerMsg::Error { code: told, .. }) => assert_eq!(told, code),
        other => panic!("expected a {code:?} error at once, got {other:?}"),
    }
    assert_eq!(peer.closed().await, close_code);
}

#[tokio::test]
async fn a_shared_link_that_expires_ends_the_stream() {
    let rig = rig_with(1, NEVER, NEVER).await;
    let (_, grant) = link_for(&rig, "someone", 500).await;
    let who = asking(Role::Agent, "bob").with_grant(Some(grant));
    let (conn, mut peer) = connect(&rig, who);
    tokio::spawn(conn.call(call_id(), Resume::default()));
    let frames = until_caught_up(&mut peer).await;
    assert_eq!(texts(&frames), ["line 0"], "the link opens the call");
    // No heartbeat or re-check is due: only the link's expiry ends it.
    assert_eq!(peer.closed().await, close::UNKNOWN_CALL);
}

#[tokio::test]
async fn a_revoked_link_closes_its_socket_at_once() {
    let rig = rig_with(1, NEVER, NEVER).await;
    let (link, grant) = link_for(&rig, "someone", 3_600_000).await;
    let mut peer = watching(&rig, asking(Role::Agent, "bob").with_grant(Some(grant))).await;
    // Revoked through the one access path, by its maker: announced here.
    let mut sam = asking(Role::Supervisor, "");
    sam.viewer.user.username = Username::parse("sam").unwrap();
    rig.ctx
        .access
        .revoke(&sam, &link.call, &link.id)
        .await
        .unwrap();
    told_then_closed(&mut peer, ErrorCode::UnknownCall, close::UNKNOWN_CALL).await;
}

#[tokio::test]
async fn a_link_revoked_elsewhere_is_caught_by_the_recheck() {
    let rig = rig_with(1, NEVER, Duration::from_millis(200)).await;
    let (link, grant) = link_for(&rig, "someone", 3_600_000).await;
    let who = signed_in(&rig, "someone", Role::Agent, "someone").await;
    let mut peer = watching(&rig, who.with_grant(Some(grant))).await;
    // As another instance would: the record changes, nothing is announced.
    let sam = Username::parse("sam").unwrap();
    rig.ctx
        .auth
        .store()
        .revoke_link(&link.call, &link.id, &sam, now_ms())
        .await
        .unwrap();
    assert_eq!(peer.closed().await, close::UNKNOWN_CALL);
}

#[tokio::test]
async fn a_role_change_decides_again_at_once() {
    let rig = rig_with(1, NEVER, NEVER).await;
    // Bob, a supervisor, watches alice's call by his role.
    let who = signed_in(&rig, "bob", Role::Supervisor, "bob").await;
    let username = who.viewer.user.username.clone();
    let mut peer = watching(&rig, who).await;
    rig.ctx
        .auth
        .ops("admin")
        .set_role(&username, Role::Agent)
        .await
        .unwrap();
    // His session was made under the old role: it is over.
    told_then_closed(&mut peer, ErrorCode::SignedOut, close::SIGNED_OUT).await;
}

#[tokio::test]
async fn a_disabled_account_loses_its_sockets_at_once() {
    let rig = rig_with(1, NEVER, NEVER).await;
    let who = signed_in(&rig, "alice", Role::Agent, "alice").await;
    let username = who.viewer.user.username.clone();
    let mut peer = watching(&rig, who).await;
    rig.ctx
        .auth
        .ops("admin")
        .set_disabled(&username, true)
        .await
        .unwrap();
    told_then_closed(&mut peer, ErrorCode::SignedOut, close::SIGNED_OUT).await;
}

#[tokio::test]
async fn signing_out_closes_the_lobby_too() {
    let rig = rig_with(0, NEVER, NEVER).await;
    let who = signed_in(&rig, "sam", Role::Supervisor, "").await;
    let viewer = who.viewer.clone();
    let (conn, mut peer) = connect(&rig, who);
    tokio::spawn(conn.lobby());
    peer.frame().await;
    let addr = std::net::IpAddr::from([127, 0, 0, 1]);
    rig.ctx.auth.sign_out(&viewer, addr).await.unwrap();
    assert_eq!(peer.closed().await, close::SIGNED_OUT);
}

#[tokio::test]
async fn a_change_made_elsewhere_is_caught_by_the_recheck() {
    let rig = rig_with(1, NEVER, Duration::from_millis(200)).await;
    let who = signed_in(&rig, "alice", Role::Agent, "alice").await;
    let username = who.viewer.user.username.clone();
    let (conn, mut peer) = connect(&rig, who);
    tokio::spawn(conn.call(call_id(), Resume::default()));
    until_caught_up(&mut peer).await;
    // As the command line (another process) would: nothing is announced.
    crate::server::auth::ops::AccountOps::new(rig.ctx.auth.store().as_ref(), "command line")
        .set_disabled(&username, true)
        .await
        .unwrap();
    assert_eq!(peer.closed().await, close::SIGNED_OUT);
}
