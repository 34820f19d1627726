//! Tax rates by country, or by a country's region (whose own rate wins), kept by staff.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgExecutor;
use uuid::Uuid;

mod repository;

pub(crate) use repository::rate_query;

use self::repository as repo;
use super::OrdersError;
use super::error::touched;
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

fn taken(e: sqlx::Error) -> OrdersError {
    let place = Invalid::new("region", "this country and region have a rate already");
    crate::db::constraint_error(e, [("tax_rates_place_key", OrdersError::from(place))])
}

pub async fn list(ctx: &Context) -> Result<Vec<StoredRate>> {
    Ok(repo::list(&ctx.pool).await?)
}

pub async fn create(ctx: &Context, input: RateInput) -> Result<StoredRate> {
    repo::insert(&ctx.pool, Uuid::now_v7(), &input)
        .await
        .map_err(taken)
}

pub async fn update(ctx: &Context, id: Uuid, input: RateInput) -> Result<StoredRate> {
    repo::update(&ctx.pool, id, &input)
        .await
        .map_err(taken)?
        .ok_or(OrdersError::NotFound)
}

pub async fn delete(ctx: &Context, id: Uuid) -> Result<()> {
    touched(repo::delete(&ctx.pool, id).await?)
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
    let found = repo::rate_of(ex, &place.country, &place.region).await?;
    Ok(found.map(|(name, percent)| stored(name, percent)))
}
