//! The SQL of customers' address books.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::SavedAddress;
use crate::orders::types::Address;

const COLUMNS: &str =
    "id, address, is_default_shipping, is_default_billing, created_at, updated_at";

/// The customer's addresses, oldest first.
pub async fn list(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<SavedAddress>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM addresses WHERE user_id = $1 ORDER BY created_at, id"
    )))
    .bind(user_id)
    .fetch_all(ex)
    .await
}

/// Locks the customer's user row until the transaction ends; false when there is none.
pub async fn lock_book(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    let found = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(user_id)
        .fetch_optional(ex)
        .await?;
    Ok(found.is_some())
}

/// How many addresses the customer keeps, and whether one is the default for shipping,
/// and for billing.
pub async fn book_state(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<(i64, bool, bool)> {
    sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(is_default_shipping), false), \
                coalesce(bool_or(is_default_billing), false) \
         FROM addresses WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(ex)
    .await
}

pub async fn insert(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    address: &Address,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO addresses (id, user_id, address) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(user_id)
        .bind(sqlx::types::Json(address))
        .execute(ex)
        .await?;
    Ok(())
}

/// Replaces the text of one of the customer's addresses.
pub async fn set_address(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    address: &Address,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE addresses SET address = $3, updated_at = now() WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .bind(sqlx::types::Json(address))
    .execute(ex)
    .await?;
    Ok(())
}

/// Makes `id` the customer's default of the kinds asked, clearing the previous ones.
pub async fn set_defaults(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    shipping: bool,
    billing: bool,
) -> sqlx::Result<()> {
    // Two statements: the old default gives its flag up before the new one takes it, as the
    // one-default index is checked row by row, in whatever order one UPDATE visits them.
    sqlx::query(
        "UPDATE addresses SET \
             is_default_shipping = is_default_shipping AND NOT $3, \
             is_default_billing = is_default_billing AND NOT $4 \
         WHERE user_id = $1 AND id <> $2 AND (($3 AND is_default_shipping) OR ($4 AND is_default_billing))",
    )
    .bind(user_id)
    .bind(id)
    .bind(shipping)
    .bind(billing)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE addresses SET is_default_shipping = is_default_shipping OR $3, \
             is_default_billing = is_default_billing OR $4, updated_at = now() \
         WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(id)
    .bind(shipping)
    .bind(billing)
    .execute(conn)
    .await?;
    Ok(())
}

/// One of the customer's addresses (another customer's is not found).
pub async fn fetch(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<SavedAddress>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

/// Whether the customer had that address.
pub async fn delete(ex: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}
