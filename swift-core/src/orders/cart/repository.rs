//! The SQL of carts: their rows, their lines, and merging a guest's into a customer's. The
//! service in `super` decides what to run and in which transaction.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{CartLine, CheckoutCart, Chosen, Destination};
use crate::orders::repository::{CheckoutLine, OPTIONS_OF_V};
use crate::orders::tax::{self, Place};

/// A cart row's choice columns, as [`Chosen`] reads them (`c` is the cart).
const CHOSEN_OF_C: &str =
    "c.ship_to_country, c.ship_to_region, c.shipping_method_id, c.discount_code_id";

/// Which cart: a customer's (by user) or a guest's (by the hash of its token).
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Customer(Uuid),
    Guest(&'a [u8]),
}

/// The customer's cart, opened when they have none (touched when they have).
pub async fn open_customer_cart(ex: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO carts (user_id) VALUES ($1) \
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING id",
    )
    .bind(user_id)
    .fetch_one(ex)
    .await
}

/// A new guest cart, stored under the hash of its token.
pub async fn open_guest_cart(ex: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<Uuid> {
    sqlx::query_scalar("INSERT INTO carts (token_hash) VALUES ($1) RETURNING id")
        .bind(token_hash)
        .fetch_one(ex)
        .await
}

/// The owner's cart, if there is one; `touch` marks it used (it is about to change).
pub async fn find_cart(
    ex: impl PgExecutor<'_>,
    owner: Owner<'_>,
    touch: bool,
) -> sqlx::Result<Option<Uuid>> {
    let query = match (owner, touch) {
        (Owner::Customer(user_id), _) => {
            sqlx::query_scalar("SELECT id FROM carts WHERE user_id = $1").bind(user_id)
        }
        (Owner::Guest(hash), true) => sqlx::query_scalar(
            "UPDATE carts SET updated_at = now() WHERE token_hash = $1 RETURNING id",
        )
        .bind(hash),
        (Owner::Guest(hash), false) => {
            sqlx::query_scalar("SELECT id FROM carts WHERE token_hash = $1").bind(hash)
        }
    };
    query.fetch_optional(ex).await
}

/// A cart row's own columns.
#[derive(sqlx::FromRow)]
pub struct CartRow {
    pub cart_updated_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub chosen: Chosen,
}

/// A cart line with the cart row's columns (the same on every line).
#[derive(sqlx::FromRow)]
pub struct LineRow {
    #[sqlx(flatten)]
    pub line: CartLine,
    #[sqlx(flatten)]
    pub cart: CartRow,
}

/// The cart's lines with the variants as they are now, oldest first, each carrying the
/// cart row's columns: one round trip for a cart with lines.
pub async fn lines(ex: impl PgExecutor<'_>, cart_id: Uuid) -> sqlx::Result<Vec<LineRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ci.id, p.id AS product_id, v.id AS variant_id, p.slug, p.name, v.sku, {OPTIONS_OF_V} AS options, \
                v.price, coalesce(v.images->0->>'url', p.images->0->>'url') AS image_url, \
                v.is_active AND p.is_active AS is_active, s.on_hand AS stock, ci.quantity, \
                v.weight_grams, c.updated_at AS cart_updated_at, {CHOSEN_OF_C} \
         FROM carts c JOIN cart_items ci ON ci.cart_id = c.id \
         JOIN product_variants v ON v.id = ci.variant_id \
         JOIN products p ON p.id = v.product_id \
         JOIN stock_levels s ON s.variant_id = v.id \
         WHERE c.id = $1 ORDER BY ci.created_at, ci.id"
    )))
    .bind(cart_id)
    .fetch_all(ex)
    .await
}

/// The cart row alone (for a cart without lines).
pub async fn cart_row(ex: impl PgExecutor<'_>, cart_id: Uuid) -> sqlx::Result<Option<CartRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.updated_at AS cart_updated_at, {CHOSEN_OF_C} FROM carts c WHERE c.id = $1"
    )))
    .bind(cart_id)
    .fetch_optional(ex)
    .await
}

/// What checkout reads beside the cart's id and choices (`c` the cart, `u` its customer):
/// whether the store ships by zone, and the customer's address and default addresses.
const CHECKOUT_CART: &str = "EXISTS (SELECT 1 FROM shipping_zones) AS ships_by_zone, u.email, \
    (SELECT address FROM addresses a WHERE a.user_id = c.user_id AND a.is_default_shipping) \
        AS default_shipping, \
    (SELECT address FROM addresses a WHERE a.user_id = c.user_id AND a.is_default_billing) \
        AS default_billing";

fn owner_column(owner: Owner<'_>) -> &'static str {
    match owner {
        Owner::Customer(_) => "user_id",
        Owner::Guest(_) => "token_hash",
    }
}

fn bind_owner<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    owner: Owner<'q>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    match owner {
        Owner::Customer(user_id) => query.bind(user_id),
        Owner::Guest(hash) => query.bind(hash),
    }
}

/// The owner's cart as checkout reads it, without its lines.
pub async fn for_checkout(
    ex: impl PgExecutor<'_>,
    owner: Owner<'_>,
) -> sqlx::Result<Option<CheckoutCart>> {
    let sql = format!(
        "SELECT c.id, {CHOSEN_OF_C}, {CHECKOUT_CART} FROM carts c LEFT JOIN users u ON u.id = c.user_id \
         WHERE c.{} = $1",
        owner_column(owner)
    );
    bind_owner(sqlx::query_as(sqlx::AssertSqlSafe(sql)), owner)
        .fetch_optional(ex)
        .await
}

/// A cart line as checkout prices it, with the cart (the same on every line).
#[derive(sqlx::FromRow)]
pub struct CheckoutRow {
    #[sqlx(flatten)]
    pub cart: CheckoutCart,
    #[sqlx(flatten)]
    pub line: CheckoutLine,
}

/// The owner's cart and its lines in one round trip, by variant id, with the tax rate of
/// `tax_at` (the destination checkout was given, if it was). The cart's own rows are locked
/// (a second checkout of the same cart waits, then finds it empty); the variants are not:
/// stock is taken, under lock, by `inventory::take_for_order` at the end of checkout. No row:
/// no cart, or an empty one.
pub async fn checkout_lines(
    ex: impl PgExecutor<'_>,
    owner: Owner<'_>,
    tax_at: Option<&Place>,
) -> sqlx::Result<Vec<CheckoutRow>> {
    let sql = format!(
        "SELECT c.id, {CHOSEN_OF_C}, {CHECKOUT_CART}, t.name AS tax_name, t.percent AS tax_percent, \
                ci.id AS cart_item_id, p.id AS product_id, v.id AS variant_id, \
                {OPTIONS_OF_V} AS options, ci.quantity, v.sku, p.name, v.price, s.on_hand AS stock, \
                v.is_active AND p.is_active AS is_active, v.weight_grams \
         FROM carts c LEFT JOIN users u ON u.id = c.user_id \
         JOIN cart_items ci ON ci.cart_id = c.id \
         JOIN product_variants v ON v.id = ci.variant_id \
         JOIN products p ON p.id = v.product_id \
         JOIN stock_levels s ON s.variant_id = v.id \
         LEFT JOIN LATERAL ({}) t ON true \
         WHERE c.{} = $1 ORDER BY v.id FOR UPDATE OF ci",
        tax::rate_query("$2", "$3"),
        owner_column(owner)
    );
    bind_owner(sqlx::query_as(sqlx::AssertSqlSafe(sql)), owner)
        .bind(tax_at.map(|place| &place.country))
        .bind(tax_at.map(|place| &place.region))
        .fetch_all(ex)
        .await
}

/// Where the cart ships, and how.
pub async fn set_shipping(
    ex: impl PgExecutor<'_>,
    cart_id: Uuid,
    destination: &Destination,
    method_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE carts SET ship_to_country = $2, ship_to_region = $3, shipping_method_id = $4, \
                updated_at = now() WHERE id = $1",
    )
    .bind(cart_id)
    .bind(&destination.country)
    .bind(&destination.region)
    .bind(method_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Puts a discount code on the cart, or takes it off (`None`).
pub async fn set_code(
    ex: impl PgExecutor<'_>,
    cart_id: Uuid,
    code_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE carts SET discount_code_id = $2, updated_at = now() WHERE id = $1")
        .bind(cart_id)
        .bind(code_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// What adding to a cart did.
#[derive(Debug, sqlx::FromRow)]
pub struct AddedLine {
    /// The cart's id (`None`: a customer's cart was neither opened nor touched).
    pub cart_id: Option<Uuid>,
    /// The variant is sold (it and its product active).
    pub sold: bool,
    /// The cart's buyable total stays within the limit given; when it would not, nothing
    /// changed.
    pub fits: bool,
}

/// Adds `$4` of variant `$3` as line `$1` to the cart `cart` names (a query on `$2` that may
/// read `sold`): whether the variant is sold and at what price, whether the cart's buyable
/// lines (active variants of active products) plus the new units stay within `$5`, and the
/// line added or grown only then. One statement, so it needs no transaction.
async fn add_to(
    ex: impl PgExecutor<'_>,
    cart: &str,
    line_id: Uuid,
    cart_or_owner: Uuid,
    variant_id: Uuid,
    quantity: i32,
    limit: Decimal,
) -> sqlx::Result<AddedLine> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH sold AS ( \
             SELECT v.id, v.price FROM product_variants v JOIN products p ON p.id = v.product_id \
             WHERE v.id = $3 AND v.is_active AND p.is_active), \
         cart AS ({cart}), \
         fits AS ( \
             SELECT coalesce(sum(v.price * ci.quantity), 0) + sold.price * $4 <= $5 AS ok \
             FROM sold CROSS JOIN cart \
             LEFT JOIN cart_items ci ON ci.cart_id = cart.id \
             LEFT JOIN product_variants v ON v.id = ci.variant_id AND v.is_active \
                 AND EXISTS (SELECT 1 FROM products p WHERE p.id = v.product_id AND p.is_active) \
             GROUP BY sold.price), \
         line AS ( \
             INSERT INTO cart_items (id, cart_id, variant_id, quantity) \
             SELECT $1, cart.id, sold.id, $4 FROM cart, sold, fits WHERE fits.ok \
             ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity) \
         SELECT (SELECT id FROM cart) AS cart_id, EXISTS (SELECT 1 FROM sold) AS sold, \
             coalesce((SELECT ok FROM fits), true) AS fits"
    )))
    .bind(line_id)
    .bind(cart_or_owner)
    .bind(variant_id)
    .bind(quantity)
    .bind(limit)
    .fetch_one(ex)
    .await
}

/// Adds `quantity` of a variant that is sold as a new line `line_id`, or to the line the
/// cart has for it, when the cart's buyable total stays within `limit`. A line past 100 units
/// violates `cart_items_quantity_check`.
pub async fn add_line(
    ex: impl PgExecutor<'_>,
    line_id: Uuid,
    cart_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
    limit: Decimal,
) -> sqlx::Result<AddedLine> {
    let cart = "SELECT CAST($2 AS uuid) AS id";
    add_to(ex, cart, line_id, cart_id, variant_id, quantity, limit).await
}

/// [`add_line`] for a customer, with their cart opened (or touched) in the same statement,
/// only when the variant is sold: one round trip for the busiest write of a shop.
pub async fn add_customer_line(
    ex: impl PgExecutor<'_>,
    line_id: Uuid,
    user_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
    limit: Decimal,
) -> sqlx::Result<AddedLine> {
    let cart = "INSERT INTO carts (user_id) SELECT $2 FROM sold \
                ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING id";
    add_to(ex, cart, line_id, user_id, variant_id, quantity, limit).await
}

/// Sets a line's quantity; `false` when the cart has no such line.
pub async fn set_quantity(
    ex: impl PgExecutor<'_>,
    cart_id: Uuid,
    line_id: Uuid,
    quantity: i32,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE cart_items SET quantity = $3 WHERE id = $1 AND cart_id = $2")
        .bind(line_id)
        .bind(cart_id)
        .bind(quantity)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes a line; `false` when the cart has no such line.
pub async fn remove_line(
    ex: impl PgExecutor<'_>,
    cart_id: Uuid,
    line_id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM cart_items WHERE id = $1 AND cart_id = $2")
        .bind(line_id)
        .bind(cart_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes every line of the cart.
pub async fn clear(ex: impl PgExecutor<'_>, cart_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM cart_items WHERE cart_id = $1")
        .bind(cart_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// The guest cart of a token hash, locked until the transaction ends (one merge per cart).
pub async fn lock_guest_cart(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM carts WHERE token_hash = $1 FOR UPDATE")
        .bind(token_hash)
        .fetch_optional(conn)
        .await
}

/// A guest cart's line as merging sees it: whether it is still sold, and how many of it the
/// customer's cart holds already.
#[derive(sqlx::FromRow)]
pub struct GuestLine {
    pub variant_id: Uuid,
    pub sku: String,
    pub quantity: i32,
    pub sold: bool,
    pub have: i32,
}

/// The guest cart's lines, oldest first, beside the customer cart `mine`.
pub async fn guest_lines(
    ex: impl PgExecutor<'_>,
    guest: Uuid,
    mine: Uuid,
) -> sqlx::Result<Vec<GuestLine>> {
    sqlx::query_as(
        "SELECT ci.variant_id, v.sku, ci.quantity, v.is_active AND p.is_active AS sold, \
                coalesce(mine.quantity, 0) AS have \
         FROM cart_items ci JOIN product_variants v ON v.id = ci.variant_id \
         JOIN products p ON p.id = v.product_id \
         LEFT JOIN cart_items mine ON mine.cart_id = $2 AND mine.variant_id = ci.variant_id \
         WHERE ci.cart_id = $1 ORDER BY ci.created_at, ci.id",
    )
    .bind(guest)
    .bind(mine)
    .fetch_all(ex)
    .await
}

/// Sets the cart's lines for these variants to these quantities (new lines get `ids`).
pub async fn put_lines(
    ex: impl PgExecutor<'_>,
    cart_id: Uuid,
    ids: &[Uuid],
    variants: &[Uuid],
    quantities: &[i32],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cart_items (id, cart_id, variant_id, quantity) \
         SELECT id, $2, variant, qty FROM unnest($1::uuid[], $3::uuid[], $4::int[]) AS l(id, variant, qty) \
         ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = EXCLUDED.quantity",
    )
    .bind(ids)
    .bind(cart_id)
    .bind(variants)
    .bind(quantities)
    .execute(ex)
    .await?;
    Ok(())
}

/// Deletes a cart and its lines.
pub async fn delete_cart(ex: impl PgExecutor<'_>, cart_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM carts WHERE id = $1")
        .bind(cart_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Deletes carts untouched for longer than their owner's kind allows.
pub async fn prune(
    ex: impl PgExecutor<'_>,
    guest_days: i32,
    customer_days: i32,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM carts WHERE updated_at < now() - make_interval(days => \
             CASE WHEN user_id IS NULL THEN $1 ELSE $2 END)",
    )
    .bind(guest_days)
    .bind(customer_days)
    .execute(ex)
    .await?
    .rows_affected())
}
