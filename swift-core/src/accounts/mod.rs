//! Accounts: users, passwords, sessions and tokens, email verification and password reset.
//!
//! The HTTP layer and the CLI call [`service`]; [`repository`] holds the SQL.

pub mod error;
pub mod password;
pub mod repository;
pub mod service;
pub mod tokens;
pub mod two_factor;
pub mod types;

pub use error::AccountsError;
pub use types::{ClientInfo, Email, NewPassword, PersonName, Session, User};
