//! SWIFT's domain library: configuration, database access and the services behind the HTTP
//! API and the admin CLI. Nothing in here knows about HTTP, so the server stays a thin layer
//! and the CLI calls the very same services.

pub mod accounts;
pub mod catalog;
pub mod config;
pub mod context;
pub mod db;
pub mod idempotency;
pub mod inventory;
pub mod mail;
pub mod maintenance;
pub mod money;
pub mod notices;
pub mod oauth;
pub mod orders;
pub mod outbox;
pub mod pagination;
pub mod payments;
pub mod ratelimit;
pub mod replicas;
pub mod seed;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod validation;

pub use config::Config;
pub use context::Context;
