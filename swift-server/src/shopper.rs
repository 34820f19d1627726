//! Who is shopping (docs/API.md "Carts"): a signed-in customer (Bearer or cookie, as
//! [`crate::auth`] checks), else a guest with a cart token (`X-Cart-Token`, or in cookie
//! mode the HttpOnly cart cookie), else a visitor with neither, whose first added line
//! opens a guest cart.

use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::{Request, RequestBody};
use poem_openapi::auth::ApiKey;
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use swift_core::orders::cart::{CartToken, Shopper};

use crate::AppState;
use crate::auth::optional_user;
use crate::problem::ApiError;

pub const CART_TOKEN_HEADER: &str = "x-cart-token";

/// The guest cart's token as documented in the OpenAPI document.
#[derive(SecurityScheme)]
#[oai(
    rename = "CartToken",
    ty = "api_key",
    key_name = "X-Cart-Token",
    key_in = "header"
)]
#[allow(dead_code)]
struct CartTokenScheme(ApiKey);

/// The cart cookie's name (cookie mode): `__Host-` prefixed where cookies are Secure.
fn cookie_name(state: &AppState) -> &'static str {
    if state.config.auth.cookie_secure {
        "__Host-swift_cart"
    } else {
        "swift_cart"
    }
}

/// The cart token a request carries: the header, else (cookie mode) the cart cookie. A
/// token that is not one this API could have issued is a 400, never taken as "no cart".
pub fn cart_token(req: &Request, state: &AppState) -> Result<Option<CartToken>, ApiError> {
    if let Some(value) = req.headers().get(CART_TOKEN_HEADER) {
        let raw = value.to_str().unwrap_or_default();
        return Ok(Some(CartToken::parse(raw)?));
    }
    if state.config.auth.cookies
        && let Some(cookie) = req.cookie().get(cookie_name(state))
        && !cookie.value_str().is_empty()
    {
        return Ok(Some(CartToken::parse(cookie.value_str())?));
    }
    Ok(None)
}

fn cart_cookie(state: &AppState, value: &str, max_age_days: i64) -> Cookie {
    let mut c = Cookie::new_with_str(cookie_name(state), value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_secure(state.config.auth.cookie_secure);
    // Strict: a guest's cart is changed only from the storefront's own pages.
    c.set_same_site(SameSite::Strict);
    c.set_max_age(std::time::Duration::from_secs(max_age_days as u64 * 86_400));
    c
}

/// Cookie mode: keeps a newly opened guest cart's token in the HttpOnly cart cookie.
pub fn set_cart_cookie(jar: &CookieJar, state: &AppState, token: &CartToken) {
    if state.config.auth.cookies {
        let days = state.config.lifetimes.guest_cart_days;
        jar.add(cart_cookie(state, token.as_str(), days));
    }
}

/// Cookie mode: forgets the cart cookie (its cart was merged at sign-in).
pub fn clear_cart_cookie(jar: &CookieJar, state: &AppState) {
    if state.config.auth.cookies {
        jar.add(cart_cookie(state, "", 0));
    }
}

/// The shopper of a cart or checkout operation.
pub struct ShopperAuth(pub Shopper);

impl<'a> ApiExtractor<'a> for ShopperAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <crate::auth::Auth as ApiExtractor>::register(registry);
        <CartTokenScheme as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = <crate::auth::Auth as ApiExtractor>::security_schemes();
        schemes.extend(<CartTokenScheme as ApiExtractor>::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if let Some(user) = optional_user(req).await? {
            return Ok(Self(Shopper::Customer(user.id)));
        }
        let state = req
            .data::<AppState>()
            .expect("AppState is attached to every request");
        Ok(Self(match cart_token(req, state)? {
            Some(token) => Shopper::Guest(token),
            None => Shopper::Visitor,
        }))
    }
}
