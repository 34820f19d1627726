//! Cart, checkout and the order life cycle.
//!
//! Checkout writes the order first and takes the stock last, through the inventory module,
//! which locks stock rows in product-id order: concurrent checkouts queue instead of
//! deadlocking or overselling, and every stock change lands in the same ledger as staff
//! adjustments.

pub mod address_book;
pub mod cart;
pub mod checkout;
pub mod discounts;
pub mod error;
pub mod guest;
pub mod lifecycle;
pub mod pricing;
pub mod repository;
pub mod shipping;
pub mod tax;
pub mod types;

pub use error::OrdersError;
pub use types::{Address, Order, OrderStatus, PaymentStatus, Quantity, Totals, UnknownStatus};
