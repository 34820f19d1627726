//! Order domain types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::OptionValue;
use crate::money::Money;
use crate::validation::{Invalid, plain_text};

/// A cart quantity: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    pub const MAX: i32 = 100;

    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as i32))
        } else {
            Err(Invalid::new("quantity", "must be between 1 and 100"))
        }
    }

    pub fn get(&self) -> i32 {
        self.0
    }
}

/// A shipping address (docs/API.md "Address").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub full_name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The raw fields of an address as a client sends them.
pub struct AddressInput<'a> {
    pub full_name: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub region: Option<&'a str>,
    pub postal_code: &'a str,
    pub country: &'a str,
    pub phone: Option<&'a str>,
}

fn required(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let v = plain_text(field, raw, max)?;
    if v.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    Ok(v)
}

fn optional(field: &'static str, raw: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    Ok(raw
        .map(|v| plain_text(field, v, max))
        .transpose()?
        .filter(|v| !v.is_empty()))
}

/// An ISO 3166-1 alpha-2 country code, upper case: the real list, since two letters alone
/// would let "XX" through.
pub fn country_code(field: &'static str, raw: &str) -> Result<String, Invalid> {
    let code = raw.trim().to_uppercase();
    if code.len() == 2 && celes::Country::from_alpha2(&code).is_ok() {
        Ok(code)
    } else {
        Err(Invalid::new(
            field,
            "must be an ISO 3166-1 alpha-2 country code, such as GB",
        ))
    }
}

/// The names an address's fields have in a request, for errors that point at them.
#[derive(Debug, Clone, Copy)]
pub struct AddressFields {
    full_name: &'static str,
    line1: &'static str,
    line2: &'static str,
    city: &'static str,
    region: &'static str,
    postal_code: &'static str,
    country: &'static str,
    phone: &'static str,
}

macro_rules! address_fields {
    ($prefix:literal) => {
        AddressFields {
            full_name: concat!($prefix, "full_name"),
            line1: concat!($prefix, "line1"),
            line2: concat!($prefix, "line2"),
            city: concat!($prefix, "city"),
            region: concat!($prefix, "region"),
            postal_code: concat!($prefix, "postal_code"),
            country: concat!($prefix, "country"),
            phone: concat!($prefix, "phone"),
        }
    };
}

impl AddressFields {
    /// Checkout's `shipping_address`.
    pub const SHIPPING: Self = address_fields!("shipping_address.");
    /// Checkout's `billing_address`.
    pub const BILLING: Self = address_fields!("billing_address.");
    /// An address-book entry's `address`.
    pub const SAVED: Self = address_fields!("address.");
}

impl Address {
    pub fn parse(a: AddressInput<'_>, f: AddressFields) -> Result<Self, Invalid> {
        let country = country_code(f.country, a.country)?;
        let phone = optional(f.phone, a.phone, 32)?;
        if let Some(p) = &phone
            && !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(Invalid::new(f.phone, "digits, spaces and + - ( ) . only"));
        }
        Ok(Self {
            full_name: required(f.full_name, a.full_name, 200)?,
            line1: required(f.line1, a.line1, 200)?,
            line2: optional(f.line2, a.line2, 200)?,
            city: required(f.city, a.city, 100)?,
            region: optional(f.region, a.region, 100)?,
            postal_code: required(f.postal_code, a.postal_code, 20)?,
            country,
            phone,
        })
    }
}

/// Every part of what a cart or an order costs: `total = subtotal − discount_total +
/// shipping_total + tax_total`. Shipping, tax and discount codes are not sold yet, so their
/// parts are zero and the total is the subtotal; the shape is the contract they will fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub discount_total: Money,
    pub shipping_total: Money,
    pub tax_total: Money,
    pub total: Money,
}

impl Totals {
    /// The totals of lines summing to `subtotal`, with nothing else to add or take off.
    pub fn of_lines(subtotal: Money) -> Self {
        Self {
            subtotal,
            discount_total: Money::ZERO,
            shipping_total: Money::ZERO,
            tax_total: Money::ZERO,
            total: subtotal,
        }
    }
}

/// The order life cycle of docs/API.md; the `order_status` enum type in PostgreSQL, so a
/// value the code does not know can neither be stored nor read as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "order_status", rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [OrderStatus; 6] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
        Self::Refunded,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// The one place the status machine lives: pending → paid → shipped → delivered;
    /// pending or paid → cancelled; paid, shipped or delivered → refunded.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid)
                | (Paid, Shipped)
                | (Shipped, Delivered)
                | (Pending | Paid, Cancelled)
                | (Paid | Shipped | Delivered, Refunded)
        )
    }

    /// Moving here puts the goods back on the shelf.
    pub fn restores_stock(self) -> bool {
        self == OrderStatus::Cancelled
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = UnknownStatus;

    /// A status by its name as the API and the database write it (`shipped`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A name that is no order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an order status")]
pub struct UnknownStatus;

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role of whoever moved an order, as history records it (`history_role` in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "history_role", rename_all = "lowercase")]
pub enum HistoryRole {
    Customer,
    Staff,
    /// The server itself (expiry of unpaid orders, payment webhooks).
    System,
}

impl HistoryRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::System => "system",
        }
    }
}

/// Who moved an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Customer(Uuid),
    Staff(Uuid),
    /// The server: a payment webhook, the expiry of an unpaid order.
    System,
    /// Staff at the command line (`swift-cli`), who act as no account.
    Operator,
}

impl Actor {
    pub fn role(&self) -> HistoryRole {
        match self {
            Self::Customer(_) => HistoryRole::Customer,
            Self::Staff(_) => HistoryRole::Staff,
            Self::System => HistoryRole::System,
            Self::Operator => HistoryRole::Staff,
        }
    }

    /// The person, if a person did it.
    pub fn id(&self) -> Option<Uuid> {
        match self {
            Self::Customer(id) | Self::Staff(id) => Some(*id),
            Self::System | Self::Operator => None,
        }
    }
}

/// Where the money of an order is (`payment_status` in PostgreSQL). Independent of the
/// order's status: a cancelled order that was paid late is `paid` until its refund succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "payment_status", rename_all = "snake_case")]
pub enum PaymentStatus {
    Unpaid,
    Paid,
    PartiallyRefunded,
    Refunded,
}

/// A history entry that is not a status change (`order_event` in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "order_event", rename_all = "snake_case")]
pub enum OrderEvent {
    /// An attempt to pay failed; the order waits for another.
    PaymentFailed,
    /// Not paid within `PAYMENT_TIMEOUT`: cancelled, its stock back on sale.
    PaymentExpired,
    /// Money went back, all or part of it, without a change of status (the note says how
    /// much).
    Refund,
    /// A payment arrived after the order was cancelled; it is refunded automatically.
    PaidAfterCancellation,
    /// The provider reported a payment of another amount or currency than the order's: not
    /// applied (the note says what arrived); staff settle it at the provider.
    PaymentMismatch,
}

/// An order line: what was bought, as it was at the moment of purchase.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderItem {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub sku: String,
    pub name: String,
    /// The variant's option values (`[]` for a simple product).
    pub options: sqlx::types::Json<Vec<OptionValue>>,
    pub unit_price: rust_decimal::Decimal,
    pub quantity: i32,
    pub line_total: rust_decimal::Decimal,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryEntry {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
    pub by_role: HistoryRole,
    /// What happened, when it was not a status change.
    pub event: Option<OrderEvent>,
    pub note: Option<String>,
}

/// An order with its lines and history.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    pub number: String,
    pub user_id: Option<Uuid>,
    /// A guest order's e-mail address (`None` for a customer's).
    pub guest_email: Option<String>,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    /// Refunded so far (through the payment provider, or marked by staff).
    pub amount_refunded: Money,
    pub subtotal: Money,
    pub discount_total: Money,
    pub shipping_total: Money,
    pub tax_total: Money,
    pub total: Money,
    pub currency: String,
    pub shipping_address: Address,
    pub billing_address: Option<Address>,
    /// The shipping method's name at purchase.
    pub shipping_method: Option<String>,
    /// The discount code used.
    pub discount_code: Option<String>,
    pub tax_lines: Vec<crate::orders::pricing::TaxLine>,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub items: Vec<OrderItem>,
    pub history: Vec<HistoryEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn statuses_parse_from_the_names_they_write() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert_eq!("Shipped".parse::<OrderStatus>(), Err(UnknownStatus));
        assert_eq!("lost".parse::<OrderStatus>(), Err(UnknownStatus));
    }

    #[test]
    fn the_status_machine_allows_exactly_the_documented_moves() {
        let all = [Pending, Paid, Shipped, Delivered, Cancelled, Refunded];
        let allowed: Vec<(OrderStatus, OrderStatus)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Paid),
                (Pending, Cancelled),
                (Paid, Shipped),
                (Paid, Cancelled),
                (Paid, Refunded),
                (Shipped, Delivered),
                (Shipped, Refunded),
                (Delivered, Refunded),
            ]
        );
    }

    #[test]
    fn quantities_are_bounded() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(101).is_err());
        assert_eq!(Quantity::parse(100).unwrap().get(), 100);
    }
}
