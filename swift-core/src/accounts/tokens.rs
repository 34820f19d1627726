//! Access tokens (signed JWTs) and opaque random tokens (refresh, one-time, login codes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AccountsError;
use crate::config::AuthConfig;

/// The `typ` claim of access tokens: a token of any other type is never accepted as one.
pub const ACCESS_TYPE: &str = "access";

/// Claims of an access token (docs/API.md "Authentication"), plus `sid`, the session it belongs
/// to, so that revoking a session or deactivating a user kills its tokens at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub typ: String,
    pub iss: String,
    pub aud: String,
}

/// Signing and verification keys for access tokens, built once from configuration.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

/// Clock skew tolerated on `exp`/`iat`.
const LEEWAY_SECONDS: u64 = 30;

impl JwtKeys {
    pub fn new(config: &AuthConfig) -> Self {
        // Only HS256 is accepted: a token claiming `none` or another algorithm fails
        // validation before any signature check.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: Duration::seconds(config.access_ttl_seconds),
        }
    }

    /// Signs an access token for `user_id` in session `session_id`.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user_id,
            sid: session_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().simple().to_string(),
            typ: ACCESS_TYPE.into(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires_at)
    }

    /// Verifies signature, algorithm, issuer, audience, expiry and type.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccountsError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AccountsError::TokenExpired,
                _ => AccountsError::TokenInvalid,
            })?;
        if data.claims.typ != ACCESS_TYPE {
            return Err(AccountsError::TokenInvalid);
        }
        Ok(data.claims)
    }
}

/// A fresh 256-bit random token, URL-safe, and the hash under which it is stored.
pub fn opaque_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// HMAC-SHA256 of `message` under `key`, with `domain` separating the uses of one key.
pub fn keyed_digest(key: &[u8], domain: &str, message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The refresh token that replaces `token` on rotation. It is derived, not drawn, so that
/// presenting `token` again within the grace window (two tabs, a server component and the
/// browser refreshing at once) yields the very same successor instead of a fork. Without
/// `token` (256 random bits) nobody can compute it; the database keeps only its hash.
pub fn successor_token(key: &[u8], token: &str) -> (String, Vec<u8>) {
    let next = URL_SAFE_NO_PAD.encode(keyed_digest(
        key,
        "swift refresh successor",
        token.as_bytes(),
    ));
    let hash = hash_token(&next);
    (next, hash)
}

/// SHA-256 of a token: enough for 256-bit random secrets (no salt or stretching needed),
/// and a database leak then yields no usable token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Config::from_lookup(|_| None).unwrap().auth)
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = keys();
        let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let (token, _) = keys.issue(user, sid, Utc::now());
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.sid, claims.typ.as_str()),
            (user, sid, "access")
        );
    }

    #[test]
    fn expired_tokens_say_so() {
        let keys = keys();
        let (token, _) = keys.issue(
            Uuid::new_v4(),
            Uuid::new_v4(),
            Utc::now() - Duration::hours(2),
        );
        assert!(matches!(
            keys.verify(&token),
            Err(AccountsError::TokenExpired)
        ));
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let (a, ha) = opaque_token();
        let (b, _) = opaque_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a), ha);
    }
}
