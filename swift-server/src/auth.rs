//! Authentication of requests: a Bearer access token, or (cookie mode) the access cookie
//! plus the CSRF double-submit check on unsafe methods.

use poem::http::{Method, StatusCode};
use poem::{Request, RequestBody};
use poem_openapi::auth::Bearer;
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use swift_core::accounts::AccountsError;
use swift_core::accounts::service::{self, AuthUser};

use crate::AppState;
use crate::cookies::{CSRF_HEADER, csrf_token, names};
use crate::problem::{ApiError, ProblemCode};

/// The Bearer scheme as documented in the OpenAPI document (Swagger's Authorize button).
#[derive(SecurityScheme)]
#[oai(rename = "BearerAuth", ty = "bearer", bearer_format = "JWT")]
#[allow(dead_code)]
struct BearerScheme(Bearer);

/// The authenticated caller; an operation taking this requires a valid access token.
pub struct Auth(pub AuthUser);

impl Auth {
    /// For staff endpoints: 403 `permission_denied` for customers.
    pub fn staff(&self) -> Result<AuthUser, ApiError> {
        self.0.require_staff()?;
        Ok(self.0)
    }
}

/// The access token a request carries, and whether it came from a cookie.
fn credentials(req: &Request, state: &AppState) -> Result<Option<(String, bool)>, ApiError> {
    if let Some(value) = req.headers().get(poem::http::header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(Some((token.trim().to_owned(), false)))
            }
            _ => Err(AccountsError::TokenInvalid.into()),
        };
    }
    if state.config.auth.cookies
        && let Some(cookie) = req.cookie().get(names(state).access)
        && !cookie.value_str().is_empty()
    {
        return Ok(Some((cookie.value_str().to_owned(), true)));
    }
    Ok(None)
}

/// The CSRF check for an unsafe request authenticated by a cookie of `session_id`:
/// `X-CSRF-Token` must carry that session's token (the readable CSRF cookie's value).
pub fn check_csrf(req: &Request, state: &AppState, session_id: uuid::Uuid) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let expected = csrf_token(state, session_id);
    match req.headers().get(CSRF_HEADER) {
        Some(h) if constant_time_eq(h.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::CsrfFailed,
            "X-CSRF-Token must carry the value of this session's CSRF cookie",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn state(req: &Request) -> &AppState {
    req.data::<AppState>()
        .expect("AppState is attached to every request")
}

/// The caller's access token, checked, and whether it came from a cookie.
pub async fn authenticated(req: &Request) -> Result<Option<(AuthUser, bool)>, ApiError> {
    let state = state(req);
    let Some((token, from_cookie)) = credentials(req, state)? else {
        return Ok(None);
    };
    Ok(Some((
        service::authenticate(state, &token).await?,
        from_cookie,
    )))
}

/// Authenticates the request when it carries credentials; `None` when it carries none.
/// A cookie-authenticated unsafe request must pass the CSRF check of its session.
pub async fn optional_user(req: &Request) -> Result<Option<AuthUser>, ApiError> {
    match authenticated(req).await? {
        Some((user, true)) => {
            check_csrf(req, state(req), user.session_id)?;
            Ok(Some(user))
        }
        Some((user, false)) => Ok(Some(user)),
        None => Ok(None),
    }
}

impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <BearerScheme as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <BearerScheme as ApiExtractor>::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match optional_user(req).await? {
            Some(user) => Ok(Auth(user)),
            None => Err(ApiError::from(AccountsError::NotAuthenticated).into()),
        }
    }
}
