//! Idempotent requests: the first successful answer per (user, `Idempotency-Key`) is kept for
//! 24 hours and replayed for the same request; the same key with another request is refused.
//!
//! Modelled on "Zero To Production in Rust" (its `idempotency/`): the key's row is claimed in
//! the caller's transaction before the work, and the answer saved in it after, so a crash in
//! between leaves no half-kept key, and a second request racing the first waits on the row,
//! then replays.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::validation::Invalid;

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
                "1 to 255 visible ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What "the same request" means: a digest of its canonical content.
pub fn fingerprint(request: &impl serde::Serialize) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(request).expect("requests serialise")).to_vec()
}

/// What claiming a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: do the work, then [`complete`].
    New,
    /// The same request succeeded before: answer this again.
    Replay { status: u16, body: String },
    /// The key was used with another request (or its first use failed and is being retried
    /// with a different one).
    Conflict,
}

/// Claims `key` for `user` in the caller's transaction. Blocks while another transaction
/// holds the same key, then sees its outcome.
pub async fn claim(
    conn: &mut PgConnection,
    user: Uuid,
    key: &IdempotencyKey,
    fingerprint: &[u8],
) -> sqlx::Result<Claim> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
    )
    .bind(user)
    .bind(&key.0)
    .execute(&mut *conn)
    .await?;
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .bind(&key.0)
    .bind(fingerprint)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        return Ok(Claim::New);
    }
    let (hash, status, body): (Vec<u8>, Option<i32>, Option<String>) = sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user)
    .bind(&key.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(match (hash == fingerprint, status, body) {
        (true, Some(status), Some(body)) => Claim::Replay {
            status: status as u16,
            body,
        },
        _ => Claim::Conflict,
    })
}

/// Saves the answer of a claimed key, in the same transaction as the work.
pub async fn complete(
    conn: &mut PgConnection,
    user: Uuid,
    key: &IdempotencyKey,
    status: u16,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE user_id = $1 AND key = $2",
    )
    .bind(user)
    .bind(&key.0)
    .bind(i32::from(status))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
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
        assert_eq!(fingerprint(&("a", 1)), fingerprint(&("a", 1)));
        assert_ne!(fingerprint(&("a", 1)), fingerprint(&("a", 2)));
    }
}
