//! The SQL of discount codes and their redemptions.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Code, CodeInput};

const COLUMNS: &str = "id, code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, \
                       per_customer_limit, times_used, is_active, created_at";

/// Every code, newest first.
pub async fn list(ex: impl PgExecutor<'_>) -> sqlx::Result<Vec<Code>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discount_codes ORDER BY created_at DESC, id"
    )))
    .fetch_all(ex)
    .await
}

pub async fn insert(ex: impl PgExecutor<'_>, id: Uuid, c: &CodeInput) -> sqlx::Result<Code> {
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO discount_codes (id, code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, \
                                     per_customer_limit, is_active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(id);
    bind_terms(query, c).fetch_one(ex).await
}

/// Replaces a code's terms (its use count stays); `None` when there is no such code.
pub async fn update(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    c: &CodeInput,
) -> sqlx::Result<Option<Code>> {
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE discount_codes SET code = $2, kind = $3, value = $4, min_subtotal = $5, starts_at = $6, \
                ends_at = $7, usage_limit = $8, per_customer_limit = $9, is_active = $10 \
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id);
    bind_terms(query, c).fetch_optional(ex).await
}

/// Binds a code's terms as `$2` to `$10`, in the order [`insert`] and [`update`] name them.
fn bind_terms<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    c: &'q CodeInput,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(&c.code)
        .bind(c.kind)
        .bind(c.value)
        .bind(c.min_subtotal.map(|m| m.amount()))
        .bind(c.starts_at)
        .bind(c.ends_at)
        .bind(c.usage_limit)
        .bind(c.per_customer_limit)
        .bind(c.is_active)
}

/// Whether the code existed.
pub async fn delete(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM discount_codes WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A code by its normalized text.
pub async fn by_code(ex: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<Code>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discount_codes WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(ex)
    .await
}

/// A code by id.
pub async fn by_id(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Code>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discount_codes WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// How many times `customer` has used code `id`.
pub async fn uses_by(ex: impl PgExecutor<'_>, id: Uuid, customer: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM discount_redemptions WHERE code_id = $1 AND customer = $2",
    )
    .bind(id)
    .bind(customer)
    .fetch_one(ex)
    .await
}

/// Counts one more use of code `id`, locking its row until the transaction ends; the code
/// as it is after that use, `None` when there is no such code.
pub async fn count_use(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Code>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE discount_codes SET times_used = times_used + 1 WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Records that `customer` used code `id` for `order_id`.
pub async fn insert_redemption(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    order_id: Uuid,
    customer: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO discount_redemptions (order_id, code_id, customer) VALUES ($1, $2, $3)",
    )
    .bind(order_id)
    .bind(id)
    .bind(customer)
    .execute(ex)
    .await?;
    Ok(())
}
