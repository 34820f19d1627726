//! Guest orders: a guest reads their order through a signed, expiring link (returned once
//! at checkout and mailed), and an account claims the guest orders of its address only
//! once it has proven that address.
//!
//! The link is stateless: the order's id and an expiry, under an HMAC of the server's key.
//! It names one order and cannot be turned into another (no enumeration by number), and
//! nothing needs storing or pruning.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::OrdersError;
use super::repository as repo;
use super::types::Order;
use crate::Context;
use crate::accounts::repository as accounts;
use crate::accounts::tokens::keyed_digest;

type Result<T> = std::result::Result<T, OrdersError>;

const DOMAIN: &str = "swift guest order link";

/// id (16 bytes) + expiry in Unix seconds (8) + HMAC-SHA256 (32).
const LEN: usize = 16 + 8 + 32;

/// A guest order's access token, as it appears in the order link.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderToken(String);

impl std::fmt::Debug for OrderToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderToken(..)")
    }
}

impl OrderToken {
    /// Signs access to `order_id` until `expires`.
    pub fn sign(key: &[u8], order_id: Uuid, expires: DateTime<Utc>) -> Self {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.extend_from_slice(order_id.as_bytes());
        bytes.extend_from_slice(&expires.timestamp().to_be_bytes());
        let mac = keyed_digest(key, DOMAIN, &bytes);
        bytes.extend_from_slice(&mac);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The order `token` grants, if its signature holds and it has not expired at `now`.
    pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<Uuid> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != LEN {
            return None;
        }
        let (signed, mac) = bytes.split_at(16 + 8);
        let expected = keyed_digest(key, DOMAIN, signed);
        let same = mac
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        let expires = i64::from_be_bytes(signed[16..].try_into().ok()?);
        (same && now.timestamp() < expires).then(|| Uuid::from_slice(&signed[..16]).ok())?
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The token for a guest order just placed, valid `GUEST_ORDER_LINK_TTL_DAYS`.
pub fn token_for(ctx: &Context, order_id: Uuid) -> OrderToken {
    let days = ctx.config.lifetimes.guest_order_link_days;
    OrderToken::sign(
        &ctx.config.auth.jwt_secret,
        order_id,
        Utc::now() + Duration::days(days),
    )
}

/// The storefront page that shows a guest order.
pub fn link(ctx: &Context, token: &OrderToken) -> String {
    format!(
        "{}/orders/guest/{}",
        ctx.config.frontend_url,
        token.as_str()
    )
}

/// The guest order a link's token grants; an invalid or expired token finds nothing.
pub async fn get(ctx: &Context, token: &str) -> Result<Order> {
    let id = OrderToken::verify(&ctx.config.auth.jwt_secret, token, Utc::now())
        .ok_or(OrdersError::NotFound)?;
    let mut conn = ctx.pool.acquire().await?;
    repo::find(&mut conn, id, None)
        .await?
        .ok_or(OrdersError::NotFound)
}

/// Gives `user_id` the guest orders placed with their address, once the address is proven
/// (verified): an account merely registered with someone's address claims nothing.
pub async fn claim(ctx: &Context, user_id: Uuid) -> Result<u64> {
    let user = accounts::find_user(&ctx.pool, user_id)
        .await?
        .ok_or(OrdersError::NotFound)?;
    if !user.email_verified {
        return Err(OrdersError::EmailNotVerified);
    }
    Ok(repo::claim_guest_orders(&ctx.pool, user_id, &user.email).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key of the server's";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_token_grants_its_order_until_it_expires() {
        let id = Uuid::now_v7();
        let token = OrderToken::sign(KEY, id, at(2_000));
        assert_eq!(OrderToken::verify(KEY, token.as_str(), at(1_999)), Some(id));
        assert_eq!(OrderToken::verify(KEY, token.as_str(), at(2_000)), None);
    }

    #[test]
    fn a_token_under_another_key_or_altered_grants_nothing() {
        let token = OrderToken::sign(KEY, Uuid::now_v7(), at(2_000));
        assert_eq!(
            OrderToken::verify(b"another key", token.as_str(), at(0)),
            None
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(token.as_str()).unwrap();
        bytes[0] ^= 1; // another order id
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(OrderToken::verify(KEY, &altered, at(0)), None);
        for junk in ["", "abc", "!!!!", &"A".repeat(75)] {
            assert_eq!(OrderToken::verify(KEY, junk, at(0)), None, "{junk}");
        }
    }
}
