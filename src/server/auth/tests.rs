//! Session lookups: what reaches the account store.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::accounts::{AccountChange, SessionKey, SessionRecord};
use super::file_store::FileAccounts;
use super::limit::FailedLookups;
use super::links::LinkRecord;
use super::ops::Write;
use super::*;
use crate::model::CallId;

/// The file store, counting its session reads.
struct Counting {
    inner: FileAccounts,
    session_reads: AtomicUsize,
}

#[async_trait]
impl AccountStore for Counting {
    async fn account(&self, name: &Username) -> Result<Option<Account>, AccountStoreError> {
        self.inner.account(name).await
    }
    async fn accounts(&self) -> Result<Vec<Account>, AccountStoreError> {
        self.inner.accounts().await
    }
    async fn create(&self, account: Account) -> Result<(), AccountStoreError> {
        self.inner.create(account).await
    }
    async fn put(&self, account: Account) -> Result<(), AccountStoreError> {
        self.inner.put(account).await
    }
    async fn change(
        &self,
        name: &Username,
        change: AccountChange,
    ) -> Result<Account, AccountStoreError> {
        self.inner.change(name, change).await
    }
    async fn create_session(&self, session: &SessionRecord) -> Result<(), AccountStoreError> {
        self.inner.create_session(session).await
    }
    async fn session(&self, key: &SessionKey) -> Result<Option<SessionRecord>, AccountStoreError> {
        self.session_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.session(key).await
    }
    async fn touch_session(&self, key: &SessionKey, now_ms: i64) -> Result<(), AccountStoreError> {
        self.inner.touch_session(key, now_ms).await
    }
    async fn delete_session(&self, key: &SessionKey) -> Result<(), AccountStoreError> {
        self.inner.delete_session(key).await
    }
    async fn create_link(&self, link: &LinkRecord) -> Result<(), AccountStoreError> {
        self.inner.create_link(link).await
    }
    async fn link(
        &self,
        call: &CallId,
        id: &LinkId,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        self.inner.link(call, id).await
    }
    async fn links_of(&self, call: &CallId) -> Result<Vec<LinkRecord>, AccountStoreError> {
        self.inner.links_of(call).await
    }
    async fn revoke_link(
        &self,
        call: &CallId,
        id: &LinkId,
        by: &Username,
        at_ms: i64,
    ) -> Result<Option<LinkRecord>, AccountStoreError> {
        self.inner.revoke_link(call, id, by, at_ms).await
    }
}

async fn auth(secret: &str) -> (Auth, Arc<Counting>) {
    let settings = Settings::load_with(&[("secret", secret)]).unwrap();
    let store = Arc::new(Counting {
        inner: FileAccounts::new(std::env::temp_dir().join(format!(
            "travoiq-auth-test-{}-{}.json",
            std::process::id(),
            rand::random::<u32>()
        ))),
        session_reads: AtomicUsize::new(0),
    });
    let auth = Auth::new(store.clone(), &settings);
    let name = Username::parse("maria").unwrap();
    auth.ops("test")
        .add(
            &name,
            Role::Agent,
            None,
            Some("a long password".into()),
            Write::New,
        )
        .await
        .unwrap();
    (auth, store)
}

const SECRET: &str = "a test secret of at least thirty-two characters";
const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn with_a_secret_a_forged_token_costs_no_store_read() {
    let (auth, store) = auth(SECRET).await;
    let (token, _) = auth
        .sign_in("maria", "a long password", HERE)
        .await
        .unwrap();
    assert!(token.as_str().contains('.'), "signed: {}", token.as_str());
    let reads = || store.session_reads.load(Ordering::SeqCst);
    assert!(auth.viewer(&token, HERE).await.unwrap().is_some());
    assert_eq!(reads(), 1);
    // Unsigned, or signed with another key, or its tag moved to another
    // token: refused before the store.
    let unsigned = SessionToken::generate();
    let other_key = SessionToken::generate_signed(b"another secret, thirty-two chars!");
    let random = SessionToken::generate();
    let tag = token.as_str().split_once('.').unwrap().1;
    let moved = SessionToken::from_cookie(&format!("{}.{tag}", random.as_str())).unwrap();
    for forged in [unsigned, other_key, moved] {
        assert!(auth.viewer(&forged, HERE).await.unwrap().is_none());
    }
    assert_eq!(reads(), 1, "no read for a forged token");
}

#[tokio::test]
async fn without_a_secret_tokens_are_looked_up_and_misses_are_limited() {
    let (auth, store) = auth("").await;
    let reads = || store.session_reads.load(Ordering::SeqCst);
    for _ in 0..FailedLookups::PER_MINUTE {
        assert!(auth
            .viewer(&SessionToken::generate(), HERE)
            .await
            .unwrap()
            .is_none());
    }
    assert_eq!(reads(), FailedLookups::PER_MINUTE);
    // Past the limit, this address's tokens are not looked up...
    assert!(auth
        .viewer(&SessionToken::generate(), HERE)
        .await
        .unwrap()
        .is_none());
    assert_eq!(reads(), FailedLookups::PER_MINUTE);
    // ...another address's are.
    let (token, _) = auth
        .sign_in("maria", "a long password", HERE)
        .await
        .unwrap();
    let elsewhere = IpAddr::from([192, 0, 2, 1]);
    assert!(auth.viewer(&token, elsewhere).await.unwrap().is_some());
}
