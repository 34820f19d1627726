//! Reading orders and moving them through the status machine.

use uuid::Uuid;

use super::OrdersError;
use super::repository::{self as repo, OrderFilter};
use super::types::{Actor, Order, OrderStatus};
use crate::Context;
use crate::inventory;
use crate::pagination::{Page, PageRequest};
use crate::{notices, outbox};

type Result<T> = std::result::Result<T, OrdersError>;

/// The caller's own order; anyone else's is simply not found.
pub async fn get_own(ctx: &Context, user_id: Uuid, id: Uuid) -> Result<Order> {
    let mut conn = ctx.pool.acquire().await?;
    repo::find(&mut conn, id, Some(user_id))
        .await?
        .ok_or(OrdersError::NotFound)
}

pub async fn get_any(ctx: &Context, id: Uuid) -> Result<Order> {
    let mut conn = ctx.pool.acquire().await?;
    repo::find(&mut conn, id, None)
        .await?
        .ok_or(OrdersError::NotFound)
}

/// Orders matching the filter, newest first.
pub async fn list(ctx: &Context, filter: &OrderFilter, page: PageRequest) -> Result<Page<Order>> {
    let mut conn = ctx.pool.acquire().await?;
    let (orders, total) = repo::list(&mut conn, filter, page).await?;
    Ok(Page::new(orders, total, page))
}

/// A customer cancels their own order, while it is pending.
pub async fn cancel_own(ctx: &Context, user_id: Uuid, id: Uuid) -> Result<Order> {
    move_order(ctx, id, OrderStatus::Cancelled, Actor::Customer(user_id)).await
}

/// Staff move an order along the status machine.
pub async fn transition(ctx: &Context, staff_id: Uuid, id: Uuid, to: OrderStatus) -> Result<Order> {
    move_order(ctx, id, to, Actor::Staff(staff_id)).await
}

/// Applies one move under a row lock: checks it against the status machine (customers may
/// only cancel pending orders), records who and when, and on cancellation puts the stock
/// back with ledger rows, all in one transaction.
async fn move_order(ctx: &Context, id: Uuid, to: OrderStatus, actor: Actor) -> Result<Order> {
    let mut tx = ctx.pool.begin().await?;
    let (owner, status) = repo::lock(&mut *tx, id)
        .await?
        .ok_or(OrdersError::NotFound)?;
    if let Actor::Customer(user) = actor
        && owner != Some(user)
    {
        return Err(OrdersError::NotFound);
    }
    let from = status;
    let customer_may = from == OrderStatus::Pending && to == OrderStatus::Cancelled;
    if !from.can_become(to) || (matches!(actor, Actor::Customer(_)) && !customer_may) {
        return Err(OrdersError::InvalidTransition { from, to });
    }
    repo::set_status(&mut *tx, id, to).await?;
    repo::record_history(&mut *tx, id, to, actor.role(), Some(actor.id())).await?;
    let back_in_stock = if to.restores_stock() {
        inventory::put_back_for_order(&mut tx, id, actor.id()).await?
    } else {
        inventory::Crossed::default()
    };
    let order = repo::find(&mut tx, id, None)
        .await?
        .ok_or(OrdersError::NotFound)?;
    // The buyer hears of the move in the move's own transaction (see checkout).
    if let Some(buyer) = repo::buyer_email(&mut *tx, &order).await? {
        let link = match order.user_id {
            Some(_) => format!("{}/account/orders/{}", ctx.config.frontend_url, order.id),
            None => super::guest::link(ctx, &super::guest::token_for(ctx, order.id)),
        };
        let (event, mail) = notices::order(&ctx.config, &buyer, &order, to, &link);
        outbox::enqueue(&mut *tx, event, &mail).await?;
    }
    tx.commit().await?;
    ctx.outbox_wake.now();
    inventory::announce(ctx, back_in_stock).await;
    Ok(order)
}
