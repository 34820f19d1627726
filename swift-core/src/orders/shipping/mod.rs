//! Shipping zones (sets of countries) and their methods, each with a rate (flat, free over a
//! subtotal, or by weight band); staff keep them, carts choose among those of their
//! destination.

use chrono::{DateTime, Utc};
use uuid::Uuid;

mod repository;

pub use repository::{method, methods_to, ships_to};

use self::repository as repo;
use super::OrdersError;
use super::error::touched;
use super::pricing::Rate;
use crate::Context;
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub name: String,
    pub rate: Rate,
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
}

/// Every zone with its methods.
pub async fn zones(ctx: &Context) -> Result<Vec<Zone>> {
    let mut zones = repo::zones(&ctx.pool).await?;
    let ids: Vec<Uuid> = zones.iter().map(|z| z.id).collect();
    let methods = repo::methods_of(&ctx.pool, &ids).await?;
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
    let mut zone = repo::zone(&ctx.pool, id)
        .await?
        .ok_or(OrdersError::NotFound)?;
    zone.methods = repo::methods_of(&ctx.pool, &[id]).await?;
    Ok(zone)
}

pub async fn create_zone(ctx: &Context, input: ZoneInput) -> Result<Zone> {
    let id = Uuid::now_v7();
    repo::insert_zone(&ctx.pool, id, &input).await?;
    zone(ctx, id).await
}

pub async fn update_zone(ctx: &Context, id: Uuid, input: ZoneInput) -> Result<Zone> {
    touched(repo::update_zone(&ctx.pool, id, &input).await?)?;
    zone(ctx, id).await
}

/// Deletes a zone with its methods (carts that chose one choose again).
pub async fn delete_zone(ctx: &Context, id: Uuid) -> Result<()> {
    touched(repo::delete_zone(&ctx.pool, id).await?)
}

pub async fn create_method(ctx: &Context, zone_id: Uuid, input: MethodInput) -> Result<Method> {
    let id = Uuid::now_v7();
    touched(repo::insert_method(&ctx.pool, id, zone_id, &input).await?)?;
    method(&ctx.pool, id).await?.ok_or(OrdersError::NotFound)
}

pub async fn update_method(ctx: &Context, id: Uuid, input: MethodInput) -> Result<Method> {
    touched(repo::update_method(&ctx.pool, id, &input).await?)?;
    method(&ctx.pool, id).await?.ok_or(OrdersError::NotFound)
}

pub async fn delete_method(ctx: &Context, id: Uuid) -> Result<()> {
    touched(repo::delete_method(&ctx.pool, id).await?)
}
