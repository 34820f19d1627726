//! The SQL of two-factor sign-in: factors, recovery codes, challenges.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, sqlx::FromRow)]
pub struct Factor {
    pub secret_sealed: Vec<u8>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

pub async fn find_factor(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<Factor>> {
    sqlx::query_as("SELECT secret_sealed, confirmed_at FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(ex)
        .await
}

/// Whether the user signs in with a second factor (a confirmed one).
pub async fn is_enabled(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
    )
    .bind(user_id)
    .fetch_one(ex)
    .await
}

/// Of these users, the ones signing in with a second factor (for operators' listings).
pub async fn enabled_among(ex: impl PgExecutor<'_>, user_ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT user_id FROM totp_factors WHERE user_id = ANY($1) AND confirmed_at IS NOT NULL",
    )
    .bind(user_ids)
    .fetch_all(ex)
    .await
}

/// Starts (or restarts) an enrolment; refuses (`false`) while a confirmed factor exists.
pub async fn put_unconfirmed(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    sealed: &[u8],
) -> sqlx::Result<bool> {
    let written: Option<i32> = sqlx::query_scalar(
        "INSERT INTO totp_factors (user_id, secret_sealed) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE \
             SET secret_sealed = excluded.secret_sealed, last_step = NULL, created_at = now() \
             WHERE totp_factors.confirmed_at IS NULL \
         RETURNING 1",
    )
    .bind(user_id)
    .bind(sealed)
    .fetch_optional(ex)
    .await?;
    Ok(written.is_some())
}

/// Records `step` as used, only when it is later than any step used before: of two
/// requests with one code, exactly one gets `true`.
pub async fn use_step(ex: impl PgExecutor<'_>, user_id: Uuid, step: u64) -> sqlx::Result<bool> {
    let used: Option<i32> = sqlx::query_scalar(
        "UPDATE totp_factors SET last_step = $2 \
         WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2) RETURNING 1",
    )
    .bind(user_id)
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .fetch_optional(ex)
    .await?;
    Ok(used.is_some())
}

pub async fn confirm(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE totp_factors SET confirmed_at = now() WHERE user_id = $1")
        .bind(user_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Removes the factor and the recovery codes; `true` when there was a factor.
pub async fn remove(conn: &mut sqlx::PgConnection, user_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let removed = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(removed > 0)
}

/// Replaces the user's recovery codes with these hashes.
pub async fn replace_recovery_codes(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    hashes: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])")
        .bind(user_id)
        .bind(hashes)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Spends a recovery code; `Some(codes left)` when it was there and unused.
pub async fn use_recovery_code(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    hash: &[u8],
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "WITH used AS ( \
             UPDATE recovery_codes SET used_at = now() \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1) \
         SELECT count(*) - 1 FROM recovery_codes \
         WHERE user_id = $1 AND used_at IS NULL AND EXISTS (SELECT 1 FROM used)",
    )
    .bind(user_id)
    .bind(hash)
    .fetch_optional(ex)
    .await
    .map(|left: Option<i64>| left.filter(|n| *n >= 0))
}

pub async fn recovery_codes_left(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(ex)
        .await
}

/// Sessions opened before now no longer count as signed in with a second factor (it was
/// turned off or reset).
pub async fn clear_session_flags(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE auth_sessions SET two_factor = false WHERE user_id = $1 AND two_factor")
        .bind(user_id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn mark_session(ex: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE auth_sessions SET two_factor = true WHERE id = $1")
        .bind(session_id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn insert_challenge(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    user_id: Uuid,
    created: Option<bool>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO two_factor_challenges (token_hash, user_id, created, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash)
    .bind(user_id)
    .bind(created)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Counts an attempt on a live challenge with attempts left: its user and Google's
/// `created`; `None` for an unknown, expired or exhausted one.
pub async fn attempt_challenge(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    max_attempts: i32,
) -> sqlx::Result<Option<(Uuid, Option<bool>)>> {
    sqlx::query_as(
        "UPDATE two_factor_challenges SET attempts = attempts + 1 \
         WHERE token_hash = $1 AND expires_at > now() AND attempts < $2 \
         RETURNING user_id, created",
    )
    .bind(hash)
    .bind(max_attempts)
    .fetch_optional(ex)
    .await
}

/// Spends a challenge; `false` when another request spent it first.
pub async fn take_challenge(ex: impl PgExecutor<'_>, hash: &[u8]) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM two_factor_challenges WHERE token_hash = $1")
            .bind(hash)
            .execute(ex)
            .await?
            .rows_affected()
            > 0,
    )
}

pub async fn prune(ex: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM two_factor_challenges WHERE expires_at < now()")
            .execute(ex)
            .await?
            .rows_affected(),
    )
}
