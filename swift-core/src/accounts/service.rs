//! Account operations. Each one validates nothing itself (its inputs are parsed domain
//! types), owns its transaction, and returns an [`AccountsError`] the HTTP layer maps.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::repository::{self as repo, NewUser, Purpose, UserFilter};
use super::tokens::{hash_token, opaque_token, successor_token};
use super::types::{ClientInfo, Email, NewPassword, PersonName, Session, User};
use super::{AccountsError, password, two_factor};
use crate::Context;
use crate::config::EmailVerification;
use crate::mail::Mail;
use crate::notices;
use crate::outbox::{self, Event};
use crate::pagination::{Page, PageRequest};
use crate::ratelimit::{self, Action};
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, AccountsError>;

/// Lifetime of a password-reset link (docs/API.md: one hour).
pub const RESET_TOKEN_TTL: Duration = Duration::hours(1);
/// Lifetime of an email-verification link.
pub const VERIFY_TOKEN_TTL: Duration = Duration::days(3);

/// What a successful sign-in hands out.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub session_id: Uuid,
    pub user: User,
}

/// How a sign-in's first step (password, Google) ends.
#[derive(Debug, Clone)]
pub enum SignIn {
    Tokens(Box<TokenPair>),
    /// The account has a second factor: answer this with a code ([`two_factor`]).
    SecondFactor(two_factor::Challenge),
}

/// The caller of an authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub session_id: Uuid,
    pub is_staff: bool,
    /// The session was signed in with a second factor.
    pub two_factor: bool,
    /// `STAFF_REQUIRE_2FA` holds: staff endpoints also need `two_factor`.
    pub staff_need_two_factor: bool,
}

impl AuthUser {
    /// Staff endpoints call this first: customers are refused, and so is a staff session
    /// without a second factor when the policy asks for one.
    pub fn require_staff(&self) -> Result<()> {
        if !self.is_staff {
            Err(AccountsError::PermissionDenied)
        } else if self.staff_need_two_factor && !self.two_factor {
            Err(AccountsError::TwoFactorRequired)
        } else {
            Ok(())
        }
    }
}

/// Each argon2 run holds 19 MiB: without a bound, a burst of sign-ins (or an attacker)
/// could make the blocking pool's hundreds of threads allocate gigabytes. Hashing is pure
/// CPU, so one per core is all the throughput there is; the rest queue, and memory stays at
/// cores × 19 MiB at most.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores.max(2))
});

/// Runs argon2 off the async workers, a bounded number at a time.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let waiting = metrics::gauge!("swift_password_hash_waiting");
    waiting.increment(1.0);
    let permit = HASHING.acquire().await;
    waiting.decrement(1.0);
    let _permit =
        permit.map_err(|e| AccountsError::Internal(format!("hashing semaphore closed: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AccountsError::Internal(format!("blocking task failed: {e}")))
}

async fn hash_password(password: &NewPassword) -> Result<String> {
    let plain = password.expose().to_owned();
    blocking(move || password::hash(&plain)).await
}

fn ip_string(client: &ClientInfo) -> Option<String> {
    client.ip.map(|ip| ip.to_string())
}

/// Opens a session (one refresh-token family) for `user` and signs its first tokens;
/// `two_factor` says whether the sign-in passed a second factor.
pub(crate) async fn start_session(
    ctx: &Context,
    user: User,
    client: &ClientInfo,
    two_factor: bool,
) -> Result<TokenPair> {
    let now = Utc::now();
    let session_id = Uuid::now_v7();
    let refresh_expires_at = now + Duration::seconds(ctx.config.auth.refresh_ttl_seconds);
    let (refresh, refresh_hash) = opaque_token();
    let user_agent = client.user_agent.as_deref().map(|ua| truncate(ua, 300));
    let mut tx = ctx.pool.begin().await?;
    repo::insert_session(
        &mut *tx,
        session_id,
        user.id,
        refresh_expires_at,
        user_agent.as_deref(),
        ip_string(client).as_deref(),
        two_factor,
    )
    .await?;
    repo::insert_refresh_token(&mut *tx, &refresh_hash, session_id, refresh_expires_at).await?;
    repo::set_last_login(&mut *tx, user.id).await?;
    tx.commit().await?;
    let (access, access_expires_at) = ctx.jwt.issue(user.id, session_id, now);
    let user = User {
        last_login: Some(now),
        ..user
    };
    Ok(TokenPair {
        access,
        refresh,
        access_expires_at,
        refresh_expires_at,
        session_id,
        user,
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Sign-up input, parsed.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub password: NewPassword,
    pub first_name: PersonName,
    pub last_name: PersonName,
}

/// What registration produced: tokens unless verification is mandatory.
#[derive(Debug)]
pub enum Registered {
    SignedIn(Box<TokenPair>),
    VerificationRequired(User),
}

/// Creates an account with a password, mails a verification link (unless verification is
/// off) and signs it in (unless verification is mandatory).
pub async fn register(ctx: &Context, reg: Registration, client: &ClientInfo) -> Result<Registered> {
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::Register,
        client.ip,
        Some(reg.email.as_str()),
    )
    .await?;
    let hash = hash_password(&reg.password).await?;
    let new = NewUser {
        id: Uuid::now_v7(),
        email: reg.email.as_str(),
        password_hash: Some(&hash),
        first_name: reg.first_name.as_str(),
        last_name: reg.last_name.as_str(),
        email_verified: false,
        is_staff: false,
    };
    let user = repo::insert_user(&ctx.pool, &new)
        .await
        .map_err(email_taken)?;
    let mode = ctx.config.auth.email_verification;
    if mode != EmailVerification::None {
        send_verification(ctx, &user).await?;
    }
    if mode == EmailVerification::Mandatory {
        return Ok(Registered::VerificationRequired(user));
    }
    Ok(Registered::SignedIn(Box::new(
        start_session(ctx, user, client, false).await?,
    )))
}

fn email_taken(e: sqlx::Error) -> AccountsError {
    crate::db::constraint_error(e, [("users_email_key", AccountsError::EmailTaken)])
}

/// Signs in with email and password. Unknown emails cost one dummy hash, so neither the
/// answer nor its timing tells whether an account exists.
pub async fn login(
    ctx: &Context,
    email: &Email,
    password: &str,
    client: &ClientInfo,
) -> Result<SignIn> {
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::Login,
        client.ip,
        Some(email.as_str()),
    )
    .await?;
    let user = repo::find_user_by_email(&ctx.pool, email.as_str()).await?;
    let plain = password.to_owned();
    let Some(user) = user else {
        blocking(move || password::verify_dummy(&plain)).await?;
        return Err(AccountsError::InvalidCredentials);
    };
    let Some(hash) = user.password_hash.clone() else {
        // A Google-only account: same cost and answer as a wrong password.
        blocking(move || password::verify_dummy(&plain)).await?;
        return Err(AccountsError::InvalidCredentials);
    };
    if !blocking(move || password::verify(&plain, &hash)).await? {
        return Err(AccountsError::InvalidCredentials);
    }
    if !user.is_active {
        return Err(AccountsError::AccountDisabled);
    }
    if ctx.config.auth.email_verification == EmailVerification::Mandatory && !user.email_verified {
        return Err(AccountsError::EmailNotVerified);
    }
    first_step_done(ctx, user, client, None).await
}

/// Signs in a user whose identity was proven elsewhere (Google sign-in): tokens, or a
/// challenge when the account has a second factor. `created` (the sign-in made the account)
/// travels with the challenge to the tokens.
pub async fn sign_in_verified_user(
    ctx: &Context,
    user: User,
    client: &ClientInfo,
    created: Option<bool>,
) -> Result<SignIn> {
    if !user.is_active {
        return Err(AccountsError::AccountDisabled);
    }
    first_step_done(ctx, user, client, created).await
}

async fn first_step_done(
    ctx: &Context,
    user: User,
    client: &ClientInfo,
    created: Option<bool>,
) -> Result<SignIn> {
    if two_factor::is_enabled(ctx, user.id).await? {
        let challenge = two_factor::challenge(ctx, user.id, created).await?;
        return Ok(SignIn::SecondFactor(challenge));
    }
    let pair = start_session(ctx, user, client, false).await?;
    Ok(SignIn::Tokens(Box::new(pair)))
}

/// How many generations a re-presented token may be behind (a tab that slept through two
/// rotations by its siblings within the grace window).
const MAX_SUCCESSOR_WALK: usize = 4;

/// Rotates a refresh token: the presented one is consumed atomically and its successor
/// (derived from it, see [`successor_token`]) is issued in the same session.
///
/// A token presented again after rotation is either a race between the user's own clients
/// or theft. Within `REFRESH_REUSE_GRACE_SECONDS` of its rotation it is a race: the answer
/// is the same successor (or that successor's live descendant), a new access token, and no
/// fork of the session. After the window it is reuse: the whole session is revoked (401
/// `token_reused`).
pub async fn refresh(ctx: &Context, token: &str, client: &ClientInfo) -> Result<TokenPair> {
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::Refresh,
        client.ip,
        None,
    )
    .await?;
    let key = &ctx.config.auth.jwt_secret;
    let now = Utc::now();
    let mut tx = ctx.pool.begin().await?;
    let mut presented = token.to_owned();
    let mut walked = 0;
    // Of concurrent refreshes with one token exactly one consumes it; the others wait for
    // its commit and then find it used.
    let (session_id, successor) = loop {
        let hash = hash_token(&presented);
        if let Some((session_id, expires_at)) = repo::consume_refresh_token(&mut *tx, &hash).await?
        {
            if expires_at <= now {
                tx.commit().await?;
                return Err(AccountsError::TokenExpired);
            }
            let (next, next_hash) = successor_token(key, &presented);
            let refresh_expires_at = now + Duration::seconds(ctx.config.auth.refresh_ttl_seconds);
            repo::insert_refresh_token(&mut *tx, &next_hash, session_id, refresh_expires_at)
                .await?;
            break (session_id, next);
        }
        let Some((session_id, used_at)) = repo::find_refresh_token(&mut *tx, &hash).await? else {
            return Err(AccountsError::TokenInvalid);
        };
        let grace = Duration::seconds(ctx.config.auth.refresh_reuse_grace_seconds);
        let within_grace = used_at.is_some_and(|t| now - t <= grace);
        if !within_grace || walked == MAX_SUCCESSOR_WALK {
            repo::revoke_session(&mut *tx, session_id).await?;
            tx.commit().await?;
            tracing::warn!(%session_id, "refresh token reuse; session revoked");
            return Err(AccountsError::TokenReused);
        }
        // A race: follow the rotation to the live token of this session.
        let (next, next_hash) = successor_token(key, &presented);
        match repo::find_refresh_token(&mut *tx, &next_hash).await? {
            Some((next_session, None)) if next_session == session_id => {
                break (session_id, next);
            }
            Some((next_session, Some(_))) if next_session == session_id => {
                presented = next;
                walked += 1;
            }
            _ => return Err(AccountsError::TokenInvalid),
        }
    };
    let state = repo::session_state(&mut *tx, session_id)
        .await?
        .ok_or(AccountsError::TokenInvalid)?;
    if state.revoked || !state.user_active {
        tx.commit().await?;
        return Err(AccountsError::TokenInvalid);
    }
    if state.expired {
        tx.commit().await?;
        return Err(AccountsError::TokenExpired);
    }
    let refresh_expires_at = now + Duration::seconds(ctx.config.auth.refresh_ttl_seconds);
    repo::touch_session(
        &mut *tx,
        session_id,
        refresh_expires_at,
        ip_string(client).as_deref(),
    )
    .await?;
    let user = repo::find_user(&mut *tx, state.user_id)
        .await?
        .ok_or(AccountsError::TokenInvalid)?;
    tx.commit().await?;
    let (access, access_expires_at) = ctx.jwt.issue(user.id, session_id, now);
    Ok(TokenPair {
        access,
        refresh: successor,
        access_expires_at,
        refresh_expires_at,
        session_id,
        user,
    })
}

/// The session a refresh token belongs to (used or not), if it exists.
pub async fn session_of_refresh_token(ctx: &Context, token: &str) -> Result<Option<Uuid>> {
    Ok(repo::find_refresh_token(&ctx.pool, &hash_token(token))
        .await?
        .map(|(session_id, _)| session_id))
}

/// Authenticates an access token: signature, claims, and (one indexed lookup) that the
/// user is active and the session not revoked, so revocation takes effect at once.
pub async fn authenticate(ctx: &Context, token: &str) -> Result<AuthUser> {
    let claims = ctx.jwt.verify(token)?;
    let check = repo::access_check(&ctx.pool, claims.sub, claims.sid)
        .await?
        .ok_or(AccountsError::TokenInvalid)?;
    if !check.is_active || !check.session_alive {
        return Err(AccountsError::TokenInvalid);
    }
    Ok(AuthUser {
        id: claims.sub,
        session_id: claims.sid,
        is_staff: check.is_staff,
        two_factor: check.two_factor,
        staff_need_two_factor: ctx.config.auth.staff_require_2fa,
    })
}

/// Ends one session: the one a refresh token belongs to, else the caller's current one.
/// Unknown tokens are ignored, so logging out twice is harmless.
pub async fn logout(ctx: &Context, refresh: Option<&str>, current: Option<AuthUser>) -> Result<()> {
    if let Some(token) = refresh
        && let Some((session_id, _)) =
            repo::find_refresh_token(&ctx.pool, &hash_token(token)).await?
    {
        repo::revoke_session(&ctx.pool, session_id).await?;
    }
    if let Some(user) = current {
        repo::revoke_session(&ctx.pool, user.session_id).await?;
    }
    Ok(())
}

/// Ends every session of the user ("log out everywhere").
pub async fn logout_all(ctx: &Context, user_id: Uuid) -> Result<u64> {
    Ok(repo::revoke_user_sessions(&ctx.pool, user_id, None).await?)
}

pub async fn list_sessions(ctx: &Context, user_id: Uuid) -> Result<Vec<Session>> {
    Ok(repo::list_sessions(&ctx.pool, user_id).await?)
}

/// Revokes one of the caller's sessions; another user's session id is simply not found.
pub async fn revoke_session(ctx: &Context, user_id: Uuid, session_id: Uuid) -> Result<()> {
    if repo::revoke_owned_session(&ctx.pool, user_id, session_id).await? {
        Ok(())
    } else {
        Err(AccountsError::NotFound)
    }
}

pub async fn get_user(ctx: &Context, user_id: Uuid) -> Result<User> {
    repo::find_user(&ctx.pool, user_id)
        .await?
        .ok_or(AccountsError::NotFound)
}

/// Updates the profile fields a user may change about themselves (names only).
pub async fn update_profile(
    ctx: &Context,
    user_id: Uuid,
    first_name: Option<PersonName>,
    last_name: Option<PersonName>,
) -> Result<User> {
    repo::update_names(
        &ctx.pool,
        user_id,
        first_name.as_ref().map(PersonName::as_str),
        last_name.as_ref().map(PersonName::as_str),
    )
    .await?
    .ok_or(AccountsError::NotFound)
}

/// Proves a signed-in user's password again (password change, account deletion). Rate
/// limited per account and address like sign-in, so a stolen access token cannot become a
/// password-guessing oracle. Accounts without a password pass (nothing to prove).
pub(crate) async fn recheck_password(
    ctx: &Context,
    user: &User,
    plain: &str,
    field: &'static str,
    client: &ClientInfo,
) -> Result<()> {
    let Some(hash) = user.password_hash.clone() else {
        return Ok(());
    };
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::PasswordCheck,
        client.ip,
        Some(&user.id.to_string()),
    )
    .await?;
    let plain = plain.to_owned();
    if blocking(move || password::verify(&plain, &hash)).await? {
        Ok(())
    } else {
        Err(Invalid::new(field, "the password is incorrect").into())
    }
}

/// Deletes the caller's account; a password account must confirm with its password.
pub async fn delete_account(
    ctx: &Context,
    user_id: Uuid,
    password: Option<&str>,
    client: &ClientInfo,
) -> Result<()> {
    let user = get_user(ctx, user_id).await?;
    recheck_password(ctx, &user, password.unwrap_or_default(), "password", client).await?;
    let mut tx = ctx.pool.begin().await?;
    repo::delete_user(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes the password after checking the old one; every other session is revoked.
pub async fn change_password(
    ctx: &Context,
    auth: AuthUser,
    old: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<()> {
    let user = get_user(ctx, auth.id).await?;
    recheck_password(ctx, &user, old, "old_password", client).await?;
    let new = NewPassword::parse("new_password", new, &user_inputs(&user))?;
    let hash = hash_password(&new).await?;
    let mut tx = ctx.pool.begin().await?;
    repo::set_password(&mut *tx, user.id, &hash).await?;
    repo::revoke_user_sessions(&mut *tx, user.id, Some(auth.session_id)).await?;
    tx.commit().await?;
    Ok(())
}

fn user_inputs(user: &User) -> Vec<&str> {
    vec![&user.email, &user.first_name, &user.last_name]
}

/// Mails a reset link when the email belongs to an active account; silent otherwise.
pub async fn request_password_reset(
    ctx: &Context,
    email: &Email,
    client: &ClientInfo,
) -> Result<()> {
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::PasswordReset,
        client.ip,
        Some(email.as_str()),
    )
    .await?;
    // The same two statements whether or not the account exists: the token's, and the
    // outbox's, which writes the mail only for an account (no enumeration by timing).
    let (token, hash) = opaque_token();
    let mut tx = ctx.pool.begin().await?;
    let user_id = repo::insert_one_time_token_for_email(
        &mut *tx,
        &hash,
        Purpose::PasswordReset,
        email.as_str(),
        false,
        Utc::now() + RESET_TOKEN_TTL,
    )
    .await?;
    let link = format!(
        "{}/reset-password?uid={}&token={}",
        ctx.config.frontend_url,
        user_id.unwrap_or_default(),
        token
    );
    let mail = notices::password_reset(&ctx.config, email.as_str(), &link);
    outbox::enqueue_if(&mut *tx, user_id.is_some(), Event::PasswordReset, &mail).await?;
    tx.commit().await?;
    ctx.outbox_wake.now();
    Ok(())
}

/// Sets a new password with a mailed reset token: single use, one hour, void once the
/// password has changed since it was sent; all sessions are revoked.
pub async fn confirm_password_reset(
    ctx: &Context,
    uid: Uuid,
    token: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<()> {
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::PasswordResetConfirm,
        client.ip,
        Some(&uid.to_string()),
    )
    .await?;
    let invalid = || Invalid::new("token", "the reset link is invalid or has expired");
    // The token first: nobody without a live link makes us spend an argon2 hash, and an
    // unknown uid costs the same as a known one.
    let token_hash = hash_token(token);
    let live = repo::find_live_one_time_token(&ctx.pool, &token_hash, Purpose::PasswordReset)
        .await?
        .filter(|t| t.user_id == uid)
        .ok_or_else(invalid)?;
    let user = repo::find_user(&ctx.pool, uid).await?.ok_or_else(invalid)?;
    if live.created_at < user.password_changed_at {
        return Err(invalid().into());
    }
    // Strength before using the token, so a weak choice can be retried with the same link.
    let new = NewPassword::parse("new_password", new, &user_inputs(&user))?;
    let hash = hash_password(&new).await?;
    let mut tx = ctx.pool.begin().await?;
    let consumed = repo::consume_one_time_token(&mut *tx, &token_hash, Purpose::PasswordReset)
        .await?
        .ok_or_else(invalid)?;
    if consumed.user_id != user.id {
        return Err(invalid().into());
    }
    repo::set_password(&mut *tx, user.id, &hash).await?;
    repo::revoke_user_sessions(&mut *tx, user.id, None).await?;
    tx.commit().await?;
    Ok(())
}

async fn send_verification(ctx: &Context, user: &User) -> Result<()> {
    let (token, hash) = opaque_token();
    let mut tx = ctx.pool.begin().await?;
    repo::insert_one_time_token(
        &mut *tx,
        &hash,
        Purpose::VerifyEmail,
        user.id,
        &user.email,
        Utc::now() + VERIFY_TOKEN_TTL,
    )
    .await?;
    let mail = verification_mail(ctx, &user.email, &token);
    outbox::enqueue(&mut *tx, Event::AccountVerification, &mail).await?;
    tx.commit().await?;
    ctx.outbox_wake.now();
    Ok(())
}

fn verification_mail(ctx: &Context, to: &str, token: &str) -> Mail {
    let link = format!("{}/verify-email?key={}", ctx.config.frontend_url, token);
    notices::verification(&ctx.config, to, &link)
}

/// Confirms an email with a mailed key (single use).
pub async fn verify_email(ctx: &Context, key: &str) -> Result<User> {
    let invalid = || Invalid::new("key", "the verification link is invalid or has expired");
    let mut tx = ctx.pool.begin().await?;
    let consumed = repo::consume_one_time_token(&mut *tx, &hash_token(key), Purpose::VerifyEmail)
        .await?
        .ok_or_else(invalid)?;
    let user = repo::find_user(&mut *tx, consumed.user_id)
        .await?
        .ok_or_else(invalid)?;
    if user.email != consumed.email {
        return Err(invalid().into());
    }
    let user = repo::mark_email_verified(&mut *tx, user.id)
        .await?
        .ok_or_else(invalid)?;
    tx.commit().await?;
    Ok(user)
}

/// Sends a new verification mail when the account exists and is unverified; silent
/// otherwise.
pub async fn resend_verification(ctx: &Context, email: &Email, client: &ClientInfo) -> Result<()> {
    ratelimit::hit(
        &ctx.pool,
        &ctx.config.rate_limits,
        Action::EmailResend,
        client.ip,
        Some(email.as_str()),
    )
    .await?;
    if ctx.config.auth.email_verification == EmailVerification::None {
        return Ok(());
    }
    // The same statements whether or not the account exists (see request_password_reset).
    let (token, hash) = opaque_token();
    let mut tx = ctx.pool.begin().await?;
    let found = repo::insert_one_time_token_for_email(
        &mut *tx,
        &hash,
        Purpose::VerifyEmail,
        email.as_str(),
        true,
        Utc::now() + VERIFY_TOKEN_TTL,
    )
    .await?
    .is_some();
    let mail = verification_mail(ctx, email.as_str(), &token);
    outbox::enqueue_if(&mut *tx, found, Event::AccountVerification, &mail).await?;
    tx.commit().await?;
    ctx.outbox_wake.now();
    Ok(())
}

// ---- staff and operators ----

pub async fn admin_list_users(
    ctx: &Context,
    filter: &UserFilter,
    page: PageRequest,
) -> Result<Page<User>> {
    let (users, total) = repo::list_users(&ctx.pool, filter, page).await?;
    Ok(Page::new(users, total, page))
}

/// How users sign in besides their password: the providers linked to each, and who has a
/// second factor (for operators' user listings).
#[derive(Debug, Clone, Default)]
pub struct SignInMethods {
    providers: HashMap<Uuid, Vec<String>>,
    two_factor: HashSet<Uuid>,
}

impl SignInMethods {
    /// The providers (e.g. `google`) linked to `user`, in the order they were linked.
    pub fn providers(&self, user: Uuid) -> &[String] {
        self.providers
            .get(&user)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn has_two_factor(&self, user: Uuid) -> bool {
        self.two_factor.contains(&user)
    }
}

/// The sign-in methods of `users`, in two queries however many they are.
pub async fn sign_in_methods(ctx: &Context, users: &[Uuid]) -> Result<SignInMethods> {
    let mut methods = SignInMethods::default();
    for (user, provider) in crate::oauth::repository::providers_of(&ctx.pool, users).await? {
        methods.providers.entry(user).or_default().push(provider);
    }
    methods.two_factor = two_factor::repository::enabled_among(&ctx.pool, users)
        .await?
        .into_iter()
        .collect();
    Ok(methods)
}

/// Sets staff-controlled flags; deactivation revokes every session at once.
pub async fn admin_update_user(
    ctx: &Context,
    user_id: Uuid,
    is_active: Option<bool>,
    is_staff: Option<bool>,
) -> Result<User> {
    let mut tx = ctx.pool.begin().await?;
    let user = repo::set_flags(&mut *tx, user_id, is_active, is_staff)
        .await?
        .ok_or(AccountsError::NotFound)?;
    if is_active == Some(false) {
        repo::revoke_user_sessions(&mut *tx, user_id, None).await?;
    }
    tx.commit().await?;
    Ok(user)
}

/// Creates an account from the operator CLI: optionally staff, email taken as verified
/// (the operator vouches for it), password optional.
pub async fn create_user(
    ctx: &Context,
    email: &Email,
    password: Option<&NewPassword>,
    staff: bool,
) -> Result<User> {
    let hash = match password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let new = NewUser {
        id: Uuid::now_v7(),
        email: email.as_str(),
        password_hash: hash.as_deref(),
        first_name: "",
        last_name: "",
        email_verified: true,
        is_staff: staff,
    };
    repo::insert_user(&ctx.pool, &new)
        .await
        .map_err(email_taken)
}

pub async fn find_by_email(ctx: &Context, email: &Email) -> Result<User> {
    repo::find_user_by_email(&ctx.pool, email.as_str())
        .await?
        .ok_or(AccountsError::NotFound)
}

/// Sets a password from the operator CLI; every session of the user is revoked.
pub async fn set_password(ctx: &Context, user_id: Uuid, password: &NewPassword) -> Result<()> {
    let hash = hash_password(password).await?;
    let mut tx = ctx.pool.begin().await?;
    if !repo::set_password(&mut *tx, user_id, &hash).await? {
        return Err(AccountsError::NotFound);
    }
    repo::revoke_user_sessions(&mut *tx, user_id, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a user from the operator CLI.
pub async fn delete_user(ctx: &Context, user_id: Uuid) -> Result<()> {
    let mut tx = ctx.pool.begin().await?;
    if !repo::delete_user(&mut tx, user_id).await? {
        return Err(AccountsError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #12.1: a burst of password checks keeps at most one 19 MiB buffer per
    /// permitted concurrent hash, whatever the burst's size.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_hashes_keeps_memory_bounded_by_the_permits() {
        let permits = HASHING.available_permits();
        let burst: Vec<_> = (0..24)
            .map(|i| {
                tokio::spawn(async move {
                    let plain = format!("burst password {i}");
                    blocking(move || password::verify_dummy(&plain)).await
                })
            })
            .collect();
        for task in burst {
            task.await.unwrap().unwrap();
        }
        let kept = password::kept_buffers();
        assert!(
            (1..=permits).contains(&kept),
            "{kept} buffers for {permits} permits"
        );
    }
}
