//! Two-factor sign-in (#19): a TOTP factor (RFC 6238) and ten recovery codes per account.
//!
//! Enrolment makes a secret and shows it once (base32 and an `otpauth://` URI for a QR
//! code); the first right code confirms it and answers the recovery codes, also once. From
//! then on a sign-in's first step (password, Google) ends in a [`Challenge`] instead of
//! tokens, and [`complete_sign_in`] trades it and a code for the session. A code is good
//! once (the last used time step is kept), a challenge takes five attempts and dies after
//! five minutes, and attempts are rate limited per account as sign-ins are.
//!
//! Secrets are sealed with AES-256-GCM under `TWO_FACTOR_KEY` ([`totp::seal`]); recovery
//! codes are kept as keyed hashes. Every change is mailed to the account's owner.

pub mod repository;
pub mod totp;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use self::repository as repo;
use super::AccountsError;
use super::service::{AuthUser, TokenPair, get_user, recheck_password, start_session};
use super::tokens::{hash_token, opaque_token};
use super::types::{ClientInfo, User};
use crate::Context;
use crate::notices::{self, SecurityChange};
use crate::outbox::{self, Event};
use crate::ratelimit::{self, Action};

type Result<T> = std::result::Result<T, AccountsError>;

/// How long a sign-in's second step may wait for its code.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// Codes tried on one challenge before it dies (a new sign-in starts over, rate limited).
const CHALLENGE_ATTEMPTS: i32 = 5;

/// What enrolment shows, once: the secret for an authenticator app.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// Base32, to type in.
    pub secret: String,
    /// `otpauth://totp/...`, to show as a QR code.
    pub otpauth_uri: String,
}

/// Where an account stands.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub enabled: bool,
    /// An enrolment waiting for its first code.
    pub pending: bool,
    pub recovery_codes_left: i64,
}

/// A sign-in's first step done, waiting for a code.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

fn now_unix() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}

fn key(ctx: &Context) -> &[u8; 32] {
    &ctx.config.auth.two_factor_key
}

pub async fn status(ctx: &Context, user_id: Uuid) -> Result<Status> {
    let factor = repo::find_factor(&ctx.pool, user_id).await?;
    let enabled = factor.as_ref().is_some_and(|f| f.confirmed_at.is_some());
    Ok(Status {
        enabled,
        pending: factor.is_some() && !enabled,
        recovery_codes_left: if enabled {
            repo::recovery_codes_left(&ctx.pool, user_id).await?
        } else {
            0
        },
    })
}

/// Makes a new secret for the account (replacing an unconfirmed one); 409 while a
/// confirmed factor exists.
pub async fn enrol(ctx: &Context, user_id: Uuid) -> Result<Enrolment> {
    let user = get_user(ctx, user_id).await?;
    let secret = totp::new_secret();
    let sealed = totp::seal(key(ctx), user_id, &secret);
    if !repo::put_unconfirmed(&ctx.pool, user_id, &sealed).await? {
        return Err(AccountsError::TwoFactorEnabled);
    }
    Ok(Enrolment {
        secret: totp::secret_base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, &ctx.config.shop_name, &user.email),
    })
}

/// Confirms an enrolment with its first code: the factor is on, the caller's session counts
/// as signed in with it, and the ten recovery codes are answered (the only time they are).
pub async fn confirm(ctx: &Context, auth: AuthUser, code: &str) -> Result<Vec<String>> {
    let user = get_user(ctx, auth.id).await?;
    let mut tx = ctx.pool.begin().await?;
    let factor = repo::find_factor(&mut *tx, auth.id)
        .await?
        .ok_or(AccountsError::TwoFactorNotEnabled)?;
    if factor.confirmed_at.is_some() {
        return Err(AccountsError::TwoFactorEnabled);
    }
    let secret = open_secret(ctx, auth.id, &factor.secret_sealed)?;
    let step = totp::matching_step(&secret, code, now_unix())
        .ok_or(AccountsError::TwoFactorCodeInvalid)?;
    if !repo::use_step(&mut *tx, auth.id, step).await? {
        return Err(AccountsError::TwoFactorCodeInvalid);
    }
    repo::confirm(&mut *tx, auth.id).await?;
    let codes = new_recovery_codes(ctx, &mut tx, auth.id).await?;
    repo::mark_session(&mut *tx, auth.session_id).await?;
    notify(ctx, &mut *tx, &user, SecurityChange::TwoFactorOn).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns the factor off: the password (for accounts that have one) and a code or a
/// recovery code. Sessions stop counting as signed in with a second factor.
pub async fn disable(
    ctx: &Context,
    user_id: Uuid,
    password: Option<&str>,
    code: &str,
    client: &ClientInfo,
) -> Result<()> {
    let user = get_user(ctx, user_id).await?;
    recheck_password(ctx, &user, password.unwrap_or_default(), "password", client).await?;
    let mut tx = ctx.pool.begin().await?;
    prove(ctx, &mut tx, &user, code).await?;
    repo::remove(&mut tx, user_id).await?;
    repo::clear_session_flags(&mut *tx, user_id).await?;
    notify(ctx, &mut *tx, &user, SecurityChange::TwoFactorOff).await?;
    tx.commit().await?;
    Ok(())
}

/// Ten new recovery codes for a code (or one of the old recovery codes); the old ones die.
pub async fn regenerate_recovery_codes(
    ctx: &Context,
    user_id: Uuid,
    code: &str,
) -> Result<Vec<String>> {
    let user = get_user(ctx, user_id).await?;
    let mut tx = ctx.pool.begin().await?;
    prove(ctx, &mut tx, &user, code).await?;
    let codes = new_recovery_codes(ctx, &mut tx, user_id).await?;
    notify(ctx, &mut *tx, &user, SecurityChange::RecoveryCodesRenewed).await?;
    tx.commit().await?;
    Ok(codes)
}

/// An operator's reset (`swift-cli user reset-2fa`) for a user who lost both the app and
/// the codes; `false` when the user had no factor.
pub async fn reset(ctx: &Context, user_id: Uuid) -> Result<bool> {
    let user = get_user(ctx, user_id).await?;
    let mut tx = ctx.pool.begin().await?;
    let removed = repo::remove(&mut tx, user_id).await?;
    repo::clear_session_flags(&mut *tx, user_id).await?;
    if removed {
        notify(ctx, &mut *tx, &user, SecurityChange::TwoFactorReset).await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// Whether sign-ins of this user need a second step.
pub async fn is_enabled(ctx: &Context, user_id: Uuid) -> Result<bool> {
    Ok(repo::is_enabled(&ctx.pool, user_id).await?)
}

/// The end of a first step for a user with a factor: a challenge to answer with a code.
/// `created` is Google sign-in's "this sign-in made the account", handed on to the tokens.
pub(crate) async fn challenge(
    ctx: &Context,
    user_id: Uuid,
    created: Option<bool>,
) -> Result<Challenge> {
    let (token, hash) = opaque_token();
    let expires_at = Utc::now() + CHALLENGE_TTL;
    repo::insert_challenge(&ctx.pool, &hash, user_id, created, expires_at).await?;
    Ok(Challenge { token, expires_at })
}

/// The second step: a challenge and a code (or a recovery code) for a session that counts
/// as signed in with two factors. An unknown, expired, used or exhausted challenge is
/// `TokenInvalid`; a wrong code is `TwoFactorCodeInvalid` and uses up an attempt.
pub async fn complete_sign_in(
    ctx: &Context,
    challenge: &str,
    code: &str,
    client: &ClientInfo,
) -> Result<(TokenPair, Option<bool>)> {
    let hash = hash_token(challenge);
    let (user_id, created) = repo::attempt_challenge(&ctx.pool, &hash, CHALLENGE_ATTEMPTS)
        .await?
        .ok_or(AccountsError::TokenInvalid)?;
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::SecondFactor,
        client.ip,
        Some(&user_id.to_string()),
    )
    .await?;
    let user = get_user(ctx, user_id).await?;
    let mut tx = ctx.pool.begin().await?;
    prove(ctx, &mut tx, &user, code).await?;
    if !repo::take_challenge(&mut *tx, &hash).await? {
        return Err(AccountsError::TokenInvalid);
    }
    tx.commit().await?;
    if !user.is_active {
        return Err(AccountsError::AccountDisabled);
    }
    Ok((start_session(ctx, user, client, true).await?, created))
}

/// Checks a code against the user's confirmed factor, or spends a recovery code (mailing
/// the owner that one was used). Either is good once.
async fn prove(ctx: &Context, tx: &mut sqlx::PgConnection, user: &User, code: &str) -> Result<()> {
    let factor = repo::find_factor(&mut *tx, user.id)
        .await?
        .filter(|f| f.confirmed_at.is_some())
        .ok_or(AccountsError::TwoFactorNotEnabled)?;
    if let Some(canonical) = totp::normalise_recovery_code(code) {
        let hash = totp::recovery_code_hash(key(ctx), user.id, &canonical);
        let left = repo::use_recovery_code(&mut *tx, user.id, &hash)
            .await?
            .ok_or(AccountsError::TwoFactorCodeInvalid)?;
        return notify(
            ctx,
            &mut *tx,
            user,
            SecurityChange::RecoveryCodeUsed { left },
        )
        .await;
    }
    let secret = open_secret(ctx, user.id, &factor.secret_sealed)?;
    let step = totp::matching_step(&secret, code, now_unix())
        .ok_or(AccountsError::TwoFactorCodeInvalid)?;
    if repo::use_step(&mut *tx, user.id, step).await? {
        Ok(())
    } else {
        Err(AccountsError::TwoFactorCodeInvalid)
    }
}

fn open_secret(ctx: &Context, user_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>> {
    totp::open(key(ctx), user_id, sealed).ok_or_else(|| {
        AccountsError::Internal(
            "a TOTP secret does not open: TWO_FACTOR_KEY (or JWT_SECRET) changed".into(),
        )
    })
}

async fn new_recovery_codes(
    ctx: &Context,
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<Vec<String>> {
    let codes = totp::new_recovery_codes();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| {
            let canonical = totp::normalise_recovery_code(c).expect("made in canonical form");
            totp::recovery_code_hash(key(ctx), user_id, &canonical)
        })
        .collect();
    repo::replace_recovery_codes(tx, user_id, &hashes).await?;
    Ok(codes)
}

/// Mails the owner about a change to how the account signs in, in the change's transaction.
pub(crate) async fn notify(
    ctx: &Context,
    ex: impl sqlx::PgExecutor<'_>,
    user: &User,
    change: SecurityChange,
) -> Result<()> {
    let mail = notices::security(&ctx.config, &user.email, change);
    outbox::enqueue(ex, Event::SecurityNotice, &mail).await?;
    Ok(())
}
