//! Why a Google sign-in failed.

use crate::accounts::AccountsError;
use crate::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("Google sign-in is not configured on this server")]
    NotConfigured,
    /// The provider could not be reached or answered nonsense (timeouts included).
    #[error("the identity provider is unavailable: {0}")]
    Provider(String),
    /// An id_token failed a check (signature, issuer, audience, expiry, nonce).
    #[error("the identity token is invalid: {0}")]
    InvalidToken(String),
    /// The authorization code was refused by the provider.
    #[error("the authorization code was refused: {0}")]
    CodeRejected(String),
    #[error("the sign-in flow is unknown, already used, expired or started in another browser")]
    InvalidState,
    #[error("the login code is invalid or has expired")]
    InvalidLoginCode,
    #[error("an account with this email exists and the provider does not vouch for the address")]
    LinkConflict,
    #[error("this Google account is connected to another account")]
    LinkedElsewhere,
    #[error("this Google account's domain is not allowed here")]
    DomainNotAllowed,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl OAuthError {
    /// The `error=` value the callback hands the frontend.
    pub fn redirect_code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "oauth_not_configured",
            Self::Provider(_) => "provider_unavailable",
            Self::InvalidToken(_) | Self::CodeRejected(_) => "invalid_token",
            Self::InvalidState => "invalid_state",
            Self::InvalidLoginCode => "invalid_login_code",
            Self::LinkConflict | Self::LinkedElsewhere => "account_link_conflict",
            Self::DomainNotAllowed => "domain_not_allowed",
            Self::Accounts(AccountsError::AccountDisabled) => "account_disabled",
            Self::Invalid(_) | Self::Accounts(_) | Self::Database(_) => "server_error",
        }
    }
}
