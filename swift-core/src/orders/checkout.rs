//! Checkout: the whole cart becomes an order in one transaction, or nothing changes. A
//! customer's order is theirs; a guest's carries the e-mail address it was placed with and
//! is read through a signed link ([`super::guest`]).
//!
//! The order of the steps is the point. A hot variant is one row every buyer must update,
//! and its lock is held from the decrement to the commit; so everything that does not need
//! it comes first (finding the cart, reading and pricing it, writing the order, its lines and
//! history in one statement, rendering the answer and saving it for its idempotency key), and
//! the stock is taken last, by the inventory module, right before the commit. A shortage
//! then rolls all of it back.

use uuid::Uuid;

use super::OrdersError;
use super::address_book::{self, Purpose};
use super::cart::{self, CheckoutCart, Shopper};
use super::discounts::{self, Code};
use super::guest::{self, OrderToken};
use super::pricing::{self, PriceInput, PricingError};
use super::repository::{self as repo, NewOrder};
use super::types::{Address, HistoryEntry, HistoryRole, Order, OrderItem, OrderStatus};
use super::{shipping, tax};
use crate::Context;
use crate::accounts::types::Email;
use crate::idempotency::{self, Claimed, Saved};
use crate::inventory::{self, StockRow, Take};
use crate::money::Money;
use crate::validation::{Invalid, plain_text};
use crate::{notices, outbox};

type Result<T> = std::result::Result<T, OrdersError>;

/// An address for checkout: given in the request, one of the customer's saved ones, or
/// (nothing given) the customer's default.
#[derive(Debug, Clone)]
pub enum AddressChoice {
    Given(Address),
    Saved(Uuid),
    Default,
}

/// What the customer sends at checkout.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub shipping: AddressChoice,
    pub billing: AddressChoice,
    pub notes: String,
    /// Where a guest's order is mailed (required of guests; a customer's account has one).
    pub email: Option<Email>,
    /// The total the shopper saw; when the server's differs, nothing is placed.
    pub expected_total: Option<Money>,
}

impl CheckoutRequest {
    pub fn new(
        shipping: AddressChoice,
        billing: AddressChoice,
        notes: Option<&str>,
        email: Option<&str>,
        expected_total: Option<Money>,
    ) -> std::result::Result<Self, Invalid> {
        Ok(Self {
            shipping,
            billing,
            notes: plain_text("notes", notes.unwrap_or_default(), 1000)?,
            email: email.map(Email::parse).transpose()?,
            expected_total,
        })
    }
}

/// The addresses an order ships and bills to. A guest has no address book: a saved
/// address is not found, and the shipping address must be given.
async fn addresses(
    conn: &mut sqlx::PgConnection,
    user_id: Option<Uuid>,
    cart: &CheckoutCart,
    request: &CheckoutRequest,
) -> Result<(Address, Option<Address>)> {
    let resolve = async |conn: &mut sqlx::PgConnection, choice: &AddressChoice, purpose| match (
        choice, user_id,
    ) {
        (AddressChoice::Given(a), _) => Ok(Some(a.clone())),
        (AddressChoice::Saved(id), Some(user)) => {
            address_book::saved(conn, user, *id).await.map(Some)
        }
        (AddressChoice::Saved(_), None) => Err(OrdersError::NotFound),
        // Read with the cart (a guest has none).
        (AddressChoice::Default, _) => Ok(match purpose {
            Purpose::Shipping => cart.default_shipping.clone().map(|a| a.0),
            Purpose::Billing => cart.default_billing.clone().map(|a| a.0),
        }),
    };
    let shipping = resolve(&mut *conn, &request.shipping, Purpose::Shipping)
        .await?
        .ok_or_else(|| {
            Invalid::new(
                "shipping_address",
                "is required: give an address, or the id of a saved one",
            )
        })?;
    let billing = resolve(&mut *conn, &request.billing, Purpose::Billing).await?;
    Ok((shipping, billing))
}

/// An order just placed; a guest's comes with the token of its link (shown once, and
/// mailed).
#[derive(Debug)]
pub struct PlacedOrder {
    pub order: Order,
    pub guest_token: Option<OrderToken>,
}

/// Places `shopper`'s cart as an order: all lines are checked (every short line is named),
/// stock is taken with a ledger row each, the order is written with name and price
/// snapshots and its first history entry, and the ordered lines leave the cart.
///
/// With a claimed idempotency key, the answer `render` makes of the order is saved in the
/// same transaction: once the order exists, a retry can only ever replay it.
pub async fn checkout(
    ctx: &Context,
    shopper: &Shopper,
    request: &CheckoutRequest,
    claimed: Option<&Claimed>,
    render: impl FnOnce(&PlacedOrder) -> Saved,
) -> Result<PlacedOrder> {
    let (user_id, guest_email) = match shopper {
        Shopper::Customer(id) => (Some(*id), None),
        Shopper::Guest(_) => {
            let email = request
                .email
                .as_ref()
                .ok_or_else(|| Invalid::new("email", "a guest checkout needs an email address"))?;
            (None, Some(email.as_str()))
        }
        Shopper::Visitor => return Err(OrdersError::EmptyCart),
    };
    // A destination given in the request has its tax rate read with the cart.
    let given_place = match &request.shipping {
        AddressChoice::Given(a) => Some(tax::Place::new(&a.country, a.region.as_deref())),
        AddressChoice::Saved(_) | AddressChoice::Default => None,
    };
    let mut tx = crate::db::begin_with_fixed_plans(&ctx.pool).await?;
    let Some((found, lines)) = cart::for_checkout(&mut tx, shopper, given_place.as_ref()).await?
    else {
        return Err(OrdersError::EmptyCart);
    };
    let cart_id = found.id;
    if lines.is_empty() {
        return Err(OrdersError::EmptyCart);
    }
    // Lines already short as read are refused before anything is written; the decrement at
    // the end checks again under lock.
    let takes: Vec<Take> = lines
        .iter()
        .map(|l| Take {
            variant_id: l.variant_id,
            quantity: l.quantity,
        })
        .collect();
    let as_read: Vec<StockRow> = lines
        .iter()
        .map(|l| StockRow {
            id: l.variant_id,
            sku: l.sku.clone(),
            stock: l.stock,
            is_active: l.is_active,
        })
        .collect();
    let short = inventory::shortages(&takes, &as_read);
    if !short.is_empty() {
        return Err(OrdersError::InsufficientStock(short));
    }
    let (shipping_address, billing_address) = addresses(&mut tx, user_id, &found, request).await?;
    let too_large = || Invalid::new("quantity", "the order total is too large");
    let line_totals: Vec<Money> = lines
        .iter()
        .map(|l| Money::from_decimal(l.price).times(l.quantity as u32))
        .collect::<Option<_>>()
        .ok_or_else(too_large)?;
    let subtotal = line_totals
        .iter()
        .try_fold(Money::ZERO, |sum, t| sum.checked_add(*t))
        .ok_or_else(too_large)?;
    let now = chrono::Utc::now();
    let (method, code) = cart::method_and_code(&mut tx, &found.chosen).await?;
    let method = match method {
        Some(method) => {
            if !shipping::ships_to(&mut *tx, method.id, &shipping_address.country).await? {
                return Err(OrdersError::ShippingUnavailable(
                    "the cart's shipping method does not ship to the shipping address's country",
                ));
            }
            Some(method)
        }
        None if found.ships_by_zone => {
            return Err(OrdersError::ShippingUnavailable(
                "choose a shipping method for the cart first (setCartShipping)",
            ));
        }
        None => None,
    };
    if let Some(reason) = code.as_ref().and_then(|c| c.refusal(now)) {
        return Err(OrdersError::DiscountNotApplicable(reason));
    }
    let tax = match given_place {
        // Read with the cart.
        Some(_) => found.given_rate(),
        None => {
            tax::rate_for(
                &mut *tx,
                &shipping_address.country,
                shipping_address.region.as_deref(),
            )
            .await?
        }
    };
    let weight_grams = lines
        .iter()
        .map(|l| i64::from(l.weight_grams.unwrap_or(0)) * i64::from(l.quantity))
        .sum();
    let priced = pricing::price(&PriceInput {
        subtotal,
        weight_grams,
        discount: code.as_ref().map(Code::discount),
        shipping: method.as_ref().map(|m| &m.rate),
        tax: tax.as_ref(),
        policy: ctx.config.tax,
    })
    .map_err(|e| match e {
        PricingError::BelowMinimum(_) => {
            OrdersError::DiscountNotApplicable("the subtotal is under this code's minimum")
        }
        PricingError::TooHeavy => {
            OrdersError::ShippingUnavailable("the cart's shipping method cannot carry its weight")
        }
        PricingError::TooLarge => OrdersError::from(too_large()),
    })?;
    let totals = priced.totals;
    if request
        .expected_total
        .is_some_and(|expected| expected != totals.total)
    {
        return Err(OrdersError::PriceChanged(Box::new(totals)));
    }

    let order_id = Uuid::now_v7();
    let currency = ctx.config.store_currency.as_str();
    let written = repo::place(
        &mut *tx,
        &NewOrder {
            id: order_id,
            user_id,
            guest_email,
            cart_id,
            totals,
            currency,
            shipping_address: &shipping_address,
            billing_address: billing_address.as_ref(),
            shipping_method: method.as_ref().map(|m| m.name.as_str()),
            discount_code: code.as_ref().map(|c| c.code.as_str()),
            tax_lines: &priced.tax_lines,
            notes: &request.notes,
        },
        &lines,
        &line_totals,
    )
    .await?;
    // Nothing to pay (a 100 % code and free shipping): the order is paid as it is placed.
    // No payment provider takes a zero amount, and unpaid it would wait until it expired.
    let nothing_to_pay = totals.total == Money::ZERO;
    if nothing_to_pay {
        repo::paid_as_placed(&mut *tx, order_id, written.history_at).await?;
    }
    let mut history = vec![HistoryEntry {
        status: OrderStatus::Pending,
        at: written.history_at,
        by_role: HistoryRole::Customer,
        event: None,
        note: None,
    }];
    if nothing_to_pay {
        history.push(HistoryEntry {
            status: OrderStatus::Paid,
            at: written.history_at,
            by_role: HistoryRole::System,
            event: None,
            note: Some(repo::NOTHING_TO_PAY.to_owned()),
        });
    }
    // The order as written, without reading it back.
    let order = Order {
        id: order_id,
        number: written.number,
        user_id,
        guest_email: guest_email.map(str::to_owned),
        status: if nothing_to_pay {
            OrderStatus::Paid
        } else {
            OrderStatus::Pending
        },
        payment_status: if nothing_to_pay {
            super::PaymentStatus::Paid
        } else {
            super::PaymentStatus::Unpaid
        },
        amount_refunded: crate::money::Money::ZERO,
        subtotal: totals.subtotal,
        discount_total: totals.discount_total,
        shipping_total: totals.shipping_total,
        tax_total: totals.tax_total,
        total: totals.total,
        currency: currency.to_owned(),
        shipping_address,
        billing_address,
        shipping_method: method.map(|m| m.name),
        discount_code: code.as_ref().map(|c| c.code.clone()),
        tax_lines: priced.tax_lines,
        notes: request.notes.clone(),
        created_at: written.created_at,
        updated_at: written.updated_at,
        items: lines
            .iter()
            .zip(&line_totals)
            .map(|(l, total)| OrderItem {
                product_id: l.product_id,
                variant_id: l.variant_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                options: l.options.clone(),
                unit_price: l.price,
                quantity: l.quantity,
                line_total: total.amount(),
            })
            .collect(),
        history,
    };
    let placed = PlacedOrder {
        guest_token: guest_email.map(|_| guest::token_for(ctx, order.id)),
        order,
    };
    if let Some(claimed) = claimed {
        idempotency::complete(&mut *tx, claimed, &render(&placed)).await?;
    }

    // The confirmation, in the order's own transaction: it goes out exactly when the order
    // exists (the outbox worker delivers it after the commit).
    if let Some(to) = guest_email.or(found.email.as_deref()) {
        let link = match &placed.guest_token {
            Some(token) => guest::link(ctx, token),
            None => format!("{}/account/orders/{}", ctx.config.frontend_url, order_id),
        };
        let (event, mail) =
            notices::order(&ctx.config, to, &placed.order, OrderStatus::Pending, &link);
        outbox::enqueue(&mut *tx, event, &mail).await?;
    }
    // The code's use is counted under its row's lock, late for the same reason as the stock.
    if let Some(code) = &code {
        let customer = match (user_id, guest_email) {
            (Some(id), _) => format!("user:{id}"),
            (None, email) => format!("email:{}", email.unwrap_or_default()),
        };
        discounts::redeem(&mut tx, code.id, order_id, &customer, now).await?;
    }
    // Last, and as briefly as possible: the stock, then the commit.
    let sold_out = match inventory::take_for_order(&mut tx, order_id, user_id, &takes).await? {
        Ok(sold_out) => sold_out,
        Err(shortages) => return Err(OrdersError::InsufficientStock(shortages)),
    };
    tx.commit().await?;
    metrics::counter!("swift_orders_placed_total").increment(1);
    ctx.outbox_wake.now();
    inventory::announce(ctx, sold_out).await;
    Ok(placed)
}
