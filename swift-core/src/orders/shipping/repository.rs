//! The SQL of shipping zones and methods. A method's rate is stored as a kind and the
//! columns that kind uses (`shipping_methods_rate_check` says which are set).

use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Method, MethodInput, Zone, ZoneInput};
use crate::money::Money;
use crate::orders::pricing::{Rate, WeightBand};

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

struct RateColumns<'a> {
    kind: Kind,
    price: Option<rust_decimal::Decimal>,
    free_over: Option<rust_decimal::Decimal>,
    bands: Option<sqlx::types::Json<&'a Vec<WeightBand>>>,
}

impl<'a> RateColumns<'a> {
    fn of(rate: &'a Rate) -> Self {
        let none = RateColumns {
            kind: Kind::Flat,
            price: None,
            free_over: None,
            bands: None,
        };
        match rate {
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

const METHOD_COLUMNS: &str = "id, zone_id, name, kind, price, free_over, bands";

/// The methods of `zones`, oldest first.
pub async fn methods_of(ex: impl PgExecutor<'_>, zones: &[Uuid]) -> sqlx::Result<Vec<Method>> {
    let rows: Vec<MethodRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {METHOD_COLUMNS} FROM shipping_methods WHERE zone_id = ANY($1) ORDER BY created_at, id"
    )))
    .bind(zones)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Every zone, oldest first, without its methods.
pub async fn zones(ex: impl PgExecutor<'_>) -> sqlx::Result<Vec<Zone>> {
    sqlx::query_as(
        "SELECT id, name, countries, created_at FROM shipping_zones ORDER BY created_at, id",
    )
    .fetch_all(ex)
    .await
}

/// One zone, without its methods.
pub async fn zone(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Zone>> {
    sqlx::query_as("SELECT id, name, countries, created_at FROM shipping_zones WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn insert_zone(ex: impl PgExecutor<'_>, id: Uuid, input: &ZoneInput) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO shipping_zones (id, name, countries) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(&input.name)
        .bind(&input.countries)
        .execute(ex)
        .await?;
    Ok(())
}

/// Whether the zone exists (and was updated).
pub async fn update_zone(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    input: &ZoneInput,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE shipping_zones SET name = $2, countries = $3 WHERE id = $1")
        .bind(id)
        .bind(&input.name)
        .bind(&input.countries)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the zone existed; its methods go with it.
pub async fn delete_zone(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM shipping_zones WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the zone exists (and the method was added to it).
pub async fn insert_method(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    zone_id: Uuid,
    input: &MethodInput,
) -> sqlx::Result<bool> {
    let query = sqlx::query(
        "INSERT INTO shipping_methods (id, name, kind, price, free_over, bands, zone_id) \
         SELECT $1, $2, $3, $4, $5, $6, id FROM shipping_zones WHERE id = $7",
    )
    .bind(id);
    let done = bind_method(query, input).bind(zone_id).execute(ex).await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the method exists (and was updated).
pub async fn update_method(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    input: &MethodInput,
) -> sqlx::Result<bool> {
    let query = sqlx::query(
        "UPDATE shipping_methods SET name = $2, kind = $3, price = $4, free_over = $5, bands = $6 WHERE id = $1",
    )
    .bind(id);
    let done = bind_method(query, input).execute(ex).await?;
    Ok(done.rows_affected() > 0)
}

/// Binds a method's name and rate columns as `$2` to `$6`, in the order
/// [`insert_method`] and [`update_method`] name them.
fn bind_method<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    input: &'q MethodInput,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let RateColumns {
        kind,
        price,
        free_over,
        bands,
    } = RateColumns::of(&input.rate);
    query
        .bind(&input.name)
        .bind(kind)
        .bind(price)
        .bind(free_over)
        .bind(bands)
}

/// Whether the method existed.
pub async fn delete_method(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM shipping_methods WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
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
