//! `/api/v1/auth/google…` and `/api/v1/auth/exchange`: Google sign-in (OpenID Connect).

use poem::Request;
use poem::web::Data;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Union};
use swift_core::accounts::service::SignIn;
use swift_core::oauth::service::GoogleProof;
use swift_core::oauth::{OAuthError, service};

use super::ApiTags;
use super::auth::{SignInResponse, first_step_done};
use crate::AppState;
use crate::client::client_info;
use crate::cookies::set_token_cookies;
use crate::problem::{ApiError, ApiResult};

/// HttpOnly cookie binding a redirect flow to the browser that started it (login CSRF).
const FLOW_COOKIE: &str = "swift_oauth";
const FLOW_COOKIE_PATH: &str = "/api/v1/auth/google";

#[derive(ApiResponse)]
pub enum Redirect {
    /// Go there.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

#[derive(Object)]
#[oai(rename = "LoginCodeExchange")]
pub struct ExchangeRequest {
    /// The `login_code` the callback put in the frontend URL.
    pub login_code: String,
}

/// An id_token the frontend holds (Google Identity Services, Auth.js).
#[derive(Object)]
#[oai(rename = "GoogleIdTokenLogin")]
pub struct IdTokenLogin {
    #[oai(validator(min_length = 1, max_length = 8192))]
    pub id_token: String,
}

/// An authorization code the frontend obtained itself.
#[derive(Object)]
#[oai(rename = "GoogleCodeLogin")]
pub struct CodeLogin {
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub code: String,
    /// The redirect URI the code was issued for.
    #[oai(validator(max_length = 2048))]
    pub redirect_uri: String,
    /// The PKCE verifier, when the code was requested with a challenge.
    #[oai(validator(max_length = 128))]
    pub code_verifier: Option<String>,
}

/// Either an id_token or an authorization code: exactly one of the two shapes.
#[derive(Union)]
#[oai(rename = "GoogleLogin", one_of)]
pub enum GoogleLoginRequest {
    IdToken(IdTokenLogin),
    Code(CodeLogin),
}

impl GoogleLoginRequest {
    pub fn proof(&self) -> GoogleProof<'_> {
        match self {
            Self::IdToken(t) => GoogleProof::IdToken(&t.id_token),
            Self::Code(c) => GoogleProof::Code {
                code: &c.code,
                redirect_uri: &c.redirect_uri,
                code_verifier: c.code_verifier.as_deref(),
            },
        }
    }
}

fn flow_cookie(state: &AppState, value: &str, max_age: u64) -> Cookie {
    let mut c = Cookie::new_with_str(FLOW_COOKIE, value);
    c.set_path(FLOW_COOKIE_PATH);
    c.set_http_only(true);
    c.set_secure(state.config.auth.cookie_secure);
    // Lax: the cookie must come back on the provider's top-level redirect to the callback.
    c.set_same_site(SameSite::Lax);
    c.set_max_age(std::time::Duration::from_secs(max_age));
    c
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", query.join("&"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct GoogleApi;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl GoogleApi {
    /// Start Google sign-in: 302 to the provider (code flow, PKCE S256, state, nonce).
    #[oai(
        path = "/google/authorize",
        method = "get",
        operation_id = "googleAuthorize"
    )]
    async fn authorize(
        &self,
        state: Data<&AppState>,
        jar: &CookieJar,
        /// Same-site path to return to afterwards, e.g. `/account`.
        next: Query<Option<String>>,
    ) -> ApiResult<Redirect> {
        let next = service::parse_next(next.0.as_deref())?;
        let started = service::authorize(&state, &next).await?;
        jar.add(flow_cookie(
            &state,
            &started.binding,
            service::FLOW_TTL.num_seconds() as u64,
        ));
        Ok(Redirect::Found(started.url))
    }

    /// The provider's redirect back: 302 to the frontend with a single-use `login_code`
    /// (or `error`).
    #[oai(
        path = "/google/callback",
        method = "get",
        operation_id = "googleCallback"
    )]
    async fn callback(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        code: Query<Option<String>>,
        #[oai(name = "state")] flow_state: Query<Option<String>>,
        error: Query<Option<String>>,
    ) -> ApiResult<Redirect> {
        let google = state
            .config
            .google
            .as_ref()
            .ok_or(OAuthError::NotConfigured)?;
        let target = google.frontend_callback.clone();
        let binding = jar.get(FLOW_COOKIE).map(|c| c.value_str().to_owned());
        jar.add(flow_cookie(&state, "", 0));
        let outcome = match (error.0, code.0, flow_state.0) {
            (Some(provider_error), _, _) => {
                let code = if provider_error == "access_denied" {
                    "access_denied"
                } else {
                    "provider_error"
                };
                Err(code)
            }
            (None, Some(code), Some(flow_state)) => {
                service::callback(&state, &code, &flow_state, binding.as_deref())
                    .await
                    .map_err(|e| {
                        tracing::info!(error = %e, "Google sign-in failed");
                        e.redirect_code()
                    })
            }
            _ => Err("invalid_request"),
        };
        let location = match outcome {
            Ok(done) => {
                // Cookie mode signs the browser in here, unless the account has a second
                // factor: then the frontend exchanges the login code for a challenge.
                if state.config.auth.cookies {
                    let sign_in = swift_core::accounts::service::sign_in_verified_user(
                        &state,
                        done.user,
                        &client_info(req, &state),
                        Some(done.created),
                    )
                    .await
                    .map_err(ApiError::from)?;
                    if let SignIn::Tokens(pair) = sign_in {
                        set_token_cookies(jar, &state, &pair);
                    }
                }
                with_query(
                    &target,
                    &[("login_code", &done.login_code), ("next", &done.next)],
                )
            }
            Err(code) => with_query(&target, &[("error", code)]),
        };
        Ok(Redirect::Found(location))
    }

    /// Trade a login code from the callback for a token pair (single use, 60 seconds).
    #[oai(
        path = "/exchange",
        method = "post",
        operation_id = "exchangeLoginCode"
    )]
    async fn exchange(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<ExchangeRequest>,
    ) -> ApiResult<SignInResponse> {
        let (sign_in, created) =
            service::exchange_login_code(&state, &body.login_code, &client_info(req, &state))
                .await?;
        first_step_done(req, jar, &state, sign_in, Some(created)).await
    }

    /// Sign in with a Google id_token, or an authorization code, the frontend obtained.
    #[oai(path = "/google", method = "post", operation_id = "googleLogin")]
    async fn google_login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        jar: &CookieJar,
        body: Json<GoogleLoginRequest>,
    ) -> ApiResult<SignInResponse> {
        let client = client_info(req, &state);
        let (sign_in, created) =
            service::login_with_google(&state, body.0.proof(), &client).await?;
        first_step_done(req, jar, &state, sign_in, Some(created)).await
    }
}
