//! The ways an account signs in (#19): its password and its linked Google identities.
//! A signed-in user lists them, connects Google, and removes either one as long as another
//! remains. A Google-only account gets a password through the reset flow (a mailed link
//! proves the address as well as a password would).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::OAuthError;
use super::repository as repo;
use super::service::{GoogleProof, PROVIDER, check_domain, identity_from};
use crate::Context;
use crate::accounts::repository as accounts_repo;
use crate::accounts::service::get_user;
use crate::accounts::two_factor::notify;
use crate::accounts::{AccountsError, Email};
use crate::notices::SecurityChange;

type Result<T> = std::result::Result<T, OAuthError>;

/// A kind of sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    Google,
}

/// One way this account signs in.
#[derive(Debug, Clone)]
pub struct SignInMethod {
    pub method: Method,
    /// Google: the address Google last reported for the identity.
    pub email: Option<String>,
    /// Google: when it was connected.
    pub connected_at: Option<DateTime<Utc>>,
}

pub async fn list(ctx: &Context, user_id: Uuid) -> Result<Vec<SignInMethod>> {
    let user = get_user(ctx, user_id).await?;
    let mut methods = Vec::new();
    if user.has_password() {
        methods.push(SignInMethod {
            method: Method::Password,
            email: None,
            connected_at: None,
        });
    }
    for (email, connected_at) in repo::links_of(&ctx.pool, user_id, PROVIDER).await? {
        methods.push(SignInMethod {
            method: Method::Google,
            email: Some(email),
            connected_at: Some(connected_at),
        });
    }
    Ok(methods)
}

/// Connects the Google identity behind `proof` to the signed-in account. Google must vouch
/// for its address (as when sign-in links by address); the address may differ from the
/// account's. An identity already on this account is fine; one on another account is
/// `LinkedElsewhere`.
pub async fn connect_google(
    ctx: &Context,
    user_id: Uuid,
    proof: GoogleProof<'_>,
) -> Result<Vec<SignInMethod>> {
    let identity = identity_from(ctx, proof).await?;
    check_domain(ctx, &identity)?;
    if !identity.email_verified {
        return Err(OAuthError::LinkConflict);
    }
    let email = Email::parse(&identity.email).map_err(|_| {
        OAuthError::InvalidToken("the provider's email is not a valid address".into())
    })?;
    let user = get_user(ctx, user_id).await?;
    let mut tx = ctx.pool.begin().await?;
    match repo::find_linked_user(&mut *tx, PROVIDER, &identity.subject, email.as_str()).await? {
        Some(owner) if owner == user_id => {}
        Some(_) => return Err(OAuthError::LinkedElsewhere),
        None => {
            repo::link(
                &mut *tx,
                PROVIDER,
                &identity.subject,
                user_id,
                email.as_str(),
            )
            .await?;
            notify(ctx, &mut *tx, &user, SecurityChange::GoogleConnected).await?;
        }
    }
    tx.commit().await?;
    list(ctx, user_id).await
}

/// Removes a way of signing in, refusing to remove the last one. `NotFound` when the
/// account does not have it.
pub async fn disconnect(ctx: &Context, user_id: Uuid, method: Method) -> Result<Vec<SignInMethod>> {
    let mut tx = ctx.pool.begin().await?;
    // Locks the user's row first: two removals at once cannot each see the other remain.
    accounts_repo::lock_user(&mut *tx, user_id).await?;
    let user = accounts_repo::find_user(&mut *tx, user_id)
        .await?
        .ok_or(AccountsError::NotFound)?;
    let google = repo::links_of(&mut *tx, user_id, PROVIDER).await?.len();
    let change = match method {
        Method::Password if !user.has_password() => return Err(AccountsError::NotFound.into()),
        Method::Google if google == 0 => return Err(AccountsError::NotFound.into()),
        Method::Password if google == 0 => return Err(AccountsError::LastSignInMethod.into()),
        Method::Google if !user.has_password() => {
            return Err(AccountsError::LastSignInMethod.into());
        }
        Method::Password => {
            accounts_repo::clear_password(&mut *tx, user_id).await?;
            SecurityChange::PasswordRemoved
        }
        Method::Google => {
            repo::unlink(&mut *tx, user_id, PROVIDER).await?;
            SecurityChange::GoogleDisconnected
        }
    };
    notify(ctx, &mut *tx, &user, change).await?;
    tx.commit().await?;
    list(ctx, user_id).await
}
