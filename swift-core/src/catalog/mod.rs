//! Catalog: the category tree, products with their options and variants, search and
//! filters. Stock and its ledger belong to [`crate::inventory`].

pub mod cache;
pub mod changes;
pub mod error;
pub mod repository;
pub mod service;
pub mod transfer;
pub mod types;
pub mod variant;

pub use error::CatalogError;
pub use types::{Category, Product, ProductDetail, ProductFilter, ProductOrdering, Slug};
pub use variant::{OptionValue, ProductOption, Variant};
