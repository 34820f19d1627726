//! The SQL of stock and its ledger. Stock lives in `stock_levels`, one narrow row per
//! variant that orders update and nothing else does (see the migration that made it);
//! every statement that changes it writes the ledger row in the same statement (a
//! data-modifying `WITH`), so the two commit or fail together.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{MAX_STOCK, MovementReason, Mover, Take};

/// A variant's stock as the checks need it (`is_active`: the variant and its product).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRow {
    pub id: Uuid,
    pub sku: String,
    pub stock: i32,
    pub is_active: bool,
}

fn columns(lines: &[Take]) -> (Vec<Uuid>, Vec<i32>) {
    lines.iter().map(|l| (l.variant_id, l.quantity)).unzip()
}

/// Locks the lines' variants in id order.
pub async fn lock(conn: &mut PgConnection, lines: &[Take]) -> sqlx::Result<Vec<StockRow>> {
    let (ids, _) = columns(lines);
    sqlx::query_as(
        "SELECT s.variant_id AS id, v.sku, s.on_hand AS stock, v.is_active AND p.is_active AS is_active \
         FROM stock_levels s JOIN product_variants v ON v.id = s.variant_id \
         JOIN products p ON p.id = v.product_id \
         WHERE s.variant_id = ANY($1) ORDER BY s.variant_id FOR UPDATE OF s",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await
}

/// The lines' variants as they stand, without locking.
pub async fn read(conn: &mut PgConnection, lines: &[Take]) -> sqlx::Result<Vec<StockRow>> {
    let (ids, _) = columns(lines);
    sqlx::query_as(
        "SELECT s.variant_id AS id, v.sku, s.on_hand AS stock, v.is_active AND p.is_active AS is_active \
         FROM stock_levels s JOIN product_variants v ON v.id = s.variant_id \
         JOIN products p ON p.id = v.product_id WHERE s.variant_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await
}

/// Decrements every line whose variant is sold and has enough; returns each decremented
/// variant with its stock after.
pub async fn take(
    conn: &mut PgConnection,
    lines: &[Take],
    mover: Mover,
) -> sqlx::Result<Vec<(Uuid, i32)>> {
    let (ids, quantities) = columns(lines);
    sqlx::query_as(
        "WITH moved AS ( \
             UPDATE stock_levels s SET on_hand = s.on_hand - w.qty \
             FROM unnest($1::uuid[], $2::int[]) AS w(id, qty), product_variants v, products p \
             WHERE s.variant_id = w.id AND v.id = w.id AND p.id = v.product_id \
               AND v.is_active AND p.is_active AND s.on_hand >= w.qty \
             RETURNING s.variant_id AS id, w.qty, s.on_hand AS stock) \
         INSERT INTO inventory_movements (variant_id, delta, stock_after, reason, actor_id, order_id) \
         SELECT id, -qty, stock, $3, $4, $5 FROM moved RETURNING variant_id, stock_after",
    )
    .bind(&ids)
    .bind(&quantities)
    .bind(MovementReason::OrderPlaced)
    .bind(mover.actor)
    .bind(mover.order)
    .fetch_all(conn)
    .await
}

/// Puts back an order's quantities, variants locked in id order like checkout's; the
/// variants that had none left before.
pub async fn put_back(
    conn: &mut PgConnection,
    order_id: Uuid,
    actor: Option<Uuid>,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query(
        "SELECT variant_id FROM stock_levels \
         WHERE variant_id IN (SELECT variant_id FROM order_items WHERE order_id = $1) \
         ORDER BY variant_id FOR UPDATE",
    )
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query_as(
        "WITH lines AS (SELECT variant_id, sum(quantity)::int AS qty FROM order_items WHERE order_id = $1 GROUP BY variant_id), \
         moved AS (UPDATE stock_levels s SET on_hand = s.on_hand + l.qty FROM lines l \
                   WHERE s.variant_id = l.variant_id RETURNING s.variant_id AS id, l.qty, s.on_hand AS stock) \
         INSERT INTO inventory_movements (variant_id, delta, stock_after, reason, actor_id, order_id) \
         SELECT id, qty, stock, $3, $2, $1 FROM moved RETURNING variant_id, stock_after = delta",
    )
    .bind(order_id)
    .bind(actor)
    .bind(MovementReason::OrderCancelled)
    .fetch_all(conn)
    .await
    .map(|rows: Vec<(Uuid, bool)>| {
        rows.into_iter()
            .filter_map(|(id, was_out)| was_out.then_some(id))
            .collect()
    })
}

/// The product, its category and the price of each variant, for telling the catalog's
/// caches of a variant that ran out or came back.
pub async fn listed_as(
    ex: impl sqlx::PgExecutor<'_>,
    variants: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Option<Uuid>, rust_decimal::Decimal)>> {
    sqlx::query_as(
        "SELECT v.product_id, p.category_id, v.price FROM product_variants v \
         JOIN products p ON p.id = v.product_id WHERE v.id = ANY($1)",
    )
    .bind(variants)
    .fetch_all(ex)
    .await
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
             UPDATE stock_levels SET on_hand = (on_hand::bigint + $2)::int \
             WHERE variant_id = $1 AND on_hand::bigint + $2 BETWEEN 0 AND $3 \
             RETURNING variant_id AS id, on_hand AS stock) \
         INSERT INTO inventory_movements (variant_id, delta, stock_after, reason, actor_id, note) \
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

/// Each variant's stock, without locking.
pub async fn levels(ex: impl sqlx::PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, i32)>> {
    sqlx::query_as("SELECT variant_id, on_hand FROM stock_levels WHERE variant_id = ANY($1)")
        .bind(ids)
        .fetch_all(ex)
        .await
}

pub async fn current(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE variant_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks one variant's row; its stock.
pub async fn lock_one(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE variant_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Sets a locked variant's stock from `before` to `after`, with the difference in the ledger.
pub async fn set(
    conn: &mut PgConnection,
    id: Uuid,
    before: i32,
    after: i32,
    reason: MovementReason,
    mover: Mover,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH moved AS (UPDATE stock_levels SET on_hand = $3 WHERE variant_id = $1 RETURNING variant_id AS id) \
         INSERT INTO inventory_movements (variant_id, delta, stock_after, reason, actor_id) \
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

/// Opens a new variant's stock row, empty (`set` then fills it, with its ledger row).
pub async fn open(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO stock_levels (variant_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
