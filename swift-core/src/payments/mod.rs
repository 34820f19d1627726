//! Taking money for orders, and giving it back.
//!
//! - Checkout places an order `pending` and `unpaid`. [`start`] opens the order's one payment
//!   at the provider (idempotently) and hands the storefront its client secret for Stripe.js.
//! - The provider's signed webhooks ([`handle_webhook`]) mark the order paid, or record a
//!   failed attempt. Each event is applied once, in one transaction with the record of its id;
//!   an event that no longer fits the order (a failure after the success) changes nothing.
//! - Unpaid orders expire after `PAYMENT_TIMEOUT` ([`expire_unpaid`]): cancelled, stock back.
//!   A payment that succeeds after its order was cancelled is refunded automatically, never
//!   kept, and the history says so: the goods may be sold to someone else by then.
//! - A refund is recorded `pending` before the provider is asked ([`send_refund`]), with our
//!   id as the idempotency key, so a crash in between loses nothing: the worker sends it
//!   again, and the provider refunds once.

pub mod provider;
pub mod repository;
pub mod stripe;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

pub use provider::{IntentStatus, PaymentProvider, ProviderError, WebhookError};
pub use repository::{Refund, RefundReason, RefundStatus};

use self::provider::{NewPayment, NewRefund, WebhookEvent};
use self::repository as repo;
use crate::Context;
use crate::money::Money;
use crate::notices;
use crate::orders::lifecycle::{self, Moved};
use crate::orders::repository as orders_repo;
use crate::orders::types::{Actor, HistoryRole, OrderEvent};
use crate::orders::{OrderStatus, OrdersError, PaymentStatus};
use crate::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("payments are not configured (STRIPE_SECRET_KEY)")]
    NotConfigured,
    #[error("not found")]
    NotFound,
    #[error("a {0} order cannot be paid")]
    NotPayable(OrderStatus),
    #[error("a {0} order cannot be refunded")]
    NotRefundable(OrderStatus),
    #[error("the order was not paid through the payment provider; mark it refunded instead")]
    NotPaidThroughProvider,
    #[error("at most {0} can be refunded")]
    RefundTooLarge(Money),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("webhook refused: {0}")]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Orders(Box<OrdersError>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<OrdersError> for PaymentsError {
    fn from(e: OrdersError) -> Self {
        match e {
            OrdersError::Database(e) => Self::Database(e),
            OrdersError::NotFound => Self::NotFound,
            e => Self::Orders(Box::new(e)),
        }
    }
}

type Result<T> = std::result::Result<T, PaymentsError>;

/// Who asks to pay an order.
#[derive(Debug, Clone, Copy)]
pub enum Payer {
    Customer(Uuid),
    /// A guest, by the order their link's token grants.
    Guest,
}

/// What the storefront needs to take the payment in the browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub provider: &'static str,
    pub intent_id: String,
    pub client_secret: String,
    pub status: IntentStatus,
    pub amount: Money,
    pub currency: String,
}

fn provider(ctx: &Context) -> Result<&Arc<dyn PaymentProvider>> {
    ctx.payments.as_ref().ok_or(PaymentsError::NotConfigured)
}

/// The exponent of an order's currency (2 for every currency a store can sell in today).
fn exponent(currency: &str) -> u32 {
    currency
        .parse::<crate::config::Currency>()
        .map_or(2, |c| c.exponent())
}

/// Opens the order's payment at the provider, or finds the one already open: one payment
/// per order, whatever the number of calls (the provider's idempotency key is the order).
pub async fn start(ctx: &Context, payer: Payer, order_id: Uuid) -> Result<Session> {
    let provider = provider(ctx)?;
    let owner = match payer {
        Payer::Customer(user) => Some(user),
        Payer::Guest => None,
    };
    let order = {
        let mut conn = ctx.pool.acquire().await?;
        orders_repo::find(&mut conn, order_id, owner)
            .await?
            .ok_or(PaymentsError::NotFound)?
    };
    if order.status != OrderStatus::Pending {
        return Err(PaymentsError::NotPayable(order.status));
    }
    let session = |intent: provider::Intent| Session {
        provider: provider.name(),
        intent_id: intent.id,
        client_secret: intent.client_secret,
        status: intent.status,
        amount: order.total,
        currency: order.currency.clone(),
    };
    if let Some(open) = repo::payment_of(&ctx.pool, order_id).await? {
        return Ok(session(provider.retrieve_payment(&open.intent_id).await?));
    }
    let amount_minor = order
        .total
        .minor_units(exponent(&order.currency))
        .ok_or_else(|| Invalid::new("total", "is not payable in the order's currency"))?;
    let intent = provider
        .create_payment(NewPayment {
            order_id,
            order_number: &order.number,
            amount_minor,
            currency: &order.currency,
            idempotency_key: format!("swift-order-{order_id}"),
        })
        .await?;
    repo::insert_payment(
        &ctx.pool,
        order_id,
        &repo::PaymentRow {
            provider: provider.name().to_owned(),
            intent_id: intent.id.clone(),
            amount_minor,
            currency: order.currency.clone(),
        },
    )
    .await?;
    Ok(session(intent))
}

/// What a webhook delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Its event was handled before: nothing changed.
    Duplicate,
    /// Not about an order of ours, or no longer fitting it (a failure after the success).
    Ignored,
}

/// What an applied event leaves to do after its commit.
enum Then {
    Nothing,
    Moved(Box<Moved>),
    Refund(Uuid),
}

/// Verifies and applies one webhook delivery. A bad or stale signature changes nothing.
pub async fn handle_webhook(ctx: &Context, payload: &[u8], signature: &str) -> Result<Handled> {
    let provider = provider(ctx)?;
    let event = match provider.parse_webhook(payload, signature, Utc::now().timestamp()) {
        Ok(event) => event,
        Err(e) => {
            metrics::counter!("swift_payment_webhooks_total", "outcome" => "refused").increment(1);
            return Err(e.into());
        }
    };
    let mut tx = ctx.pool.begin().await?;
    if !repo::record_event(&mut *tx, event.id(), event.kind()).await? {
        tx.commit().await?;
        metrics::counter!("swift_payment_webhooks_total", "outcome" => "duplicate").increment(1);
        return Ok(Handled::Duplicate);
    }
    let then = match &event {
        WebhookEvent::PaymentSucceeded {
            intent_id,
            order_id,
            amount_minor,
            currency,
            ..
        } => match order_of(&mut tx, intent_id, *order_id).await? {
            Some(found) => {
                let money = repo::lock_money(&mut *tx, found.order)
                    .await?
                    .ok_or(PaymentsError::NotFound)?;
                let received = Received {
                    amount_minor: *amount_minor,
                    currency,
                };
                if !received.pays(&money) {
                    mismatched(&mut tx, found.order, &money, &received, intent_id).await?
                } else {
                    // A payment opened and then lost (a crash before it was recorded) is
                    // still this order's: record it now.
                    if let Some(currency) = found.unrecorded_in {
                        let payment = repo::PaymentRow {
                            provider: provider.name().to_owned(),
                            intent_id: intent_id.clone(),
                            amount_minor: *amount_minor,
                            currency,
                        };
                        repo::insert_payment(&mut *tx, found.order, &payment).await?;
                    }
                    succeeded(&mut tx, ctx, found.order, &money).await?
                }
            }
            None => Then::Nothing,
        },
        WebhookEvent::PaymentFailed {
            intent_id,
            order_id,
            message,
            ..
        } => match order_of(&mut tx, intent_id, *order_id).await? {
            Some(found) => failed(&mut tx, found.order, message.as_deref()).await?,
            None => Then::Nothing,
        },
        WebhookEvent::Other { .. } => Then::Nothing,
    };
    tx.commit().await?;
    let handled = handled_after_commit(ctx, then).await;
    let outcome = match handled {
        Handled::Applied => "applied",
        Handled::Duplicate => "duplicate",
        Handled::Ignored => "ignored",
    };
    metrics::counter!("swift_payment_webhooks_total", "outcome" => outcome).increment(1);
    if handled == Handled::Applied {
        let kind = match &event {
            WebhookEvent::PaymentSucceeded { .. } => "succeeded",
            WebhookEvent::PaymentFailed { .. } => "failed",
            WebhookEvent::Other { .. } => "other",
        };
        metrics::counter!("swift_payments_total", "result" => kind).increment(1);
    }
    Ok(handled)
}

async fn handled_after_commit(ctx: &Context, then: Then) -> Handled {
    match then {
        Then::Nothing => Handled::Ignored,
        Then::Moved(moved) => {
            moved.after_commit(ctx).await;
            Handled::Applied
        }
        Then::Refund(id) => {
            ctx.outbox_wake.now();
            if let Err(e) = send_refund(ctx, id).await {
                tracing::warn!(error = %e, refund = %id, "refund not sent yet; the payments worker retries it");
            }
            Handled::Applied
        }
    }
}

/// The order of a provider payment: ours by its recorded id, or by the metadata we gave it.
/// The order a provider payment is about.
struct Found {
    order: Uuid,
    /// The order's currency when the payment was found by metadata only (not recorded).
    unrecorded_in: Option<String>,
}

async fn order_of(
    tx: &mut sqlx::PgConnection,
    intent_id: &str,
    from_metadata: Option<Uuid>,
) -> Result<Option<Found>> {
    if let Some(order) = repo::order_of_intent(&mut *tx, intent_id).await? {
        return Ok(Some(Found {
            order,
            unrecorded_in: None,
        }));
    }
    let Some(id) = from_metadata else {
        return Ok(None);
    };
    // An order with a recorded payment is paid by that payment only.
    if let Some(recorded) = repo::payment_of(&mut *tx, id).await? {
        tracing::warn!(order = %id, intent_id, recorded = recorded.intent_id, "an event about another payment of this order; ignored");
        return Ok(None);
    }
    Ok(repo::lock_money(&mut *tx, id).await?.map(|m| Found {
        order: id,
        unrecorded_in: Some(m.currency),
    }))
}

/// What a provider says it received for an order.
struct Received<'a> {
    amount_minor: i64,
    /// ISO 4217, any case.
    currency: &'a str,
}

impl Received<'_> {
    /// Whether it pays the order exactly: its total, in its currency. The shop opens every
    /// payment for exactly that, so anything else is a payment someone else opened (in
    /// Stripe's dashboard, say) or one that went wrong, and it pays nothing.
    fn pays(&self, order: &repo::OrderMoney) -> bool {
        self.currency.eq_ignore_ascii_case(&order.currency)
            && Money::from_decimal(order.total).minor_units(exponent(&order.currency))
                == Some(self.amount_minor)
    }

    /// "4.99 USD", for people; a currency a store cannot sell in is told in minor units.
    fn describe(&self) -> String {
        let currency = self.currency.to_ascii_uppercase();
        let amount = currency
            .parse::<crate::config::Currency>()
            .ok()
            .and_then(|c| Money::from_minor_units(self.amount_minor, c.exponent()));
        match amount {
            Some(amount) => format!("{amount} {currency}"),
            None => format!("{} minor units of {currency}", self.amount_minor),
        }
    }
}

/// A payment that does not pay its order: recorded on the order's history for staff, and
/// not applied. The order keeps its status (a pending one still waits for its payment).
async fn mismatched(
    tx: &mut sqlx::PgConnection,
    order: Uuid,
    money: &repo::OrderMoney,
    received: &Received<'_>,
    intent_id: &str,
) -> Result<Then> {
    let note = format!(
        "Stripe reported {} received by {intent_id}; the order's total is {} {}; not applied",
        received.describe(),
        Money::from_decimal(money.total),
        money.currency,
    );
    tracing::error!(%order, intent_id, %note, "a payment does not match its order");
    metrics::counter!("swift_payment_mismatches_total").increment(1);
    orders_repo::record_event(
        &mut *tx,
        order,
        money.status,
        HistoryRole::System,
        None,
        Some(OrderEvent::PaymentMismatch),
        Some(&note),
    )
    .await?;
    Ok(Then::Nothing)
}

async fn succeeded(
    tx: &mut sqlx::PgConnection,
    ctx: &Context,
    order: Uuid,
    money: &repo::OrderMoney,
) -> Result<Then> {
    match (money.status, money.payment_status) {
        (OrderStatus::Pending, _) => {
            let moved =
                lifecycle::move_in(tx, ctx, order, OrderStatus::Paid, Actor::System, None).await?;
            Ok(Then::Moved(Box::new(moved)))
        }
        // Paid after it was cancelled (expired, or cancelled while the buyer paid): the goods
        // are back on sale, so the money goes back too.
        (OrderStatus::Cancelled, PaymentStatus::Unpaid) => {
            orders_repo::set_payment(&mut *tx, order, PaymentStatus::Paid, Money::ZERO).await?;
            orders_repo::record_event(
                &mut *tx,
                order,
                OrderStatus::Cancelled,
                HistoryRole::System,
                None,
                Some(OrderEvent::PaidAfterCancellation),
                Some("paid after the order was cancelled; refunded automatically"),
            )
            .await?;
            Ok(
                owe_refund(tx, order, RefundReason::PaidAfterCancellation, None)
                    .await?
                    .map_or(Then::Nothing, Then::Refund),
            )
        }
        // Paid already: another success of the same payment changes nothing.
        _ => Ok(Then::Nothing),
    }
}

async fn failed(tx: &mut sqlx::PgConnection, order: Uuid, message: Option<&str>) -> Result<Then> {
    let money = repo::lock_money(&mut *tx, order)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    // After the success (events arrive out of order), or after cancellation, a failed
    // attempt is old news.
    if money.status == OrderStatus::Pending {
        orders_repo::record_event(
            &mut *tx,
            order,
            OrderStatus::Pending,
            HistoryRole::System,
            None,
            Some(OrderEvent::PaymentFailed),
            Some(message.unwrap_or("the payment failed")),
        )
        .await?;
    }
    Ok(Then::Nothing)
}

/// Records, in the caller's transaction, a refund of all that is left of an order's
/// payment; `None` when nothing is left. Sent after the commit with [`send_refund`].
pub(crate) async fn owe_refund(
    tx: &mut sqlx::PgConnection,
    order: Uuid,
    reason: RefundReason,
    by: Option<Uuid>,
) -> Result<Option<Uuid>> {
    let money = repo::lock_money(&mut *tx, order)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    let left = refundable(&money);
    if left == Money::ZERO || money.payment_status == PaymentStatus::Unpaid {
        return Ok(None);
    }
    let id = Uuid::now_v7();
    repo::insert_refund(&mut *tx, id, order, left, reason, by).await?;
    Ok(Some(id))
}

/// What is left to refund: the total, less what was refunded and what is being refunded.
fn refundable(m: &repo::OrderMoney) -> Money {
    Money::from_decimal(m.total - m.amount_refunded - m.pending)
}

/// Staff refund all (`amount` `None`) or part of an order paid through the provider. The
/// refund is recorded, then made at the provider; a full refund moves the order to
/// `refunded`, a partial one is recorded on its history. The buyer is mailed either way.
pub async fn refund(
    ctx: &Context,
    staff_id: Option<Uuid>,
    order: Uuid,
    amount: Option<Money>,
) -> Result<Refund> {
    provider(ctx)?;
    let mut tx = ctx.pool.begin().await?;
    let money = repo::lock_money(&mut *tx, order)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    if !matches!(
        money.status,
        OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Delivered
    ) {
        return Err(PaymentsError::NotRefundable(money.status));
    }
    if repo::payment_of(&mut *tx, order).await?.is_none() {
        return Err(PaymentsError::NotPaidThroughProvider);
    }
    let left = refundable(&money);
    let amount = amount.unwrap_or(left);
    if amount == Money::ZERO && left != Money::ZERO {
        return Err(Invalid::new("amount", "must be more than 0.00").into());
    }
    if amount > left || left == Money::ZERO {
        return Err(PaymentsError::RefundTooLarge(left));
    }
    let id = Uuid::now_v7();
    repo::insert_refund(
        &mut *tx,
        id,
        order,
        amount,
        RefundReason::RequestedByStaff,
        staff_id,
    )
    .await?;
    tx.commit().await?;
    send_refund(ctx, id).await
}

/// Makes a recorded refund at the provider, then applies it to the order, in one
/// transaction that holds the refund row: no other process sends it meanwhile, and the
/// provider's idempotency key (the refund's id) makes a second send after a crash refund
/// once. A refusal marks it failed; an outage leaves it pending for the worker.
pub async fn send_refund(ctx: &Context, id: Uuid) -> Result<Refund> {
    let provider = provider(ctx)?;
    let mut tx = ctx.pool.begin().await?;
    let Some(refund) = repo::claim_refund(&mut *tx, id).await? else {
        // Made already, failed, or being sent by another process.
        tx.rollback().await?;
        return repo::refund(&ctx.pool, id)
            .await?
            .ok_or(PaymentsError::NotFound);
    };
    let payment = repo::payment_of(&mut *tx, refund.order_id)
        .await?
        .ok_or(PaymentsError::NotPaidThroughProvider)?;
    let amount = Money::from_decimal(refund.amount);
    let amount_minor = amount
        .minor_units(exponent(&payment.currency))
        .ok_or_else(|| Invalid::new("amount", "is not refundable in the order's currency"))?;
    let made = provider
        .refund(NewRefund {
            intent_id: &payment.intent_id,
            amount_minor,
            idempotency_key: format!("swift-refund-{id}"),
        })
        .await;
    let provider_refund = match made {
        Ok(r) => r,
        Err(e) => {
            let status = match e {
                ProviderError::Refused(_) => RefundStatus::Failed,
                ProviderError::Unavailable(_) => RefundStatus::Pending,
            };
            metrics::counter!("swift_refunds_total", "result" => if status == RefundStatus::Failed { "failed" } else { "retrying" })
                .increment(1);
            repo::finish_refund(&mut *tx, id, status, None, Some(&e.to_string())).await?;
            tx.commit().await?;
            return Err(e.into());
        }
    };
    repo::finish_refund(
        &mut *tx,
        id,
        RefundStatus::Succeeded,
        Some(&provider_refund.id),
        None,
    )
    .await?;
    let moved = apply_refund(&mut tx, ctx, &refund, amount).await?;
    tx.commit().await?;
    metrics::counter!("swift_refunds_total", "result" => "succeeded").increment(1);
    match moved {
        Some(moved) => {
            moved.after_commit(ctx).await;
        }
        None => ctx.outbox_wake.now(),
    }
    repo::refund(&ctx.pool, id)
        .await?
        .ok_or(PaymentsError::NotFound)
}

/// Counts a made refund on its order: all of a paid order's money back moves it to
/// `refunded`; anything else is recorded on the history. The buyer is mailed.
async fn apply_refund(
    tx: &mut sqlx::PgConnection,
    ctx: &Context,
    refund: &Refund,
    amount: Money,
) -> Result<Option<Moved>> {
    let order = refund.order_id;
    let money = repo::lock_money(&mut *tx, order)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    let refunded = Money::from_decimal(money.amount_refunded + refund.amount);
    let all = refunded.amount() >= money.total;
    let actor = match (refund.requested_by, refund.reason) {
        (Some(staff), _) => Actor::Staff(staff),
        // Asked for at the command line.
        (None, RefundReason::RequestedByStaff) => Actor::Operator,
        (None, _) => Actor::System,
    };
    if all
        && matches!(
            money.status,
            OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Delivered
        )
    {
        let moved = lifecycle::move_in(tx, ctx, order, OrderStatus::Refunded, actor, None).await?;
        return Ok(Some(moved));
    }
    let status = if all {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    orders_repo::set_payment(&mut *tx, order, status, refunded).await?;
    let note = format!("refunded {amount}");
    orders_repo::record_event(
        &mut *tx,
        order,
        money.status,
        actor.role(),
        actor.id(),
        Some(OrderEvent::Refund),
        Some(&note),
    )
    .await?;
    let found = orders_repo::find(&mut *tx, order, None)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    lifecycle::mail_buyer(&mut *tx, ctx, &found, |to, link| {
        notices::refund(&ctx.config, to, &found, amount, link)
    })
    .await?;
    Ok(None)
}

/// An order's refunds, oldest first.
pub async fn refunds_of(ctx: &Context, order: Uuid) -> Result<Vec<Refund>> {
    Ok(repo::refunds_of(&ctx.pool, order).await?)
}

/// Cancels up to `batch` orders left unpaid past `PAYMENT_TIMEOUT`, their stock back on
/// sale; how many. Safe with several instances: each order is locked by one of them
/// (`SKIP LOCKED`), and one paid meanwhile is no longer pending.
pub async fn expire_unpaid(ctx: &Context, batch: i64) -> Result<usize> {
    let mut tx = ctx.pool.begin().await?;
    let ids = repo::lock_expired(&mut *tx, ctx.config.payment_timeout_seconds, batch).await?;
    let mut moved = Vec::with_capacity(ids.len());
    for id in &ids {
        moved.push(
            lifecycle::move_in(
                &mut tx,
                ctx,
                *id,
                OrderStatus::Cancelled,
                Actor::System,
                Some(OrderEvent::PaymentExpired),
            )
            .await?,
        );
    }
    tx.commit().await?;
    metrics::counter!("swift_orders_expired_total").increment(ids.len() as u64);
    for m in moved {
        m.after_commit(ctx).await;
    }
    Ok(ids.len())
}

/// How long a pending refund waits before the worker takes it over from its sender.
pub const STALLED_REFUND_SECONDS: i64 = 60;

/// Sends refunds left pending (a crash, an outage); how many went through.
pub async fn retry_stalled_refunds(ctx: &Context) -> Result<usize> {
    let mut sent = 0;
    for id in repo::stalled_refunds(&ctx.pool, STALLED_REFUND_SECONDS).await? {
        match send_refund(ctx, id).await {
            Ok(r) if r.status == RefundStatus::Succeeded => sent += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, refund = %id, "refund still not sent"),
        }
    }
    Ok(sent)
}

/// Expires unpaid orders and retries stalled refunds every `poll`, until aborted.
pub fn spawn_worker(ctx: Context, poll: Duration) -> tokio::task::JoinHandle<()> {
    const BATCH: i64 = 20;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(poll);
        loop {
            every.tick().await;
            loop {
                match expire_unpaid(&ctx, BATCH).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "payments worker: expiring unpaid orders failed");
                        break;
                    }
                }
            }
            if let Err(e) = retry_stalled_refunds(&ctx).await {
                tracing::warn!(error = %e, "payments worker: retrying refunds failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn order(total: &str, currency: &str) -> repo::OrderMoney {
        repo::OrderMoney {
            status: OrderStatus::Pending,
            payment_status: PaymentStatus::Unpaid,
            total: total.parse().unwrap(),
            amount_refunded: Decimal::ZERO,
            pending: Decimal::ZERO,
            user_id: None,
            currency: currency.to_owned(),
            created_at: Utc::now(),
        }
    }

    fn received(amount_minor: i64, currency: &str) -> Received<'_> {
        Received {
            amount_minor,
            currency,
        }
    }

    #[test]
    fn only_the_exact_total_in_the_orders_currency_pays_it() {
        let order = order("19.99", "USD");
        assert!(
            received(1999, "usd").pays(&order),
            "Stripe writes lower case"
        );
        assert!(received(1999, "USD").pays(&order));
        assert!(!received(1998, "usd").pays(&order), "less");
        assert!(!received(2000, "usd").pays(&order), "more");
        assert!(!received(1999, "eur").pays(&order), "another currency");
        assert!(!received(0, "usd").pays(&order));
        assert!(received(0, "usd").pays(&self::order("0.00", "USD")));
    }

    #[test]
    fn what_arrived_is_told_in_the_currencys_units() {
        assert_eq!(received(499, "usd").describe(), "4.99 USD");
        assert_eq!(received(5, "eur").describe(), "0.05 EUR");
        // Not an amount of money at all: told as it came.
        assert_eq!(received(-5, "eur").describe(), "-5 minor units of EUR");
        // JPY has no minor unit: no store sells in it, so its amount is not guessed at.
        assert_eq!(received(500, "jpy").describe(), "500 minor units of JPY");
    }
}
