//! Housekeeping that keeps token and counter tables small. Safe to run from several
//! instances at once: each statement only deletes rows nobody can use any more.

use sqlx::PgPool;

use crate::config::Lifetimes;

/// Rows removed by one [`prune`] run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub one_time_tokens: u64,
    pub rate_limits: u64,
    pub carts: u64,
    pub idempotency_keys: u64,
    pub outbox: u64,
    pub payment_events: u64,
}

/// Deletes expired sessions (with their refresh tokens), expired or used one-time tokens
/// (including abandoned sign-in flows, login codes and second-step challenges), rate-limit rows whose allowance is
/// whole again, carts untouched past their lifetime (a guest's and a customer's differ) and
/// idempotency answers past theirs, outbox rows delivered a week ago, and the ids of
/// payment webhook events handled a month ago.
pub async fn prune(pool: &PgPool, lifetimes: &Lifetimes) -> Result<Pruned, sqlx::Error> {
    let sessions = sqlx::query(
        "DELETE FROM auth_sessions WHERE expires_at < now() OR revoked_at < now() - interval '1 day'",
    )
    .execute(pool)
    .await?
    .rows_affected();
    let one_time_tokens =
        sqlx::query("DELETE FROM one_time_tokens WHERE expires_at < now() - interval '1 day'")
            .execute(pool)
            .await?
            .rows_affected();
    let one_time_tokens = one_time_tokens
        + crate::oauth::repository::prune(pool).await?
        + crate::accounts::two_factor::repository::prune(pool).await?;
    let rate_limits =
        // A TAT in the past is a full allowance, the same as no row at all.
        sqlx::query("DELETE FROM rate_limits WHERE tat < now()")
            .execute(pool)
            .await?
            .rows_affected();
    let carts = crate::orders::cart::prune(pool, lifetimes).await?;
    let idempotency_keys = crate::idempotency::prune(pool, lifetimes.idempotency_hours).await?;
    let outbox = crate::outbox::prune(pool).await?;
    let payment_events = crate::payments::repository::prune_events(pool).await?;
    Ok(Pruned {
        sessions,
        one_time_tokens,
        rate_limits,
        carts,
        idempotency_keys,
        outbox,
        payment_events,
    })
}
