//! Discount codes: a percentage or an amount off, with an optional minimum subtotal, a
//! window of time, a total usage limit and a per-customer limit. A cart holds one code; it
//! is checked when applied and again at checkout, where the redemption is counted in the
//! checkout transaction under the code row's lock, so a limit is never exceeded however
//! many checkouts race for the last use.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::OrdersError;
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

const COLUMNS: &str = "id, code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, \
                       per_customer_limit, times_used, is_active, created_at";

fn taken(e: sqlx::Error) -> OrdersError {
    let taken = Invalid::new("code", "this code exists already");
    crate::db::constraint_error(e, [("discount_codes_code_key", OrdersError::from(taken))])
}

pub async fn list(ctx: &Context) -> Result<Vec<Code>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discount_codes ORDER BY created_at DESC, id"
    )))
    .fetch_all(&ctx.pool)
    .await?)
}

pub async fn create(ctx: &Context, c: CodeInput) -> Result<Code> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO discount_codes (id, code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, \
                                     per_customer_limit, is_active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(&c.code)
    .bind(c.kind)
    .bind(c.value)
    .bind(c.min_subtotal.map(|m| m.amount()))
    .bind(c.starts_at)
    .bind(c.ends_at)
    .bind(c.usage_limit)
    .bind(c.per_customer_limit)
    .bind(c.is_active)
    .fetch_one(&ctx.pool)
    .await
    .map_err(taken)
}

/// Replaces a code's terms (its use count stays).
pub async fn update(ctx: &Context, id: Uuid, c: CodeInput) -> Result<Code> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE discount_codes SET code = $2, kind = $3, value = $4, min_subtotal = $5, starts_at = $6, \
                ends_at = $7, usage_limit = $8, per_customer_limit = $9, is_active = $10 \
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&c.code)
    .bind(c.kind)
    .bind(c.value)
    .bind(c.min_subtotal.map(|m| m.amount()))
    .bind(c.starts_at)
    .bind(c.ends_at)
    .bind(c.usage_limit)
    .bind(c.per_customer_limit)
    .bind(c.is_active)
    .fetch_optional(&ctx.pool)
    .await
    .map_err(taken)?
    .ok_or(OrdersError::NotFound)
}

pub async fn delete(ctx: &Context, id: Uuid) -> Result<()> {
    super::error::touched(
        sqlx::query("DELETE FROM discount_codes WHERE id = $1")
            .bind(id)
            .execute(&ctx.pool)
            .await?,
    )
}

/// A code by what a shopper typed.
pub async fn find(ex: impl PgExecutor<'_>, typed: &str) -> Result<Option<Code>> {
    let Ok(code) = normalize(typed) else {
        return Ok(None);
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discount_codes WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(ex)
    .await?)
}

/// A code by id.
pub async fn by_id(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Code>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discount_codes WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// How many times `customer` has used code `id`.
pub async fn uses_by(ex: impl PgExecutor<'_>, id: Uuid, customer: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM discount_redemptions WHERE code_id = $1 AND customer = $2",
    )
    .bind(id)
    .bind(customer)
    .fetch_one(ex)
    .await
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
    let code: Option<Code> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE discount_codes SET times_used = times_used + 1 WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(mut code) = code else {
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
        && uses_by(&mut *conn, id, customer).await? >= i64::from(limit)
    {
        return Err(OrdersError::DiscountNotApplicable(
            "this code has been used as often as it may be by one customer",
        ));
    }
    sqlx::query(
        "INSERT INTO discount_redemptions (order_id, code_id, customer) VALUES ($1, $2, $3)",
    )
    .bind(order_id)
    .bind(id)
    .bind(customer)
    .execute(conn)
    .await?;
    Ok(())
}
