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
    #[error("another variant of the product has the same option values")]
    VariantOptionsTaken,
    #[error("a variant still uses the option value {0:?}")]
    OptionValueInUse(String),
    #[error("the category still has products or subcategories")]
    CategoryInUse,
    #[error("a category cannot be its own ancestor")]
    CategoryCycle,
    #[error("stock cannot go below zero (it is {available})")]
    StockBelowZero { available: i32 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl crate::replicas::ConnectionFailure for CatalogError {
    fn is_connection_failure(&self) -> bool {
        matches!(self, Self::Database(e) if e.is_connection_failure())
    }
}

impl CatalogError {
    /// A write refused by a constraint: the slug or sku it was given is taken, two
    /// variants would share option values, or a price fell to its compare-at price.
    pub fn taken(e: sqlx::Error, slug: Option<&str>, sku: Option<&str>) -> Self {
        let slug_taken = || slug.map(|s| Self::SlugTaken(s.to_owned()));
        let meanings = [
            ("products_slug_key", slug_taken()),
            ("categories_slug_key", slug_taken()),
            (
                "product_variants_sku_key",
                sku.map(|s| Self::SkuTaken(s.to_owned())),
            ),
            (
                "product_variants_options_key",
                Some(Self::VariantOptionsTaken),
            ),
            (
                "product_variants_compare_at_check",
                Some(Self::Invalid(super::variant::compare_at_too_low())),
            ),
        ];
        crate::db::constraint_error(
            e,
            meanings
                .into_iter()
                .filter_map(|(name, meaning)| Some((name, meaning?))),
        )
    }
}
