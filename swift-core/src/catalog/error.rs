//! What a catalog operation can refuse.

use crate::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("not found")]
    NotFound,
    #[error("the slug {0:?} is already used")]
    SlugTaken(String),
    #[error("the sku {0:?} is already used")]
    SkuTaken(String),
    #[error("the category still has products or subcategories")]
    CategoryInUse,
    #[error("a category cannot be its own ancestor")]
    CategoryCycle,
    #[error("stock cannot go below zero (it is {available})")]
    StockBelowZero { available: i32 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl CatalogError {
    /// Turns unique violations into the conflict they mean.
    pub fn from_unique(e: sqlx::Error, slug: &str, sku: &str) -> Self {
        if let sqlx::Error::Database(db) = &e {
            match db.constraint() {
                Some("products_slug_key" | "categories_slug_key") => {
                    return Self::SlugTaken(slug.to_owned());
                }
                Some("products_sku_key") => return Self::SkuTaken(sku.to_owned()),
                _ => {}
            }
        }
        Self::Database(e)
    }
}
