//! What cart and order operations can refuse.

pub use crate::inventory::Shortage;

use super::types::{OrderStatus, Totals};
use crate::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("not found")]
    NotFound,
    #[error("the cart is empty")]
    EmptyCart,
    #[error("not enough stock for {} line(s)", .0.len())]
    InsufficientStock(Vec<Shortage>),
    #[error("the total is now {}, not the one expected", .0.total)]
    PriceChanged(Box<Totals>),
    #[error("{0}")]
    DiscountNotApplicable(&'static str),
    #[error("{0}")]
    ShippingUnavailable(&'static str),
    #[error("claiming guest orders needs a verified email address")]
    EmailNotVerified,
    #[error("an order cannot go from {from} to {to}")]
    InvalidTransition { from: OrderStatus, to: OrderStatus },
    /// A payment or refund that a move needed was refused (`payments` says why).
    #[error(transparent)]
    Payments(Box<crate::payments::PaymentsError>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl OrdersError {
    pub(crate) fn from_payments(e: crate::payments::PaymentsError) -> Self {
        use crate::payments::PaymentsError as P;
        match e {
            P::Database(e) => Self::Database(e),
            P::NotFound => Self::NotFound,
            P::Orders(e) => *e,
            e => Self::Payments(Box::new(e)),
        }
    }
}

/// `NotFound` when a write touched no row (an id that names nothing).
pub(crate) fn touched(found: bool) -> Result<(), OrdersError> {
    if found {
        Ok(())
    } else {
        Err(OrdersError::NotFound)
    }
}
