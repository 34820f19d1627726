//! Everything an accounts operation can refuse; swift-server maps each to a status and code.

use crate::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("the email or password is incorrect")]
    InvalidCredentials,
    #[error("the email address is not verified yet")]
    EmailNotVerified,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("authentication credentials were not provided")]
    NotAuthenticated,
    #[error("the token is invalid")]
    TokenInvalid,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the refresh token was already used; the session has been revoked")]
    TokenReused,
    #[error("staff permission is required")]
    PermissionDenied,
    #[error("not found")]
    NotFound,
    #[error("the code is wrong, expired or already used")]
    TwoFactorCodeInvalid,
    #[error("two-factor sign-in is already on; turn it off first to enrol again")]
    TwoFactorEnabled,
    #[error("two-factor sign-in is not on for this account")]
    TwoFactorNotEnabled,
    #[error(
        "staff must sign in with a second factor: turn on two-factor sign-in, then sign in again"
    )]
    TwoFactorRequired,
    #[error("this is the account's only way to sign in; add another before removing it")]
    LastSignInMethod,
    #[error("too many attempts; retry in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::ratelimit::RateLimited> for AccountsError {
    fn from(e: crate::ratelimit::RateLimited) -> Self {
        match e {
            crate::ratelimit::RateLimited::Exceeded { retry_after } => {
                Self::RateLimited { retry_after }
            }
            crate::ratelimit::RateLimited::Database(e) => Self::Database(e),
        }
    }
}
