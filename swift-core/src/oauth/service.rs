//! Google sign-in, three ways (docs/API.md): the redirect flow (`authorize` → provider →
//! `callback` → frontend with a login code → `exchange_login_code`), an id_token the
//! frontend already holds, or an authorization code the frontend obtained itself.

use chrono::{Duration, Utc};
use uuid::Uuid;

use super::OAuthError;
use super::provider::{Identity, OidcProvider};
use super::repository as repo;
use crate::Context;
use crate::accounts::repository::{self as accounts_repo, NewUser};
use crate::accounts::service::{SignIn, sign_in_verified_user};
use crate::accounts::tokens::{hash_token, opaque_token};
use crate::accounts::{ClientInfo, Email, PersonName, User};
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, OAuthError>;

/// Our name for the provider in `social_accounts`.
pub const PROVIDER: &str = "google";
/// How long a started redirect flow stays usable.
pub const FLOW_TTL: Duration = Duration::minutes(10);
/// How long the frontend has to exchange a login code.
pub const LOGIN_CODE_TTL: Duration = Duration::seconds(60);

fn provider(ctx: &Context) -> Result<&OidcProvider> {
    ctx.oidc.as_deref().ok_or(OAuthError::NotConfigured)
}

/// A same-site path to return to after sign-in. Anything that could leave the site
/// (`https://…`, `//host`, `/\host`) is refused: no open redirect.
pub fn parse_next(raw: Option<&str>) -> std::result::Result<String, Invalid> {
    let Some(next) = raw.filter(|n| !n.is_empty()) else {
        return Ok("/".into());
    };
    let bad = || Invalid::new("next", "must be a path on this site, such as /account");
    if next.len() > 512
        || !next.starts_with('/')
        || next.starts_with("//")
        || next.contains('\\')
        || next.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad());
    }
    Ok(next.to_owned())
}

/// The start of a redirect flow: where to send the browser and the value of the cookie
/// that binds the flow to it.
pub struct Started {
    pub url: String,
    pub binding: String,
}

/// Stores state, PKCE verifier, nonce and `next` server-side and returns the provider URL.
pub async fn authorize(ctx: &Context, next: &str) -> Result<Started> {
    let request = provider(ctx)?.authorization_request().await?;
    let (binding, binding_hash) = opaque_token();
    repo::insert_flow(
        &ctx.pool,
        &repo::NewFlow {
            state_hash: &hash_token(&request.state),
            binding_hash: &binding_hash,
            pkce_verifier: &request.pkce_verifier,
            nonce: &request.nonce,
            next_path: next,
            expires_at: Utc::now() + FLOW_TTL,
        },
    )
    .await?;
    Ok(Started {
        url: request.url,
        binding,
    })
}

/// A finished callback: the account, and the URL to send the browser to.
pub struct Finished {
    pub user: User,
    pub created: bool,
    pub next: String,
    pub login_code: String,
}

/// Finishes a redirect flow: the state must be live and unused and the binding cookie the
/// one set by `authorize`; the code is exchanged with the PKCE verifier, the id_token
/// verified with the flow's nonce, and a 60-second login code issued.
pub async fn callback(
    ctx: &Context,
    code: &str,
    state: &str,
    binding: Option<&str>,
) -> Result<Finished> {
    let flow = repo::take_flow(&ctx.pool, &hash_token(state))
        .await?
        .ok_or(OAuthError::InvalidState)?;
    if binding.map(hash_token) != Some(flow.binding_hash.clone()) {
        return Err(OAuthError::InvalidState);
    }
    let provider = provider(ctx)?;
    let redirect_uri = provider
        .config()
        .redirect_uri
        .as_deref()
        .ok_or(OAuthError::NotConfigured)?;
    let id_token = provider
        .exchange_code(code, Some(&flow.pkce_verifier), redirect_uri)
        .await?;
    let identity = provider.verify(&id_token, Some(&flow.nonce)).await?;
    let (user, created) = resolve_account(ctx, &identity).await?;
    if !user.is_active {
        return Err(crate::accounts::AccountsError::AccountDisabled.into());
    }
    let (login_code, code_hash) = opaque_token();
    repo::insert_login_code(
        &ctx.pool,
        &code_hash,
        user.id,
        created,
        Utc::now() + LOGIN_CODE_TTL,
    )
    .await?;
    Ok(Finished {
        user,
        created,
        next: flow.next_path,
        login_code,
    })
}

/// Redeems a login code for a token pair (single use, 60 seconds).
pub async fn exchange_login_code(
    ctx: &Context,
    code: &str,
    client: &ClientInfo,
) -> Result<(SignIn, bool)> {
    let (user_id, created) = repo::take_login_code(&ctx.pool, &hash_token(code))
        .await?
        .ok_or(OAuthError::InvalidLoginCode)?;
    let user = accounts_repo::find_user(&ctx.pool, user_id)
        .await?
        .ok_or(OAuthError::InvalidLoginCode)?;
    Ok((
        sign_in_verified_user(ctx, user, client, Some(created)).await?,
        created,
    ))
}

/// What the frontend holds to prove a Google identity: an id_token (Google Identity
/// Services, Auth.js), or an authorization code it obtained for `redirect_uri`.
#[derive(Debug, Clone, Copy)]
pub enum GoogleProof<'a> {
    IdToken(&'a str),
    Code {
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: Option<&'a str>,
    },
}

/// The identity behind a proof, every check of the id_token done.
pub(crate) async fn identity_from(ctx: &Context, proof: GoogleProof<'_>) -> Result<Identity> {
    let provider = provider(ctx)?;
    let id_token = match proof {
        GoogleProof::IdToken(token) => token.to_owned(),
        GoogleProof::Code {
            code,
            redirect_uri,
            code_verifier,
        } => {
            provider
                .exchange_code(code, code_verifier, redirect_uri)
                .await?
        }
    };
    provider.verify(&id_token, None).await
}

/// Signs in with a Google identity the frontend proves.
pub async fn login_with_google(
    ctx: &Context,
    proof: GoogleProof<'_>,
    client: &ClientInfo,
) -> Result<(SignIn, bool)> {
    let identity = identity_from(ctx, proof).await?;
    sign_in(ctx, &identity, client).await
}

async fn sign_in(
    ctx: &Context,
    identity: &Identity,
    client: &ClientInfo,
) -> Result<(SignIn, bool)> {
    let (user, created) = resolve_account(ctx, identity).await?;
    Ok((
        sign_in_verified_user(ctx, user, client, Some(created)).await?,
        created,
    ))
}

/// `GOOGLE_ALLOWED_DOMAINS`, when set: only identities of those Workspace domains.
pub(crate) fn check_domain(ctx: &Context, identity: &Identity) -> Result<()> {
    let allowed = &provider(ctx)?.config().allowed_domains;
    if !allowed.is_empty()
        && !identity
            .hosted_domain
            .as_ref()
            .is_some_and(|d| allowed.contains(d))
    {
        return Err(OAuthError::DomainNotAllowed);
    }
    Ok(())
}

/// docs/API.md's account rules: by (provider, subject); else link to the local account with the
/// same email only when the provider vouches for it; else create a password-less account.
pub async fn resolve_account(ctx: &Context, identity: &Identity) -> Result<(User, bool)> {
    check_domain(ctx, identity)?;
    let email = Email::parse(&identity.email).map_err(|_| {
        OAuthError::InvalidToken("the provider's email is not a valid address".into())
    })?;
    let mut tx = ctx.pool.begin().await?;
    if let Some(user_id) =
        repo::find_linked_user(&mut *tx, PROVIDER, &identity.subject, email.as_str()).await?
    {
        let user = accounts_repo::find_user(&mut *tx, user_id)
            .await?
            .ok_or(OAuthError::InvalidState)?;
        tx.commit().await?;
        return Ok((user, false));
    }
    if let Some(user) = accounts_repo::find_user_by_email(&mut *tx, email.as_str()).await? {
        if !identity.email_verified {
            return Err(OAuthError::LinkConflict);
        }
        repo::link(
            &mut *tx,
            PROVIDER,
            &identity.subject,
            user.id,
            email.as_str(),
        )
        .await?;
        // The provider has proven control of the address.
        let user = accounts_repo::mark_email_verified(&mut *tx, user.id)
            .await?
            .unwrap_or(user);
        tx.commit().await?;
        return Ok((user, false));
    }
    let name = |v: &Option<String>, field| {
        v.as_deref()
            .and_then(|n| PersonName::parse(field, n).ok())
            .unwrap_or_default()
    };
    let (first, last) = (
        name(&identity.given_name, "first_name"),
        name(&identity.family_name, "last_name"),
    );
    let user = accounts_repo::insert_user(
        &mut *tx,
        &NewUser {
            id: Uuid::now_v7(),
            email: email.as_str(),
            password_hash: None,
            first_name: first.as_str(),
            last_name: last.as_str(),
            email_verified: identity.email_verified,
            is_staff: false,
        },
    )
    .await?;
    repo::link(
        &mut *tx,
        PROVIDER,
        &identity.subject,
        user.id,
        email.as_str(),
    )
    .await?;
    tx.commit().await?;
    Ok((user, true))
}
