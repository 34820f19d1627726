//! Checkout: the whole cart becomes an order in one transaction, or nothing changes.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::OrdersError;
use super::error::Shortage;
use super::repository::{self as repo};
use super::types::{Address, HistoryRole, Order, OrderStatus};
use crate::Context;
use crate::money::Money;
use crate::validation::{Invalid, plain_text};

type Result<T> = std::result::Result<T, OrdersError>;

/// What the customer sends at checkout.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckoutRequest {
    pub shipping_address: Address,
    pub notes: String,
}

impl CheckoutRequest {
    pub fn new(
        shipping_address: Address,
        notes: Option<&str>,
    ) -> std::result::Result<Self, Invalid> {
        Ok(Self {
            shipping_address,
            notes: plain_text("notes", notes.unwrap_or_default(), 1000)?,
        })
    }

    /// Identifies "the same request" for idempotency: the canonical JSON of its content.
    fn fingerprint(&self) -> Vec<u8> {
        Sha256::digest(serde_json::to_vec(self).expect("serialisable")).to_vec()
    }
}

/// A client-chosen `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a header's raw bytes: a key that is not plain visible ASCII is refused, never
    /// taken as "no key" (two retries would then make two orders).
    pub fn parse(raw: &[u8]) -> std::result::Result<Self, Invalid> {
        if (1..=255).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic) {
            Ok(Self(String::from_utf8_lossy(raw).into_owned()))
        } else {
            Err(Invalid::new(
                "Idempotency-Key",
                "1 to 255 visible ASCII characters",
            ))
        }
    }
}

/// A new order, or the first answer replayed for a repeated key.
#[derive(Debug)]
pub enum CheckoutOutcome {
    Created { order: Box<Order>, body: String },
    Replayed { status: u16, body: String },
}

#[derive(sqlx::FromRow)]
struct Line {
    cart_item_id: Uuid,
    product_id: Uuid,
    quantity: i32,
    sku: String,
    name: String,
    price: rust_decimal::Decimal,
    stock: i32,
    is_active: bool,
}

/// Places the cart as an order. Product rows are locked in id order (no deadlocks between
/// checkouts), every line is checked before anything changes (all short lines are named),
/// stock is decremented with a ledger row each, the order is written with name and price
/// snapshots and its first history entry, and the cart is emptied.
///
/// With an idempotency key the first successful answer (as `render` makes it) is stored;
/// the same key and request replay it, another request is a conflict. A second request
/// racing the first waits on the key's row, then replays.
pub async fn checkout(
    ctx: &Context,
    user_id: Uuid,
    request: &CheckoutRequest,
    key: Option<&IdempotencyKey>,
    render: impl FnOnce(&Order) -> String,
) -> Result<CheckoutOutcome> {
    let mut tx = ctx.pool.begin().await?;
    if let Some(key) = key {
        let fingerprint = request.fingerprint();
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
        )
        .bind(user_id)
        .bind(&key.0)
        .execute(&mut *tx)
        .await?;
        // Blocks while another transaction holds the same key, then sees its outcome.
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(&key.0)
        .bind(&fingerprint)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            let (hash, status, body): (Vec<u8>, Option<i32>, Option<String>) =
                sqlx::query_as("SELECT request_hash, status, body FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                    .bind(user_id)
                    .bind(&key.0)
                    .fetch_one(&mut *tx)
                    .await?;
            if hash != fingerprint {
                return Err(OrdersError::IdempotencyConflict);
            }
            if let (Some(status), Some(body)) = (status, body) {
                return Ok(CheckoutOutcome::Replayed {
                    status: status as u16,
                    body,
                });
            }
            return Err(OrdersError::IdempotencyConflict);
        }
    }

    let lines: Vec<Line> = sqlx::query_as(
        "SELECT ci.id AS cart_item_id, p.id AS product_id, ci.quantity, p.sku, p.name, p.price, p.stock, p.is_active \
         FROM cart_items ci JOIN products p ON p.id = ci.product_id \
         WHERE ci.user_id = $1 ORDER BY p.id FOR UPDATE",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    if lines.is_empty() {
        return Err(OrdersError::EmptyCart);
    }
    let shortages: Vec<Shortage> = lines
        .iter()
        .filter(|l| !l.is_active || l.stock < l.quantity)
        .map(|l| Shortage {
            product_id: l.product_id,
            sku: l.sku.clone(),
            requested: l.quantity,
            available: if l.is_active { l.stock } else { 0 },
        })
        .collect();
    if !shortages.is_empty() {
        return Err(OrdersError::InsufficientStock(shortages));
    }

    let totals: Vec<Money> = lines
        .iter()
        .map(|l| Money::from_decimal(l.price).times(l.quantity as u32))
        .collect::<Option<_>>()
        .ok_or_else(|| Invalid::new("quantity", "the order total is too large"))?;
    let subtotal = totals
        .iter()
        .try_fold(Money::ZERO, |sum, t| sum.checked_add(*t))
        .ok_or_else(|| Invalid::new("quantity", "the order total is too large"))?;
    let order_id = Uuid::now_v7();
    let number: i64 = sqlx::query_scalar("SELECT nextval('order_number_seq')")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO orders (id, number, user_id, status, subtotal, total, currency, shipping_address, notes) \
         VALUES ($1, $2, $3, 'pending', $4, $4, $5, $6, $7)",
    )
    .bind(order_id)
    .bind(format!("SW-{number}"))
    .bind(user_id)
    .bind(subtotal.amount())
    .bind(ctx.config.store_currency.as_str())
    .bind(sqlx::types::Json(&request.shipping_address))
    .bind(&request.notes)
    .execute(&mut *tx)
    .await?;

    let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let after: Vec<i32> = lines.iter().map(|l| l.stock - l.quantity).collect();
    sqlx::query(
        "UPDATE products p SET stock = p.stock - v.qty, updated_at = now() \
         FROM unnest($1::uuid[], $2::int[]) AS v(id, qty) WHERE p.id = v.id",
    )
    .bind(&ids)
    .bind(&quantities)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO inventory_movements (product_id, delta, stock_after, reason, actor_id, order_id) \
         SELECT id, -qty, after, 'order placed', $4, $5 FROM unnest($1::uuid[], $2::int[], $3::int[]) AS v(id, qty, after)",
    )
    .bind(&ids)
    .bind(&quantities)
    .bind(&after)
    .bind(user_id)
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let prices: Vec<rust_decimal::Decimal> = lines.iter().map(|l| l.price).collect();
    let line_totals: Vec<rust_decimal::Decimal> = totals.iter().map(Money::amount).collect();
    sqlx::query(
        "INSERT INTO order_items (order_id, line, product_id, sku, name, unit_price, quantity, line_total) \
         SELECT $1, ord, id, sku, name, price, qty, total \
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::numeric[], $6::int[], $7::numeric[]) \
              WITH ORDINALITY AS v(id, sku, name, price, qty, total, ord)",
    )
    .bind(order_id)
    .bind(&ids)
    .bind(&skus)
    .bind(&names)
    .bind(&prices)
    .bind(&quantities)
    .bind(&line_totals)
    .execute(&mut *tx)
    .await?;
    repo::record_history(
        &mut *tx,
        order_id,
        OrderStatus::Pending,
        HistoryRole::Customer,
        Some(user_id),
    )
    .await?;
    // Exactly the lines locked and ordered above: a line added while this ran is not in
    // the order, so it stays in the cart.
    let ordered: Vec<Uuid> = lines.iter().map(|l| l.cart_item_id).collect();
    sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND id = ANY($2)")
        .bind(user_id)
        .bind(&ordered)
        .execute(&mut *tx)
        .await?;
    let order = repo::find(&mut tx, order_id, None)
        .await?
        .ok_or(OrdersError::NotFound)?;
    let body = render(&order);
    if let Some(key) = key {
        sqlx::query(
            "UPDATE idempotency_keys SET status = 201, body = $3 WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id)
        .bind(&key.0)
        .bind(&body)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    ctx.catalog_cache.invalidate();
    Ok(CheckoutOutcome::Created {
        order: Box::new(order),
        body,
    })
}
