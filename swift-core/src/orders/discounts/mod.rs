//! Discount codes: a percentage or an amount off, with an optional minimum subtotal, a
//! window of time, a total usage limit and a per-customer limit. A cart holds one code; it
//! is checked when applied and again at checkout, where the redemption is counted in the
//! checkout transaction under the code row's lock, so a limit is never exceeded however
//! many checkouts race for the last use.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

mod repository;

pub use repository::by_id;

use self::repository as repo;
use super::OrdersError;
use super::error::touched;
use super::pricing::Discount;
use crate::Context;
use crate::money::Money;
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, OrdersError>;

/// The kinds as PostgreSQL's `discount_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "discount_kind", rename_all = "snake_case")]
pub enum Kind {
    Percent,
    Fixed,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Code {
    pub id: Uuid,
    pub code: String,
    pub kind: Kind,
    pub value: Decimal,
    pub min_subtotal: Option<Decimal>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub times_used: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl Code {
    /// What it takes off, and the subtotal it needs.
    pub fn discount(&self) -> (Discount, Option<Money>) {
        let discount = match self.kind {
            Kind::Percent => Discount::Percent(self.value),
            Kind::Fixed => Discount::Fixed(Money::from_decimal(self.value)),
        };
        (discount, self.min_subtotal.map(Money::from_decimal))
    }

    /// Why the code cannot be used at `now`, if it cannot (its minimum is the pricing's).
    pub fn refusal(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if !self.is_active {
            Some("this code is no longer valid")
        } else if self.starts_at.is_some_and(|s| now < s) {
            Some("this code is not valid yet")
        } else if self.ends_at.is_some_and(|e| now >= e) {
            Some("this code has expired")
        } else if self.usage_limit.is_some_and(|l| self.times_used >= l) {
            Some("this code has been used up")
        } else {
            None
        }
    }
}

/// A code's terms, checked.
#[derive(Debug, Clone)]
pub struct CodeInput {
    pub code: String,
    pub kind: Kind,
    pub value: Decimal,
    pub min_subtotal: Option<Money>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub is_active: bool,
}

/// A code as people type it: letters, digits, `-` and `_`, 3 to 40, compared in upper case.
pub fn normalize(raw: &str) -> std::result::Result<String, Invalid> {
    let code = raw.trim().to_uppercase();
    if (3..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(code)
    } else {
        Err(Invalid::new(
            "code",
            "must be 3 to 40 letters, digits, - or _",
        ))
    }
}

impl CodeInput {
    pub fn check(mut self) -> std::result::Result<Self, Invalid> {
        self.code = normalize(&self.code)?;
        match self.kind {
            Kind::Percent
                if self.value <= Decimal::ZERO
                    || self.value > Decimal::ONE_HUNDRED
                    || self.value.scale() > 2 =>
            {
                return Err(Invalid::new(
                    "value",
                    "a percentage must be more than 0 and at most 100, with at most two decimals",
                ));
            }
            Kind::Fixed if self.value <= Decimal::ZERO || self.value.scale() > 2 => {
                return Err(Invalid::new(
                    "value",
                    "an amount off must be more than 0.00, with two decimals",
                ));
            }
            _ => {}
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && s >= e
        {
            return Err(Invalid::new("ends_at", "must be after starts_at"));
        }
        for (field, limit) in [
            ("usage_limit", self.usage_limit),
            ("per_customer_limit", self.per_customer_limit),
        ] {
            if limit.is_some_and(|l| l < 1) {
                return Err(Invalid::new(field, "must be at least 1"));
            }
        }
        Ok(self)
    }
}

fn taken(e: sqlx::Error) -> OrdersError {
    let taken = Invalid::new("code", "this code exists already");
    crate::db::constraint_error(e, [("discount_codes_code_key", OrdersError::from(taken))])
}

pub async fn list(ctx: &Context) -> Result<Vec<Code>> {
    Ok(repo::list(&ctx.pool).await?)
}

pub async fn create(ctx: &Context, c: CodeInput) -> Result<Code> {
    repo::insert(&ctx.pool, Uuid::now_v7(), &c)
        .await
        .map_err(taken)
}

/// Replaces a code's terms (its use count stays).
pub async fn update(ctx: &Context, id: Uuid, c: CodeInput) -> Result<Code> {
    repo::update(&ctx.pool, id, &c)
        .await
        .map_err(taken)?
        .ok_or(OrdersError::NotFound)
}

pub async fn delete(ctx: &Context, id: Uuid) -> Result<()> {
    touched(repo::delete(&ctx.pool, id).await?)
}

/// A code by what a shopper typed.
pub async fn find(ex: impl PgExecutor<'_>, typed: &str) -> Result<Option<Code>> {
    let Ok(code) = normalize(typed) else {
        return Ok(None);
    };
    Ok(repo::by_code(ex, &code).await?)
}

/// Counts one use of code `id` by `customer` for `order_id`, in the checkout transaction.
/// The code's row is locked by the count's UPDATE first, so racing checkouts take turns
/// and the limits are read after every earlier redemption committed. `Err` with the reason
/// when the code cannot be used any more.
pub async fn redeem(
    conn: &mut PgConnection,
    id: Uuid,
    order_id: Uuid,
    customer: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(mut code) = repo::count_use(&mut *conn, id).await? else {
        return Err(OrdersError::DiscountNotApplicable(
            "this code is no longer valid",
        ));
    };
    // The row as it was before this use.
    code.times_used -= 1;
    if let Some(reason) = code.refusal(now) {
        return Err(OrdersError::DiscountNotApplicable(reason));
    }
    if let Some(limit) = code.per_customer_limit
        && repo::uses_by(&mut *conn, id, customer).await? >= i64::from(limit)
    {
        return Err(OrdersError::DiscountNotApplicable(
            "this code has been used as often as it may be by one customer",
        ));
    }
    repo::insert_redemption(conn, id, order_id, customer).await?;
    Ok(())
}
