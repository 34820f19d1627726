//! Cookie mode (docs/API.md): the backend holds the tokens in HttpOnly cookies and a readable
//! CSRF cookie guards unsafe requests authenticated by cookie (double-submit).

use base64::Engine;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use swift_core::accounts::service::TokenPair;

use crate::AppState;

pub const ACCESS_COOKIE: &str = "swift_access";
pub const REFRESH_COOKIE: &str = "swift_refresh";
pub const CSRF_COOKIE: &str = "swift_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The refresh cookie is sent only to the auth endpoints that need it.
pub const REFRESH_PATH: &str = "/api/v1/auth";

fn cookie(
    state: &AppState,
    name: &str,
    value: String,
    path: &str,
    max_age: i64,
    http_only: bool,
) -> Cookie {
    let mut c = Cookie::new_with_str(name, value);
    c.set_path(path);
    c.set_http_only(http_only);
    c.set_secure(state.config.auth.cookie_secure);
    c.set_same_site(SameSite::Lax);
    c.set_max_age(std::time::Duration::from_secs(max_age.max(0) as u64));
    c
}

/// Sets the token and CSRF cookies for a fresh token pair (cookie mode only).
pub fn set_token_cookies(jar: &CookieJar, state: &AppState, pair: &TokenPair) {
    if !state.config.auth.cookies {
        return;
    }
    let auth = &state.config.auth;
    jar.add(cookie(
        state,
        ACCESS_COOKIE,
        pair.access.clone(),
        "/",
        auth.access_ttl_seconds,
        true,
    ));
    jar.add(cookie(
        state,
        REFRESH_COOKIE,
        pair.refresh.clone(),
        REFRESH_PATH,
        auth.refresh_ttl_seconds,
        true,
    ));
    let mut csrf = [0u8; 24];
    rand::rng().fill_bytes(&mut csrf);
    let csrf = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(csrf);
    jar.add(cookie(
        state,
        CSRF_COOKIE,
        csrf,
        "/",
        auth.refresh_ttl_seconds,
        false,
    ));
}

/// Expires every auth cookie (logout).
pub fn clear_token_cookies(jar: &CookieJar, state: &AppState) {
    if !state.config.auth.cookies {
        return;
    }
    for (name, path) in [
        (ACCESS_COOKIE, "/"),
        (REFRESH_COOKIE, REFRESH_PATH),
        (CSRF_COOKIE, "/"),
    ] {
        jar.add(cookie(
            state,
            name,
            String::new(),
            path,
            0,
            name != CSRF_COOKIE,
        ));
    }
}
