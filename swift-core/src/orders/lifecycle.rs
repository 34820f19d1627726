//! Reading orders and moving them through the status machine.

use uuid::Uuid;

use super::OrdersError;
use super::repository::{self as repo, OrderFilter};
use super::types::{Actor, Order, OrderEvent, OrderStatus, PaymentStatus};
use crate::Context;
use crate::inventory;
use crate::money::Money;
use crate::pagination::{Page, PageRequest};
use crate::payments::{self, RefundReason};
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
    move_order(
        ctx,
        id,
        OrderStatus::Cancelled,
        Actor::Customer(user_id),
        None,
    )
    .await
}

/// Staff move an order along the status machine. Refunding an order paid through the
/// payment provider refunds what is left of the payment there ([`payments::refund`]).
pub async fn transition(ctx: &Context, staff_id: Uuid, id: Uuid, to: OrderStatus) -> Result<Order> {
    transition_by(ctx, Actor::Staff(staff_id), id, to).await
}

/// [`transition`], by staff in person or at the command line ([`Actor::Operator`]).
pub async fn transition_by(
    ctx: &Context,
    actor: Actor,
    id: Uuid,
    to: OrderStatus,
) -> Result<Order> {
    if to == OrderStatus::Refunded {
        let mut conn = ctx.pool.acquire().await?;
        if payments::repository::payment_of(&mut *conn, id)
            .await?
            .is_some()
        {
            drop(conn);
            payments::refund(ctx, actor.id(), id, None)
                .await
                .map_err(OrdersError::from_payments)?;
            return get_any(ctx, id).await;
        }
    }
    move_order(ctx, id, to, actor, None).await
}

/// An order by its number (`SW-100042`), for staff.
pub async fn by_number(ctx: &Context, number: &str) -> Result<Order> {
    let mut conn = ctx.pool.acquire().await?;
    let id = repo::id_of_number(&mut *conn, number)
        .await?
        .ok_or(OrdersError::NotFound)?;
    repo::find(&mut conn, id, None)
        .await?
        .ok_or(OrdersError::NotFound)
}

/// Applies one move in its own transaction, then does what must follow the commit.
pub(crate) async fn move_order(
    ctx: &Context,
    id: Uuid,
    to: OrderStatus,
    actor: Actor,
    event: Option<OrderEvent>,
) -> Result<Order> {
    let mut tx = ctx.pool.begin().await?;
    let moved = move_in(&mut tx, ctx, id, to, actor, event).await?;
    tx.commit().await?;
    Ok(moved.after_commit(ctx).await)
}

/// A move made, and what is left to do once it is committed.
pub(crate) struct Moved {
    pub order: Order,
    back_in_stock: inventory::Crossed,
    /// A refund the move owes (a paid order cancelled), to send to the provider.
    refund: Option<Uuid>,
    /// The provider's open payment of a cancelled unpaid order, to close so it cannot be paid.
    open_payment: Option<String>,
}

impl Moved {
    /// Wakes the mail worker, announces stock back on sale, sends an owed refund and closes
    /// an open payment. The last two are retried by the payments worker (a refund) or made
    /// harmless by it (a late payment is refunded) if they fail here.
    pub(crate) async fn after_commit(self, ctx: &Context) -> Order {
        ctx.outbox_wake.now();
        inventory::announce(ctx, self.back_in_stock).await;
        if let Some(refund) = self.refund
            // Boxed: a refund applied may itself move the order (and so come back here).
            && let Err(e) = Box::pin(payments::send_refund(ctx, refund)).await
        {
            tracing::warn!(error = %e, %refund, "refund not sent yet; the payments worker retries it");
        }
        if let (Some(intent), Some(provider)) = (&self.open_payment, &ctx.payments)
            && let Err(e) = provider.cancel_payment(intent).await
        {
            tracing::info!(error = %e, intent, "closing the payment of a cancelled order failed");
        }
        self.order
    }
}

/// Applies one move under a row lock, in the caller's transaction: checks it against the
/// status machine (customers may only cancel pending orders), records who and when (and
/// `event`, when the move has a reason beyond itself), puts the stock back on cancellation,
/// keeps the payment status in step, and writes the buyer's mail to the outbox.
pub(crate) async fn move_in(
    tx: &mut sqlx::PgConnection,
    ctx: &Context,
    id: Uuid,
    to: OrderStatus,
    actor: Actor,
    event: Option<OrderEvent>,
) -> Result<Moved> {
    let (owner, from) = repo::lock(&mut *tx, id)
        .await?
        .ok_or(OrdersError::NotFound)?;
    if let Actor::Customer(user) = actor
        && owner != Some(user)
    {
        return Err(OrdersError::NotFound);
    }
    let customer_may = from == OrderStatus::Pending && to == OrderStatus::Cancelled;
    if !from.can_become(to) || (matches!(actor, Actor::Customer(_)) && !customer_may) {
        return Err(OrdersError::InvalidTransition { from, to });
    }
    repo::set_status(&mut *tx, id, to).await?;
    repo::record_event(&mut *tx, id, to, actor.role(), actor.id(), event, None).await?;
    let back_in_stock = if to.restores_stock() {
        inventory::put_back_for_order(&mut *tx, id, actor.id()).await?
    } else {
        inventory::Crossed::default()
    };
    // Only a cancellation touches the provider's payment, so only it looks the payment up.
    let payment = if to == OrderStatus::Cancelled {
        payments::repository::payment_of(&mut *tx, id).await?
    } else {
        None
    };
    let mut refund = None;
    let mut open_payment = None;
    match (from, to) {
        // Paid outside the provider (staff marking it), or by the provider's webhook.
        (_, OrderStatus::Paid) => {
            repo::set_payment(&mut *tx, id, PaymentStatus::Paid, Money::ZERO).await?;
        }
        // Marked refunded by staff: money returned outside the provider.
        (_, OrderStatus::Refunded) => {
            let total = repo::total_of(&mut *tx, id).await?;
            repo::set_payment(&mut *tx, id, PaymentStatus::Refunded, total).await?;
        }
        (OrderStatus::Paid, OrderStatus::Cancelled) if payment.is_some() => {
            refund = payments::owe_refund(&mut *tx, id, RefundReason::OrderCancelled, actor.id())
                .await
                .map_err(OrdersError::from_payments)?;
        }
        (OrderStatus::Pending, OrderStatus::Cancelled) => {
            open_payment = payment.map(|p| p.intent_id);
        }
        _ => {}
    }
    let order = repo::find(&mut *tx, id, None)
        .await?
        .ok_or(OrdersError::NotFound)?;
    // The buyer hears of the move in the move's own transaction (see checkout).
    mail_buyer(&mut *tx, ctx, &order, |to_addr, link| {
        notices::order(&ctx.config, to_addr, &order, to, link)
    })
    .await?;
    Ok(Moved {
        order,
        back_in_stock,
        refund,
        open_payment,
    })
}

/// Writes a notice to the order's buyer to the outbox, in the caller's transaction; `notice`
/// gets their address and the link where they see the order. Nothing when nobody can be
/// reached (a deleted account).
pub(crate) async fn mail_buyer(
    tx: &mut sqlx::PgConnection,
    ctx: &Context,
    order: &Order,
    notice: impl FnOnce(&str, &str) -> (outbox::Event, crate::mail::Mail),
) -> sqlx::Result<()> {
    if let Some(buyer) = repo::buyer_email(&mut *tx, order).await? {
        let link = match order.user_id {
            Some(_) => format!("{}/account/orders/{}", ctx.config.frontend_url, order.id),
            None => super::guest::link(ctx, &super::guest::token_for(ctx, order.id)),
        };
        let (event, mail) = notice(&buyer, &link);
        outbox::enqueue(&mut *tx, event, &mail).await?;
    }
    Ok(())
}
