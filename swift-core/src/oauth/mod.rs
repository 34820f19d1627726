//! Google sign-in over OpenID Connect: the provider client ([`provider`]), flow state and
//! linked identities in the database ([`repository`]), and the sign-in rules ([`service`]).

pub mod error;
pub mod methods;
pub mod provider;
pub mod repository;
pub mod service;

pub use error::OAuthError;
pub use provider::{Identity, OidcProvider};
