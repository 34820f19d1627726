//! SQL for sign-in flows, login codes and linked provider identities.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A redirect flow as stored by `googleAuthorize`.
#[derive(Debug, sqlx::FromRow)]
pub struct Flow {
    pub binding_hash: Vec<u8>,
    pub pkce_verifier: String,
    pub nonce: String,
    pub next_path: String,
}

pub struct NewFlow<'a> {
    pub state_hash: &'a [u8],
    pub binding_hash: &'a [u8],
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    pub next_path: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_flow(ex: impl PgExecutor<'_>, f: &NewFlow<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_flows (state_hash, binding_hash, pkce_verifier, nonce, next_path, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(f.state_hash)
    .bind(f.binding_hash)
    .bind(f.pkce_verifier)
    .bind(f.nonce)
    .bind(f.next_path)
    .bind(f.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Takes a live flow by its state, exactly once: a replayed state finds nothing.
pub async fn take_flow(ex: impl PgExecutor<'_>, state_hash: &[u8]) -> sqlx::Result<Option<Flow>> {
    sqlx::query_as(
        "DELETE FROM oauth_flows WHERE state_hash = $1 AND expires_at > now() \
         RETURNING binding_hash, pkce_verifier, nonce, next_path",
    )
    .bind(state_hash)
    .fetch_optional(ex)
    .await
}

pub async fn insert_login_code(
    ex: impl PgExecutor<'_>,
    code_hash: &[u8],
    user_id: Uuid,
    created: bool,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO login_codes (code_hash, user_id, created, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(code_hash)
    .bind(user_id)
    .bind(created)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Redeems a live login code exactly once: (user, whether the sign-in created the account).
pub async fn take_login_code(
    ex: impl PgExecutor<'_>,
    code_hash: &[u8],
) -> sqlx::Result<Option<(Uuid, bool)>> {
    sqlx::query_as("DELETE FROM login_codes WHERE code_hash = $1 AND expires_at > now() RETURNING user_id, created")
        .bind(code_hash)
        .fetch_optional(ex)
        .await
}

/// The local user linked to a provider identity; the stored provider email is refreshed.
pub async fn find_linked_user(
    ex: impl PgExecutor<'_>,
    provider: &str,
    subject: &str,
    email: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "UPDATE social_accounts SET email = $3, last_login_at = now() \
         WHERE provider = $1 AND subject = $2 RETURNING user_id",
    )
    .bind(provider)
    .bind(subject)
    .bind(email)
    .fetch_optional(ex)
    .await
}

pub async fn link(
    ex: impl PgExecutor<'_>,
    provider: &str,
    subject: &str,
    user_id: Uuid,
    email: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO social_accounts (provider, subject, user_id, email) VALUES ($1, $2, $3, $4)",
    )
    .bind(provider)
    .bind(subject)
    .bind(user_id)
    .bind(email)
    .execute(ex)
    .await?;
    Ok(())
}

/// The identities of one provider linked to a user: their latest address and when linked.
pub async fn links_of(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    provider: &str,
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT email, created_at FROM social_accounts \
         WHERE user_id = $1 AND provider = $2 ORDER BY created_at",
    )
    .bind(user_id)
    .bind(provider)
    .fetch_all(ex)
    .await
}

pub async fn unlink(ex: impl PgExecutor<'_>, user_id: Uuid, provider: &str) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM social_accounts WHERE user_id = $1 AND provider = $2")
            .bind(user_id)
            .bind(provider)
            .execute(ex)
            .await?
            .rows_affected(),
    )
}

/// Providers linked to each of these users, for listings.
pub async fn providers_of(
    ex: impl PgExecutor<'_>,
    user_ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, String)>> {
    sqlx::query_as(
        "SELECT user_id, provider FROM social_accounts WHERE user_id = ANY($1) ORDER BY provider",
    )
    .bind(user_ids)
    .fetch_all(ex)
    .await
}

/// Removes abandoned flows and codes (maintenance).
pub async fn prune(ex: impl PgExecutor<'_> + Copy) -> sqlx::Result<u64> {
    let flows = sqlx::query("DELETE FROM oauth_flows WHERE expires_at < now()")
        .execute(ex)
        .await?
        .rows_affected();
    let codes = sqlx::query("DELETE FROM login_codes WHERE expires_at < now()")
        .execute(ex)
        .await?
        .rows_affected();
    Ok(flows + codes)
}
