//! Tax rates by country, or by a country's region (whose own rate wins), kept by staff.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::OrdersError;
use super::pricing::TaxRate;
use super::types::country_code as country;
use crate::Context;
use crate::validation::{Invalid, plain_text};

type Result<T> = std::result::Result<T, OrdersError>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRate {
    pub id: Uuid,
    pub country: String,
    /// `""`: the whole country. Upper case; an address's region matches it in any case.
    pub region: String,
    pub name: String,
    pub percent: Decimal,
    pub created_at: DateTime<Utc>,
}

/// A rate's place, name and percentage, checked.
#[derive(Debug, Clone)]
pub struct RateInput {
    pub country: String,
    pub region: String,
    pub name: String,
    pub percent: Decimal,
}

impl RateInput {
    pub fn parse(
        country_code: &str,
        region: Option<&str>,
        name: &str,
        percent: Decimal,
    ) -> std::result::Result<Self, Invalid> {
        let name = plain_text("name", name, 100)?;
        if name.is_empty() {
            return Err(Invalid::new("name", "is required"));
        }
        if percent < Decimal::ZERO || percent > Decimal::ONE_HUNDRED || percent.scale() > 3 {
            return Err(Invalid::new(
                "percent",
                "must be between 0 and 100, with at most three decimals",
            ));
        }
        Ok(Self {
            country: country("country", country_code)?,
            region: plain_text("region", region.unwrap_or_default(), 100)?.to_uppercase(),
            name,
            percent: percent.normalize(),
        })
    }
}

const COLUMNS: &str = "id, country, region, name, percent, created_at";

fn taken(e: sqlx::Error) -> OrdersError {
    let place = Invalid::new("region", "this country and region have a rate already");
    crate::db::constraint_error(e, [("tax_rates_place_key", OrdersError::from(place))])
}

pub async fn list(ctx: &Context) -> Result<Vec<StoredRate>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tax_rates ORDER BY country, region"
    )))
    .fetch_all(&ctx.pool)
    .await?)
}

pub async fn create(ctx: &Context, input: RateInput) -> Result<StoredRate> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tax_rates (id, country, region, name, percent) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(&input.country)
    .bind(&input.region)
    .bind(&input.name)
    .bind(input.percent)
    .fetch_one(&ctx.pool)
    .await
    .map_err(taken)
}

pub async fn update(ctx: &Context, id: Uuid, input: RateInput) -> Result<StoredRate> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE tax_rates SET country = $2, region = $3, name = $4, percent = $5 WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&input.country)
    .bind(&input.region)
    .bind(&input.name)
    .bind(input.percent)
    .fetch_optional(&ctx.pool)
    .await
    .map_err(taken)?
    .ok_or(OrdersError::NotFound)
}

pub async fn delete(ctx: &Context, id: Uuid) -> Result<()> {
    super::error::touched(
        sqlx::query("DELETE FROM tax_rates WHERE id = $1")
            .bind(id)
            .execute(&ctx.pool)
            .await?,
    )
}

/// A destination as rates are looked up: its country, and its region trimmed and in upper
/// case (`""`: none), as rates store them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub country: String,
    pub region: String,
}

impl Place {
    pub fn new(country: &str, region: Option<&str>) -> Self {
        Self {
            country: country.to_owned(),
            region: region.unwrap_or_default().trim().to_uppercase(),
        }
    }
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

/// A rate as stored (`percent` as written, `20.000` reads `20`).
pub(crate) fn stored(name: String, percent: Decimal) -> TaxRate {
    TaxRate {
        name,
        percent: percent.normalize(),
    }
}

/// The rate of a destination: its region's own, else its country's, else none.
pub async fn rate_for(
    ex: impl PgExecutor<'_>,
    country: &str,
    region: Option<&str>,
) -> sqlx::Result<Option<TaxRate>> {
    let place = Place::new(country, region);
    let found: Option<(String, Decimal)> =
        sqlx::query_as(sqlx::AssertSqlSafe(rate_query("$1", "$2")))
            .bind(&place.country)
            .bind(&place.region)
            .fetch_optional(ex)
            .await?;
    Ok(found.map(|(name, percent)| stored(name, percent)))
}
