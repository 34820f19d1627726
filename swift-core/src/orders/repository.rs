//! SQL for orders: loading them with their lines and history in three queries per page,
//! whatever the page size (no N+1).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::types::{Address, HistoryEntry, HistoryRole, Order, OrderItem, OrderStatus};
use crate::money::Money;
use crate::pagination::PageRequest;

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    number: String,
    user_id: Option<Uuid>,
    status: OrderStatus,
    subtotal: rust_decimal::Decimal,
    total: rust_decimal::Decimal,
    currency: String,
    shipping_address: sqlx::types::Json<Address>,
    notes: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const ORDER_COLUMNS: &str = "id, number, user_id, status, subtotal, total, currency, shipping_address, notes, created_at, updated_at";

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
        "SELECT order_id, product_id, sku, name, unit_price, quantity, line_total \
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
        "SELECT order_id, status, at, by_role FROM order_history WHERE order_id = ANY($1) ORDER BY order_id, id",
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
            subtotal: Money::from_decimal(r.subtotal),
            total: Money::from_decimal(r.total),
            shipping_address: r.shipping_address.0,
            id: r.id,
            number: r.number,
            user_id: r.user_id,
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

/// Locks an order row for a status change; returns its owner and status.
pub async fn lock(
    ex: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<(Option<Uuid>, String)>> {
    sqlx::query_as("SELECT user_id, status FROM orders WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Filters of order lists.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &OrderFilter) {
    qb.push(" WHERE true");
    if let Some(user) = f.user_id {
        qb.push(" AND user_id = ").push_bind(user);
    }
    if let Some(status) = f.status {
        qb.push(" AND status = ").push_bind(status.as_str());
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
    sqlx::query(
        "INSERT INTO order_history (order_id, status, by_role, actor_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(order_id)
    .bind(status)
    .bind(by_role)
    .bind(actor_id)
    .execute(ex)
    .await?;
    Ok(())
}
