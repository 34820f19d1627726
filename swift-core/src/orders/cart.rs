//! One cart per user: lines keyed by variant, shown at today's prices. A line whose variant
//! can no longer be bought as asked (archived, sold out, short) stays in the view, marked
//! unavailable with the reason, so the shopper sees it and can remove it by id; only
//! available lines count towards the subtotal.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::OrdersError;
use super::repository::OPTIONS_OF_V;
use super::types::Quantity;
use crate::Context;
use crate::catalog::OptionValue;
use crate::money::Money;
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, OrdersError>;

/// Why a cart line cannot be bought as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The variant (or its product) is no longer sold.
    Archived,
    /// None left.
    OutOfStock,
    /// Fewer left than the line asks for.
    InsufficientStock,
    /// Price × quantity is past the largest amount an order can hold (the price rose
    /// after the line was added).
    TotalTooLarge,
}

/// A cart line with the variant as it is now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartLine {
    pub id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub slug: String,
    pub name: String,
    pub sku: String,
    pub options: sqlx::types::Json<Vec<OptionValue>>,
    pub price: rust_decimal::Decimal,
    pub image_url: Option<String>,
    pub is_active: bool,
    pub stock: i32,
    pub quantity: i32,
}

impl CartLine {
    pub fn price(&self) -> Money {
        Money::from_decimal(self.price)
    }

    pub fn in_stock(&self) -> bool {
        self.is_active && self.stock > 0
    }

    /// Price × quantity, exact (even past what an order can hold: shown right, never
    /// wrapped or zeroed).
    pub fn line_total(&self) -> Money {
        Money::from_decimal(self.price * rust_decimal::Decimal::from(self.quantity))
    }

    /// Whether the line total fits in an order.
    fn fits(&self) -> bool {
        self.price().times(self.quantity as u32).is_some()
    }

    /// Why the line cannot be checked out as it is, if it cannot.
    pub fn unavailable(&self) -> Option<Unavailable> {
        if !self.is_active {
            Some(Unavailable::Archived)
        } else if self.stock == 0 {
            Some(Unavailable::OutOfStock)
        } else if self.stock < self.quantity {
            Some(Unavailable::InsufficientStock)
        } else if !self.fits() {
            Some(Unavailable::TotalTooLarge)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub items: Vec<CartLine>,
    /// Sum of the available lines: what checkout would charge once the others are removed.
    pub subtotal: Money,
    /// Units in the cart (sum of quantities, every line).
    pub item_count: i32,
    pub updated_at: DateTime<Utc>,
}

/// Exact sum of the line totals of `lines`.
fn sum<'a>(lines: impl Iterator<Item = &'a CartLine>) -> Money {
    Money::from_decimal(lines.map(|l| l.line_total().amount()).sum())
}

/// The cart as the storefront shows it; an empty one when the user has none yet.
pub async fn get(ctx: &Context, user_id: Uuid) -> Result<Cart> {
    get_on(&mut *ctx.pool.acquire().await?, user_id).await
}

/// The cart's lines with the cart's own `updated_at` on each row: one round trip, and a
/// second only for an empty cart (to tell a new one from an emptied one).
#[derive(sqlx::FromRow)]
struct LineRow {
    #[sqlx(flatten)]
    line: CartLine,
    cart_updated_at: DateTime<Utc>,
}

async fn get_on(conn: &mut sqlx::PgConnection, user_id: Uuid) -> Result<Cart> {
    let rows: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ci.id, p.id AS product_id, v.id AS variant_id, p.slug, p.name, v.sku, {OPTIONS_OF_V} AS options, \
                v.price, coalesce(v.images->0->>'url', p.images->0->>'url') AS image_url, \
                v.is_active AND p.is_active AS is_active, s.on_hand AS stock, ci.quantity, \
                c.updated_at AS cart_updated_at \
         FROM carts c JOIN cart_items ci ON ci.user_id = c.user_id \
         JOIN product_variants v ON v.id = ci.variant_id \
         JOIN products p ON p.id = v.product_id \
         JOIN stock_levels s ON s.variant_id = v.id \
         WHERE c.user_id = $1 ORDER BY ci.created_at, ci.id"
    )))
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let updated_at = match rows.first() {
        Some(row) => Some(row.cart_updated_at),
        None => {
            sqlx::query_scalar("SELECT updated_at FROM carts WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    let items: Vec<CartLine> = rows.into_iter().map(|r| r.line).collect();
    let subtotal = sum(items.iter().filter(|l| l.unavailable().is_none()));
    Ok(Cart {
        item_count: items.iter().map(|l| l.quantity).sum(),
        subtotal,
        items,
        updated_at: updated_at.unwrap_or_else(Utc::now),
    })
}

/// The cart after a change in `tx`, refusing the change if it would leave the total past
/// what an order can hold. Read in the transaction, it is also the answer to send.
async fn checked_cart(tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<Cart> {
    let cart = get_on(tx, user_id).await?;
    let buyable = sum(cart.items.iter().filter(|l| l.is_active));
    let overflow = Money::ZERO.checked_add(buyable).is_none();
    if overflow {
        return Err(Invalid::new(
            "quantity",
            "the cart total would exceed the largest order amount (9999999999.99)",
        )
        .into());
    }
    Ok(cart)
}

async fn touch(tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<()> {
    sqlx::query("INSERT INTO carts (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE SET updated_at = now()")
        .bind(user_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Adds a variant (sold ones only, else 404); an existing line grows, up to 100. One
/// statement checks the variant is sold, touches the cart and writes the line; the cart is
/// then read back in the same transaction (four round trips with BEGIN and COMMIT).
pub async fn add(
    ctx: &Context,
    user_id: Uuid,
    variant_id: Uuid,
    quantity: Quantity,
) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let sold: bool = sqlx::query_scalar(
        "WITH sold AS ( \
             SELECT v.id FROM product_variants v JOIN products p ON p.id = v.product_id \
             WHERE v.id = $3 AND v.is_active AND p.is_active), \
         cart AS ( \
             INSERT INTO carts (user_id) SELECT $2 FROM sold \
             ON CONFLICT (user_id) DO UPDATE SET updated_at = now()), \
         line AS ( \
             INSERT INTO cart_items (id, user_id, variant_id, quantity) SELECT $1, $2, id, $4 FROM sold \
             ON CONFLICT (user_id, variant_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity) \
         SELECT EXISTS (SELECT 1 FROM sold)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(variant_id)
    .bind(quantity.get())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        let full = Invalid::new("quantity", "a cart line holds at most 100 units");
        crate::db::constraint_error(e, [("cart_items_quantity_check", OrdersError::from(full))])
    })?;
    if !sold {
        return Err(OrdersError::NotFound);
    }
    let cart = checked_cart(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(cart)
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
    let cart = checked_cart(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(cart)
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
