//! A customer's address book: saved addresses, one default for shipping and one for
//! billing, which checkout takes by id (or uses when given no address at all).
//!
//! A customer's changes to their defaults are serialised on their user row: setting a new
//! default clears the old one in the same transaction, and two at once queue instead of
//! tripping the one-default-per-kind index.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

mod repository;

use self::repository as repo;
use super::OrdersError;
use super::error::touched;
use super::types::Address;
use crate::Context;
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, OrdersError>;

/// Most addresses one customer keeps.
pub const MAX_ADDRESSES: i64 = 50;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedAddress {
    pub id: Uuid,
    pub address: sqlx::types::Json<Address>,
    pub is_default_shipping: bool,
    pub is_default_billing: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a saved address: what is `None` stays. A default can be set, not unset: a
/// customer moves it by making another address the default (or deletes the address).
#[derive(Debug, Clone, Default)]
pub struct AddressChange {
    pub address: Option<Address>,
    pub default_shipping: bool,
    pub default_billing: bool,
}

/// The customer's addresses, oldest first.
pub async fn list(ctx: &Context, user_id: Uuid) -> Result<Vec<SavedAddress>> {
    Ok(repo::list(&ctx.pool, user_id).await?)
}

/// Queues the customer's address-book writes one after another.
async fn lock_book(conn: &mut PgConnection, user_id: Uuid) -> Result<()> {
    touched(repo::lock_book(conn, user_id).await?)
}

/// Makes `id` the customer's default of the kinds asked, clearing the previous ones.
async fn set_defaults(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    shipping: bool,
    billing: bool,
) -> Result<()> {
    if shipping || billing {
        repo::set_defaults(conn, user_id, id, shipping, billing).await?;
    }
    Ok(())
}

async fn fetch(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> Result<SavedAddress> {
    repo::fetch(conn, user_id, id)
        .await?
        .ok_or(OrdersError::NotFound)
}

/// Saves an address. The first of the book becomes the default of both kinds, as does any
/// address saved while a kind has no default.
pub async fn create(
    ctx: &Context,
    user_id: Uuid,
    address: Address,
    default_shipping: bool,
    default_billing: bool,
) -> Result<SavedAddress> {
    let mut tx = ctx.pool.begin().await?;
    lock_book(&mut tx, user_id).await?;
    let (count, has_shipping, has_billing) = repo::book_state(&mut *tx, user_id).await?;
    if count >= MAX_ADDRESSES {
        return Err(Invalid::new("address", "an address book holds at most 50 addresses").into());
    }
    let id = Uuid::now_v7();
    repo::insert(&mut *tx, id, user_id, &address).await?;
    set_defaults(
        &mut tx,
        user_id,
        id,
        default_shipping || !has_shipping,
        default_billing || !has_billing,
    )
    .await?;
    let saved = fetch(&mut tx, user_id, id).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Changes one of the customer's addresses; anyone else's is not found.
pub async fn update(
    ctx: &Context,
    user_id: Uuid,
    id: Uuid,
    change: AddressChange,
) -> Result<SavedAddress> {
    let mut tx = ctx.pool.begin().await?;
    lock_book(&mut tx, user_id).await?;
    fetch(&mut tx, user_id, id).await?;
    if let Some(address) = &change.address {
        repo::set_address(&mut *tx, user_id, id, address).await?;
    }
    set_defaults(
        &mut tx,
        user_id,
        id,
        change.default_shipping,
        change.default_billing,
    )
    .await?;
    let saved = fetch(&mut tx, user_id, id).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes one of the customer's addresses (orders keep their own copies).
pub async fn delete(ctx: &Context, user_id: Uuid, id: Uuid) -> Result<()> {
    touched(repo::delete(&ctx.pool, user_id, id).await?)
}

/// One of the customer's saved addresses by id (another customer's is not found).
pub async fn saved(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> Result<Address> {
    Ok(fetch(conn, user_id, id).await?.address.0)
}

/// Which default address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Shipping,
    Billing,
}
