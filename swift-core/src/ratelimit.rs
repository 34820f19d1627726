//! Rate limits kept in PostgreSQL, so every server instance counts together.
//!
//! The algorithm is GCRA (the generic cell rate algorithm, as in governor or redis-cell):
//! "N per window" becomes one request every `window / N` seconds with a burst of N, tracked
//! as a single timestamp per key, the theoretical arrival time (TAT). Unlike fixed windows
//! aligned to the clock, a burst straddling a boundary gets no second allowance, and nothing
//! depends on where the wall clock happens to be.
//!
//! One upsert per check on the endpoints it guards (sign-in, registration, reset, resend,
//! refresh, password checks); those already cost an argon2 hash or a mail, so the extra
//! statement is noise.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::config::RateLimitConfig;

/// The guarded operations; each has its own counters.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Login,
    Register,
    PasswordReset,
    /// Setting a new password with a mailed reset token.
    PasswordResetConfirm,
    EmailResend,
    Refresh,
    /// A signed-in user proving their password again (password change, account deletion):
    /// a stolen access token must not become a password oracle.
    PasswordCheck,
    /// A code for a sign-in's second step: six digits fall to guessing without a limit.
    SecondFactor,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::PasswordReset => "password_reset",
            Self::PasswordResetConfirm => "password_reset_confirm",
            Self::EmailResend => "email_resend",
            Self::Refresh => "refresh",
            Self::PasswordCheck => "password_check",
            Self::SecondFactor => "second_factor",
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
/// limit is exhausted.
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
        gcra(pool, &key, limits.window_seconds, limits.per_address).await?;
    }
    if let Some(account) = account {
        let key = format!("{}:account:{account}", action.key());
        gcra(pool, &key, limits.window_seconds, limits.per_account).await?;
    }
    Ok(())
}

/// One GCRA step: admitted when the TAT, pushed one interval on, stays within one window of
/// now. The row is only moved when admitted, so refused attempts do not dig the hole deeper.
async fn gcra(pool: &PgPool, key: &str, window: i64, limit: i32) -> Result<(), RateLimited> {
    let window = window as f64;
    let interval = window / f64::from(limit.max(1));
    let admitted: Option<i32> = sqlx::query_scalar(
        r#"
        INSERT INTO rate_limits AS r (key, tat) VALUES ($1, now() + make_interval(secs => $2))
        ON CONFLICT (key) DO UPDATE
            SET tat = greatest(r.tat, now()) + make_interval(secs => $2)
            WHERE greatest(r.tat, now()) + make_interval(secs => $2)
                  <= now() + make_interval(secs => $3)
        RETURNING 1
        "#,
    )
    .bind(key)
    .bind(interval)
    .bind(window)
    .fetch_optional(pool)
    .await?;
    if admitted.is_some() {
        return Ok(());
    }
    // Refused: the next attempt is admitted once now catches up with TAT + interval - window.
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM greatest(tat, now()) + make_interval(secs => $2) \
                - now() - make_interval(secs => $3))::float8 \
         FROM rate_limits WHERE key = $1",
    )
    .bind(key)
    .bind(interval)
    .bind(window)
    .fetch_optional(pool)
    .await?;
    Err(RateLimited::Exceeded {
        retry_after: wait.unwrap_or(interval).ceil().max(1.0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    fn limits(per: i32) -> RateLimitConfig {
        RateLimitConfig {
            enabled: true,
            window_seconds: 3600,
            per_address: per,
            per_account: per,
        }
    }

    /// The whole burst is admitted, the next is refused with the time until one interval
    /// has passed; nothing here depends on where the clock stands.
    async fn login(db: &TestDb, email: &str) -> Result<(), RateLimited> {
        hit(&db.pool, &limits(4), Action::Login, None, Some(email)).await
    }

    /// The whole burst is admitted, the next is refused with the time until one interval
    /// has passed; nothing here depends on where the clock stands.
    #[tokio::test]
    async fn a_burst_of_n_passes_and_the_next_waits_one_interval() {
        let db = TestDb::new().await;
        for _ in 0..4 {
            login(&db, "a@x.test").await.unwrap();
        }
        match login(&db, "a@x.test").await {
            Err(RateLimited::Exceeded { retry_after }) => {
                assert!((899..=900).contains(&retry_after), "{retry_after}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Other keys and actions are untouched.
        login(&db, "b@x.test").await.unwrap();
        hit(
            &db.pool,
            &limits(4),
            Action::Register,
            None,
            Some("a@x.test"),
        )
        .await
        .unwrap();
    }

    /// A TAT in the past (a long-idle key) counts as a full allowance again, and a key whose
    /// TAT sits at the edge gets exactly one more once an interval has passed.
    #[tokio::test]
    async fn allowance_comes_back_as_time_passes() {
        let db = TestDb::new().await;
        let key = "login:account:c@x.test";
        sqlx::query("INSERT INTO rate_limits (key, tat) VALUES ($1, now() - interval '1 day')")
            .bind(key)
            .execute(&db.pool)
            .await
            .unwrap();
        for _ in 0..4 {
            login(&db, "c@x.test").await.unwrap();
        }
        assert!(login(&db, "c@x.test").await.is_err());
        // As if one interval (15 min) had passed since the burst.
        sqlx::query("UPDATE rate_limits SET tat = tat - interval '15 minutes' WHERE key = $1")
            .bind(key)
            .execute(&db.pool)
            .await
            .unwrap();
        login(&db, "c@x.test").await.unwrap();
        assert!(login(&db, "c@x.test").await.is_err());
    }
}
