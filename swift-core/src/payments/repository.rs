//! SQL for payments, refunds and the webhook events already handled.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::money::Money;
use crate::orders::{OrderStatus, PaymentStatus};

/// An order's payment at the provider.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub provider: String,
    pub intent_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

pub async fn payment_of(
    ex: impl PgExecutor<'_>,
    order_id: Uuid,
) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(
        "SELECT provider, intent_id, amount_minor, currency FROM payments WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(ex)
    .await
}

/// Records an order's payment; `false` when it already had one (a concurrent request won).
pub async fn insert_payment(
    ex: impl PgExecutor<'_>,
    order_id: Uuid,
    p: &PaymentRow,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO payments (order_id, provider, intent_id, amount_minor, currency) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(&p.provider)
    .bind(&p.intent_id)
    .bind(p.amount_minor)
    .bind(&p.currency)
    .execute(ex)
    .await?
    .rows_affected()
        == 1)
}

/// The order a provider's payment belongs to.
pub async fn order_of_intent(
    ex: impl PgExecutor<'_>,
    intent_id: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT order_id FROM payments WHERE intent_id = $1")
        .bind(intent_id)
        .fetch_optional(ex)
        .await
}

/// Records a webhook event as handled; `false` when it already was (a redelivery). Called
/// in the transaction that applies the event, so an event is applied once or not at all;
/// a concurrent delivery of the same event waits here for the first to commit.
pub async fn record_event(ex: impl PgExecutor<'_>, id: &str, kind: &str) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("INSERT INTO payment_events (id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(kind)
            .execute(ex)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Handled events are kept this long: Stripe redelivers for up to three days.
pub const KEEP_EVENTS_DAYS: i32 = 30;

pub async fn prune_events(ex: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM payment_events WHERE received_at < now() - make_interval(days => $1)",
    )
    .bind(KEEP_EVENTS_DAYS)
    .execute(ex)
    .await?
    .rows_affected())
}

/// An order's money, locked for a change to it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderMoney {
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub total: rust_decimal::Decimal,
    pub amount_refunded: rust_decimal::Decimal,
    /// Refunds asked for but not yet made.
    pub pending: rust_decimal::Decimal,
    pub user_id: Option<Uuid>,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// Locks an order row and reads its money.
pub async fn lock_money(
    ex: impl PgExecutor<'_>,
    order_id: Uuid,
) -> sqlx::Result<Option<OrderMoney>> {
    sqlx::query_as(
        "SELECT o.status, o.payment_status, o.total, o.amount_refunded, o.user_id, o.currency, o.created_at, \
                (SELECT coalesce(sum(amount), 0) FROM refunds r WHERE r.order_id = o.id AND r.status = 'pending') AS pending \
         FROM orders o WHERE o.id = $1 FOR UPDATE OF o",
    )
    .bind(order_id)
    .fetch_optional(ex)
    .await
}

/// Why money went back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "refund_reason", rename_all = "snake_case")]
pub enum RefundReason {
    /// Staff refunded all or part of an order.
    RequestedByStaff,
    /// A paid order was cancelled.
    OrderCancelled,
    /// The payment arrived after the order had been cancelled (unpaid too long, or by the
    /// buyer while paying).
    PaidAfterCancellation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "refund_status", rename_all = "snake_case")]
pub enum RefundStatus {
    /// Recorded; not yet made by the provider.
    Pending,
    Succeeded,
    /// The provider refused it; nothing went back.
    Failed,
}

/// A refund as recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Refund {
    pub id: Uuid,
    pub order_id: Uuid,
    pub amount: rust_decimal::Decimal,
    pub reason: RefundReason,
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    pub requested_by: Option<Uuid>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

const REFUND_COLUMNS: &str = "id, order_id, amount, reason, status, provider_refund_id, requested_by, last_error, created_at";

pub async fn insert_refund(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    order_id: Uuid,
    amount: Money,
    reason: RefundReason,
    requested_by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refunds (id, order_id, amount, reason, requested_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(order_id)
    .bind(amount.amount())
    .bind(reason)
    .bind(requested_by)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn refund(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Refund>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// An order's refunds, oldest first.
pub async fn refunds_of(ex: impl PgExecutor<'_>, order_id: Uuid) -> sqlx::Result<Vec<Refund>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY created_at, id"
    )))
    .bind(order_id)
    .fetch_all(ex)
    .await
}

/// Takes a pending refund to send, locked so that no other process sends it meanwhile;
/// `None` when it is not pending or another process holds it.
pub async fn claim_refund(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Refund>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn finish_refund(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    status: RefundStatus,
    provider_refund_id: Option<&str>,
    last_error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE refunds SET status = $2, provider_refund_id = coalesce($3, provider_refund_id), \
         last_error = $4, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(provider_refund_id)
    .bind(last_error)
    .execute(ex)
    .await?;
    Ok(())
}

/// Pending refunds recorded over `older_than_seconds` ago: their sender died, or the
/// provider was down.
pub async fn stalled_refunds(
    ex: impl PgExecutor<'_>,
    older_than_seconds: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM refunds WHERE status = 'pending' \
         AND updated_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT 50",
    )
    .bind(older_than_seconds as f64)
    .fetch_all(ex)
    .await
}

/// Locks up to `limit` pending orders placed over `timeout_seconds` ago, skipping those
/// another process holds (another instance's worker, a webhook paying it right now).
pub async fn lock_expired(
    ex: impl PgExecutor<'_>,
    timeout_seconds: i64,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending' \
         AND created_at < now() - make_interval(secs => $1) \
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(timeout_seconds as f64)
    .bind(limit)
    .fetch_all(ex)
    .await
}
