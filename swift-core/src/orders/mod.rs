//! Cart, checkout and the order life cycle.
//!
//! Checkout locks the cart's product rows in id order, so concurrent checkouts queue instead
//! of deadlocking or overselling; every stock change lands in the same inventory ledger as
//! staff adjustments.

pub mod cart;
pub mod checkout;
pub mod error;
pub mod lifecycle;
pub mod repository;
pub mod types;

pub use error::OrdersError;
pub use types::{Address, Order, OrderStatus, Quantity};
