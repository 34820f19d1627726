//! Cookie mode (docs/API.md): the backend holds the tokens in HttpOnly cookies and a readable
//! CSRF cookie guards unsafe requests authenticated by cookie (double submit).
//!
//! The CSRF value is not random: it is an HMAC of the session id under the server's key.
//! A value an attacker planted (their own cookie and header pair, say through a sibling
//! subdomain) therefore matches no victim's session. Where cookies are Secure their names
//! carry the `__Host-` prefix (Secure, Path=/, no Domain: no subdomain can set them) or, for
//! the refresh cookie scoped to `/api/v1/auth`, `__Secure-`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use swift_core::accounts::service::TokenPair;
use swift_core::accounts::tokens::keyed_digest;
use uuid::Uuid;

use crate::AppState;

pub const CSRF_HEADER: &str = "x-csrf-token";
/// The refresh cookie is sent only to the auth endpoints that need it.
pub const REFRESH_PATH: &str = "/api/v1/auth";

/// The three cookie names, prefixed where the cookies are Secure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    pub access: &'static str,
    pub refresh: &'static str,
    pub csrf: &'static str,
}

pub fn names(state: &AppState) -> CookieNames {
    if state.config.auth.cookie_secure {
        CookieNames {
            access: "__Host-swift_access",
            refresh: "__Secure-swift_refresh",
            csrf: "__Host-swift_csrf",
        }
    } else {
        CookieNames {
            access: "swift_access",
            refresh: "swift_refresh",
            csrf: "swift_csrf",
        }
    }
}

/// The CSRF token of a session: what `X-CSRF-Token` must carry.
pub fn csrf_token(state: &AppState, session_id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(keyed_digest(
        &state.config.auth.jwt_secret,
        "swift csrf",
        session_id.as_bytes(),
    ))
}

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
    let names = names(state);
    jar.add(cookie(
        state,
        names.access,
        pair.access.clone(),
        "/",
        auth.access_ttl_seconds,
        true,
    ));
    jar.add(cookie(
        state,
        names.refresh,
        pair.refresh.clone(),
        REFRESH_PATH,
        auth.refresh_ttl_seconds,
        true,
    ));
    jar.add(cookie(
        state,
        names.csrf,
        csrf_token(state, pair.session_id),
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
    let names = names(state);
    for (name, path) in [
        (names.access, "/"),
        (names.refresh, REFRESH_PATH),
        (names.csrf, "/"),
    ] {
        jar.add(cookie(
            state,
            name,
            String::new(),
            path,
            0,
            name != names.csrf,
        ));
    }
}

/// The refresh token in the refresh cookie (cookie mode only).
pub fn refresh_cookie(jar: &CookieJar, state: &AppState) -> Option<String> {
    if !state.config.auth.cookies {
        return None;
    }
    jar.get(names(state).refresh)
        .map(|c| c.value_str().to_owned())
        .filter(|v| !v.is_empty())
}
