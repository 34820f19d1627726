//! Catalog: the category tree, products, search and filters, stock and its ledger.

pub mod cache;
pub mod error;
pub mod repository;
pub mod service;
pub mod transfer;
pub mod types;

pub use error::CatalogError;
pub use types::{Category, Product, ProductFilter, ProductOrdering, Slug};
