//! Operations, one module per API tag of docs/API.md.

mod addresses;
mod admin;
mod admin_catalog;
mod admin_pricing;
mod auth;
pub(crate) mod caching;
mod cart;
mod catalog;
mod google;
pub(crate) mod money;
mod ops;
mod orders;
mod payments;
mod security;

pub use auth::{TokenPairBody, UserBody, token_response};

use poem_openapi::Tags;

/// The tags of docs/API.md; generated clients group operations by them.
#[derive(Tags)]
#[oai(rename_all = "lowercase")]
pub enum ApiTags {
    /// Sign-up, sign-in, tokens, sessions, passwords, Google sign-in.
    Auth,
    /// Categories and products.
    Catalog,
    /// The shopper's cart: a customer's, or a guest's by its cart token.
    Cart,
    /// Checkout, order history and the address book.
    Orders,
    /// Staff-only management.
    Admin,
    /// Health, readiness and the API document.
    Ops,
}

/// Every API object; the tuple grows as areas are added.
pub type Api = (
    ops::OpsApi,
    auth::AuthApi,
    google::GoogleApi,
    security::SecurityApi,
    catalog::CatalogApi,
    cart::CartApi,
    orders::OrdersApi,
    payments::PaymentsApi,
    addresses::AddressesApi,
    admin::AdminUsersApi,
    admin_catalog::AdminCatalogApi,
    admin_pricing::AdminPricingApi,
    orders::AdminOrdersApi,
    payments::AdminPaymentsApi,
);

pub fn apis() -> Api {
    (
        ops::OpsApi,
        auth::AuthApi,
        google::GoogleApi,
        security::SecurityApi,
        catalog::CatalogApi,
        cart::CartApi,
        orders::OrdersApi,
        payments::PaymentsApi,
        addresses::AddressesApi,
        admin::AdminUsersApi,
        admin_catalog::AdminCatalogApi,
        admin_pricing::AdminPricingApi,
        orders::AdminOrdersApi,
        payments::AdminPaymentsApi,
    )
}
