//! Stock and its ledger, in one place.
//!
//! This module is the only code that writes stock (`stock_levels`, one row per variant) or
//! the ledger (`inventory_movements`): checkout takes stock, cancellation puts it back, staff
//! adjust or set it, the CSV import and variant creation set it. Every change writes its ledger row
//! in the same statement as the change itself, so the two never disagree, and the ledger's
//! `reason` is a [`MovementReason`], not free text (staff's own words go in `note`).
//!
//! A hot variant is one row every buyer must update; whoever holds its lock makes all the
//! others wait. So [`take_for_order`] is meant to run last in a checkout: everything that
//! does not need the lock (reading the cart, writing the order, its lines and history) comes
//! first, then one conditional decrement, then the commit. Several rows are locked in id
//! order, so two checkouts never deadlock; one row is decremented directly, since a single
//! lock has no order to keep.

mod live;
mod repository;

use uuid::Uuid;

pub use live::LiveStock;
pub use repository::StockRow;

/// Why stock moved (`stock_movement_reason` in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "stock_movement_reason", rename_all = "snake_case")]
pub enum MovementReason {
    /// The stock a variant was created with.
    InitialStock,
    /// Staff moved stock by a delta (`POST /admin/products/{id}/variants/{variant_id}/stock`).
    StaffAdjustment,
    /// Staff set a new stock level (`PATCH /admin/products/{id}/variants/{variant_id}`).
    StaffSet,
    /// A CSV import set the stock.
    Import,
    /// Checkout took it.
    OrderPlaced,
    /// A cancelled order gave it back.
    OrderCancelled,
}

/// The most stock one variant can hold (create, PATCH, CSV and adjustments alike).
pub const MAX_STOCK: i32 = 1_000_000_000;

/// One order line's demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub variant_id: Uuid,
    pub quantity: i32,
}

/// One line that cannot be bought as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortage {
    pub variant_id: Uuid,
    pub sku: String,
    pub requested: i32,
    /// 0 for a variant that is no longer sold.
    pub available: i32,
}

/// Who moved stock, for the ledger.
#[derive(Debug, Clone, Copy)]
pub struct Mover {
    pub actor: Option<Uuid>,
    pub order: Option<Uuid>,
}

/// Variants whose stock crossed zero (ran out, or came back): the only stock changes a
/// cached listing can show (`in_stock`). Pass to [`announce`] after the commit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "announce the variants that ran out or came back after the commit"]
pub struct Crossed(pub Vec<Uuid>);

impl Crossed {
    fn of(variant: Uuid, before: i32, after: i32) -> Self {
        Self(if (before > 0) != (after > 0) {
            vec![variant]
        } else {
            vec![]
        })
    }
}

/// Takes the stock of an order's lines, all or nothing: `Ok(Err(shortages))` names every
/// line that is short or no longer sold, and then nothing was taken (the caller rolls back
/// its transaction anyway). Lines must name distinct variants. `Ok(Ok(_))` names the
/// variants this order sold out.
pub async fn take_for_order(
    conn: &mut sqlx::PgConnection,
    order_id: Uuid,
    buyer: Option<Uuid>,
    lines: &[Take],
) -> sqlx::Result<Result<Crossed, Vec<Shortage>>> {
    let mover = Mover {
        actor: buyer,
        order: Some(order_id),
    };
    if lines.len() > 1 {
        // Locked in id order before any is changed: the check below and the decrement see
        // the same stock, and checkouts sharing products queue instead of deadlocking.
        let rows = repository::lock(&mut *conn, lines).await?;
        let shortages = shortages(lines, &rows);
        if !shortages.is_empty() {
            return Ok(Err(shortages));
        }
    }
    let taken = repository::take(&mut *conn, lines, mover).await?;
    if taken.len() == lines.len() {
        let sold_out = taken
            .into_iter()
            .filter_map(|(id, after)| (after == 0).then_some(id))
            .collect();
        return Ok(Ok(Crossed(sold_out)));
    }
    // One line, refused by its condition: say how much there is.
    let rows = repository::read(&mut *conn, lines).await?;
    Ok(Err(shortages(lines, &rows)))
}

/// The lines that `rows` (their variants' stock as read) cannot fill: short, no longer
/// sold, or gone. The one statement of that rule.
pub fn shortages(lines: &[Take], rows: &[StockRow]) -> Vec<Shortage> {
    lines
        .iter()
        .filter_map(|line| {
            let row = rows.iter().find(|r| r.id == line.variant_id);
            let available = row.filter(|r| r.is_active).map_or(0, |r| r.stock);
            (available < line.quantity).then(|| Shortage {
                variant_id: line.variant_id,
                sku: row.map(|r| r.sku.clone()).unwrap_or_default(),
                requested: line.quantity,
                available,
            })
        })
        .collect()
}

/// Gives back the stock of a cancelled order's lines, with a ledger row each.
pub async fn put_back_for_order(
    conn: &mut sqlx::PgConnection,
    order_id: Uuid,
    actor: Option<Uuid>,
) -> sqlx::Result<Crossed> {
    repository::put_back(conn, order_id, actor)
        .await
        .map(Crossed)
}

/// The outcome of a staff adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adjusted {
    /// The new stock, and whether it crossed zero.
    To(i32, Crossed),
    /// Refused: it would leave 0..=[`MAX_STOCK`]; the stock stays as it is.
    OutOfBounds {
        current: i32,
    },
    NoSuchVariant,
}

/// Moves stock by `delta` (staff), never below zero nor above [`MAX_STOCK`].
pub async fn adjust(
    conn: &mut sqlx::PgConnection,
    variant_id: Uuid,
    delta: i32,
    note: &str,
    actor: Option<Uuid>,
) -> sqlx::Result<Adjusted> {
    let mover = Mover { actor, order: None };
    if let Some(stock) = repository::adjust(&mut *conn, variant_id, delta, note, mover).await? {
        return Ok(Adjusted::To(
            stock,
            Crossed::of(variant_id, stock - delta, stock),
        ));
    }
    Ok(match repository::current(&mut *conn, variant_id).await? {
        Some(current) => Adjusted::OutOfBounds { current },
        None => Adjusted::NoSuchVariant,
    })
}

/// Opens the stock of a variant just created, at `stock` (its ledger row says
/// [`MovementReason::InitialStock`], or `Import`), in the creating transaction.
pub async fn open(
    conn: &mut sqlx::PgConnection,
    variant_id: Uuid,
    stock: i32,
    reason: MovementReason,
    actor: Option<Uuid>,
) -> sqlx::Result<()> {
    repository::open(&mut *conn, variant_id).await?;
    // A new variant is announced as such (the variant's own change), not as stock moving.
    set(conn, variant_id, stock, reason, actor).await?;
    Ok(())
}

/// Sets a variant's stock to `stock` (within bounds, checked by the caller's parser), with
/// the difference in the ledger; nothing is written when it does not change. `None` when
/// there is no such variant.
pub async fn set(
    conn: &mut sqlx::PgConnection,
    variant_id: Uuid,
    stock: i32,
    reason: MovementReason,
    actor: Option<Uuid>,
) -> sqlx::Result<Option<Crossed>> {
    let Some(before) = repository::lock_one(&mut *conn, variant_id).await? else {
        return Ok(None);
    };
    if before != stock {
        let mover = Mover { actor, order: None };
        repository::set(&mut *conn, variant_id, before, stock, reason, mover).await?;
    }
    Ok(Some(Crossed::of(variant_id, before, stock)))
}

/// Tells this instance's catalog caches, after the commit, of variants that ran out or
/// came back (listings show `in_stock`); other instances hear of it from the
/// `stock_levels` trigger. Any other stock change shows nowhere cached: product pages read
/// stock live.
pub async fn announce(ctx: &crate::Context, crossed: Crossed) {
    use crate::catalog::changes::{Change, Facets, ProductsChanged};
    if crossed.0.is_empty() {
        return;
    }
    let change = match repository::listed_as(&ctx.pool, &crossed.0).await {
        Ok(rows) => Change::Products(ProductsChanged {
            ids: rows.iter().map(|r| r.0).collect(),
            categories: rows.iter().map(|r| r.1).collect(),
            prices: rows.iter().map(|r| r.2).collect(),
            facets: Facets::STOCK,
            moves: None,
        }),
        // Cannot say what it touched: drop everything rather than keep something stale.
        Err(_) => Change::Everything,
    };
    ctx.catalog_changes.apply(&change);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: Uuid, stock: i32, is_active: bool) -> StockRow {
        StockRow {
            id,
            sku: format!("SKU-{stock}"),
            stock,
            is_active,
        }
    }

    #[test]
    fn shortages_name_every_short_or_retired_line_and_only_those() {
        let (a, b, c, gone) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let lines = [
            Take {
                variant_id: a,
                quantity: 2,
            },
            Take {
                variant_id: b,
                quantity: 5,
            },
            Take {
                variant_id: c,
                quantity: 1,
            },
            Take {
                variant_id: gone,
                quantity: 1,
            },
        ];
        let rows = [row(a, 2, true), row(b, 4, true), row(c, 9, false)];
        let found = shortages(&lines, &rows);
        let named: Vec<(Uuid, i32)> = found.iter().map(|s| (s.variant_id, s.available)).collect();
        assert_eq!(named, vec![(b, 4), (c, 0), (gone, 0)]);
        assert!(shortages(&lines[..1], &rows).is_empty());
    }
}
