use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{Role, User, Username};
use crate::server::auth::accounts::SessionKey;
use crate::server::store::memory::MemoryStore;
use crate::server::store::{CallSink, NewContact};

use super::*;

const OWN: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const OTHER: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

fn viewer(name: &str, role: Role, agent_id: &str) -> Viewer {
    Viewer {
        user: User {
            username: Username::parse(name).unwrap(),
            role,
        },
        agent_id: agent_id.into(),
        session: SessionKey("k".into()),
    }
}

fn asking(role: Role, agent_id: &str) -> Asking {
    Asking::new(viewer("someone", role, agent_id), None, Door::Rest)
}

/// Two calls: `OWN` belongs to agent `alice`, `OTHER` to `bob`; both
/// with a phone number.
async fn access() -> CallAccess {
    let settings = Settings::load_with(&[("mask_phone_for", "agent")]).unwrap();
    let store = Arc::new(MemoryStore::new(10).with_owner_attribute(&settings.agent_attribute));
    for (id, agent) in [(OWN, "alice"), (OTHER, "bob")] {
        let attributes = BTreeMap::from([
            ("contactId".to_string(), id.to_string()),
            (
                "customerPhoneNumber".to_string(),
                "+14155550123".to_string(),
            ),
            (settings.agent_attribute.clone(), agent.to_string()),
            (
                "customerNotes".to_string(),
                "VIP, card ending 4242".to_string(),
            ),
        ]);
        store
            .start_call(NewContact {
                call_id: CallId::parse(id).unwrap(),
                attributes,
            })
            .await
            .unwrap();
    }
    let accounts = std::env::temp_dir().join(format!(
        "travoiq-access-test-{}-{}.json",
        std::process::id(),
        rand::random::<u32>()
    ));
    let auth = Arc::new(Auth::new(
        Arc::new(crate::server::auth::file_store::FileAccounts::new(accounts)),
        &settings,
    ));
    CallAccess::new(Hub::start(store, Duration::from_secs(1)), auth, &settings)
}

#[tokio::test]
async fn supervisors_open_every_call_unmasked() {
    let access = access().await;
    let who = asking(Role::Supervisor, "");
    for id in [OWN, OTHER] {
        let call = access.open(&who, id).await.unwrap();
        assert_eq!(call.customer_phone.as_deref(), Some("+14155550123"));
        assert!(call.attributes.contains_key("customerNotes"));
    }
}

#[tokio::test]
async fn an_agent_opens_their_own_call_masked_and_no_other() {
    let access = access().await;
    let alice = asking(Role::Agent, "alice");
    let call = access.open(&alice, OWN).await.unwrap();
    assert_eq!(call.customer_phone.as_deref(), Some("+•••••••0123"));
    assert_eq!(call.attributes["customerPhoneNumber"], "+•••••••0123");
    // Only the allowed attributes (and whose call it is) reach an agent.
    let keys: Vec<_> = call.attributes.keys().map(String::as_str).collect();
    assert_eq!(keys, ["agentUsername", "contactId", "customerPhoneNumber"]);
    // Another agent's call is answered as a call that does not exist.
    let refused = access.open(&alice, OTHER).await.unwrap_err();
    let unknown = access
        .open(&alice, "11111111-2222-4333-8444-555555555555")
        .await
        .unwrap_err();
    assert!(matches!(refused, AppError::UnknownCall(_)));
    assert!(matches!(unknown, AppError::UnknownCall(_)));
    assert_eq!(refused.status(), unknown.status());
}

#[tokio::test]
async fn an_empty_agent_id_matches_nothing() {
    let access = access().await;
    let nobody = asking(Role::Agent, "");
    assert!(access.open(&nobody, OWN).await.is_err());
    assert_eq!(access.latest(&nobody).await.unwrap(), None);
}

#[tokio::test]
async fn the_latest_call_passes_the_same_decision() {
    let access = access().await;
    let bob = asking(Role::Agent, "bob");
    let latest = access.latest(&bob).await.unwrap().unwrap();
    assert_eq!(latest.call_id.as_str(), OTHER);
    let alice = asking(Role::Agent, "alice");
    let latest = access.latest(&alice).await.unwrap().unwrap();
    assert_eq!(latest.call_id.as_str(), OWN);
    assert_eq!(latest.customer_phone.as_deref(), Some("+•••••••0123"));
}

#[tokio::test]
async fn a_shared_link_opens_one_call_for_an_agent() {
    let access = access().await;
    let supervisor = asking(Role::Supervisor, "");
    let other = CallId::parse(OTHER).unwrap();
    let alice_name = Username::parse("alice").unwrap();
    let (path, _) = access
        .share(&supervisor, &other, &alice_name)
        .await
        .unwrap();
    let grant = path.split("grant=").nth(1).unwrap().to_string();
    let with_grant = |name: &str| {
        Asking::new(viewer(name, Role::Agent, name), None, Door::Rest)
            .with_grant(Some(grant.clone()))
    };
    let alice = with_grant("alice");
    assert!(access.open(&alice, OTHER).await.is_ok());
    // Not a key for another agent, nor to any other call.
    let carol = with_grant("carol");
    assert!(access.open(&carol, OTHER).await.is_err());
    let alice_own_elsewhere = with_grant("alice");
    assert!(access
        .open(&alice_own_elsewhere, "11111111-2222-4333-8444-555555555555")
        .await
        .is_err());
    // Agents can't make links.
    assert_eq!(
        access.share(&alice, &other, &alice_name).await.unwrap_err(),
        AppError::NotAllowed
    );
}

#[tokio::test]
async fn a_call_moved_to_another_agent_is_no_longer_admitted() {
    let access = access().await;
    let alice = asking(Role::Agent, "alice");
    let mut call = access.open(&alice, OWN).await.unwrap();
    assert!(access.admits(&alice, &call).await.unwrap());
    call.attributes.insert("agentUsername".into(), "bob".into());
    assert!(!access.admits(&alice, &call).await.unwrap());
    assert!(access.visible(&alice, call).is_none());
}

#[tokio::test]
async fn malformed_ids_are_refused_before_the_store() {
    let access = access().await;
    let who = asking(Role::Supervisor, "");
    let e = access.open(&who, "<script>").await.unwrap_err();
    assert_eq!(e.code(), "malformed_call_id");
}

#[test]
fn phones_keep_only_their_last_four_digits() {
    assert_eq!(mask_phone("+1 555-010-4567"), "+• •••-•••-4567");
    assert_eq!(mask_phone("+447700900123"), "+••••••••0123");
    assert_eq!(mask_phone("123"), "123");
    assert_eq!(mask_phone(""), "");
}

fn named(name: &str, role: Role) -> Asking {
    Asking::new(viewer(name, role, ""), None, Door::Share)
}

#[tokio::test]
async fn a_revoked_link_opens_nothing_and_only_its_maker_or_an_admin_revokes_it() {
    let access = access().await;
    let other = CallId::parse(OTHER).unwrap();
    let sam = named("sam", Role::Supervisor);
    let (path, _) = access
        .share(&sam, &other, &Username::parse("alice").unwrap())
        .await
        .unwrap();
    let grant = path.split("grant=").nth(1).unwrap().to_string();
    let alice = Asking::new(viewer("alice", Role::Agent, "alice"), None, Door::Rest)
        .with_grant(Some(grant));
    assert!(access.open(&alice, OTHER).await.is_ok());
    let links = access.links(&sam, &other).await.unwrap();
    assert_eq!(links.len(), 1);
    let link = links[0].id.clone();
    assert_eq!(links[0].state, crate::model::LinkState::Active);
    assert!(links[0].may_revoke, "its maker may revoke it");
    // Another supervisor sees it but may not revoke it: told it does not
    // exist, as an unknown link is.
    let tess = named("tess", Role::Supervisor);
    assert!(!access.links(&tess, &other).await.unwrap()[0].may_revoke);
    assert_eq!(
        access.revoke(&tess, &other, &link).await.unwrap_err(),
        AppError::UnknownLink
    );
    let unknown = crate::model::LinkId::parse(&"x".repeat(22)).unwrap();
    assert_eq!(
        access.revoke(&sam, &other, &unknown).await.unwrap_err(),
        AppError::UnknownLink
    );
    // Agents neither list nor revoke.
    assert_eq!(
        access.links(&alice, &other).await.unwrap_err(),
        AppError::NotAllowed
    );
    assert_eq!(
        access.revoke(&alice, &other, &link).await.unwrap_err(),
        AppError::NotAllowed
    );
    assert!(access.open(&alice, OTHER).await.is_ok(), "still open");
    // An admin may revoke any link; then the grant opens nothing.
    access
        .revoke(&named("ada", Role::Admin), &other, &link)
        .await
        .unwrap();
    assert_eq!(
        access.open(&alice, OTHER).await.unwrap_err(),
        AppError::LinkNotValid
    );
    let links = access.links(&sam, &other).await.unwrap();
    assert_eq!(links[0].state.as_str(), "revoked");
    assert!(!links[0].may_revoke, "nothing left to revoke");
}

#[tokio::test]
async fn a_refused_link_says_expired_only_to_its_holder_and_never_whether_the_call_exists() {
    let access = access().await;
    let other = CallId::parse(OTHER).unwrap();
    let alice_name = Username::parse("alice").unwrap();
    let link = crate::model::LinkId::parse(&"e".repeat(22)).unwrap();
    let expired = access
        .signer
        .issue(&other, &link, &alice_name, now_ms() - 1_000);
    let as_user = |name: &str, grant: &str| {
        Asking::new(viewer(name, Role::Agent, name), None, Door::Page)
            .with_grant(Some(grant.to_string()))
    };
    // Genuine, for this call and this user, and past its time.
    assert_eq!(
        access
            .open(&as_user("alice", &expired), OTHER)
            .await
            .unwrap_err(),
        AppError::LinkExpired
    );
    // The same grant in anyone else's hands, or on another call, existing
    // or not, or with one character changed: not valid, and nothing more
    // (`OWN` is alice's own call, open to her anyway).
    let mut tampered = expired.clone();
    tampered.pop();
    tampered.push(if expired.ends_with('A') { 'B' } else { 'A' });
    let missing = "11111111-2222-4333-8444-555555555555";
    for (who, grant, call) in [
        ("carol", expired.as_str(), OTHER),
        ("carol", expired.as_str(), OWN),
        ("alice", expired.as_str(), missing),
        ("alice", tampered.as_str(), OTHER),
        ("alice", "not-a-grant", OTHER),
        ("carol", "not-a-grant", missing),
    ] {
        assert_eq!(
            access.open(&as_user(who, grant), call).await.unwrap_err(),
            AppError::LinkNotValid,
            "{who} {grant} {call}"
        );
    }
    // Without a link, a refusal is an unknown call, as before.
    assert!(matches!(
        access.open(&asking(Role::Agent, "carol"), OTHER).await,
        Err(AppError::UnknownCall(_))
    ));
}
