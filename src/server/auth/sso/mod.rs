//! Single sign-on with OpenID Connect: the authorization code flow with
//! PKCE, state and nonce, the ID token's signature and claims checked by
//! the `openidconnect` crate against the provider's published keys.
//!
//! The provider is discovered (`/.well-known/openid-configuration`) at the
//! first sign-in and again every hour, so a server starts while its
//! provider is down and picks up rotated keys.

pub mod claims;
pub mod pending;

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    reqwest, AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::server::config::sso::SsoConfig;
use crate::server::store::now_ms;

use claims::{ClaimsError, SsoIdentity};
use pending::Pending;

/// How long discovered provider metadata (and its keys) is used.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// A provider that takes longer than this is unavailable.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Every claim the ID token carries besides the standard ones, so the
/// configured role and agent claims can be any name.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(transparent)]
struct OtherClaims(serde_json::Map<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

/// The RP-initiated logout endpoint, when the provider has one.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct LogoutMetadata {
    #[serde(default)]
    end_session_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for LogoutMetadata {}

type Metadata = ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type OidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a company sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The browser came back without a sign-in of ours in progress, or it
    /// took too long.
    #[error("no sign-in in progress (or it took over ten minutes)")]
    Expired,
    /// A forged or mixed-up callback: wrong state, a token that fails its
    /// checks, or the provider's own refusal.
    #[error("the sign-in could not be verified: {0}")]
    Refused(String),
    #[error(transparent)]
    Claims(#[from] ClaimsError),
}

#[derive(Clone)]
struct Discovered {
    client: OidcClient,
    end_session: Option<String>,
    at: Instant,
}

pub struct Sso {
    config: SsoConfig,
    http: reqwest::Client,
    /// Seals sign-ins in progress (the server's secret, or a random key:
    /// then a sign-in must finish on the instance that began it).
    key: Vec<u8>,
    discovered: Mutex<Option<Discovered>>,
}

impl Sso {
    pub fn new(config: SsoConfig, secret: Option<&[u8]>) -> Result<Self, SsoError> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider send us anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| SsoError::Unavailable(format!("HTTP client: {e}")))?;
        let key = match secret {
            Some(secret) => secret.to_vec(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        Ok(Self {
            config,
            http,
            key,
            discovered: Mutex::new(None),
        })
    }

    /// How the sign-in page names the provider.
    pub fn label(&self) -> &str {
        &self.config.label
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// This server's "you have signed out" page, as users reach it (the
    /// redirect URL's origin): where the provider sends them back to.
    pub fn signed_out_url(&self) -> String {
        let origin = self
            .config
            .redirect_url
            .strip_suffix(crate::server::config::sso::CALLBACK_PATH)
            .unwrap_or(&self.config.redirect_url);
        format!("{origin}/signin?signed_out=1")
    }

    /// The provider's client, discovered at most [`METADATA_TTL`] ago (or
    /// now, when `fresh`).
    async fn provider(&self, fresh: bool) -> Result<Discovered, SsoError> {
        let mut cached = self.discovered.lock().await;
        if let Some(found) = cached.as_ref() {
            if !fresh && found.at.elapsed() < METADATA_TTL {
                return Ok(found.clone());
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| SsoError::Unavailable(format!("issuer URL: {e}")))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| SsoError::Unavailable(format!("discovery: {e}")))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let redirect = RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| SsoError::Unavailable(format!("redirect URL: {e}")))?;
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        let found = Discovered {
            client,
            end_session,
            at: Instant::now(),
        };
        *cached = Some(found.clone());
        tracing::info!(issuer = %self.config.issuer, "identity provider discovered");
        Ok(found)
    }

    /// Starts a sign-in: where to send the browser, and the sealed sign-in
    /// to keep in its cookie meanwhile.
    pub async fn begin(&self, next: &str) -> Result<(String, String), SsoError> {
        let provider = self.provider(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_string(),
            made_ms: now_ms(),
        };
        Ok((url.to_string(), pending.seal(&self.key)))
    }

    /// Finishes a sign-in from the provider's callback: the state must be
    /// the one sealed in the browser's cookie, the code is exchanged (with
    /// the PKCE verifier), the ID token's signature, issuer, audience,
    /// expiry and nonce are checked, and its claims name the user. Returns
    /// who, and where they were going.
    pub async fn finish(
        &self,
        code: &str,
        state: &str,
        sealed: Option<&str>,
    ) -> Result<(SsoIdentity, String), SsoError> {
        let pending = sealed
            .and_then(|s| Pending::open(s, &self.key, now_ms()))
            .ok_or(SsoError::Expired)?;
        if !constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
            return Err(SsoError::Refused("the state does not match".into()));
        }
        let provider = self.provider(false).await?;
        let response = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SsoError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SsoError::Refused(format!("code exchange: {e}")))?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or_else(|| SsoError::Refused("no ID token in the answer".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match id_token.claims(&provider.client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // A key we don't know yet: the provider may have rotated its
            // keys since we looked. Look again once.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_))
                if provider.at.elapsed() > Duration::from_secs(60) =>
            {
                let fresh = self.provider(true).await?;
                let verifier = fresh.client.id_token_verifier();
                let claims = id_token
                    .claims(&verifier, &nonce)
                    .map_err(|e| SsoError::Refused(format!("ID token: {e}")))?;
                claims.clone()
            }
            Err(e) => return Err(SsoError::Refused(format!("ID token: {e}"))),
        };
        let claims = serde_json::to_value(&claims)
            .map_err(|e| SsoError::Refused(format!("ID token claims: {e}")))?;
        Ok((claims::identity(&claims, &self.config)?, pending.next))
    }

    /// Discovers the provider now (at start), so the first sign-in does
    /// not wait for it and a misconfiguration shows in the log at once.
    pub async fn warm(&self) {
        if let Err(e) = self.provider(false).await {
            tracing::warn!(issuer = %self.config.issuer, error = %e, "identity provider not reachable yet; company sign-in will try again when asked");
        }
    }

    /// Where to send a browser to sign out at the provider too, coming
    /// back to `return_to`; `None` if the provider has no such endpoint
    /// (or has not been reached yet: a page never waits for it).
    pub async fn end_session_url(&self, return_to: &str) -> Option<String> {
        let end_session = {
            let cached = self.discovered.lock().await;
            cached.as_ref()?.end_session.clone()?
        };
        let mut url = reqwest::Url::parse(&end_session).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("post_logout_redirect_uri", return_to);
        Some(url.to_string())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
