//! The SQL of tax rates.

use rust_decimal::Decimal;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{RateInput, StoredRate};

const COLUMNS: &str = "id, country, region, name, percent, created_at";

pub async fn list(ex: impl PgExecutor<'_>) -> sqlx::Result<Vec<StoredRate>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tax_rates ORDER BY country, region"
    )))
    .fetch_all(ex)
    .await
}

pub async fn insert(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    input: &RateInput,
) -> sqlx::Result<StoredRate> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tax_rates (id, country, region, name, percent) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&input.country)
    .bind(&input.region)
    .bind(&input.name)
    .bind(input.percent)
    .fetch_one(ex)
    .await
}

/// The rate as updated; `None` when there is no such rate.
pub async fn update(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    input: &RateInput,
) -> sqlx::Result<Option<StoredRate>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE tax_rates SET country = $2, region = $3, name = $4, percent = $5 WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&input.country)
    .bind(&input.region)
    .bind(&input.name)
    .bind(input.percent)
    .fetch_optional(ex)
    .await
}

/// Whether a rate was deleted.
pub async fn delete(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM tax_rates WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The query for the rate of the place bound at `country` and `region` (placeholders such
/// as `$1`): the region's own, else the country's; no row for none. Checkout embeds it in
/// the statement that reads the cart, so that the rate costs no round trip of its own.
pub(crate) fn rate_query(country: &str, region: &str) -> String {
    format!(
        "SELECT name, percent FROM tax_rates WHERE country = {country} AND region IN ('', {region}) \
         ORDER BY region DESC LIMIT 1"
    )
}

/// The rate (name, percent as stored) of a place, as [`rate_query`] finds it.
pub async fn rate_of(
    ex: impl PgExecutor<'_>,
    country: &str,
    region: &str,
) -> sqlx::Result<Option<(String, Decimal)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(rate_query("$1", "$2")))
        .bind(country)
        .bind(region)
        .fetch_optional(ex)
        .await
}
