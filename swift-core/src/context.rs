//! The handles every service needs, built once per process.

use std::sync::Arc;

use sqlx::PgPool;

use crate::accounts::tokens::JwtKeys;
use crate::catalog::cache::ListCache;
use crate::config::{Config, ConfigError};
use crate::mail::Mailer;
use crate::oauth::OidcProvider;

/// Pool, configuration, mailer and signing keys; cheap to clone into each request.
#[derive(Clone)]
pub struct Context {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub mailer: Mailer,
    pub jwt: Arc<JwtKeys>,
    /// Google sign-in, when configured.
    pub oidc: Option<Arc<OidcProvider>>,
    /// Product listings; off until [`ListCache::spawn_listener`] runs (the server does).
    pub catalog_cache: Arc<ListCache>,
}

impl Context {
    pub fn new(pool: PgPool, config: Config) -> Result<Self, ConfigError> {
        let mailer = Mailer::new(&config)?;
        let jwt = Arc::new(JwtKeys::new(&config.auth));
        let oidc = config
            .google
            .clone()
            .map(|g| Arc::new(OidcProvider::new(g)));
        Ok(Self {
            catalog_cache: Arc::new(ListCache::new(config.catalog_cache_max_bytes)),
            oidc,
            pool,
            config: Arc::new(config),
            mailer,
            jwt,
        })
    }
}
