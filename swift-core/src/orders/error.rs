//! What cart and order operations can refuse.

pub use crate::inventory::Shortage;

use super::types::OrderStatus;
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
    #[error("claiming guest orders needs a verified email address")]
    EmailNotVerified,
    #[error("an order cannot go from {from} to {to}")]
    InvalidTransition { from: OrderStatus, to: OrderStatus },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
