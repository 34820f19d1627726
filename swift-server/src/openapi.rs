//! The OpenAPI document as clients and Swagger UI see it.
//!
//! poem-openapi derives the document from the operations; this module then applies, in one
//! place, what its derive macros cannot say:
//!
//! - each operation lists only the error statuses it can answer, each a `$ref` to one shared
//!   problem+json response, plus one `default` for the failures any call can meet (500, and
//!   503 while the database is away) — instead of the same eleven bodies on every operation;
//! - `application/json` as the media type, and header names as HTTP writes them (`ETag`);
//! - tags in the storefront's order (auth, catalog, cart, orders, then admin, ops), and an
//!   Authorize text that says where the token comes from.
//!
//! The result is what `openapi.json` holds, what `/openapi.json` serves and what `/docs`
//! shows, so all three are one document.

use serde_json::{Map, Value, json};

use crate::patterns::{self, Rule};

/// Tag order in Swagger UI and generated clients: what a storefront developer reads first.
const TAG_ORDER: &[&str] = &["auth", "catalog", "cart", "orders", "admin", "ops"];

/// Operations that answer 401 without requiring a token (they check credentials or tokens
/// they are given).
const CHECKS_CREDENTIALS: &[&str] = &[
    "login",
    "completeSignIn",
    "refreshToken",
    "verifyToken",
    "exchangeLoginCode",
    "googleLogin",
];

/// Operations that answer 403 without requiring a token: disabled or unverified accounts,
/// CSRF on cookie-borne refresh tokens, Workspace domains.
const MAY_FORBID: &[&str] = &[
    "login",
    "completeSignIn",
    "refreshToken",
    "logout",
    "exchangeLoginCode",
    "googleLogin",
];

/// Operations that answer 404 without a path parameter.
/// A guest's cart token that names no cart is a 404 on every cart operation.
const MAY_NOT_FIND: &[&str] = &[
    "addCartItem",
    "createOrder",
    "getCart",
    "clearCart",
    "listShippingOptions",
    "setCartShipping",
    "applyDiscountCode",
    "removeDiscountCode",
];

/// The 409 codes each operation can answer.
const CONFLICTS: &[(&str, &str)] = &[
    ("register", "`email_taken`"),
    (
        "createProduct",
        "`slug_taken`, `sku_taken`, `variant_options_taken`",
    ),
    (
        "updateProduct",
        "`slug_taken`, `option_value_in_use`, `variant_options_taken`",
    ),
    ("createVariant", "`sku_taken`, `variant_options_taken`"),
    ("updateVariant", "`sku_taken`, `variant_options_taken`"),
    (
        "adjustStock",
        "`insufficient_stock` (stock would go below zero)",
    ),
    ("createCategory", "`slug_taken`"),
    ("updateCategory", "`slug_taken`, `category_cycle`"),
    ("deleteCategory", "`category_in_use`"),
    (
        "createOrder",
        "`insufficient_stock` (with `lines`), `price_changed` (with `totals`), `discount_not_applicable`, `shipping_unavailable`",
    ),
    ("setCartShipping", "`shipping_unavailable`"),
    ("applyDiscountCode", "`discount_not_applicable`"),
    ("cancelOrder", "`invalid_transition`"),
    (
        "transitionOrder",
        "`invalid_transition`, `not_refundable`, `refund_too_large`",
    ),
    ("googleLogin", "`account_link_conflict`"),
    ("enrolTwoFactor", "`two_factor_enabled`"),
    (
        "confirmTwoFactor",
        "`two_factor_enabled`, `two_factor_not_enabled` (enrol first)",
    ),
    ("disableTwoFactor", "`two_factor_not_enabled`"),
    ("regenerateRecoveryCodes", "`two_factor_not_enabled`"),
    (
        "completeSignIn",
        "`two_factor_not_enabled` (turned off meanwhile)",
    ),
    ("connectGoogle", "`account_link_conflict`"),
    ("disconnectSignInMethod", "`last_sign_in_method`"),
    ("createPayment", "`not_payable`"),
    ("createGuestPayment", "`not_payable`"),
    ("refundOrder", "`not_refundable`, `refund_too_large`"),
];

/// Operations guarded by rate limits (docs/API.md, Authentication).
const RATE_LIMITED: &[&str] = &[
    "register",
    "login",
    "completeSignIn",
    "disableTwoFactor",
    "refreshToken",
    "requestPasswordReset",
    "confirmPasswordReset",
    "resendVerificationEmail",
    "changePassword",
    "deleteCurrentUser",
];

/// Operations that call the OpenID Provider (502 when it fails) or need Google configured
/// (503 `oauth_not_configured`).
const USES_GOOGLE: &[&str] = &["googleAuthorize", "googleLogin", "connectGoogle"];

/// Operations that call Stripe (502 `payment_provider_error` when it fails) or need it
/// configured (503 `payments_not_configured`). Staff moves may refund through it.
const USES_PAYMENTS: &[&str] = &[
    "createPayment",
    "createGuestPayment",
    "stripeWebhook",
    "refundOrder",
    "transitionOrder",
];

/// The shared problem responses: (status key, component name, description).
const RESPONSES: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "Invalid request: `validation_error` (with `errors` naming each field), `bad_request`, or `invalid_two_factor_code`.",
    ),
    (
        "401",
        "Unauthorized",
        "Missing or invalid credentials: `not_authenticated`, `token_invalid`, `token_expired`, `token_reused`, `invalid_credentials`.",
    ),
    (
        "403",
        "Forbidden",
        "Not allowed: `permission_denied`, `two_factor_required` (staff without a second factor, under `STAFF_REQUIRE_2FA`), `email_not_verified`, `account_disabled`, `csrf_failed`.",
    ),
    (
        "404",
        "NotFound",
        "`not_found`: no such resource, or not yours.",
    ),
    (
        "409",
        "IdempotencyConflict",
        "`idempotency_conflict`: this Idempotency-Key was used with a different request.",
    ),
    (
        "413",
        "PayloadTooLarge",
        "`payload_too_large`: the body is over 1 MiB.",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "`unsupported_media_type`: send `application/json`.",
    ),
    (
        "429",
        "RateLimited",
        "`rate_limited`: wait the seconds in `Retry-After`.",
    ),
    (
        "502",
        "BadGateway",
        "An outside provider failed: `oauth_provider_error` (Google sign-in) or `payment_provider_error` (Stripe refused or could not be reached).",
    ),
    (
        "503",
        "ServiceUnavailable",
        "`oauth_not_configured` or `payments_not_configured` (the provider is not set up), or `not_ready` while the database is away.",
    ),
    (
        "default",
        "UnexpectedError",
        "Any call: `internal_error` (500, nothing disclosed) or `not_ready` (503, retry).",
    ),
];

const PROBLEM_JSON: &str = "application/problem+json";
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// Header names as poem-openapi writes them, and as HTTP does.
const HEADER_NAMES: &[(&str, &str)] = &[
    ("ETAG", "ETag"),
    ("CACHE-CONTROL", "Cache-Control"),
    ("LOCATION", "Location"),
    ("IDEMPOTENCY-KEY", "Idempotency-Key"),
    ("RETRY-AFTER", "Retry-After"),
    ("X-CART-TOKEN", "X-Cart-Token"),
];

/// Mutating operations that take no `Idempotency-Key`: they answer with secrets (session
/// tokens, a TOTP secret, recovery codes), which are never saved for replays
/// (`middleware::idempotency::NEVER_SAVED`).
const UNKEYED: &[&str] = &[
    "login",
    "completeSignIn",
    "enrolTwoFactor",
    "confirmTwoFactor",
    "regenerateRecoveryCodes",
    "register",
    "googleLogin",
    "exchangeLoginCode",
    "refreshToken",
    // Stripe's deliveries are made idempotent by their event id.
    "stripeWebhook",
];

const IDEMPOTENCY_KEY_REF: &str = "#/components/parameters/IdempotencyKey";

/// The shared `Idempotency-Key` parameter of every other mutating operation.
fn idempotency_key_parameter() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a retry safe: the same key and request replay the first successful answer (with `Idempotent-Replayed: true`) for 24 hours; the same key with another request is 409 `idempotency_conflict`. Scoped to the caller (user or cart token). 1 to 255 visible ASCII characters.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": patterns::IDEMPOTENCY_KEY.pattern,
        }
    })
}

fn is_keyed(op: &Value) -> bool {
    op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["$ref"] == IDEMPOTENCY_KEY_REF))
}

/// The error statuses `op` can answer, by its shape and the tables above.
fn error_statuses(id: &str, op: &Value) -> Vec<&'static str> {
    let has = |key: &str| op.get(key).is_some_and(|v| !v.is_null());
    let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
    let has_body = has("requestBody");
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let path_params = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path"));
    let mut statuses = Vec::new();
    if has_params || has_body {
        statuses.push("400");
    }
    if secured || CHECKS_CREDENTIALS.contains(&id) {
        statuses.push("401");
    }
    if secured || MAY_FORBID.contains(&id) {
        statuses.push("403");
    }
    if path_params || MAY_NOT_FIND.contains(&id) {
        statuses.push("404");
    }
    if CONFLICTS.iter().any(|(op_id, _)| *op_id == id) || is_keyed(op) {
        statuses.push("409");
    }
    if has_body {
        statuses.extend(["413", "415"]);
    }
    if RATE_LIMITED.contains(&id) {
        statuses.push("429");
    }
    if USES_GOOGLE.contains(&id) || USES_PAYMENTS.contains(&id) {
        statuses.extend(["502", "503"]);
    }
    statuses
}

fn component_ref(status: &str) -> Value {
    let name = RESPONSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, name, _)| *name)
        .expect("every status has a shared response");
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// `application/json; charset=utf-8` keys become `application/json`.
fn plain_json_media_type(content: &mut Value) {
    if let Some(map) = content.as_object_mut()
        && let Some(schema) = map.remove(JSON_UTF8)
    {
        map.insert("application/json".to_owned(), schema);
    }
}

fn canonical_header_names(headers: &mut Value) {
    let Some(map) = headers.as_object_mut() else {
        return;
    };
    for (from, to) in HEADER_NAMES {
        if let Some(h) = map.remove(*from) {
            map.insert((*to).to_owned(), h);
        }
    }
}

/// Page sizes as the literal values they may take: a generated client then refuses 101 at
/// compile time, which `maximum` alone cannot make a TypeScript type do.
fn page_size_values(op: &mut Value) {
    // `get_mut`, not indexing: indexing a JSON object inserts the key it misses (as null).
    for p in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if p["name"] == "page_size" {
            p["schema"]["enum"] = json!((1..=100).collect::<Vec<u32>>());
        }
    }
}

fn polish_operation(op: &mut Value) {
    let id = op["operationId"].as_str().unwrap_or_default().to_owned();
    page_size_values(op);
    if let Some(body) = op.get_mut("requestBody") {
        plain_json_media_type(&mut body["content"]);
        if let Some((_, example)) = EXAMPLES.iter().find(|(op_id, _)| *op_id == id) {
            // A named example rather than `example`: Swagger UI and schemathesis use both
            // alike, while generators copy `example` into a doc comment on every operation.
            let value: Value = serde_json::from_str(example).expect("examples are JSON");
            body["content"]["application/json"]["examples"] =
                json!({ "valid": { "summary": "A valid request", "value": value } });
        }
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut().filter(|p| p["in"] == "header") {
            if let Some(name) = p["name"].as_str()
                && let Some((_, to)) = HEADER_NAMES
                    .iter()
                    .find(|(from, _)| from.eq_ignore_ascii_case(name))
            {
                p["name"] = json!(to);
            }
        }
    }
    for p in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some((.., rule)) = PARAMETER_PATTERNS
            .iter()
            .find(|(op_id, name, _)| *op_id == id && p["name"] == *name)
        {
            p["schema"]["pattern"] = json!(rule.pattern);
        }
        if COUNTRY_PARAMETERS
            .iter()
            .any(|(op_id, name)| *op_id == id && p["name"] == *name)
        {
            p["schema"] = json!({ "$ref": "#/components/schemas/CountryCode" });
        }
    }
    let statuses = error_statuses(&id, op);
    let keyed = is_keyed(op);
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    // Drop the generic problem bodies the shared error type lists on every operation.
    responses.retain(|_, r| r["content"].get(PROBLEM_JSON).is_none());
    for response in responses.values_mut() {
        if let Some(content) = response.get_mut("content") {
            plain_json_media_type(content);
        }
        if let Some(headers) = response.get_mut("headers") {
            canonical_header_names(headers);
        }
    }
    for status in statuses {
        let response = match CONFLICTS.iter().find(|(op_id, _)| *op_id == id) {
            // A $ref cannot carry its own description in OpenAPI 3.0: each operation's 409
            // spells out its own codes.
            Some((_, codes)) if status == "409" => json!({
                "description": if keyed {
                    format!("Conflicts with the current state: {codes}, `idempotency_conflict`.")
                } else {
                    format!("Conflicts with the current state: {codes}.")
                },
                "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
            }),
            _ => component_ref(status),
        };
        responses.insert(status.to_owned(), response);
    }
    responses.insert("default".to_owned(), component_ref("default"));
    add_links(&id, responses);
}

/// A valid example body for every operation that takes one: what Swagger UI's "Try it out"
/// starts from, instead of type placeholders (`"string"`, country `"st"`, quantity `0`).
/// Ids are placeholders to replace; everything else is accepted as it stands.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "register",
        r#"{"email": "ada@example.com", "password": "plum-Orbit-cactus-42", "first_name": "Ada", "last_name": "Lovelace"}"#,
    ),
    (
        "login",
        r#"{"email": "ada@example.com", "password": "plum-Orbit-cactus-42"}"#,
    ),
    (
        "refreshToken",
        r#"{"refresh": "the refresh token from login"}"#,
    ),
    ("verifyToken", r#"{"token": "an access token"}"#),
    ("logout", r#"{"refresh": "the refresh token from login"}"#),
    (
        "updateCurrentUser",
        r#"{"first_name": "Ada", "last_name": "Byron"}"#,
    ),
    (
        "deleteCurrentUser",
        r#"{"password": "plum-Orbit-cactus-42"}"#,
    ),
    (
        "changePassword",
        r#"{"old_password": "plum-Orbit-cactus-42", "new_password": "quartz-Meadow-lantern-17"}"#,
    ),
    ("requestPasswordReset", r#"{"email": "ada@example.com"}"#),
    (
        "confirmPasswordReset",
        r#"{"uid": "0193b6a2-5c1e-7cc0-8a3e-2f1d4c5b6a70", "token": "the token from the mailed link", "new_password": "quartz-Meadow-lantern-17"}"#,
    ),
    ("verifyEmail", r#"{"key": "the key from the mailed link"}"#),
    ("resendVerificationEmail", r#"{"email": "ada@example.com"}"#),
    (
        "exchangeLoginCode",
        r#"{"login_code": "the login_code from the callback"}"#,
    ),
    ("googleLogin", r#"{"id_token": "an id_token from Google"}"#),
    (
        "connectGoogle",
        r#"{"id_token": "an id_token from Google"}"#,
    ),
    (
        "completeSignIn",
        r#"{"challenge": "the challenge from login's 202 answer", "code": "123456"}"#,
    ),
    ("confirmTwoFactor", r#"{"code": "123456"}"#),
    (
        "disableTwoFactor",
        r#"{"password": "plum-Orbit-cactus-42", "code": "123456"}"#,
    ),
    ("regenerateRecoveryCodes", r#"{"code": "123456"}"#),
    (
        "addCartItem",
        r#"{"variant_id": "0193b6a2-5c1e-7cc0-8a3e-2f1d4c5b6a70", "quantity": 1}"#,
    ),
    ("updateCartItem", r#"{"quantity": 2}"#),
    (
        "createOrder",
        r#"{"shipping_address": {"full_name": "Ada Lovelace", "line1": "12 Analytical Street", "city": "London", "postal_code": "N1 7AA", "country": "GB", "phone": "+44 20 7946 0000"}, "notes": "Leave at the door"}"#,
    ),
    ("transitionOrder", r#"{"status": "shipped"}"#),
    (
        "createAddress",
        r#"{"address": {"full_name": "Ada Lovelace", "line1": "12 Analytical Street", "city": "London", "postal_code": "N1 7AA", "country": "GB"}, "is_default_shipping": true}"#,
    ),
    ("updateAddress", r#"{"is_default_billing": true}"#),
    (
        "setCartShipping",
        r#"{"country": "GB", "method_id": "0193b6a2-5c1e-7cc0-8a3e-2f1d4c5b6a70"}"#,
    ),
    ("applyDiscountCode", r#"{"code": "WELCOME10"}"#),
    (
        "createShippingZone",
        r#"{"name": "United Kingdom", "countries": ["GB"]}"#,
    ),
    (
        "updateShippingZone",
        r#"{"name": "British Isles", "countries": ["GB", "IE"]}"#,
    ),
    (
        "createShippingMethod",
        r#"{"name": "Standard", "rate": {"kind": "free_over", "price": "4.95", "free_over": "50.00"}}"#,
    ),
    (
        "updateShippingMethod",
        r#"{"name": "Parcel", "rate": {"kind": "by_weight", "bands": [{"up_to_grams": 2000, "price": "3.50"}, {"up_to_grams": 20000, "price": "9.00"}]}}"#,
    ),
    (
        "createTaxRate",
        r#"{"country": "GB", "name": "VAT", "percent": "20"}"#,
    ),
    (
        "updateTaxRate",
        r#"{"country": "US", "region": "NY", "name": "Sales tax", "percent": "8.875"}"#,
    ),
    (
        "createDiscountCode",
        r#"{"code": "WELCOME10", "kind": "percent", "value": "10", "per_customer_limit": 1}"#,
    ),
    (
        "updateDiscountCode",
        r#"{"code": "SPRING5", "kind": "fixed", "value": "5.00", "min_subtotal": "30.00", "usage_limit": 100}"#,
    ),
    (
        "createProduct",
        r#"{"name": "Linen Shirt", "description": "Washed linen, relaxed fit.", "options": [{"name": "Size", "values": ["S", "M", "L"]}], "variants": [{"sku": "SHIRT-LIN-S", "price": "49.00", "stock": 10, "options": [{"name": "Size", "value": "S"}]}, {"sku": "SHIRT-LIN-M", "price": "49.00", "compare_at_price": "59.00", "stock": 12, "options": [{"name": "Size", "value": "M"}]}]}"#,
    ),
    (
        "updateProduct",
        r#"{"name": "Linen Shirt, washed", "category_id": null}"#,
    ),
    (
        "createVariant",
        r#"{"sku": "SHIRT-LIN-L", "price": "52.00", "stock": 4, "options": [{"name": "Size", "value": "L"}]}"#,
    ),
    (
        "updateVariant",
        r#"{"price": "45.00", "compare_at_price": null, "stock": 20}"#,
    ),
    ("adjustStock", r#"{"delta": 10, "reason": "recount"}"#),
    (
        "createCategory",
        r#"{"name": "Mugs", "description": "Cups with handles."}"#,
    ),
    ("updateCategory", r#"{"position": 2, "parent_id": null}"#),
    ("adminUpdateUser", r#"{"is_active": true}"#),
    ("refundOrder", r#"{"amount": "5.00"}"#),
    (
        "stripeWebhook",
        r#"{"id": "evt_3PaX2f2eZvKYlo2C0d1t5Zq8", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_3PaX2f2eZvKYlo2C1Kx9y0cD", "object": "payment_intent", "amount": 2468, "amount_received": 2468, "currency": "usd", "status": "succeeded", "metadata": {"order_id": "0193b6a2-5c1e-7cc0-8a3e-2f1d4c5b6a70"}}}}"#,
    ),
];

/// OpenAPI links: where an operation's answer supplies another operation's path parameter
/// (from operation, to operation, parameter, runtime expression). Swagger UI shows them,
/// and schemathesis' stateful phase follows them to reach ids it could not guess.
const LINKS: &[(&str, &str, &str, &str)] = &[
    (
        "createCategory",
        "updateCategory",
        "id",
        "$response.body#/id",
    ),
    (
        "createCategory",
        "deleteCategory",
        "id",
        "$response.body#/id",
    ),
    (
        "createCategory",
        "getCategory",
        "slug",
        "$response.body#/slug",
    ),
    (
        "listCategories",
        "getCategory",
        "slug",
        "$response.body#/0/slug",
    ),
    ("createProduct", "updateProduct", "id", "$response.body#/id"),
    (
        "createProduct",
        "archiveProduct",
        "id",
        "$response.body#/id",
    ),
    ("createProduct", "createVariant", "id", "$response.body#/id"),
    (
        "createProduct",
        "adminGetProduct",
        "id",
        "$response.body#/id",
    ),
    ("createProduct", "adjustStock", "id", "$response.body#/id"),
    (
        "createProduct",
        "adjustStock",
        "variant_id",
        "$response.body#/variants/0/id",
    ),
    ("createProduct", "updateVariant", "id", "$response.body#/id"),
    (
        "createProduct",
        "updateVariant",
        "variant_id",
        "$response.body#/variants/0/id",
    ),
    (
        "createProduct",
        "archiveVariant",
        "id",
        "$response.body#/id",
    ),
    (
        "createProduct",
        "archiveVariant",
        "variant_id",
        "$response.body#/variants/0/id",
    ),
    (
        "createProduct",
        "getProduct",
        "id_or_slug",
        "$response.body#/slug",
    ),
    (
        "listProducts",
        "getProduct",
        "id_or_slug",
        "$response.body#/items/0/slug",
    ),
    (
        "addCartItem",
        "updateCartItem",
        "item_id",
        "$response.body#/items/0/id",
    ),
    (
        "addCartItem",
        "removeCartItem",
        "item_id",
        "$response.body#/items/0/id",
    ),
    (
        "getCart",
        "updateCartItem",
        "item_id",
        "$response.body#/items/0/id",
    ),
    (
        "getCart",
        "removeCartItem",
        "item_id",
        "$response.body#/items/0/id",
    ),
    ("createOrder", "getOrder", "id", "$response.body#/id"),
    ("createOrder", "createPayment", "id", "$response.body#/id"),
    (
        "createOrder",
        "createGuestPayment",
        "token",
        "$response.body#/order_token",
    ),
    ("createAddress", "updateAddress", "id", "$response.body#/id"),
    (
        "createShippingZone",
        "updateShippingZone",
        "id",
        "$response.body#/id",
    ),
    (
        "createShippingZone",
        "deleteShippingZone",
        "id",
        "$response.body#/id",
    ),
    (
        "createShippingZone",
        "createShippingMethod",
        "id",
        "$response.body#/id",
    ),
    (
        "createShippingMethod",
        "updateShippingMethod",
        "id",
        "$response.body#/id",
    ),
    (
        "createShippingMethod",
        "deleteShippingMethod",
        "id",
        "$response.body#/id",
    ),
    ("createTaxRate", "updateTaxRate", "id", "$response.body#/id"),
    ("createTaxRate", "deleteTaxRate", "id", "$response.body#/id"),
    (
        "createDiscountCode",
        "updateDiscountCode",
        "id",
        "$response.body#/id",
    ),
    (
        "createDiscountCode",
        "deleteDiscountCode",
        "id",
        "$response.body#/id",
    ),
    ("createAddress", "deleteAddress", "id", "$response.body#/id"),
    (
        "listAddresses",
        "updateAddress",
        "id",
        "$response.body#/0/id",
    ),
    ("createOrder", "cancelOrder", "id", "$response.body#/id"),
    ("listOrders", "getOrder", "id", "$response.body#/items/0/id"),
    (
        "listOrders",
        "cancelOrder",
        "id",
        "$response.body#/items/0/id",
    ),
    (
        "adminListOrders",
        "adminGetOrder",
        "id",
        "$response.body#/items/0/id",
    ),
    (
        "adminListOrders",
        "transitionOrder",
        "id",
        "$response.body#/items/0/id",
    ),
    (
        "adminListUsers",
        "adminUpdateUser",
        "id",
        "$response.body#/items/0/id",
    ),
    (
        "listSessions",
        "revokeSession",
        "id",
        "$response.body#/0/id",
    ),
];

/// Adds `op`'s links to its success response.
fn add_links(id: &str, responses: &mut Map<String, Value>) {
    let Some(success) = responses
        .iter_mut()
        .find(|(status, _)| status.starts_with('2'))
        .map(|(_, r)| r)
    else {
        return;
    };
    // A target with two path parameters has two entries: one link carries both.
    for (_, to, param, expression) in LINKS.iter().filter(|(from, ..)| *from == id) {
        let name = format!("{}{}", to[..1].to_uppercase(), &to[1..]);
        let link = &mut success["links"][name];
        link["operationId"] = json!(to);
        link["parameters"][*param] = json!(expression);
    }
}

/// PATCH fields where `null` means something ("remove the category"): marked `nullable`,
/// so generated clients let callers send it. Everywhere else absent means absent.
const NULLABLE: &[(&str, &str)] = &[
    ("ProductUpdate", "category_id"),
    ("VariantUpdate", "compare_at_price"),
    ("VariantUpdate", "weight_grams"),
    ("CategoryUpdate", "parent_id"),
];

/// Request bodies that refuse fields they do not know (`additionalProperties: false`, checked
/// by the body check): the catalog's writes, whose `sku`, `price` and `stock` moved from the
/// product to its variants; a PATCH that ignored them would look as if it had worked.
const CLOSED: &[&str] = &[
    "ProductCreate",
    "ProductUpdate",
    "VariantCreate",
    "VariantUpdate",
    "StockAdjustment",
    "CategoryCreate",
    "CategoryUpdate",
];

/// Request fields holding an email address: `format: email`, so generators and fuzzers make
/// addresses rather than arbitrary text (the server's own rules are in docs/API.md).
const EMAIL_FIELDS: &[(&str, &str)] = &[
    ("Registration", "email"),
    ("LoginCredentials", "email"),
    ("EmailAddress", "email"),
];

/// The text rules of swift-core's parsers, stated on the fields they govern (see
/// `patterns`): a generated client or a fuzzer then sends what the server accepts.
const FIELD_PATTERNS: &[(&str, &str, &Rule)] = &[
    ("Registration", "password", &patterns::NEW_PASSWORD),
    ("Registration", "first_name", &patterns::TEXT),
    ("Registration", "last_name", &patterns::TEXT),
    ("UserUpdate", "first_name", &patterns::TEXT),
    ("UserUpdate", "last_name", &patterns::TEXT),
    ("PasswordChange", "new_password", &patterns::NEW_PASSWORD),
    (
        "PasswordResetConfirm",
        "new_password",
        &patterns::NEW_PASSWORD,
    ),
    ("GoogleCodeLogin", "redirect_uri", &patterns::HTTP_URL),
    ("Address", "full_name", &patterns::REQUIRED_TEXT),
    ("Address", "line1", &patterns::REQUIRED_TEXT),
    ("Address", "line2", &patterns::TEXT),
    ("Address", "city", &patterns::REQUIRED_TEXT),
    ("Address", "region", &patterns::TEXT),
    ("Address", "postal_code", &patterns::REQUIRED_TEXT),
    ("Address", "phone", &patterns::PHONE),
    ("OrderCreate", "notes", &patterns::TEXT),
    ("ProductCreate", "name", &patterns::REQUIRED_TEXT),
    ("ProductCreate", "description", &patterns::MULTILINE_TEXT),
    ("ProductCreate", "slug", &patterns::SLUG),
    ("ProductUpdate", "name", &patterns::REQUIRED_TEXT),
    ("ProductUpdate", "description", &patterns::MULTILINE_TEXT),
    ("ProductUpdate", "slug", &patterns::SLUG),
    ("VariantCreate", "sku", &patterns::SKU),
    ("VariantUpdate", "sku", &patterns::SKU),
    ("ProductOption", "name", &patterns::REQUIRED_TEXT),
    ("ProductOption", "values", &patterns::REQUIRED_TEXT),
    ("OptionValue", "name", &patterns::REQUIRED_TEXT),
    ("OptionValue", "value", &patterns::REQUIRED_TEXT),
    ("CategoryCreate", "name", &patterns::REQUIRED_TEXT),
    ("CategoryCreate", "description", &patterns::MULTILINE_TEXT),
    ("CategoryCreate", "slug", &patterns::SLUG),
    ("CategoryUpdate", "name", &patterns::REQUIRED_TEXT),
    ("CategoryUpdate", "description", &patterns::MULTILINE_TEXT),
    ("CategoryUpdate", "slug", &patterns::SLUG),
    ("Image", "url", &patterns::HTTP_URL),
    ("Image", "alt", &patterns::TEXT),
    ("StockAdjustment", "reason", &patterns::REQUIRED_TEXT),
];

/// How long each text of a patterned list may be (option values: `swift-core`'s
/// `catalog::variant`).
const LIST_ITEM_MAX_LENGTH: usize = 50;

/// The same for parameters: (operation, parameter, rule).
const PARAMETER_PATTERNS: &[(&str, &str, &Rule)] = &[
    ("listProducts", "q", &patterns::TEXT),
    ("listProducts", "min_price", &patterns::MONEY),
    ("listProducts", "max_price", &patterns::MONEY),
    ("adminListUsers", "q", &patterns::TEXT),
];

/// Fields holding a country: every ISO 3166-1 code, as an enum clients can check.
const COUNTRY_FIELDS: &[(&str, &str)] = &[
    ("Address", "country"),
    ("CartShippingChoice", "country"),
    ("TaxRateInput", "country"),
];

/// Lists of countries.
const COUNTRY_LISTS: &[(&str, &str)] = &[("ShippingZoneInput", "countries")];

/// Parameters holding a country: (operation, parameter).
const COUNTRY_PARAMETERS: &[(&str, &str)] = &[("listShippingOptions", "country")];

/// Fields holding the store currency: every ISO 4217 code a store can sell in.
const CURRENCY_FIELDS: &[(&str, &str)] = &[
    ("Product", "currency"),
    ("ProductSummary", "currency"),
    ("Cart", "currency"),
    ("Order", "currency"),
];

/// The `CurrencyCode` schema: the codes `STORE_CURRENCY` accepts (ISO 4217, with cents).
fn currency_schema() -> Value {
    json!({
        "type": "string",
        "description": "an ISO 4217 currency code with two decimals: the store's own (STORE_CURRENCY), \
                        or the one an order was placed in",
        "enum": swift_core::config::Currency::all_codes(),
        "example": "USD",
    })
}

/// The `CountryCode` schema: the ISO 3166-1 alpha-2 codes, from the `celes` list that the
/// server checks addresses against.
fn country_schema() -> Value {
    let mut codes: Vec<String> = celes::Country::get_countries()
        .iter()
        .map(|c| c.alpha2.to_ascii_uppercase())
        .collect();
    codes.sort();
    codes.dedup();
    json!({
        "type": "string",
        "description": "an ISO 3166-1 alpha-2 country code, such as GB",
        "enum": codes,
        "example": "GB",
    })
}

/// `allOf: [{$ref}, {description}]`, poem-openapi's way of describing a referenced field,
/// becomes `{allOf: [{$ref}], description}`: the field keeps its own description (OpenAPI
/// 3.0 ignores one beside a bare `$ref`), and generators see a single schema (the second
/// `allOf` member otherwise comes out as `CategoryRef & unknown`).
fn plain_refs(schemas: &mut Map<String, Value>) {
    for schema in schemas.values_mut() {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for prop in props.values_mut() {
            if let Some([first, rest]) = prop
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                && first.get("$ref").is_some()
                && rest
                    .as_object()
                    .is_some_and(|o| o.keys().all(|k| k == "description"))
            {
                *prop = json!({ "allOf": [first], "description": rest["description"] });
            }
        }
    }
}

/// Doc comments wrap at 100 columns, and poem-openapi keeps those line breaks. In Markdown
/// a single line break is a space, so joining the lines changes nothing a reader sees; it
/// spares generated clients a doc-comment line per wrapped line. Paragraph breaks and list
/// items keep their line breaks; examples are left exactly as written.
fn join_wrapped_lines(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                match (key.as_str(), inner) {
                    ("description" | "summary", Value::String(text)) => {
                        *text = join_paragraph_lines(text)
                    }
                    ("example" | "examples", _) => {}
                    (_, inner) => join_wrapped_lines(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(join_wrapped_lines),
        _ => {}
    }
}

/// One paragraph per line: `"a\n    b\n\nc"` → `"a b\n\nc"`.
fn join_paragraph_lines(text: &str) -> String {
    let starts_block = |line: &str| {
        line.starts_with("- ")
            || line.starts_with("* ")
            || line.starts_with('|')
            || line
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    text.split("\n\n")
        .map(|paragraph| {
            let mut joined = String::new();
            for line in paragraph.lines().map(str::trim) {
                if !joined.is_empty() {
                    joined.push(if starts_block(line) { '\n' } else { ' ' });
                }
                joined.push_str(line);
            }
            joined
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Answers that several operations give word for word (an `Order`, a `TokenPair`, "Done.")
/// become one named response each, referenced by those operations: one definition to read
/// in Swagger UI's schema list and in a generated client, instead of a copy per operation.
/// Answers with links stay with their operation, since links are per operation.
fn share_responses(spec: &mut Value) {
    let mut uses: std::collections::BTreeMap<String, usize> = Default::default();
    let responses_of = |spec: &Value| -> Vec<Value> {
        spec["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .flat_map(|item| item.as_object().into_iter().flat_map(|i| i.values()))
            .flat_map(|op| {
                op["responses"]
                    .as_object()
                    .into_iter()
                    .flat_map(|r| r.values())
            })
            .filter(|r| r.get("$ref").is_none() && r.get("links").is_none())
            .cloned()
            .collect()
    };
    for response in responses_of(spec) {
        *uses.entry(response.to_string()).or_default() += 1;
    }
    let mut names: std::collections::BTreeMap<String, String> = Default::default();
    for key in uses.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k) {
        let response: Value = serde_json::from_str(key).expect("serialised above");
        let name = shared_response_name(&response);
        assert!(
            spec["components"]["responses"].get(&name).is_none(),
            "two shared responses would be called {name}: {key}"
        );
        spec["components"]["responses"][&name] = response;
        names.insert(key.clone(), name);
    }
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        for op in item.as_object_mut().into_iter().flat_map(Map::values_mut) {
            for response in op
                .get_mut("responses")
                .and_then(Value::as_object_mut)
                .into_iter()
                .flat_map(Map::values_mut)
            {
                if let Some(name) = names.get(&response.to_string()) {
                    *response = json!({ "$ref": format!("#/components/responses/{name}") });
                }
            }
        }
    }
}

/// A shared response is named after the schema it carries (`Order`), or what it says when
/// it carries none (`Done`, `NotModified`, `Redirect`); a problem answer after its codes.
fn shared_response_name(response: &Value) -> String {
    let schema = response["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .map(|m| &m["schema"]);
    let schema_ref = schema.and_then(|s| s["$ref"].as_str());
    let items_ref = schema.and_then(|s| s["items"]["$ref"].as_str());
    if let Some(items) = items_ref {
        return format!("{}List", items.rsplit('/').next().unwrap_or_default());
    }
    match schema_ref {
        Some(r) if r.ends_with("/Problem") => {
            let description = response["description"].as_str().unwrap_or_default();
            let first_code = description.split('`').nth(1).unwrap_or("conflict");
            format!("Conflict{}", camel(first_code))
        }
        Some(r) => r.rsplit('/').next().unwrap_or_default().to_owned(),
        None if response["headers"].get("ETag").is_some() => "NotModified".to_owned(),
        None if response["headers"].get("Location").is_some() => "Redirect".to_owned(),
        None => "Done".to_owned(),
    }
}

/// `invalid_transition` → `InvalidTransition`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Applies everything in the module header to the document poem-openapi generated.
pub fn polish(raw: &str) -> String {
    let mut spec: Value = serde_json::from_str(raw).expect("poem-openapi writes valid JSON");
    if let Some(tags) = spec.get_mut("tags").and_then(Value::as_array_mut) {
        tags.sort_by_key(|t| {
            TAG_ORDER
                .iter()
                .position(|name| t["name"] == *name)
                .unwrap_or(TAG_ORDER.len())
        });
    }
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for (method, op) in item.as_object_mut().into_iter().flatten() {
                let mutating = matches!(method.as_str(), "post" | "patch" | "delete" | "put");
                let id = op["operationId"].as_str().unwrap_or_default();
                if mutating && !UNKEYED.contains(&id) {
                    let key = json!({ "$ref": IDEMPOTENCY_KEY_REF });
                    match op.get_mut("parameters").and_then(Value::as_array_mut) {
                        Some(params) => params.push(key),
                        None => op["parameters"] = json!([key]),
                    }
                }
                // A visitor with neither a session nor a cart token may shop too.
                if let Some(security) = op.get_mut("security").and_then(Value::as_array_mut)
                    && security.iter().any(|s| s.get("CartToken").is_some())
                {
                    security.push(json!({}));
                }
                polish_operation(op);
            }
        }
    }
    let responses: Map<String, Value> = RESPONSES
        .iter()
        .map(|(_, name, description)| {
            (
                (*name).to_owned(),
                json!({
                    "description": description,
                    "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
                }),
            )
        })
        .collect();
    spec["components"]["responses"] = Value::Object(responses);
    spec["components"]["parameters"] = json!({ "IdempotencyKey": idempotency_key_parameter() });
    share_responses(&mut spec);
    if let Some(schemas) = spec["components"]["schemas"].as_object_mut() {
        plain_refs(schemas);
        // A `title` equal to the schema's own name says nothing, and generators turn it
        // into a doc-comment block on every type.
        for (name, schema) in schemas.iter_mut() {
            if let Some(obj) = schema.as_object_mut()
                && obj.get("title").and_then(Value::as_str) == Some(name.as_str())
            {
                obj.remove("title");
            }
        }
        for (schema, field) in NULLABLE {
            let property = &mut schemas[*schema]["properties"][*field];
            // `nullable` beside a bare `$ref` is ignored in OpenAPI 3.0.
            if let Some(reference) = property.get("$ref").cloned() {
                *property = json!({ "allOf": [{ "$ref": reference }] });
            }
            property["nullable"] = json!(true);
        }
        for schema in CLOSED {
            schemas[*schema]["additionalProperties"] = json!(false);
        }
        for (schema, field) in EMAIL_FIELDS {
            schemas[*schema]["properties"][*field]["format"] = json!("email");
        }
        for (schema, field, rule) in FIELD_PATTERNS {
            let property = &mut schemas[*schema]["properties"][*field];
            assert!(
                property.is_object(),
                "{schema}.{field} is not in the document"
            );
            // A list of texts: the rule holds for each.
            if property["type"] == "array" {
                property["items"]["pattern"] = json!(rule.pattern);
                property["items"]["maxLength"] = json!(LIST_ITEM_MAX_LENGTH);
            } else {
                property["pattern"] = json!(rule.pattern);
            }
        }
        for (schema, field) in COUNTRY_FIELDS {
            schemas[*schema]["properties"][*field] =
                json!({ "$ref": "#/components/schemas/CountryCode" });
        }
        for (schema, field) in COUNTRY_LISTS {
            schemas[*schema]["properties"][*field]["items"] =
                json!({ "$ref": "#/components/schemas/CountryCode" });
        }
        schemas.insert("CountryCode".to_owned(), country_schema());
        for (schema, field) in CURRENCY_FIELDS {
            schemas[*schema]["properties"][*field] =
                json!({ "$ref": "#/components/schemas/CurrencyCode" });
        }
        schemas.insert("CurrencyCode".to_owned(), currency_schema());
        // A stock adjustment moves stock: zero is refused ("must not be zero").
        schemas["StockAdjustment"]["properties"]["delta"]["not"] = json!({ "enum": [0] });
    }
    spec["components"]["securitySchemes"]["BearerAuth"]["description"] = json!(
        "The `access` token from `POST /api/v1/auth/login` (or `register`, `token/refresh`, \
         Google sign-in), sent as `Authorization: Bearer <access>`. It lives 15 minutes; get a \
         new one from `POST /api/v1/auth/token/refresh` with the `refresh` token."
    );
    join_wrapped_lines(&mut spec);
    serde_json::to_string_pretty(&spec).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_join_but_paragraphs_and_lists_stay() {
        assert_eq!(join_paragraph_lines("one\n    two\nthree"), "one two three");
        assert_eq!(
            join_paragraph_lines("one\n\ntwo\n  more"),
            "one\n\ntwo more"
        );
        assert_eq!(
            join_paragraph_lines("list:\n- a\n- b\n  wrapped"),
            "list:\n- a\n- b wrapped"
        );
        assert_eq!(
            join_paragraph_lines("steps:\n1. go\n2. stop"),
            "steps:\n1. go\n2. stop"
        );
        assert_eq!(
            join_paragraph_lines("at 3. o'clock\nsharp"),
            "at 3. o'clock sharp"
        );
        assert_eq!(join_paragraph_lines("| a |\n| b |"), "| a |\n| b |");
    }

    #[test]
    fn examples_keep_their_line_breaks() {
        let mut doc = json!({
            "description": "a\nb",
            "example": { "description": "x\ny" },
            "properties": { "description": { "description": "c\nd" } }
        });
        join_wrapped_lines(&mut doc);
        assert_eq!(doc["description"], "a b");
        assert_eq!(doc["example"]["description"], "x\ny");
        assert_eq!(doc["properties"]["description"]["description"], "c d");
    }

    /// Every operation that takes a body shows an example, and the example passes the same
    /// schema check as a real request.
    #[test]
    fn every_request_body_has_a_valid_example() {
        let spec_json = crate::openapi_json();
        let spec: Value = serde_json::from_str(&spec_json).unwrap();
        let schemas = crate::middleware::BodySchemas::from_spec(&spec_json);
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(body) = op.get("requestBody") else {
                    continue;
                };
                let id = op["operationId"].as_str().unwrap();
                let example = &body["content"]["application/json"]["examples"]["valid"]["value"];
                assert!(example.is_object(), "{id} has no example");
                let concrete = path.replace("{id}", "x").replace("{item_id}", "x");
                let errors = schemas.check(
                    &method.to_uppercase().parse().unwrap(),
                    &concrete,
                    example.to_string().as_bytes(),
                );
                assert!(errors.is_empty(), "{id}: {errors:?}");
            }
        }
    }

    /// Every link names real operations and a path parameter the target really has.
    #[test]
    fn links_name_real_operations_and_parameters() {
        let spec: Value = serde_json::from_str(&crate::openapi_json()).unwrap();
        let mut params: std::collections::HashMap<String, Vec<String>> = Default::default();
        for item in spec["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let names = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect();
                params.insert(op["operationId"].as_str().unwrap().to_owned(), names);
            }
        }
        for (from, to, param, _) in LINKS {
            assert!(params.contains_key(*from), "{from}");
            assert!(
                params[*to].iter().any(|p| p == param),
                "{to} has no {param}"
            );
        }
    }
}
