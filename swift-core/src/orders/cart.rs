//! One cart per user: lines keyed by product, shown at today's prices. Products that are
//! no longer sold drop out of the view (and of the subtotal).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::OrdersError;
use super::types::Quantity;
use crate::Context;
use crate::money::Money;
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, OrdersError>;

/// A cart line with the product as it is now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartLine {
    pub id: Uuid,
    pub product_id: Uuid,
    pub slug: String,
    pub name: String,
    pub price: rust_decimal::Decimal,
    pub image_url: Option<String>,
    pub in_stock: bool,
    pub quantity: i32,
}

impl CartLine {
    pub fn price(&self) -> Money {
        Money::from_decimal(self.price)
    }

    pub fn line_total(&self) -> Money {
        self.price()
            .times(self.quantity as u32)
            .unwrap_or(Money::ZERO)
    }
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub items: Vec<CartLine>,
    pub subtotal: Money,
    /// Units in the cart (sum of quantities).
    pub item_count: i32,
    pub updated_at: DateTime<Utc>,
}

/// The cart as the storefront shows it; an empty one when the user has none yet.
pub async fn get(ctx: &Context, user_id: Uuid) -> Result<Cart> {
    let items: Vec<CartLine> = sqlx::query_as(
        "SELECT ci.id, p.id AS product_id, p.slug, p.name, p.price, p.images->0->>'url' AS image_url, \
                p.stock > 0 AS in_stock, ci.quantity \
         FROM cart_items ci JOIN products p ON p.id = ci.product_id \
         WHERE ci.user_id = $1 AND p.is_active ORDER BY ci.created_at, ci.id",
    )
    .bind(user_id)
    .fetch_all(&ctx.pool)
    .await?;
    let updated_at: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT updated_at FROM carts WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&ctx.pool)
            .await?;
    let subtotal = items
        .iter()
        .try_fold(Money::ZERO, |sum, line| sum.checked_add(line.line_total()))
        .unwrap_or(Money::ZERO);
    Ok(Cart {
        item_count: items.iter().map(|l| l.quantity).sum(),
        subtotal,
        items,
        updated_at: updated_at.unwrap_or_else(Utc::now),
    })
}

async fn touch(tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<()> {
    sqlx::query("INSERT INTO carts (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE SET updated_at = now()")
        .bind(user_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Adds a product (active only, else 404); an existing line grows, up to 100.
pub async fn add(
    ctx: &Context,
    user_id: Uuid,
    product_id: Uuid,
    quantity: Quantity,
) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let active: Option<bool> = sqlx::query_scalar("SELECT is_active FROM products WHERE id = $1")
        .bind(product_id)
        .fetch_optional(&mut *tx)
        .await?;
    if active != Some(true) {
        return Err(OrdersError::NotFound);
    }
    touch(&mut tx, user_id).await?;
    let result = sqlx::query(
        "INSERT INTO cart_items (id, user_id, product_id, quantity) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(product_id)
    .bind(quantity.get())
    .execute(&mut *tx)
    .await;
    if let Err(sqlx::Error::Database(db)) = &result
        && db.code().as_deref() == Some("23514")
    {
        return Err(Invalid::new("quantity", "a cart line holds at most 100 units").into());
    }
    result?;
    tx.commit().await?;
    get(ctx, user_id).await
}

/// Sets a line's quantity; another user's line is not found.
pub async fn update(
    ctx: &Context,
    user_id: Uuid,
    item_id: Uuid,
    quantity: Quantity,
) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let done = sqlx::query("UPDATE cart_items SET quantity = $3 WHERE id = $1 AND user_id = $2")
        .bind(item_id)
        .bind(user_id)
        .bind(quantity.get())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(OrdersError::NotFound);
    }
    touch(&mut tx, user_id).await?;
    tx.commit().await?;
    get(ctx, user_id).await
}

/// Removes a line; another user's line is not found.
pub async fn remove(ctx: &Context, user_id: Uuid, item_id: Uuid) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let done = sqlx::query("DELETE FROM cart_items WHERE id = $1 AND user_id = $2")
        .bind(item_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(OrdersError::NotFound);
    }
    touch(&mut tx, user_id).await?;
    tx.commit().await?;
    get(ctx, user_id).await
}

/// Empties the cart.
pub async fn clear(ctx: &Context, user_id: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
        .bind(user_id)
        .execute(&ctx.pool)
        .await?;
    Ok(())
}
