//! `/api/v1/auth`: sign-up, sign-in, tokens, sessions, profile, passwords, email.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Union};
use swift_core::accounts::service::{self, Registered, Registration, SignIn, TokenPair};
use swift_core::accounts::two_factor;
use swift_core::accounts::{Email, NewPassword, PersonName, User};
use swift_core::orders::cart;
use uuid::Uuid;

use super::ApiTags;
use crate::AppState;
use crate::auth::{Auth, authenticated, check_csrf};
use crate::client::client_info;
use crate::cookies::{clear_token_cookies, refresh_cookie, set_token_cookies};
use crate::problem::{ApiError, ApiResult};

/// A user as they see themselves (docs/API.md "User").
#[derive(Object)]
#[oai(rename = "User", skip_serializing_if_is_none)]
pub struct UserBody {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub email_verified: bool,
    pub is_staff: bool,
    /// False for accounts that only sign in with Google.
    pub has_password: bool,
    pub date_joined: DateTime<Utc>,
    /// Absent until the first sign-in.
    pub last_login: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            has_password: u.has_password(),
            id: u.id,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            email_verified: u.email_verified,
            is_staff: u.is_staff,
            date_joined: u.date_joined,
            last_login: u.last_login,
        }
    }
}

/// Tokens for a signed-in session.
#[derive(Object)]
#[oai(rename = "TokenPair", skip_serializing_if_is_none)]
pub struct TokenPairBody {
    /// JWT for `Authorization: Bearer`. Absent in cookie mode, where only the HttpOnly
    /// cookie holds it (script on the page must never see it).
    pub access: Option<String>,
    /// Opaque refresh token; single use, rotated by `refreshToken`. Absent in cookie mode.
    pub refresh: Option<String>,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: UserBody,
    /// Google sign-in only: whether the account was created by this sign-in.
    pub created: Option<bool>,
    /// Present when the request carried a guest cart's `X-Cart-Token` and that cart was
    /// merged into the account's cart by this sign-in.
    pub cart: Option<super::cart::CartMergeBody>,
}

impl TokenPairBody {
    /// The body for `pair`; in cookie mode without the tokens themselves.
    pub fn new(pair: TokenPair, created: Option<bool>, cookie_mode: bool) -> Self {
        let (access, refresh) = if cookie_mode {
            (None, None)
        } else {
            (Some(pair.access), Some(pair.refresh))
        };
        Self {
            access,
            refresh,
            access_expires_at: pair.access_expires_at,
            refresh_expires_at: pair.refresh_expires_at,
            user: pair.user.into(),
            created,
            cart: None,
        }
    }
}

/// CSRF check for a refresh token that came by cookie: bound to the token's session. An
/// unknown token names no session; the operation itself then refuses it.
async fn check_cookie_csrf(req: &Request, state: &AppState, refresh: &str) -> ApiResult<()> {
    if let Some(session_id) = service::session_of_refresh_token(state, refresh).await? {
        check_csrf(req, state, session_id)?;
    }
    Ok(())
}

/// Answers a sign-in (login, registration, Google, login-code exchange): the token pair,
/// after merging the guest cart the request carried, if any, into the account's cart. A
/// malformed or spent cart token merges nothing; signing in still succeeds.
pub async fn signed_in(
    req: &Request,
    jar: &CookieJar,
    state: &AppState,
    pair: TokenPair,
    created: Option<bool>,
) -> ApiResult<Json<TokenPairBody>> {
    let merged = match crate::shopper::cart_token(req, state).ok().flatten() {
        Some(token) => {
            crate::shopper::clear_cart_cookie(jar, state);
            cart::merge(state, pair.user.id, &token).await?
        }
        None => None,
    };
    let mut body = token_response(jar, state, pair, created);
    body.0.cart = merged.map(Into::into);
    Ok(body)
}

/// A sign-in's first step done for an account with two-factor sign-in.
#[derive(Object)]
#[oai(rename = "SecondFactorChallenge")]
pub struct ChallengeBody {
    /// Send it with a code to `completeSignIn`: single use, five tries, five minutes.
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// How a sign-in's first step (password, Google) answers.
#[derive(ApiResponse)]
pub enum SignInResponse {
    // No description: the same answer as every other sign-in's, shared as one response.
    #[oai(status = 200)]
    Tokens(Json<Box<TokenPairBody>>),
    /// Right so far, and the account has two-factor sign-in: send `challenge` with a code
    /// from the authenticator app (or a recovery code) to `completeSignIn`.
    #[oai(status = 202)]
    SecondFactor(Json<ChallengeBody>),
}

/// Answers a first step: tokens as [`signed_in`] does, or the challenge.
pub async fn first_step_done(
    req: &Request,
    jar: &CookieJar,
    state: &AppState,
    sign_in: SignIn,
    created: Option<bool>,
) -> ApiResult<SignInResponse> {
    Ok(match sign_in {
        SignIn::Tokens(pair) => {
            let Json(body) = signed_in(req, jar, state, *pair, created).await?;
            SignInResponse::Tokens(Json(Box::new(body)))
        }
        SignIn::SecondFactor(challenge) => SignInResponse::SecondFactor(Json(ChallengeBody {
            challenge: challenge.token,
            expires_at: challenge.expires_at,
        })),
    })
}

/// Answers a token pair, also setting the cookies in cookie mode.
pub fn token_response(
    jar: &CookieJar,
    state: &AppState,
    pair: TokenPair,
    created: Option<bool>,
) -> Json<TokenPairBody> {
    set_token_cookies(jar, state, &pair);
    Json(TokenPairBody::new(pair, created, state.config.auth.cookies))
}

#[derive(Object)]
#[oai(rename = "Registration")]
pub struct RegisterRequest {
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// 8 to 128 characters, not too similar to the email or names, not a common password.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
    #[oai(validator(max_length = 150))]
    pub first_name: Option<String>,
    #[oai(validator(max_length = 150))]
    pub last_name: Option<String>,
}

/// Registration when the email must be confirmed before signing in.
#[derive(Object)]
pub struct PendingVerification {
    pub user: UserBody,
    pub detail: String,
}

/// Tokens, or (mandatory verification) the new user and what to do next; `result` says
/// which, so a generated client narrows the union by it.
#[derive(Union)]
#[oai(rename = "RegistrationResult", one_of, discriminator_name = "result")]
pub enum RegisterBody {
    #[oai(mapping = "signed_in")]
    Tokens(TokenPairBody),
    #[oai(mapping = "verification_required")]
    Pending(PendingVerification),
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// Account created.
    #[oai(status = 201)]
    Created(Json<RegisterBody>),
}

#[derive(Object)]
#[oai(rename = "LoginCredentials")]
pub struct LoginRequest {
    #[oai(validator(max_length = 254))]
    pub email: String,
    #[oai(validator(max_length = 1024))]
    pub password: String,
}

#[derive(Object)]
#[oai(rename = "SecondFactor")]
pub struct SecondFactorRequest {
    /// From the `202` answer of `login`, `googleLogin` or `exchangeLoginCode`.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub challenge: String,
    /// Six digits from the authenticator app, or a recovery code (`xxxxx-xxxxx`).
    #[oai(validator(min_length = 6, max_length = 20))]
    pub code: String,
}

#[derive(Object)]
#[oai(rename = "TokenRefresh")]
pub struct RefreshRequest {
    /// The refresh token; in cookie mode it may come from the `swift_refresh` cookie instead.
    pub refresh: Option<String>,
}

#[derive(Object)]
#[oai(rename = "TokenVerification")]
pub struct VerifyTokenRequest {
    pub token: String,
}

/// An empty JSON object.
#[derive(Object)]
pub struct Empty {}

#[derive(Object)]
#[oai(rename = "Logout")]
pub struct LogoutRequest {
    /// The session's refresh token; without it, the session of the access token (or the
    /// refresh cookie) is ended.
    pub refresh: Option<String>,
}

#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum Accepted {
    /// Accepted; a mail is sent when the address belongs to an account.
    #[oai(status = 202)]
    Accepted(Json<Detail>),
}

#[derive(Object)]
pub struct Detail {
    pub detail: String,
}

/// A signed-in session (one device or browser).
#[derive(Object)]
#[oai(rename = "Session", skip_serializing_if_is_none)]
pub struct SessionBody {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// True for the session of the token making this request.
    pub current: bool,
}

#[derive(Object)]
#[oai(rename = "UserUpdate")]
pub struct UpdateUserRequest {
    #[oai(validator(max_length = 150))]
    pub first_name: Option<String>,
    #[oai(validator(max_length = 150))]
    pub last_name: Option<String>,
}

#[derive(Object)]
#[oai(rename = "AccountDeletion")]
pub struct DeleteUserRequest {
    /// Required when the account has a password.
    pub password: Option<String>,
}

#[derive(Object)]
#[oai(rename = "PasswordChange")]
pub struct ChangePasswordRequest {
    #[oai(validator(max_length = 1024))]
    pub old_password: String,
    /// 8 to 128 characters, as at registration.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub new_password: String,
}

#[derive(Object)]
#[oai(rename = "EmailAddress")]
pub struct EmailRequest {
    #[oai(validator(max_length = 254))]
    pub email: String,
}

#[derive(Object)]
#[oai(rename = "PasswordResetConfirm")]
pub struct ResetConfirmRequest {
    /// The `uid` of the reset link.
    pub uid: Uuid,
    /// The `token` of the reset link.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub token: String,
    /// 8 to 128 characters, as at registration.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub new_password: String,
}

#[derive(Object)]
#[oai(rename = "EmailVerification")]
pub struct VerifyEmailRequest {
    /// The `key` of the verification link.
    pub key: String,
}

fn names(
    first: Option<&str>,
    last: Option<&str>,
) -> Result<(Option<PersonName>, Option<PersonName>), ApiError> {
    Ok((
        first
            .map(|f| PersonName::parse("first_name", f))
            .transpose()?,
        last.map(|l| PersonName::parse("last_name", l))
            .transpose()?,
    ))
}

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Create an account with email and password.
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<RegisterRequest>,
    ) -> ApiResult<RegisterResponse> {
        let email = Email::parse(&body.email)?;
        let (first, last) = names(body.first_name.as_deref(), body.last_name.as_deref())?;
        let (first, last) = (first.unwrap_or_default(), last.unwrap_or_default());
        let password = NewPassword::parse(
            "password",
            &body.password,
            &[email.as_str(), first.as_str(), last.as_str()],
        )?;
        let reg = Registration {
            email,
            password,
            first_name: first,
            last_name: last,
        };
        let body = match service::register(&state, reg, &client_info(req, &state)).await? {
            Registered::SignedIn(pair) => {
                RegisterBody::Tokens(signed_in(req, jar, &state, *pair, None).await?.0)
            }
            Registered::VerificationRequired(user) => RegisterBody::Pending(PendingVerification {
                user: user.into(),
                detail: "Verification email sent. Confirm your address to sign in.".into(),
            }),
        };
        Ok(RegisterResponse::Created(Json(body)))
    }

    /// Sign in with email and password. An account with two-factor sign-in answers 202 with
    /// a challenge for `completeSignIn` instead of tokens.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<LoginRequest>,
    ) -> ApiResult<SignInResponse> {
        let email = Email::parse(&body.email)?;
        let sign_in =
            service::login(&state, &email, &body.password, &client_info(req, &state)).await?;
        first_step_done(req, jar, &state, sign_in, None).await
    }

    /// Finish a two-factor sign-in: the challenge and a code (or a recovery code).
    #[oai(
        path = "/second-factor",
        method = "post",
        operation_id = "completeSignIn"
    )]
    async fn complete_sign_in(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<SecondFactorRequest>,
    ) -> ApiResult<Json<TokenPairBody>> {
        let client = client_info(req, &state);
        let (pair, created) =
            two_factor::complete_sign_in(&state, &body.challenge, &body.code, &client).await?;
        signed_in(req, jar, &state, pair, created).await
    }

    /// Exchange a refresh token for a new pair; the presented token is consumed.
    #[oai(
        path = "/token/refresh",
        method = "post",
        operation_id = "refreshToken"
    )]
    async fn refresh(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<RefreshRequest>,
    ) -> ApiResult<Json<TokenPairBody>> {
        let token = match &body.refresh {
            Some(token) => token.clone(),
            None => {
                let cookie = refresh_cookie(jar, &state).ok_or_else(|| {
                    ApiError::invalid_field("refresh", "the refresh token is required")
                })?;
                check_cookie_csrf(req, &state, &cookie).await?;
                cookie
            }
        };
        let pair = service::refresh(&state, &token, &client_info(req, &state)).await?;
        Ok(token_response(jar, &state, pair, None))
    }

    /// Check an access token: 200 when it is valid and its session alive, else 401.
    #[oai(path = "/token/verify", method = "post", operation_id = "verifyToken")]
    async fn verify_token(
        &self,
        state: Data<&AppState>,
        body: Json<VerifyTokenRequest>,
    ) -> ApiResult<Json<Empty>> {
        service::authenticate(&state, &body.token).await?;
        Ok(Json(Empty {}))
    }

    /// End this session (by refresh token, refresh cookie or access token).
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<LogoutRequest>,
    ) -> ApiResult<NoContent> {
        // Whatever came by cookie must come with its session's CSRF token: a cross-site
        // form must not be able to sign the user out.
        let refresh = match (&body.refresh, refresh_cookie(jar, &state)) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(cookie)) => {
                check_cookie_csrf(req, &state, &cookie).await?;
                Some(cookie)
            }
            (None, None) => None,
        };
        let current = match authenticated(req).await {
            Ok(Some((user, from_cookie))) => {
                if from_cookie {
                    check_csrf(req, &state, user.session_id)?;
                }
                Some(user)
            }
            // A stale access token must not stop a logout: it just cannot name a session.
            Ok(None) | Err(_) => None,
        };
        service::logout(&state, refresh.as_deref(), current).await?;
        clear_token_cookies(jar, &state);
        Ok(NoContent::Done)
    }

    /// End every session of this user, on every device.
    #[oai(path = "/logout-all", method = "post", operation_id = "logoutAll")]
    async fn logout_all(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        jar: &CookieJar,
    ) -> ApiResult<NoContent> {
        service::logout_all(&state, auth.0.id).await?;
        clear_token_cookies(jar, &state);
        Ok(NoContent::Done)
    }

    /// The user's live sessions.
    #[oai(path = "/sessions", method = "get", operation_id = "listSessions")]
    async fn list_sessions(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<SessionBody>>> {
        let sessions = service::list_sessions(&state, auth.0.id).await?;
        Ok(Json(
            sessions
                .into_iter()
                .map(|s| SessionBody {
                    current: s.id == auth.0.session_id,
                    id: s.id,
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    user_agent: s.user_agent,
                    ip: s.ip,
                })
                .collect(),
        ))
    }

    /// Revoke one of the user's sessions (404 for anyone else's).
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "revokeSession"
    )]
    async fn revoke_session(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        service::revoke_session(&state, auth.0.id, id.0).await?;
        Ok(NoContent::Done)
    }

    /// The signed-in user.
    #[oai(path = "/user", method = "get", operation_id = "getCurrentUser")]
    async fn get_user(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Json<UserBody>> {
        Ok(Json(service::get_user(&state, auth.0.id).await?.into()))
    }

    /// Update the user's names; no other field can be set here.
    #[oai(path = "/user", method = "patch", operation_id = "updateCurrentUser")]
    async fn update_user(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<UpdateUserRequest>,
    ) -> ApiResult<Json<UserBody>> {
        let (first, last) = names(body.first_name.as_deref(), body.last_name.as_deref())?;
        Ok(Json(
            service::update_profile(&state, auth.0.id, first, last)
                .await?
                .into(),
        ))
    }

    /// Delete the account (password required when it has one).
    #[oai(path = "/user", method = "delete", operation_id = "deleteCurrentUser")]
    async fn delete_user(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
        jar: &CookieJar,
        body: Json<DeleteUserRequest>,
    ) -> ApiResult<NoContent> {
        let client = client_info(req, &state);
        service::delete_account(&state, auth.0.id, body.password.as_deref(), &client).await?;
        clear_token_cookies(jar, &state);
        Ok(NoContent::Done)
    }

    /// Change the password; every other session is signed out.
    #[oai(
        path = "/password/change",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
        body: Json<ChangePasswordRequest>,
    ) -> ApiResult<NoContent> {
        let client = client_info(req, &state);
        service::change_password(
            &state,
            auth.0,
            &body.old_password,
            &body.new_password,
            &client,
        )
        .await?;
        Ok(NoContent::Done)
    }

    /// Mail a password-reset link. Always 202, whether or not the email is registered.
    #[oai(
        path = "/password/reset",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request_reset(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<EmailRequest>,
    ) -> ApiResult<Accepted> {
        let email = Email::parse(&body.email)?;
        service::request_password_reset(&state, &email, &client_info(req, &state)).await?;
        Ok(Accepted::Accepted(Json(Detail {
            detail: "If the address belongs to an account, a reset link is on its way.".into(),
        })))
    }

    /// Set a new password with a reset link's uid and token (single use, one hour).
    #[oai(
        path = "/password/reset/confirm",
        method = "post",
        operation_id = "confirmPasswordReset"
    )]
    async fn confirm_reset(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<ResetConfirmRequest>,
    ) -> ApiResult<NoContent> {
        let uid = body.uid;
        let client = client_info(req, &state);
        service::confirm_password_reset(&state, uid, &body.token, &body.new_password, &client)
            .await?;
        Ok(NoContent::Done)
    }

    /// Confirm an email address with the key from the verification mail.
    #[oai(path = "/verify-email", method = "post", operation_id = "verifyEmail")]
    async fn verify_email(
        &self,
        state: Data<&AppState>,
        body: Json<VerifyEmailRequest>,
    ) -> ApiResult<Json<UserBody>> {
        Ok(Json(service::verify_email(&state, &body.key).await?.into()))
    }

    /// Send the verification mail again. Always 202.
    #[oai(
        path = "/verify-email/resend",
        method = "post",
        operation_id = "resendVerificationEmail"
    )]
    async fn resend(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<EmailRequest>,
    ) -> ApiResult<Accepted> {
        let email = Email::parse(&body.email)?;
        service::resend_verification(&state, &email, &client_info(req, &state)).await?;
        Ok(Accepted::Accepted(Json(Detail {
            detail: "If the address belongs to an unverified account, a new link is on its way."
                .into(),
        })))
    }
}
