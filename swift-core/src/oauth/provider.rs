//! The OpenID Connect provider as seen through the openidconnect crate: discovery and JWKS
//! fetched lazily and cached, key rotation handled by one JWKS refetch, a timeout on every
//! call. The cache holds only the provider's public metadata, never per-flow state.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenVerifier, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use tokio::sync::RwLock;

use super::OAuthError;
use crate::config::GoogleConfig;

/// The client type `from_provider_metadata` yields: authorization endpoint set, token and
/// userinfo endpoints "maybe set" (they come from discovery).
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What a verified id_token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Google Workspace domain, when the account belongs to one.
    pub hosted_domain: Option<String>,
}

/// Where to send the browser, and the secrets the callback will need.
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

pub struct OidcProvider {
    config: GoogleConfig,
    http: openidconnect::reqwest::Client,
    metadata: RwLock<Option<CoreProviderMetadata>>,
}

fn provider_error(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::Provider(e.to_string())
}

impl OidcProvider {
    pub fn new(config: GoogleConfig) -> Self {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // The token endpoint must never redirect us anywhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.http_timeout_seconds))
            .connect_timeout(Duration::from_secs(config.http_timeout_seconds))
            .build()
            .expect("HTTP client");
        Self {
            config,
            http,
            metadata: RwLock::new(None),
        }
    }

    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }

    /// Discovery document and JWKS, fetched on first use.
    async fn metadata(&self) -> Result<CoreProviderMetadata, OAuthError> {
        if let Some(m) = self.metadata.read().await.as_ref() {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer_url.clone()).map_err(provider_error)?;
        let discovered = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(provider_error)?;
        *self.metadata.write().await = Some(discovered.clone());
        Ok(discovered)
    }

    /// Refetches the JWKS after the provider rotated its keys.
    async fn refresh_jwks(&self) -> Result<CoreProviderMetadata, OAuthError> {
        let current = self.metadata().await?;
        let jwks = CoreJsonWebKeySet::fetch_async(current.jwks_uri(), &self.http)
            .await
            .map_err(provider_error)?;
        let updated = current.set_jwks(jwks);
        *self.metadata.write().await = Some(updated.clone());
        Ok(updated)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<Client, OAuthError> {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| {
            crate::validation::Invalid::new("redirect_uri", "must be an absolute http(s) URL")
        })?))
    }

    /// Builds the authorization URL: code flow, PKCE S256, fresh state and nonce, scopes
    /// `openid email profile`.
    pub async fn authorization_request(&self) -> Result<AuthorizationRequest, OAuthError> {
        let redirect_uri = self
            .config
            .redirect_uri
            .as_deref()
            .filter(|_| self.config.client_secret.is_some())
            .ok_or(OAuthError::NotConfigured)?;
        let client = self.client(self.metadata().await?, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems an authorization code at the token endpoint and returns the raw id_token.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<String, OAuthError> {
        // Google redeems codes of web clients only with the client secret.
        if self.config.client_secret.is_none() {
            return Err(OAuthError::NotConfigured);
        }
        let client = self.client(self.metadata().await?, redirect_uri)?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(provider_error)?;
        if let Some(v) = pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.to_owned()));
        }
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    OAuthError::CodeRejected(r.error().to_string())
                }
                other => provider_error(other),
            })?;
        let _ = response.access_token();
        response
            .id_token()
            .map(|t| t.to_string())
            .ok_or_else(|| OAuthError::InvalidToken("the token response has no id_token".into()))
    }

    /// Verifies an id_token (RS256 signature against the JWKS, issuer, audience, expiry and,
    /// when given, nonce) and reads the identity. An unknown key id triggers one JWKS refetch.
    pub async fn verify(
        &self,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Identity, OAuthError> {
        let token = CoreIdToken::from_str(id_token)
            .map_err(|e| OAuthError::InvalidToken(format!("malformed: {e}")))?;
        let metadata = self.metadata().await?;
        match self.verify_with(&metadata, &token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let metadata = self.refresh_jwks().await?;
                self.verify_with(&metadata, &token, nonce)
            }
            other => other,
        }
        .map_err(|e| OAuthError::InvalidToken(e.to_string()))?;
        identity_from_payload(id_token)
    }

    /// Tries our client id, then each extra accepted audience (a frontend's own client id).
    fn verify_with(
        &self,
        metadata: &CoreProviderMetadata,
        token: &CoreIdToken,
        nonce: Option<&str>,
    ) -> Result<(), ClaimsVerificationError> {
        let audiences = std::iter::once(&self.config.client_id).chain(&self.config.extra_audiences);
        let mut last = None;
        for audience in audiences {
            let verifier = IdTokenVerifier::new_public_client(
                ClientId::new(audience.clone()),
                metadata.issuer().clone(),
                metadata.jwks().clone(),
            )
            .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
            let result = match nonce {
                Some(n) => token
                    .claims(&verifier, &Nonce::new(n.to_owned()))
                    .map(|_| ()),
                None => token
                    .claims(&verifier, |_: Option<&Nonce>| Ok::<(), String>(()))
                    .map(|_| ()),
            };
            match result {
                Err(ClaimsVerificationError::InvalidAudience(e)) => {
                    last = Some(ClaimsVerificationError::InvalidAudience(e))
                }
                other => return other,
            }
        }
        Err(last.expect("at least one audience"))
    }
}

/// Reads the identity claims of an already verified token (including Google's `hd`, which
/// openidconnect's core claim set does not model).
fn identity_from_payload(id_token: &str) -> Result<Identity, OAuthError> {
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or_else(|| OAuthError::InvalidToken("unreadable claims".into()))?;
    let text = |key: &str| payload.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let email = text("email").ok_or_else(|| {
        OAuthError::InvalidToken("no email claim (is the email scope granted?)".into())
    })?;
    let email_verified = match payload.get("email_verified") {
        Some(serde_json::Value::Bool(b)) => *b,
        // Some providers send the string "true".
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    };
    Ok(Identity {
        subject: text("sub").ok_or_else(|| OAuthError::InvalidToken("no sub claim".into()))?,
        email,
        email_verified,
        given_name: text("given_name"),
        family_name: text("family_name"),
        hosted_domain: text("hd").map(|d| d.to_lowercase()),
    })
}
