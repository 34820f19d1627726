//! SQL for accounts: plain functions over any executor, so services choose the transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::types::{Session, User};
use crate::pagination::PageRequest;

const USER_COLUMNS: &str = "id, email, password_hash, first_name, last_name, email_verified, \
     is_staff, is_active, date_joined, last_login, password_changed_at";

/// The fields of a user row being created.
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: Option<&'a str>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email_verified: bool,
    pub is_staff: bool,
}

/// Inserts a user; a duplicate email fails with the `users_email_key` unique violation.
pub async fn insert_user(ex: impl PgExecutor<'_>, u: &NewUser<'_>) -> sqlx::Result<User> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, email_verified, is_staff) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {USER_COLUMNS}"
    )))
    .bind(u.id)
    .bind(u.email)
    .bind(u.password_hash)
    .bind(u.first_name)
    .bind(u.last_name)
    .bind(u.email_verified)
    .bind(u.is_staff)
    .fetch_one(ex)
    .await
}

pub async fn find_user(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn find_user_by_email(
    ex: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(ex)
    .await
}

pub async fn update_names(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET first_name = COALESCE($2, first_name), last_name = COALESCE($3, last_name) \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(id)
    .bind(first_name)
    .bind(last_name)
    .fetch_optional(ex)
    .await
}

/// Sets a new password hash; `password_changed_at` moves, which voids older reset links.
pub async fn set_password(ex: impl PgExecutor<'_>, id: Uuid, hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = clock_timestamp() WHERE id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the password (the account keeps signing in with Google); reset links minted
/// before die with it.
pub async fn clear_password(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = NULL, password_changed_at = now() WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Locks the user's row until the transaction ends.
pub async fn lock_user(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn set_last_login(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET last_login = now() WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn mark_email_verified(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET email_verified = true WHERE id = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Deletes a user. Their orders stay (the shop's books need them) but lose the link to the
/// account and the personal parts of the address: name, street lines and phone are
/// replaced, notes cleared; city, region, postal code and country stay for tax records.
pub async fn delete_user(conn: &mut sqlx::PgConnection, id: Uuid) -> sqlx::Result<bool> {
    // Both addresses of an order keep only what tax records need.
    sqlx::query(
        "UPDATE orders SET notes = '', shipping_address = jsonb_strip_nulls(jsonb_build_object( \
             'full_name', 'deleted customer', 'line1', 'removed', \
             'city', shipping_address->>'city', 'region', shipping_address->>'region', \
             'postal_code', shipping_address->>'postal_code', 'country', shipping_address->>'country')), \
           billing_address = CASE WHEN billing_address IS NOT NULL THEN jsonb_strip_nulls(jsonb_build_object( \
             'full_name', 'deleted customer', 'line1', 'removed', \
             'city', billing_address->>'city', 'region', billing_address->>'region', \
             'postal_code', billing_address->>'postal_code', 'country', billing_address->>'country')) END \
         WHERE user_id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // Idempotency keys are scoped by text (guests have no row to hang them on), so they do
    // not go with the user by a foreign key: their saved answers hold personal data.
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = 'user:' || $1::text")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Staff-controlled flags; `None` leaves a flag as it is.
pub async fn set_flags(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    is_active: Option<bool>,
    is_staff: Option<bool>,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET is_active = COALESCE($2, is_active), is_staff = COALESCE($3, is_staff) \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(id)
    .bind(is_active)
    .bind(is_staff)
    .fetch_optional(ex)
    .await
}

/// Filters of the staff user list.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// Substring of the email (trigram-indexed).
    pub email_contains: Option<String>,
    pub is_staff: Option<bool>,
    pub is_active: Option<bool>,
}

fn push_user_filter(qb: &mut QueryBuilder<Postgres>, f: &UserFilter) {
    qb.push(" WHERE true");
    if let Some(q) = &f.email_contains {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" AND email LIKE ")
            .push_bind(format!("%{escaped}%"));
    }
    if let Some(staff) = f.is_staff {
        qb.push(" AND is_staff = ").push_bind(staff);
    }
    if let Some(active) = f.is_active {
        qb.push(" AND is_active = ").push_bind(active);
    }
}

/// One page of users, newest first, and the total matching the filter.
pub async fn list_users(
    pool: &sqlx::PgPool,
    filter: &UserFilter,
    page: PageRequest,
) -> sqlx::Result<(Vec<User>, i64)> {
    let mut qb = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
    push_user_filter(&mut qb, filter);
    qb.push(" ORDER BY date_joined DESC, id DESC LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let users = qb.build_query_as::<User>().fetch_all(pool).await?;
    let mut qb = QueryBuilder::new("SELECT count(*) FROM users");
    push_user_filter(&mut qb, filter);
    let total: i64 = qb.build_query_scalar().fetch_one(pool).await?;
    Ok((users, total))
}

// ---- sessions and refresh tokens ----

pub async fn insert_session(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    user_agent: Option<&str>,
    ip: Option<&str>,
    two_factor: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth_sessions (id, user_id, expires_at, user_agent, ip, two_factor) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(user_id)
    .bind(expires_at)
    .bind(user_agent)
    .bind(ip)
    .bind(two_factor)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    session_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(hash)
    .bind(session_id)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Marks an unused refresh token used, in one statement: of two concurrent refreshes with
/// the same token exactly one gets the row back.
pub async fn consume_refresh_token(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
) -> sqlx::Result<Option<(Uuid, DateTime<Utc>)>> {
    sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL \
         RETURNING session_id, expires_at",
    )
    .bind(hash)
    .fetch_optional(ex)
    .await
}

/// A refresh token that could not be consumed: when it was used, and its session.
pub async fn find_refresh_token(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
) -> sqlx::Result<Option<(Uuid, Option<DateTime<Utc>>)>> {
    sqlx::query_as("SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(ex)
        .await
}

/// A session's owner and state, for refresh.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionState {
    pub user_id: Uuid,
    pub revoked: bool,
    pub expired: bool,
    pub user_active: bool,
}

pub async fn session_state(
    ex: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<SessionState>> {
    sqlx::query_as(
        "SELECT s.user_id, s.revoked_at IS NOT NULL AS revoked, s.expires_at <= now() AS expired, \
                u.is_active AS user_active \
         FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Records use of a session and slides its expiry with the newest refresh token.
pub async fn touch_session(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    expires_at: DateTime<Utc>,
    ip: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE auth_sessions SET last_used_at = now(), expires_at = $2, ip = COALESCE($3, ip) WHERE id = $1",
    )
    .bind(id)
    .bind(expires_at)
    .bind(ip)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn revoke_session(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE auth_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Revokes a session only when `user_id` owns it; false when it is not theirs or unknown.
pub async fn revoke_owned_session(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    // Idempotent, as a DELETE should be: revoking one's own session again is still done
    // (the first revocation time is kept); only another user's or an unknown id is not found.
    let done = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) \
         WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of a user, except `keep` when given.
pub async fn revoke_user_sessions(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = now() \
         WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2",
    )
    .bind(user_id)
    .bind(keep)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

pub async fn list_sessions(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Session>> {
    sqlx::query_as(
        "SELECT id, created_at, last_used_at, user_agent, ip FROM auth_sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() \
         ORDER BY last_used_at DESC",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await
}

/// What an authenticated request needs to know, in one indexed lookup.
#[derive(Debug, sqlx::FromRow)]
pub struct AccessCheck {
    pub is_staff: bool,
    pub is_active: bool,
    pub session_alive: bool,
    /// The session was opened (or later confirmed) with a second factor.
    pub two_factor: bool,
}

pub async fn access_check(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    session_id: Uuid,
) -> sqlx::Result<Option<AccessCheck>> {
    sqlx::query_as(
        "SELECT u.is_staff, u.is_active, (s.revoked_at IS NULL AND s.expires_at > now()) AS session_alive, \
                s.two_factor \
         FROM auth_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

// ---- one-time tokens (email verification, password reset) ----

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }
}

pub async fn insert_one_time_token(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    purpose: Purpose,
    user_id: Uuid,
    email: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, email, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(email)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// A consumed one-time token.
#[derive(Debug, sqlx::FromRow)]
pub struct ConsumedToken {
    pub user_id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// A live token, without using it (to check it before paying for an argon2 hash).
pub async fn find_live_one_time_token(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    purpose: Purpose,
) -> sqlx::Result<Option<ConsumedToken>> {
    sqlx::query_as(
        "SELECT user_id, email, created_at FROM one_time_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .fetch_optional(ex)
    .await
}

/// Inserts a one-time token for the active account with this email, if there is one, in a
/// single statement: an unknown email costs the same round trip and the same work as a
/// known one (so the answer's timing says nothing). Returns the user when a token was made.
pub async fn insert_one_time_token_for_email(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    purpose: Purpose,
    email: &str,
    only_unverified: bool,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, email, expires_at) \
         SELECT $1, $2, id, email, $5 FROM users \
         WHERE email = $3 AND is_active AND NOT ($4 AND email_verified) \
         RETURNING user_id",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .bind(email)
    .bind(only_unverified)
    .bind(expires_at)
    .fetch_optional(ex)
    .await
}

/// Uses a live token exactly once (atomic, like refresh tokens).
pub async fn consume_one_time_token(
    ex: impl PgExecutor<'_>,
    hash: &[u8],
    purpose: Purpose,
) -> sqlx::Result<Option<ConsumedToken>> {
    sqlx::query_as(
        "UPDATE one_time_tokens SET used_at = now() \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() \
         RETURNING user_id, email, created_at",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .fetch_optional(ex)
    .await
}
