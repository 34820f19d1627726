//! The handles every service needs, built once per process.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::accounts::tokens::JwtKeys;
use crate::catalog::ProductFilter;
use crate::catalog::cache::ScopedCache;
use crate::catalog::changes::CatalogChanges;
use crate::config::{Config, ConfigError};
use crate::mail::Mailer;
use crate::oauth::OidcProvider;
use crate::replicas::ReadPools;

/// The share of `CATALOG_CACHE_MAX_BYTES` that listing counts get (1/16); the HTTP layer's
/// caches of rendered answers take the rest.
pub const COUNTS_SHARE: u64 = 16;

/// Pool, configuration, mailer and signing keys; cheap to clone into each request.
#[derive(Clone)]
pub struct Context {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub mailer: Mailer,
    pub jwt: Arc<JwtKeys>,
    /// Google sign-in, when configured.
    pub oidc: Option<Arc<OidcProvider>>,
    /// What changed in the catalog, for every cache of catalog reads; caching is off until
    /// [`CatalogChanges::spawn_listener`] runs (the server does).
    pub catalog_changes: Arc<CatalogChanges>,
    /// How many products match a listing filter (the expensive part of a listing).
    pub listing_counts: Arc<ScopedCache<ProductFilter, i64>>,
    /// Wakes this process's outbox worker after a commit that enqueued mail.
    pub outbox_wake: Arc<crate::outbox::Wake>,
    /// The payment provider (Stripe), when configured; without one, staff mark orders paid.
    pub payments: Option<Arc<dyn crate::payments::PaymentProvider>>,
    /// Where the storefront's catalog reads go: a fresh replica, or the primary.
    pub reads: Arc<ReadPools>,
    /// Product pages' live stock, read from the primary with concurrent reads batched.
    pub live_stock: Arc<crate::inventory::LiveStock>,
}

impl Context {
    pub fn new(pool: PgPool, config: Config) -> Result<Self, ConfigError> {
        let mailer = Mailer::new(&config)?;
        let jwt = Arc::new(JwtKeys::new(&config.auth));
        let oidc = config
            .google
            .clone()
            .map(|g| Arc::new(OidcProvider::new(g)));
        let catalog_changes = Arc::new(CatalogChanges::default());
        let payments = config.stripe.clone().map(|s| {
            Arc::new(crate::payments::stripe::Stripe::new(s))
                as Arc<dyn crate::payments::PaymentProvider>
        });
        let reads = ReadPools::new(
            pool.clone(),
            &config.database_replica_urls,
            config.db_max_connections,
            Duration::from_millis(config.replica_max_lag_ms),
            Arc::clone(&catalog_changes),
        )
        .map_err(|e| ConfigError::new("DATABASE_REPLICA_URLS", e.to_string()))?;
        Ok(Self {
            reads: Arc::new(reads),
            live_stock: crate::inventory::LiveStock::new(pool.clone()),
            listing_counts: ScopedCache::new(
                "listing_counts",
                &catalog_changes,
                config.catalog_cache_max_bytes / COUNTS_SHARE,
            ),
            catalog_changes,
            oidc,
            pool,
            config: Arc::new(config),
            mailer,
            jwt,
            outbox_wake: Arc::default(),
            payments,
        })
    }
}
