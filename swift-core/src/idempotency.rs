//! Idempotent requests (docs/API.md "Idempotency-Key"): the first successful answer per
//! (caller, key) is kept for a day (`IDEMPOTENCY_TTL_HOURS`) and replayed for the same
//! request; the same key with another request is refused.
//!
//! Modelled on "Zero To Production in Rust" (its `idempotency/`) and on Stripe's semantics.
//! A key is first *claimed*: its row is written with a lease before the work starts, so a
//! duplicate arriving meanwhile finds it and waits for the answer instead of doing the work
//! twice. The answer is saved when the work succeeds; a failure releases the key, so a retry
//! runs again. A process that dies mid-request leaves a claim whose lease lapses, and the
//! next retry takes it over rather than finding the key blocked for a day.
//!
//! Where the work must not happen twice even across a crash between its commit and the
//! saving of the answer (checkout), the service saves the answer inside its own
//! transaction with [`complete`], so the two commit together.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::validation::Invalid;

/// How long a claim holds its key while the request runs. A duplicate waits at most this
/// long; a claim older than this belongs to a request that is not coming back.
pub const LEASE: Duration = Duration::from_secs(60);

/// A client-chosen `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a header's raw bytes: a key that is not plain visible ASCII is refused, never
    /// taken as "no key" (two retries would then make two orders).
    pub fn parse(raw: &[u8]) -> Result<Self, Invalid> {
        if (1..=255).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic) {
            Ok(Self(String::from_utf8_lossy(raw).into_owned()))
        } else {
            Err(Invalid::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose keys these are: a key of one caller never replays for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// A signed-in user.
    pub fn user(id: Uuid) -> Self {
        Self(format!("user:{id}"))
    }

    /// The holder of a guest cart, by the digest of its token (the token itself is not kept).
    pub fn guest(token_hash: &[u8]) -> Self {
        use base64::Engine;
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_hash);
        Self(format!("cart:{digest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What "the same request" means: a digest of its parts (method, path and query, body),
/// each length-prefixed so that no two different requests run together into one input.
pub fn fingerprint(parts: &[&[u8]]) -> Vec<u8> {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    digest.finalize().to_vec()
}

/// An answer as it is kept and replayed: status, the headers that matter, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A key this request holds: do the work, then [`complete`] (or [`release`] on failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub scope: Scope,
    pub key: IdempotencyKey,
}

/// What trying to claim a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// The key is this request's now.
    Proceed(Claimed),
    /// The same request succeeded before: answer this again.
    Replay(Saved),
    /// The key was used with another request.
    Conflict,
    /// The same request is running elsewhere: ask again shortly.
    InProgress,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_hash: Vec<u8>,
    status: Option<i32>,
    headers: Option<sqlx::types::Json<Vec<(String, String)>>>,
    body: Option<String>,
    lapsed: bool,
}

/// Claims `key` for `scope`, or says why not. An answer older than `ttl_hours` is
/// forgotten first (the key starts afresh), as is a claim whose lease lapsed.
pub async fn begin(
    pool: &PgPool,
    scope: &Scope,
    key: &IdempotencyKey,
    fingerprint: &[u8],
    ttl_hours: i64,
) -> sqlx::Result<Begin> {
    let claimed = sqlx::query(
        "WITH stale AS ( \
             DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 \
             AND created_at < now() - make_interval(hours => $5)) \
         INSERT INTO idempotency_keys (scope, key, request_hash, locked_until) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) ON CONFLICT DO NOTHING",
    )
    .bind(scope.as_str())
    .bind(key.as_str())
    .bind(fingerprint)
    .bind(LEASE.as_secs_f64())
    .bind(ttl_hours as i32)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    let claim = || {
        Begin::Proceed(Claimed {
            scope: scope.clone(),
            key: key.clone(),
        })
    };
    if claimed {
        return Ok(claim());
    }
    let Some(row): Option<KeyRow> = sqlx::query_as(
        "SELECT request_hash, status, headers, body, locked_until < now() AS lapsed \
         FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope.as_str())
    .bind(key.as_str())
    .fetch_optional(pool)
    .await?
    else {
        // Released between the two statements: the key is free again.
        return Ok(Begin::InProgress);
    };
    if row.request_hash != fingerprint {
        return Ok(Begin::Conflict);
    }
    if let (Some(status), Some(body)) = (row.status, row.body) {
        return Ok(Begin::Replay(Saved {
            status: status as u16,
            headers: row.headers.map(|h| h.0).unwrap_or_default(),
            body,
        }));
    }
    if row.lapsed {
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $3) \
             WHERE scope = $1 AND key = $2 AND status IS NULL AND locked_until < now()",
        )
        .bind(scope.as_str())
        .bind(key.as_str())
        .bind(LEASE.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected()
            == 1;
        if taken {
            return Ok(claim());
        }
    }
    Ok(Begin::InProgress)
}

/// Saves the answer of a claimed key (in the work's own transaction where the two must
/// commit together).
pub async fn complete(
    ex: impl PgExecutor<'_>,
    claimed: &Claimed,
    saved: &Saved,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE scope = $1 AND key = $2",
    )
    .bind(claimed.scope.as_str())
    .bind(claimed.key.as_str())
    .bind(i32::from(saved.status))
    .bind(sqlx::types::Json(&saved.headers))
    .bind(&saved.body)
    .execute(ex)
    .await?;
    Ok(())
}

/// Gives a claimed key up after the work failed: a retry runs again.
pub async fn release(conn: &mut PgConnection, claimed: &Claimed) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL")
        .bind(claimed.scope.as_str())
        .bind(claimed.key.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets answers older than `ttl_hours` (and claims as old, whose requests are long gone).
pub async fn prune(pool: &PgPool, ttl_hours: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
    )
    .bind(ttl_hours as i32)
    .execute(pool)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_1_to_255_bytes() {
        assert!(IdempotencyKey::parse(b"order-2026-11-25-0001").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256][..],
            b"has space",
            b"tab\t",
            "caf\u{e9}".as_bytes(),
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        assert_eq!(
            fingerprint(&[b"POST", b"{}"]),
            fingerprint(&[b"POST", b"{}"])
        );
        assert_ne!(
            fingerprint(&[b"POST", b"{}"]),
            fingerprint(&[b"PATCH", b"{}"])
        );
        // Parts do not run together: ("ab", "c") is not ("a", "bc").
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
    }

    #[test]
    fn scopes_of_users_and_guests_never_meet() {
        let id = Uuid::nil();
        assert_ne!(Scope::user(id), Scope::guest(id.as_bytes()));
        assert_ne!(Scope::user(id), Scope::user(Uuid::max()));
    }
}
