//! Shipping zones (sets of countries) and their methods, each with a rate (flat, free over a
//! subtotal, or by weight band); staff keep them, carts choose among those of their
//! destination.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::OrdersError;
use super::error::touched;
use super::pricing::{Rate, WeightBand};
use crate::Context;
use crate::money::Money;
use crate::validation::{Invalid, plain_text};

type Result<T> = std::result::Result<T, OrdersError>;

pub use super::types::country_code as country;

/// A zone's name and countries, checked.
#[derive(Debug, Clone)]
pub struct ZoneInput {
    pub name: String,
    pub countries: Vec<String>,
}

impl ZoneInput {
    pub fn parse(name: &str, countries: &[String]) -> std::result::Result<Self, Invalid> {
        let name = plain_text("name", name, 100)?;
        if name.is_empty() {
            return Err(Invalid::new("name", "is required"));
        }
        let mut codes = countries
            .iter()
            .map(|c| country("countries", c))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        codes.sort_unstable();
        codes.dedup();
        if codes.is_empty() {
            return Err(Invalid::new("countries", "name at least one country"));
        }
        Ok(Self {
            name,
            countries: codes,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Zone {
    pub id: Uuid,
    pub name: String,
    pub countries: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub methods: Vec<Method>,
}

/// The rate kinds as PostgreSQL's `shipping_rate_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "shipping_rate_kind", rename_all = "snake_case")]
enum Kind {
    Flat,
    FreeOver,
    ByWeight,
}

#[derive(sqlx::FromRow)]
struct MethodRow {
    id: Uuid,
    zone_id: Uuid,
    name: String,
    kind: Kind,
    price: Option<rust_decimal::Decimal>,
    free_over: Option<rust_decimal::Decimal>,
    bands: Option<sqlx::types::Json<Vec<WeightBand>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub name: String,
    pub rate: Rate,
}

impl From<MethodRow> for Method {
    fn from(r: MethodRow) -> Self {
        let money = |d: Option<rust_decimal::Decimal>| Money::from_decimal(d.unwrap_or_default());
        let rate = match r.kind {
            Kind::Flat => Rate::Flat(money(r.price)),
            Kind::FreeOver => Rate::FreeOver {
                price: money(r.price),
                threshold: money(r.free_over),
            },
            Kind::ByWeight => Rate::ByWeight(r.bands.map(|b| b.0).unwrap_or_default()),
        };
        Self {
            id: r.id,
            zone_id: r.zone_id,
            name: r.name,
            rate,
        }
    }
}

/// A method's name and rate, checked.
#[derive(Debug, Clone)]
pub struct MethodInput {
    pub name: String,
    pub rate: Rate,
}

impl MethodInput {
    pub fn parse(name: &str, rate: Rate) -> std::result::Result<Self, Invalid> {
        let name = plain_text("name", name, 100)?;
        if name.is_empty() {
            return Err(Invalid::new("name", "is required"));
        }
        if let Rate::ByWeight(bands) = &rate
            && (bands.is_empty() || bands.len() > 20 || bands.iter().any(|b| b.up_to_grams < 0))
        {
            return Err(Invalid::new(
                "rate.bands",
                "give 1 to 20 bands, each up to a weight of 0 grams or more",
            ));
        }
        Ok(Self { name, rate })
    }

    /// The rate as its table's columns (`shipping_methods_rate_check` says which are set).
    fn columns(&self) -> RateColumns<'_> {
        let none = RateColumns {
            kind: Kind::Flat,
            price: None,
            free_over: None,
            bands: None,
        };
        match &self.rate {
            Rate::Flat(price) => RateColumns {
                price: Some(price.amount()),
                ..none
            },
            Rate::FreeOver { price, threshold } => RateColumns {
                kind: Kind::FreeOver,
                price: Some(price.amount()),
                free_over: Some(threshold.amount()),
                ..none
            },
            Rate::ByWeight(bands) => RateColumns {
                kind: Kind::ByWeight,
                bands: Some(sqlx::types::Json(bands)),
                ..none
            },
        }
    }
}

struct RateColumns<'a> {
    kind: Kind,
    price: Option<rust_decimal::Decimal>,
    free_over: Option<rust_decimal::Decimal>,
    bands: Option<sqlx::types::Json<&'a Vec<WeightBand>>>,
}

const METHOD_COLUMNS: &str = "id, zone_id, name, kind, price, free_over, bands";

async fn methods_of(ex: impl PgExecutor<'_>, zones: &[Uuid]) -> sqlx::Result<Vec<Method>> {
    let rows: Vec<MethodRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {METHOD_COLUMNS} FROM shipping_methods WHERE zone_id = ANY($1) ORDER BY created_at, id"
    )))
    .bind(zones)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Every zone with its methods.
pub async fn zones(ctx: &Context) -> Result<Vec<Zone>> {
    let mut zones: Vec<Zone> = sqlx::query_as(
        "SELECT id, name, countries, created_at FROM shipping_zones ORDER BY created_at, id",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let ids: Vec<Uuid> = zones.iter().map(|z| z.id).collect();
    let methods = methods_of(&ctx.pool, &ids).await?;
    for zone in &mut zones {
        zone.methods = methods
            .iter()
            .filter(|m| m.zone_id == zone.id)
            .cloned()
            .collect();
    }
    Ok(zones)
}

async fn zone(ctx: &Context, id: Uuid) -> Result<Zone> {
    let mut zone: Zone =
        sqlx::query_as("SELECT id, name, countries, created_at FROM shipping_zones WHERE id = $1")
            .bind(id)
            .fetch_optional(&ctx.pool)
            .await?
            .ok_or(OrdersError::NotFound)?;
    zone.methods = methods_of(&ctx.pool, &[id]).await?;
    Ok(zone)
}

pub async fn create_zone(ctx: &Context, input: ZoneInput) -> Result<Zone> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO shipping_zones (id, name, countries) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(&input.name)
        .bind(&input.countries)
        .execute(&ctx.pool)
        .await?;
    zone(ctx, id).await
}

pub async fn update_zone(ctx: &Context, id: Uuid, input: ZoneInput) -> Result<Zone> {
    touched(
        sqlx::query("UPDATE shipping_zones SET name = $2, countries = $3 WHERE id = $1")
            .bind(id)
            .bind(&input.name)
            .bind(&input.countries)
            .execute(&ctx.pool)
            .await?,
    )?;
    zone(ctx, id).await
}

/// Deletes a zone with its methods (carts that chose one choose again).
pub async fn delete_zone(ctx: &Context, id: Uuid) -> Result<()> {
    touched(
        sqlx::query("DELETE FROM shipping_zones WHERE id = $1")
            .bind(id)
            .execute(&ctx.pool)
            .await?,
    )
}

pub async fn create_method(ctx: &Context, zone_id: Uuid, input: MethodInput) -> Result<Method> {
    let id = Uuid::now_v7();
    let RateColumns {
        kind,
        price,
        free_over,
        bands,
    } = input.columns();
    touched(
        sqlx::query(
            "INSERT INTO shipping_methods (id, zone_id, name, kind, price, free_over, bands) \
         SELECT $1, id, $3, $4, $5, $6, $7 FROM shipping_zones WHERE id = $2",
        )
        .bind(id)
        .bind(zone_id)
        .bind(&input.name)
        .bind(kind)
        .bind(price)
        .bind(free_over)
        .bind(bands)
        .execute(&ctx.pool)
        .await?,
    )?;
    method(&ctx.pool, id).await?.ok_or(OrdersError::NotFound)
}

pub async fn update_method(ctx: &Context, id: Uuid, input: MethodInput) -> Result<Method> {
    let RateColumns {
        kind,
        price,
        free_over,
        bands,
    } = input.columns();
    touched(sqlx::query(
        "UPDATE shipping_methods SET name = $2, kind = $3, price = $4, free_over = $5, bands = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(&input.name)
    .bind(kind)
    .bind(price)
    .bind(free_over)
    .bind(bands)
    .execute(&ctx.pool)
    .await?)?;
    method(&ctx.pool, id).await?.ok_or(OrdersError::NotFound)
}

pub async fn delete_method(ctx: &Context, id: Uuid) -> Result<()> {
    touched(
        sqlx::query("DELETE FROM shipping_methods WHERE id = $1")
            .bind(id)
            .execute(&ctx.pool)
            .await?,
    )
}

/// One method by id.
pub async fn method(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Method>> {
    let row: Option<MethodRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {METHOD_COLUMNS} FROM shipping_methods WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Into::into))
}

/// The methods of the zones that ship to `country`.
pub async fn methods_to(ex: impl PgExecutor<'_>, country: &str) -> sqlx::Result<Vec<Method>> {
    let rows: Vec<MethodRow> = sqlx::query_as(
        "SELECT m.id, m.zone_id, m.name, m.kind, m.price, m.free_over, m.bands \
         FROM shipping_methods m JOIN shipping_zones z ON z.id = m.zone_id \
         WHERE z.countries @> ARRAY[$1::text] ORDER BY m.created_at, m.id",
    )
    .bind(country)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Whether method `id` ships to `country`.
pub async fn ships_to(ex: impl PgExecutor<'_>, id: Uuid, country: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM shipping_methods m JOIN shipping_zones z ON z.id = m.zone_id \
         WHERE m.id = $1 AND z.countries @> ARRAY[$2::text])",
    )
    .bind(id)
    .bind(country)
    .fetch_one(ex)
    .await
}
