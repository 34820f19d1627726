//! Checkout: the whole cart becomes an order in one transaction, or nothing changes.
//!
//! The order of the steps is the point. A hot variant is one row every buyer must update,
//! and its lock is held from the decrement to the commit; so everything that does not need
//! it comes first (the idempotency claim, reading and pricing the cart, writing the order,
//! its lines and history in one statement, rendering the answer from what was written), and
//! the stock is taken last, by the inventory module, right before the commit. A shortage
//! then rolls all of it back. Five round trips in all, with BEGIN and COMMIT.

use uuid::Uuid;

use super::OrdersError;
use super::repository::{self as repo, NewOrder};
use super::types::{Address, HistoryEntry, HistoryRole, Order, OrderItem, OrderStatus};
use crate::Context;
use crate::idempotency::{self, Claim, IdempotencyKey};
use crate::inventory::{self, StockRow, Take};
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
}

/// A new order, or the first answer replayed for a repeated key.
#[derive(Debug)]
pub enum CheckoutOutcome {
    Created { order: Box<Order>, body: String },
    Replayed { status: u16, body: String },
}

/// An answer as the HTTP layer renders it: its status and body, kept for replays.
pub struct Rendered {
    pub status: u16,
    pub body: String,
}

/// Places the cart as an order: all lines are checked (every short line is named), stock
/// is taken with a ledger row each, the order is written with name and price snapshots and
/// its first history entry, and the ordered lines leave the cart.
///
/// With an idempotency key the first successful answer (as `render` makes it) is stored;
/// the same key and request replay it, another request is a conflict.
pub async fn checkout(
    ctx: &Context,
    user_id: Uuid,
    request: &CheckoutRequest,
    key: Option<&IdempotencyKey>,
    render: impl FnOnce(&Order) -> Rendered,
) -> Result<CheckoutOutcome> {
    let mut tx = ctx.pool.begin().await?;
    if let Some(key) = key {
        match idempotency::claim(&mut tx, user_id, key, &idempotency::fingerprint(request)).await? {
            Claim::New => {}
            Claim::Replay { status, body } => {
                return Ok(CheckoutOutcome::Replayed { status, body });
            }
            Claim::Conflict => return Err(OrdersError::IdempotencyConflict),
        }
    }

    let lines = repo::checkout_lines(&mut *tx, user_id).await?;
    if lines.is_empty() {
        return Err(OrdersError::EmptyCart);
    }
    // Lines already short as read are refused before anything is written; the decrement at
    // the end checks again under lock.
    let takes: Vec<Take> = lines
        .iter()
        .map(|l| Take {
            variant_id: l.variant_id,
            quantity: l.quantity,
        })
        .collect();
    let as_read: Vec<StockRow> = lines
        .iter()
        .map(|l| StockRow {
            id: l.variant_id,
            sku: l.sku.clone(),
            stock: l.stock,
            is_active: l.is_active,
        })
        .collect();
    let short = inventory::shortages(&takes, &as_read);
    if !short.is_empty() {
        return Err(OrdersError::InsufficientStock(short));
    }
    let too_large = || Invalid::new("quantity", "the order total is too large");
    let line_totals: Vec<Money> = lines
        .iter()
        .map(|l| Money::from_decimal(l.price).times(l.quantity as u32))
        .collect::<Option<_>>()
        .ok_or_else(too_large)?;
    let subtotal = line_totals
        .iter()
        .try_fold(Money::ZERO, |sum, t| sum.checked_add(*t))
        .ok_or_else(too_large)?;

    let order_id = Uuid::now_v7();
    let currency = ctx.config.store_currency.as_str();
    let placed = repo::place(
        &mut *tx,
        &NewOrder {
            id: order_id,
            user_id,
            subtotal,
            currency,
            shipping_address: &request.shipping_address,
            notes: &request.notes,
        },
        &lines,
        &line_totals,
    )
    .await?;
    // The order as written, without reading it back.
    let order = Order {
        id: order_id,
        number: placed.number,
        user_id: Some(user_id),
        status: OrderStatus::Pending,
        subtotal,
        total: subtotal,
        currency: currency.to_owned(),
        shipping_address: request.shipping_address.clone(),
        notes: request.notes.clone(),
        created_at: placed.created_at,
        updated_at: placed.updated_at,
        items: lines
            .iter()
            .zip(&line_totals)
            .map(|(l, total)| OrderItem {
                product_id: l.product_id,
                variant_id: l.variant_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                options: l.options.clone(),
                unit_price: l.price,
                quantity: l.quantity,
                line_total: total.amount(),
            })
            .collect(),
        history: vec![HistoryEntry {
            status: OrderStatus::Pending,
            at: placed.history_at,
            by_role: HistoryRole::Customer,
        }],
    };
    let rendered = render(&order);
    if let Some(key) = key {
        idempotency::complete(&mut tx, user_id, key, rendered.status, &rendered.body).await?;
    }

    // Last, and as briefly as possible: the stock, then the commit.
    let sold_out = match inventory::take_for_order(&mut tx, order_id, user_id, &takes).await? {
        Ok(sold_out) => sold_out,
        Err(shortages) => return Err(OrdersError::InsufficientStock(shortages)),
    };
    tx.commit().await?;
    inventory::announce(ctx, sold_out).await;
    Ok(CheckoutOutcome::Created {
        order: Box::new(order),
        body: rendered.body,
    })
}
