//! The SQL of stock and its ledger. Every statement that changes stock writes the ledger
//! row in the same statement (a data-modifying `WITH`), so the two commit or fail together.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{MAX_STOCK, MovementReason, Mover, Take};

/// A product's stock as the checks need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRow {
    pub id: Uuid,
    pub sku: String,
    pub stock: i32,
    pub is_active: bool,
}

fn columns(lines: &[Take]) -> (Vec<Uuid>, Vec<i32>) {
    lines.iter().map(|l| (l.product_id, l.quantity)).unzip()
}

/// Locks the lines' products in id order.
pub async fn lock(conn: &mut PgConnection, lines: &[Take]) -> sqlx::Result<Vec<StockRow>> {
    let (ids, _) = columns(lines);
    sqlx::query_as(
        "SELECT id, sku, stock, is_active FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await
}

/// The lines' products as they stand, without locking.
pub async fn read(conn: &mut PgConnection, lines: &[Take]) -> sqlx::Result<Vec<StockRow>> {
    let (ids, _) = columns(lines);
    sqlx::query_as("SELECT id, sku, stock, is_active FROM products WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(conn)
        .await
}

/// Decrements every line whose product is sold and has enough; returns how many were.
pub async fn take(conn: &mut PgConnection, lines: &[Take], mover: Mover) -> sqlx::Result<usize> {
    let (ids, quantities) = columns(lines);
    let taken: Vec<Uuid> = sqlx::query_scalar(
        "WITH moved AS ( \
             UPDATE products p SET stock = p.stock - w.qty, updated_at = now() \
             FROM unnest($1::uuid[], $2::int[]) AS w(id, qty) \
             WHERE p.id = w.id AND p.is_active AND p.stock >= w.qty \
             RETURNING p.id, w.qty, p.stock) \
         INSERT INTO inventory_movements (product_id, delta, stock_after, reason, actor_id, order_id) \
         SELECT id, -qty, stock, $3, $4, $5 FROM moved RETURNING product_id",
    )
    .bind(&ids)
    .bind(&quantities)
    .bind(MovementReason::OrderPlaced)
    .bind(mover.actor)
    .bind(mover.order)
    .fetch_all(conn)
    .await?;
    Ok(taken.len())
}

/// Puts back an order's quantities, products locked in id order like checkout's.
pub async fn put_back(conn: &mut PgConnection, order_id: Uuid, actor: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT p.id FROM products p WHERE p.id IN (SELECT product_id FROM order_items WHERE order_id = $1) \
         ORDER BY p.id FOR UPDATE",
    )
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "WITH lines AS (SELECT product_id, sum(quantity)::int AS qty FROM order_items WHERE order_id = $1 GROUP BY product_id), \
         moved AS (UPDATE products p SET stock = p.stock + l.qty, updated_at = now() FROM lines l \
                   WHERE p.id = l.product_id RETURNING p.id, l.qty, p.stock) \
         INSERT INTO inventory_movements (product_id, delta, stock_after, reason, actor_id, order_id) \
         SELECT id, qty, stock, $3, $2, $1 FROM moved",
    )
    .bind(order_id)
    .bind(actor)
    .bind(MovementReason::OrderCancelled)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves stock by `delta` unless it would leave 0..=`MAX_STOCK` (the sum taken in bigint, so
/// no delta overflows); the new stock, or `None` when refused or there is no such product.
pub async fn adjust(
    conn: &mut PgConnection,
    id: Uuid,
    delta: i32,
    note: &str,
    mover: Mover,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "WITH moved AS ( \
             UPDATE products SET stock = (stock::bigint + $2)::int, updated_at = now() \
             WHERE id = $1 AND stock::bigint + $2 BETWEEN 0 AND $3 RETURNING id, stock) \
         INSERT INTO inventory_movements (product_id, delta, stock_after, reason, actor_id, note) \
         SELECT id, $2, stock, $4, $5, $6 FROM moved RETURNING stock_after",
    )
    .bind(id)
    .bind(delta)
    .bind(i64::from(MAX_STOCK))
    .bind(MovementReason::StaffAdjustment)
    .bind(mover.actor)
    .bind(note)
    .fetch_optional(conn)
    .await
}

pub async fn current(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks one product's row; its stock.
pub async fn lock_one(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Sets a locked product's stock from `before` to `after`, with the difference in the ledger.
pub async fn set(
    conn: &mut PgConnection,
    id: Uuid,
    before: i32,
    after: i32,
    reason: MovementReason,
    mover: Mover,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH moved AS (UPDATE products SET stock = $3, updated_at = now() WHERE id = $1 RETURNING id) \
         INSERT INTO inventory_movements (product_id, delta, stock_after, reason, actor_id) \
         SELECT id, $3 - $2, $3, $4, $5 FROM moved",
    )
    .bind(id)
    .bind(before)
    .bind(after)
    .bind(reason)
    .bind(mover.actor)
    .execute(conn)
    .await?;
    Ok(())
}
