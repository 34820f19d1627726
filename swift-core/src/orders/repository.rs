//! SQL for orders: loading them with their lines and history in three queries per page,
//! whatever the page size (no N+1).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::pricing::TaxLine;
use super::types::{
    Address, HistoryEntry, HistoryRole, Order, OrderEvent, OrderItem, OrderStatus, PaymentStatus,
    Totals,
};
use crate::catalog::OptionValue;
use crate::money::Money;
use crate::pagination::PageRequest;

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    number: String,
    user_id: Option<Uuid>,
    guest_email: Option<String>,
    status: OrderStatus,
    payment_status: PaymentStatus,
    amount_refunded: rust_decimal::Decimal,
    subtotal: rust_decimal::Decimal,
    discount_total: rust_decimal::Decimal,
    shipping_total: rust_decimal::Decimal,
    tax_total: rust_decimal::Decimal,
    total: rust_decimal::Decimal,
    currency: String,
    shipping_address: sqlx::types::Json<Address>,
    billing_address: Option<sqlx::types::Json<Address>>,
    shipping_method: Option<String>,
    discount_code: Option<String>,
    tax_lines: sqlx::types::Json<Vec<TaxLine>>,
    notes: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const ORDER_COLUMNS: &str = "id, number, user_id, guest_email, status, payment_status, amount_refunded, subtotal, discount_total, \
     shipping_total, tax_total, total, currency, shipping_address, billing_address, notes, created_at, updated_at, \
     shipping_method, discount_code, tax_lines";

#[derive(sqlx::FromRow)]
struct ItemRow {
    order_id: Uuid,
    #[sqlx(flatten)]
    item: OrderItem,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    order_id: Uuid,
    #[sqlx(flatten)]
    entry: HistoryEntry,
}

/// Attaches lines and history to order rows (two queries for any number of orders).
async fn assemble(conn: &mut sqlx::PgConnection, rows: Vec<OrderRow>) -> sqlx::Result<Vec<Order>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items: HashMap<Uuid, Vec<OrderItem>> = HashMap::new();
    let item_rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT order_id, product_id, variant_id, sku, name, options, unit_price, quantity, line_total \
         FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in item_rows {
        items.entry(r.order_id).or_default().push(r.item);
    }
    let mut history: HashMap<Uuid, Vec<HistoryEntry>> = HashMap::new();
    let history_rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT order_id, status, at, by_role, event, note FROM order_history WHERE order_id = ANY($1) ORDER BY order_id, id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in history_rows {
        history.entry(r.order_id).or_default().push(r.entry);
    }
    Ok(rows
        .into_iter()
        .map(|r| Order {
            items: items.remove(&r.id).unwrap_or_default(),
            history: history.remove(&r.id).unwrap_or_default(),
            status: r.status,
            payment_status: r.payment_status,
            amount_refunded: Money::from_decimal(r.amount_refunded),
            subtotal: Money::from_decimal(r.subtotal),
            discount_total: Money::from_decimal(r.discount_total),
            shipping_total: Money::from_decimal(r.shipping_total),
            tax_total: Money::from_decimal(r.tax_total),
            total: Money::from_decimal(r.total),
            shipping_address: r.shipping_address.0,
            billing_address: r.billing_address.map(|a| a.0),
            shipping_method: r.shipping_method,
            discount_code: r.discount_code,
            tax_lines: r.tax_lines.0,
            id: r.id,
            number: r.number,
            user_id: r.user_id,
            guest_email: r.guest_email,
            currency: r.currency,
            notes: r.notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// One order; with `owner`, only when that user placed it.
pub async fn find(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    owner: Option<Uuid>,
) -> sqlx::Result<Option<Order>> {
    let row: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2)"
    )))
    .bind(id)
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(assemble(conn, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// Where an order's mail goes: the guest's address, or the customer's account's (none once
/// the account is deleted).
pub async fn buyer_email(ex: impl PgExecutor<'_>, order: &Order) -> sqlx::Result<Option<String>> {
    match (&order.guest_email, order.user_id) {
        (Some(email), _) => Ok(Some(email.clone())),
        (None, Some(user)) => {
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(ex)
                .await
        }
        (None, None) => Ok(None),
    }
}

/// Gives `user_id` the guest orders placed with `email`; how many.
pub async fn claim_guest_orders(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    email: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE orders SET user_id = $1, updated_at = now() \
         WHERE user_id IS NULL AND guest_email IS NOT NULL AND guest_email = $2",
    )
    .bind(user_id)
    .bind(email)
    .execute(ex)
    .await?
    .rows_affected())
}

/// Locks an order row for a status change; returns its owner and status.
pub async fn lock(
    ex: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<(Option<Uuid>, OrderStatus)>> {
    sqlx::query_as("SELECT user_id, status FROM orders WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The id of the order numbered `number`.
pub async fn id_of_number(ex: impl PgExecutor<'_>, number: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM orders WHERE number = $1")
        .bind(number)
        .fetch_optional(ex)
        .await
}

/// Filters of order lists.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    /// Placed at or after.
    pub since: Option<DateTime<Utc>>,
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &OrderFilter) {
    qb.push(" WHERE true");
    if let Some(user) = f.user_id {
        qb.push(" AND user_id = ").push_bind(user);
    }
    if let Some(status) = f.status {
        qb.push(" AND status = ").push_bind(status);
    }
    if let Some(since) = f.since {
        qb.push(" AND created_at >= ").push_bind(since);
    }
}

/// A page of orders, newest first, with the total count.
pub async fn list(
    conn: &mut sqlx::PgConnection,
    f: &OrderFilter,
    page: PageRequest,
) -> sqlx::Result<(Vec<Order>, i64)> {
    let mut qb = QueryBuilder::new(format!("SELECT {ORDER_COLUMNS} FROM orders"));
    push_filter(&mut qb, f);
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let rows: Vec<OrderRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut qb = QueryBuilder::new("SELECT count(*) FROM orders");
    push_filter(&mut qb, f);
    let total: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    Ok((assemble(conn, rows).await?, total))
}

pub async fn record_history(
    ex: impl PgExecutor<'_>,
    order_id: Uuid,
    status: OrderStatus,
    by_role: HistoryRole,
    actor_id: Option<Uuid>,
) -> sqlx::Result<()> {
    record_event(ex, order_id, status, by_role, actor_id, None, None).await
}

/// A history entry, with what happened when it was not (only) a status change.
pub async fn record_event(
    ex: impl PgExecutor<'_>,
    order_id: Uuid,
    status: OrderStatus,
    by_role: HistoryRole,
    actor_id: Option<Uuid>,
    event: Option<OrderEvent>,
    note: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO order_history (order_id, status, by_role, actor_id, event, note) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id)
    .bind(status)
    .bind(by_role)
    .bind(actor_id)
    .bind(event)
    .bind(note)
    .execute(ex)
    .await?;
    Ok(())
}

/// An order with nothing to pay, paid as it is placed (by the system, "nothing to pay"),
/// at the instant of its first history entry.
pub async fn paid_as_placed(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH paid AS (UPDATE orders SET status = $2, payment_status = $3 WHERE id = $1) \
         INSERT INTO order_history (order_id, status, by_role, note, at) \
         VALUES ($1, $2, $4, $5, $6)",
    )
    .bind(id)
    .bind(OrderStatus::Paid)
    .bind(PaymentStatus::Paid)
    .bind(HistoryRole::System)
    .bind(NOTHING_TO_PAY)
    .bind(at)
    .execute(ex)
    .await?;
    Ok(())
}

/// The history note of an order paid as placed.
pub const NOTHING_TO_PAY: &str = "nothing to pay";

/// Sets where an order's money is.
pub async fn set_payment(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    status: PaymentStatus,
    amount_refunded: Money,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET payment_status = $2, amount_refunded = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(amount_refunded.amount())
    .execute(ex)
    .await?;
    Ok(())
}

/// A cart line as checkout prices it.
#[derive(sqlx::FromRow)]
pub struct CheckoutLine {
    pub cart_item_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    /// The variant's option values, named.
    pub options: sqlx::types::Json<Vec<OptionValue>>,
    pub quantity: i32,
    pub sku: String,
    pub name: String,
    pub price: rust_decimal::Decimal,
    pub stock: i32,
    pub is_active: bool,
    pub weight_grams: Option<i32>,
}

/// The variant `v` (of product `p`)'s option values as `[{"name", "value"}]`, in order.
pub const OPTIONS_OF_V: &str = "(SELECT coalesce(jsonb_agg(jsonb_build_object('name', o.name, 'value', v.option_values[o.position]) \
     ORDER BY o.position), '[]') FROM product_options o WHERE o.product_id = v.product_id)";

/// A new order's row, before its lines.
pub struct NewOrder<'a> {
    pub id: Uuid,
    /// The customer's; `None` for a guest, whose address is `guest_email`.
    pub user_id: Option<Uuid>,
    pub guest_email: Option<&'a str>,
    /// The cart the lines come from.
    pub cart_id: Uuid,
    pub totals: Totals,
    pub currency: &'a str,
    pub shipping_address: &'a Address,
    pub billing_address: Option<&'a Address>,
    pub shipping_method: Option<&'a str>,
    pub discount_code: Option<&'a str>,
    pub tax_lines: &'a [TaxLine],
    pub notes: &'a str,
}

/// What the database chose for a new order: its number and times.
#[derive(sqlx::FromRow)]
pub struct Placed {
    pub number: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history_at: DateTime<Utc>,
}

/// Writes a new order in one statement: the row with the next human number
/// (`SW-100001`, ...), its lines numbered from 1 with the name and price of the moment, its
/// first history entry (placed by the customer), and removes exactly the ordered lines from
/// the cart (a line added meanwhile stays).
pub async fn place(
    ex: impl PgExecutor<'_>,
    o: &NewOrder<'_>,
    lines: &[CheckoutLine],
    line_totals: &[Money],
) -> sqlx::Result<Placed> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let variants: Vec<Uuid> = lines.iter().map(|l| l.variant_id).collect();
    let options: Vec<String> = lines
        .iter()
        .map(|l| serde_json::to_string(&l.options.0).expect("option values serialise"))
        .collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let prices: Vec<rust_decimal::Decimal> = lines.iter().map(|l| l.price).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let totals: Vec<rust_decimal::Decimal> = line_totals.iter().map(Money::amount).collect();
    let cart_items: Vec<Uuid> = lines.iter().map(|l| l.cart_item_id).collect();
    sqlx::query_as(
        "WITH o AS ( \
             INSERT INTO orders (id, number, user_id, guest_email, status, subtotal, discount_total, \
                                 shipping_total, tax_total, total, currency, shipping_address, billing_address, notes, \
                                 shipping_method, discount_code, tax_lines) \
             VALUES ($1, 'SW-' || nextval('order_number_seq'), $2, $19, $3, $4, $21, $22, $23, $24, $5, $6, $20, $7, \
                     $25, $26, $27) \
             RETURNING number, created_at, updated_at), \
         i AS ( \
             INSERT INTO order_items (order_id, line, product_id, variant_id, sku, name, options, unit_price, quantity, line_total) \
             SELECT $1, ord, id, variant, sku, name, opts::jsonb, price, qty, total \
             FROM unnest($8::uuid[], $16::uuid[], $9::text[], $10::text[], $17::text[], $11::numeric[], $12::int[], $13::numeric[]) \
                  WITH ORDINALITY AS v(id, variant, sku, name, opts, price, qty, total, ord)), \
         h AS ( \
             INSERT INTO order_history (order_id, status, by_role, actor_id) VALUES ($1, $3, $14, $2) \
             RETURNING at), \
         d AS (DELETE FROM cart_items WHERE cart_id = $18 AND id = ANY($15)), \
         c AS (UPDATE carts SET discount_code_id = NULL WHERE id = $18 AND discount_code_id IS NOT NULL) \
         SELECT o.number, o.created_at, o.updated_at, h.at AS history_at FROM o, h",
    )
    .bind(o.id)
    .bind(o.user_id)
    .bind(OrderStatus::Pending)
    .bind(o.totals.subtotal.amount())
    .bind(o.currency)
    .bind(sqlx::types::Json(o.shipping_address))
    .bind(o.notes)
    .bind(&ids)
    .bind(&skus)
    .bind(&names)
    .bind(&prices)
    .bind(&quantities)
    .bind(&totals)
    .bind(HistoryRole::Customer)
    .bind(&cart_items)
    .bind(&variants)
    .bind(&options)
    .bind(o.cart_id)
    .bind(o.guest_email)
    .bind(o.billing_address.map(sqlx::types::Json))
    .bind(o.totals.discount_total.amount())
    .bind(o.totals.shipping_total.amount())
    .bind(o.totals.tax_total.amount())
    .bind(o.totals.total.amount())
    .bind(o.shipping_method)
    .bind(o.discount_code)
    .bind(sqlx::types::Json(o.tax_lines))
    .fetch_one(ex)
    .await
}

/// An order's total.
pub async fn total_of(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Money> {
    sqlx::query_scalar("SELECT total FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(ex)
        .await
        .map(Money::from_decimal)
}

/// Moves an order to `status`.
pub async fn set_status(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    status: OrderStatus,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE orders SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(ex)
        .await?;
    Ok(())
}
