//! Fixed-window rate limits kept in PostgreSQL, so every server instance counts together.
//!
//! One upsert per check on the endpoints it guards (sign-in, registration, reset, resend,
//! refresh); those already cost an argon2 hash or a mail, so the extra statement is noise.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::config::RateLimitConfig;

/// The guarded operations; each has its own counters.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Login,
    Register,
    PasswordReset,
    EmailResend,
    Refresh,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::PasswordReset => "password_reset",
            Self::EmailResend => "email_resend",
            Self::Refresh => "refresh",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RateLimited {
    #[error("rate limited; retry after {retry_after} s")]
    Exceeded { retry_after: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Counts one attempt of `action` from `address` about `account`; refuses when either
/// counter is over its limit for the current window.
pub async fn hit(
    pool: &PgPool,
    limits: &RateLimitConfig,
    action: Action,
    address: Option<IpAddr>,
    account: Option<&str>,
) -> Result<(), RateLimited> {
    if !limits.enabled {
        return Ok(());
    }
    if let Some(ip) = address {
        let key = format!("{}:ip:{ip}", action.key());
        count(pool, &key, limits.window_seconds, limits.per_address).await?;
    }
    if let Some(account) = account {
        let key = format!("{}:account:{account}", action.key());
        count(pool, &key, limits.window_seconds, limits.per_account).await?;
    }
    Ok(())
}

async fn count(pool: &PgPool, key: &str, window: i64, limit: i32) -> Result<(), RateLimited> {
    let (hits, remaining): (i32, f64) = sqlx::query_as(
        r#"
        INSERT INTO rate_limits AS r (key, window_start, hits)
        VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
        ON CONFLICT (key) DO UPDATE SET
            hits = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.hits + 1 ELSE 1 END,
            window_start = EXCLUDED.window_start
        RETURNING hits,
                  extract(epoch FROM (window_start + make_interval(secs => $2) - now()))::float8
        "#,
    )
    .bind(key)
    .bind(window as f64)
    .fetch_one(pool)
    .await?;
    if hits > limit {
        return Err(RateLimited::Exceeded {
            retry_after: remaining.ceil().max(1.0) as u64,
        });
    }
    Ok(())
}
