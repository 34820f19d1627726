//! Carts: one per customer, or a guest's, held by an unguessable token of which only the
//! hash is stored. Lines are keyed by variant and shown at today's prices. A line whose
//! variant can no longer be bought as asked (archived, sold out, short) stays in the view,
//! marked unavailable with the reason, so the shopper sees it and can remove it by id; only
//! available lines count towards the subtotal.
//!
//! When a guest signs in, [`merge`] moves the guest cart's lines into the customer's cart
//! and deletes the guest cart, once: the guest cart's row is locked first, so a second
//! sign-in with the same token waits, then finds nothing left to merge.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub mod repository;

use self::repository::{self as repo, CartRow, Owner};
use super::OrdersError;
use super::discounts::Code;
use super::pricing::{self, PriceInput, Priced, PricingError, TaxPolicy, TaxRate};
use super::repository::CheckoutLine;
use super::shipping::Method;
use super::types::{Quantity, Totals};
use super::{discounts, shipping, tax};
use crate::Context;
use crate::accounts::tokens::{hash_token, opaque_token};
use crate::catalog::OptionValue;
use crate::config::Lifetimes;
use crate::money::Money;
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, OrdersError>;

/// Why a cart line cannot be bought as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The variant (or its product) is no longer sold.
    Archived,
    /// None left.
    OutOfStock,
    /// Fewer left than the line asks for.
    InsufficientStock,
    /// Price × quantity is past the largest amount an order can hold (the price rose
    /// after the line was added).
    TotalTooLarge,
}

/// A cart line with the variant as it is now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartLine {
    pub id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub slug: String,
    pub name: String,
    pub sku: String,
    pub options: sqlx::types::Json<Vec<OptionValue>>,
    pub price: rust_decimal::Decimal,
    pub image_url: Option<String>,
    pub is_active: bool,
    pub stock: i32,
    pub quantity: i32,
    /// The variant's weight (none counts as 0).
    pub weight_grams: Option<i32>,
}

impl CartLine {
    pub fn price(&self) -> Money {
        Money::from_decimal(self.price)
    }

    pub fn in_stock(&self) -> bool {
        self.is_active && self.stock > 0
    }

    /// Price × quantity, exact (even past what an order can hold: shown right, never
    /// wrapped or zeroed).
    pub fn line_total(&self) -> Money {
        Money::from_decimal(self.price * rust_decimal::Decimal::from(self.quantity))
    }

    /// Whether the line total fits in an order.
    fn fits(&self) -> bool {
        self.price().times(self.quantity as u32).is_some()
    }

    /// Why the line cannot be checked out as it is, if it cannot.
    pub fn unavailable(&self) -> Option<Unavailable> {
        if !self.is_active {
            Some(Unavailable::Archived)
        } else if self.stock == 0 {
            Some(Unavailable::OutOfStock)
        } else if self.stock < self.quantity {
            Some(Unavailable::InsufficientStock)
        } else if !self.fits() {
            Some(Unavailable::TotalTooLarge)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub items: Vec<CartLine>,
    /// Sum of the available lines: what checkout would charge once the others are removed.
    pub subtotal: Money,
    /// Units in the cart (sum of quantities, every line).
    pub item_count: i32,
    pub updated_at: DateTime<Utc>,
    pub choices: Choices,
}

/// What the shopper chose for the cart: where it ships, how, and a discount code; with the
/// tax rate of that destination.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub ship_to: Option<Destination>,
    pub method: Option<Method>,
    pub code: Option<Code>,
    pub tax: Option<TaxRate>,
}

/// A country (ISO 3166-1 alpha-2) and, where tax differs by region, the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub country: String,
    pub region: Option<String>,
}

/// A cart's totals, and what kept its code from applying, if anything did.
#[derive(Debug, Clone)]
pub struct CartPrice {
    pub priced: Priced,
    /// Why the chosen code takes nothing off now (expired, used up, under its minimum).
    pub discount_refused: Option<String>,
    /// Why the chosen method cannot ship the cart (too heavy): it charges nothing until
    /// another is chosen.
    pub shipping_refused: Option<String>,
}

impl Cart {
    /// Grams of the available lines.
    pub fn weight_grams(&self) -> i64 {
        self.items
            .iter()
            .filter(|l| l.unavailable().is_none())
            .map(|l| i64::from(l.weight_grams.unwrap_or(0)) * i64::from(l.quantity))
            .sum()
    }

    /// What checking out the available lines would cost, by [`pricing::price`]. A code that
    /// does not apply, or a method that cannot carry the cart, is left out and said why.
    pub fn price(&self, policy: TaxPolicy, now: DateTime<Utc>) -> CartPrice {
        let c = &self.choices;
        let mut discount_refused = c
            .code
            .as_ref()
            .and_then(|code| code.refusal(now))
            .map(str::to_owned);
        let mut input = PriceInput {
            subtotal: self.subtotal,
            weight_grams: self.weight_grams(),
            discount: c
                .code
                .as_ref()
                .filter(|_| discount_refused.is_none())
                .map(Code::discount),
            // Nothing to ship, nothing to charge for shipping.
            shipping: c
                .method
                .as_ref()
                .filter(|_| self.items.iter().any(|l| l.unavailable().is_none()))
                .map(|m| &m.rate),
            tax: c.tax.as_ref(),
            policy,
        };
        let mut shipping_refused = None;
        loop {
            match pricing::price(&input) {
                Ok(priced) => {
                    return CartPrice {
                        priced,
                        discount_refused,
                        shipping_refused,
                    };
                }
                Err(PricingError::BelowMinimum(minimum)) => {
                    discount_refused =
                        Some(format!("this code needs a subtotal of at least {minimum}"));
                    input.discount = None;
                }
                Err(PricingError::TooHeavy) => {
                    shipping_refused =
                        Some("this method cannot carry the cart's weight".to_owned());
                    input.shipping = None;
                }
                Err(PricingError::TooLarge) => {
                    // Lines the cart shows but an order cannot hold: shown at their subtotal.
                    return CartPrice {
                        priced: Priced {
                            totals: Totals::of_lines(self.subtotal),
                            tax_lines: Vec::new(),
                        },
                        discount_refused,
                        shipping_refused,
                    };
                }
            }
        }
    }
}

/// Exact sum of the line totals of `lines`.
fn sum<'a>(lines: impl Iterator<Item = &'a CartLine>) -> Money {
    Money::from_decimal(lines.map(|l| l.line_total().amount()).sum())
}

/// A guest cart's token: 256 random bits, URL-safe base64 (43 characters). The server keeps
/// only its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct CartToken(String);

impl std::fmt::Debug for CartToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CartToken(..)")
    }
}

impl CartToken {
    /// A token as a client sends it; anything but 43 URL-safe base64 characters is refused.
    pub fn parse(raw: &str) -> std::result::Result<Self, Invalid> {
        let ok = raw.len() == 43
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "X-Cart-Token",
                "must be the cart token this API handed out",
            ))
        }
    }

    fn generate() -> (Self, Vec<u8>) {
        let (token, hash) = opaque_token();
        (Self(token), hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digest under which the cart is stored (and its idempotency keys are scoped).
    pub fn hash(&self) -> Vec<u8> {
        hash_token(&self.0)
    }
}

/// Who is shopping: a signed-in customer, a guest with a cart token, or a visitor with
/// neither yet (whose first added line opens a guest cart).
#[derive(Debug, Clone)]
pub enum Shopper {
    Customer(Uuid),
    Guest(CartToken),
    Visitor,
}

/// The cart's id for `shopper`. A customer's cart is opened on demand when `open`; a guest
/// token that names no cart (never issued, merged, or pruned) is not found.
async fn cart_id(
    conn: &mut sqlx::PgConnection,
    shopper: &Shopper,
    open: bool,
) -> Result<Option<Uuid>> {
    match shopper {
        Shopper::Customer(user_id) if open => {
            Ok(Some(repo::open_customer_cart(conn, *user_id).await?))
        }
        Shopper::Customer(user_id) => {
            Ok(repo::find_cart(conn, Owner::Customer(*user_id), false).await?)
        }
        Shopper::Guest(token) => {
            let id = repo::find_cart(conn, Owner::Guest(&token.hash()), open).await?;
            id.map(Some).ok_or(OrdersError::NotFound)
        }
        Shopper::Visitor => Ok(None),
    }
}

/// The cart as the storefront shows it; an empty one when there is none yet.
pub async fn get(ctx: &Context, shopper: &Shopper) -> Result<Cart> {
    let mut conn = ctx.pool.acquire().await?;
    let id = cart_id(&mut conn, shopper, false).await?;
    get_on(&mut conn, id).await
}

async fn get_on(conn: &mut sqlx::PgConnection, cart_id: Option<Uuid>) -> Result<Cart> {
    let Some(cart_id) = cart_id else {
        return Ok(Cart {
            items: Vec::new(),
            subtotal: Money::ZERO,
            item_count: 0,
            updated_at: Utc::now(),
            choices: Choices::default(),
        });
    };
    // The lines carry the cart row's columns; a cart without lines reads its row alone.
    let rows = repo::lines(&mut *conn, cart_id).await?;
    let cart: Option<CartRow> = match rows.first() {
        Some(row) => Some(CartRow {
            cart_updated_at: row.cart.cart_updated_at,
            chosen: row.cart.chosen.clone(),
        }),
        None => repo::cart_row(&mut *conn, cart_id).await?,
    };
    let items: Vec<CartLine> = rows.into_iter().map(|r| r.line).collect();
    let subtotal = sum(items.iter().filter(|l| l.unavailable().is_none()));
    let (updated_at, choices) = match cart {
        Some(cart) => (cart.cart_updated_at, choices_of(conn, cart.chosen).await?),
        // Removed meanwhile (merged, pruned): shown as a new, empty cart.
        None => (Utc::now(), Choices::default()),
    };
    Ok(Cart {
        item_count: items.iter().map(|l| l.quantity).sum(),
        subtotal,
        items,
        updated_at,
        choices,
    })
}

/// What a cart row says the shopper chose.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Chosen {
    ship_to_country: Option<String>,
    ship_to_region: Option<String>,
    shipping_method_id: Option<Uuid>,
    discount_code_id: Option<Uuid>,
}

/// The shipping method and discount code a cart row names (each read only when named). This
/// is what checkout needs of the cart's choices: the order is taxed at its own address.
pub(crate) async fn method_and_code(
    conn: &mut sqlx::PgConnection,
    chosen: &Chosen,
) -> Result<(Option<Method>, Option<Code>)> {
    let method = match chosen.shipping_method_id {
        Some(id) => shipping::method(&mut *conn, id).await?,
        None => None,
    };
    let code = match chosen.discount_code_id {
        Some(id) => discounts::by_id(&mut *conn, id).await?,
        None => None,
    };
    Ok((method, code))
}

/// The method, code and tax rate a cart row names (read only when it names them).
pub(crate) async fn choices_of(conn: &mut sqlx::PgConnection, chosen: Chosen) -> Result<Choices> {
    let (method, code) = method_and_code(&mut *conn, &chosen).await?;
    let ship_to = chosen.ship_to_country.map(|country| Destination {
        country,
        region: chosen.ship_to_region,
    });
    let tax = match &ship_to {
        Some(d) => tax::rate_for(&mut *conn, &d.country, d.region.as_deref()).await?,
        None => None,
    };
    Ok(Choices {
        ship_to,
        method,
        code,
        tax,
    })
}

/// What checkout reads of the shopper's cart before its lines, in one round trip: the cart
/// and its choices, whether the store ships by zone, and for a customer their address and
/// default addresses.
#[derive(Debug, sqlx::FromRow)]
pub struct CheckoutCart {
    pub id: Uuid,
    #[sqlx(flatten)]
    pub chosen: Chosen,
    pub ships_by_zone: bool,
    pub email: Option<String>,
    pub default_shipping: Option<sqlx::types::Json<super::types::Address>>,
    pub default_billing: Option<sqlx::types::Json<super::types::Address>>,
    /// The tax rate of the destination checkout was given, read with the lines (absent when
    /// none was given, or when it has no rate).
    #[sqlx(default)]
    tax_name: Option<String>,
    #[sqlx(default)]
    tax_percent: Option<rust_decimal::Decimal>,
}

impl CheckoutCart {
    /// The tax rate of the destination given to [`for_checkout`].
    pub fn given_rate(&self) -> Option<TaxRate> {
        let (name, percent) = (self.tax_name.clone()?, self.tax_percent?);
        Some(tax::stored(name, percent))
    }
}

/// The shopper's cart and its lines as checkout needs them, the lines locked, in one round
/// trip, with the tax rate of `tax_at` ([`CheckoutCart::given_rate`]): `None` for a visitor
/// or a customer without a cart; an empty cart has no lines; a guest token that names no
/// cart is not found.
pub async fn for_checkout(
    conn: &mut sqlx::PgConnection,
    shopper: &Shopper,
    tax_at: Option<&tax::Place>,
) -> Result<Option<(CheckoutCart, Vec<CheckoutLine>)>> {
    let hash;
    let owner = match shopper {
        Shopper::Customer(user_id) => Owner::Customer(*user_id),
        Shopper::Guest(token) => {
            hash = token.hash();
            Owner::Guest(&hash)
        }
        Shopper::Visitor => return Ok(None),
    };
    let mut rows = repo::checkout_lines(&mut *conn, owner, tax_at)
        .await?
        .into_iter();
    let Some(first) = rows.next() else {
        // No cart, or an empty one; only the answer differs.
        return match repo::for_checkout(conn, owner).await? {
            Some(cart) => Ok(Some((cart, Vec::new()))),
            None if matches!(shopper, Shopper::Guest(_)) => Err(OrdersError::NotFound),
            None => Ok(None),
        };
    };
    let lines = std::iter::once(first.line)
        .chain(rows.map(|row| row.line))
        .collect();
    Ok(Some((first.cart, lines)))
}

/// Where the cart ships and by which method (one of those shipping there, else 400).
pub async fn set_shipping(
    ctx: &Context,
    shopper: &Shopper,
    destination: Destination,
    method_id: Uuid,
) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let cart_id = cart_id(&mut tx, shopper, true)
        .await?
        .ok_or(OrdersError::NotFound)?;
    if !shipping::ships_to(&mut *tx, method_id, &destination.country).await? {
        return Err(OrdersError::ShippingUnavailable(
            "this shipping method does not ship to that country",
        ));
    }
    repo::set_shipping(&mut *tx, cart_id, &destination, method_id).await?;
    let cart = get_on(&mut tx, Some(cart_id)).await?;
    tx.commit().await?;
    Ok(cart)
}

/// Puts a code on the cart: one it can use now (409 with the reason otherwise; an unknown
/// code is refused the same way, so codes cannot be probed for).
pub async fn apply_code(ctx: &Context, shopper: &Shopper, typed: &str) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let cart_id = cart_id(&mut tx, shopper, true)
        .await?
        .ok_or(OrdersError::NotFound)?;
    let code = discounts::find(&mut *tx, typed)
        .await?
        .ok_or(OrdersError::DiscountNotApplicable("this code is not valid"))?;
    if let Some(reason) = code.refusal(Utc::now()) {
        return Err(OrdersError::DiscountNotApplicable(reason));
    }
    repo::set_code(&mut *tx, cart_id, Some(code.id)).await?;
    let cart = get_on(&mut tx, Some(cart_id)).await?;
    tx.commit().await?;
    Ok(cart)
}

/// Takes the code off the cart.
pub async fn remove_code(ctx: &Context, shopper: &Shopper) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let cart_id = cart_id(&mut tx, shopper, true)
        .await?
        .ok_or(OrdersError::NotFound)?;
    repo::set_code(&mut *tx, cart_id, None).await?;
    let cart = get_on(&mut tx, Some(cart_id)).await?;
    tx.commit().await?;
    Ok(cart)
}

/// The methods that ship to `country`, each with its charge for this cart (those that cannot
/// carry it left out).
pub async fn shipping_options(
    ctx: &Context,
    shopper: &Shopper,
    country: &str,
) -> Result<Vec<(Method, Money)>> {
    let cart = get(ctx, shopper).await?;
    let methods = shipping::methods_to(&ctx.pool, country).await?;
    let goods = cart.price(ctx.config.tax, Utc::now()).priced.totals;
    let goods = Money::from_decimal(goods.subtotal.amount() - goods.discount_total.amount());
    Ok(methods
        .into_iter()
        .filter_map(|m| {
            let charge = m.rate.charge(goods, cart.weight_grams())?;
            Some((m, charge))
        })
        .collect())
}

/// A change refused because the cart's buyable total would pass what an order can hold.
fn total_too_large() -> Invalid {
    Invalid::new(
        "quantity",
        "the cart total would exceed the largest order amount (9999999999.99)",
    )
}

/// The cart after a change in `tx`, refusing the change if it would leave the total past
/// what an order can hold. Read in the transaction, it is also the answer to send.
async fn checked_cart(tx: &mut sqlx::PgConnection, cart_id: Uuid) -> Result<Cart> {
    let cart = get_on(tx, Some(cart_id)).await?;
    let buyable = sum(cart.items.iter().filter(|l| l.is_active));
    let overflow = Money::ZERO.checked_add(buyable).is_none();
    if overflow {
        return Err(total_too_large().into());
    }
    Ok(cart)
}

/// A cart after adding to it, with the token of the guest cart this opened, if it did.
pub struct Added {
    pub cart: Cart,
    pub opened: Option<CartToken>,
}

/// Adds a variant (sold ones only, else 404); an existing line grows, up to 100, and the
/// cart's buyable total up to the largest order amount. A visitor's first line opens a guest
/// cart, whose token comes back in [`Added::opened`].
///
/// A customer's line is added by one statement, which opens their cart too, and the cart is
/// read afterwards: no transaction around them, as the cart shown may as well include what
/// another of their requests added meanwhile. That is two round trips fewer on the path a
/// sale takes.
pub async fn add(
    ctx: &Context,
    shopper: &Shopper,
    variant_id: Uuid,
    quantity: Quantity,
) -> Result<Added> {
    let line_full = |e| {
        let full = Invalid::new("quantity", "a cart line holds at most 100 units");
        crate::db::constraint_error(e, [("cart_items_quantity_check", OrdersError::from(full))])
    };
    let line_id = Uuid::now_v7();
    let limit = Money::MAX.amount();
    let checked = |added: repo::AddedLine| {
        if !added.sold {
            return Err(OrdersError::NotFound);
        }
        if !added.fits {
            return Err(total_too_large().into());
        }
        Ok(added.cart_id)
    };
    match shopper {
        Shopper::Customer(user_id) => {
            let mut conn = ctx.pool.acquire().await?;
            let added = repo::add_customer_line(
                &mut *conn,
                line_id,
                *user_id,
                variant_id,
                quantity.get(),
                limit,
            )
            .await
            .map_err(line_full)?;
            let cart = get_on(&mut conn, checked(added)?).await?;
            Ok(Added { cart, opened: None })
        }
        // A guest's cart may be opened here, with its token: in one transaction with the
        // line, so that a refused line leaves no cart behind.
        Shopper::Guest(_) | Shopper::Visitor => {
            let mut tx = ctx.pool.begin().await?;
            let (cart_id, opened) = match cart_id(&mut tx, shopper, true).await? {
                Some(id) => (id, None),
                None => {
                    let (token, hash) = CartToken::generate();
                    (repo::open_guest_cart(&mut *tx, &hash).await?, Some(token))
                }
            };
            let added = repo::add_line(
                &mut *tx,
                line_id,
                cart_id,
                variant_id,
                quantity.get(),
                limit,
            )
            .await
            .map_err(line_full)?;
            let cart = get_on(&mut tx, checked(added)?).await?;
            tx.commit().await?;
            Ok(Added { cart, opened })
        }
    }
}

/// Sets a line's quantity; a line of another cart is not found.
pub async fn update(
    ctx: &Context,
    shopper: &Shopper,
    item_id: Uuid,
    quantity: Quantity,
) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let cart_id = cart_id(&mut tx, shopper, true)
        .await?
        .ok_or(OrdersError::NotFound)?;
    if !repo::set_quantity(&mut *tx, cart_id, item_id, quantity.get()).await? {
        return Err(OrdersError::NotFound);
    }
    let cart = checked_cart(&mut tx, cart_id).await?;
    tx.commit().await?;
    Ok(cart)
}

/// Removes a line; a line of another cart is not found.
pub async fn remove(ctx: &Context, shopper: &Shopper, item_id: Uuid) -> Result<Cart> {
    let mut tx = ctx.pool.begin().await?;
    let cart_id = cart_id(&mut tx, shopper, true)
        .await?
        .ok_or(OrdersError::NotFound)?;
    if !repo::remove_line(&mut *tx, cart_id, item_id).await? {
        return Err(OrdersError::NotFound);
    }
    let cart = get_on(&mut tx, Some(cart_id)).await?;
    tx.commit().await?;
    Ok(cart)
}

/// Empties the cart (a visitor's, which does not exist, is empty already).
pub async fn clear(ctx: &Context, shopper: &Shopper) -> Result<()> {
    let mut conn = ctx.pool.acquire().await?;
    if let Some(cart_id) = cart_id(&mut conn, shopper, false).await? {
        repo::clear(&mut *conn, cart_id).await?;
    }
    Ok(())
}

/// A guest line whose quantity, added to the customer's, went past a line's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clamped {
    pub variant_id: Uuid,
    pub sku: String,
    /// The customer's quantity plus the guest's.
    pub requested: i32,
    /// What the line holds now.
    pub quantity: i32,
}

/// A guest line left out of the merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub variant_id: Uuid,
    pub sku: String,
    pub quantity: i32,
    pub reason: Unavailable,
}

/// What merging a guest cart did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Guest lines now in the customer's cart (clamped ones included).
    pub merged: usize,
    pub clamped: Vec<Clamped>,
    /// Lines whose variant is no longer sold. Sold-out lines are merged, and show as
    /// unavailable in the cart like any other.
    pub dropped: Vec<Dropped>,
}

/// Most units a cart line holds (`cart_items_quantity_check`).
const LINE_MAX: i32 = 100;

/// Moves the guest cart of `token` into `user_id`'s cart: quantities of the same variant are
/// summed and clamped to a line's limit, lines no longer sold are dropped, and the guest
/// cart is deleted. `None` when the token names no cart (already merged, or never issued):
/// of two sign-ins racing with one token, exactly one merges.
pub async fn merge(ctx: &Context, user_id: Uuid, token: &CartToken) -> Result<Option<Merged>> {
    let mut tx = ctx.pool.begin().await?;
    let Some(guest) = repo::lock_guest_cart(&mut tx, &token.hash()).await? else {
        return Ok(None);
    };
    let mine = cart_id(&mut tx, &Shopper::Customer(user_id), true)
        .await?
        .expect("a customer's cart is opened on demand");
    let lines = repo::guest_lines(&mut *tx, guest, mine).await?;
    let mut merged = Merged {
        merged: 0,
        clamped: Vec::new(),
        dropped: Vec::new(),
    };
    let (mut ids, mut variants, mut quantities) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        if !line.sold {
            merged.dropped.push(Dropped {
                variant_id: line.variant_id,
                sku: line.sku,
                quantity: line.quantity,
                reason: Unavailable::Archived,
            });
            continue;
        }
        let requested = line.have + line.quantity;
        let quantity = requested.min(LINE_MAX);
        if quantity < requested {
            merged.clamped.push(Clamped {
                variant_id: line.variant_id,
                sku: line.sku,
                requested,
                quantity,
            });
        }
        merged.merged += 1;
        ids.push(Uuid::now_v7());
        variants.push(line.variant_id);
        quantities.push(quantity);
    }
    repo::put_lines(&mut *tx, mine, &ids, &variants, &quantities).await?;
    repo::delete_cart(&mut *tx, guest).await?;
    tx.commit().await?;
    Ok(Some(merged))
}

/// Deletes carts untouched past their lifetime: a guest's after `guest_cart_days`, a
/// customer's after `customer_cart_days`.
pub async fn prune(pool: &sqlx::PgPool, lifetimes: &Lifetimes) -> sqlx::Result<u64> {
    repo::prune(
        pool,
        lifetimes.guest_cart_days as i32,
        lifetimes.customer_cart_days as i32,
    )
    .await
}
