//! RFC 9457 problem details: the one place where every failure becomes an HTTP answer.
//!
//! Handlers return [`ApiError`]; framework errors (routing, extraction, CORS, size limits)
//! are translated by [`ApiError::from_poem`]. Both end up as `application/problem+json`
//! with a stable machine-readable `code`, so clients never parse prose.

use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};
use swift_core::accounts::AccountsError;
use swift_core::catalog::CatalogError;
use swift_core::oauth::OAuthError;
use swift_core::orders::OrdersError;
use swift_core::payments::PaymentsError;

use crate::api::money::MoneyString;
use swift_core::validation::Invalid;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid input field.
#[derive(Debug, Clone, Object, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as sent by the client (`email`, `page_size`, ...).
    pub field: String,
    pub message: String,
}

/// A cart line that cannot be bought as asked (on 409 `insufficient_stock`).
#[derive(Debug, Clone, Object, PartialEq, Eq)]
pub struct StockShortage {
    pub variant_id: uuid::Uuid,
    pub sku: String,
    pub requested: i32,
    /// 0 when the variant or its product is no longer sold.
    pub available: i32,
}

macro_rules! problem_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal),* $(,)?) => {
        /// Every machine-readable error `code` (docs/API.md lists which status carries
        /// which). An enum in the schema, so a generated client can switch on it and a
        /// misspelt code does not compile.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
        pub enum ProblemCode {
            $($(#[$doc])* #[oai(rename = $code)] $variant,)*
        }

        impl ProblemCode {
            /// Every code, in the order of docs/API.md's table.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $code,)*
                }
            }
        }
    };
}

problem_codes! {
    ValidationError = "validation_error",
    BadRequest = "bad_request",
    NotAuthenticated = "not_authenticated",
    TokenInvalid = "token_invalid",
    TokenExpired = "token_expired",
    TokenReused = "token_reused",
    InvalidCredentials = "invalid_credentials",
    PermissionDenied = "permission_denied",
    EmailNotVerified = "email_not_verified",
    AccountDisabled = "account_disabled",
    CsrfFailed = "csrf_failed",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    EmailTaken = "email_taken",
    InsufficientStock = "insufficient_stock",
    PriceChanged = "price_changed",
    DiscountNotApplicable = "discount_not_applicable",
    ShippingUnavailable = "shipping_unavailable",
    IdempotencyConflict = "idempotency_conflict",
    InvalidTransition = "invalid_transition",
    NotPayable = "not_payable",
    NotRefundable = "not_refundable",
    RefundTooLarge = "refund_too_large",
    InvalidSignature = "invalid_signature",
    AccountLinkConflict = "account_link_conflict",
    TwoFactorRequired = "two_factor_required",
    InvalidTwoFactorCode = "invalid_two_factor_code",
    TwoFactorEnabled = "two_factor_enabled",
    TwoFactorNotEnabled = "two_factor_not_enabled",
    LastSignInMethod = "last_sign_in_method",
    SlugTaken = "slug_taken",
    SkuTaken = "sku_taken",
    VariantOptionsTaken = "variant_options_taken",
    OptionValueInUse = "option_value_in_use",
    CategoryInUse = "category_in_use",
    CategoryCycle = "category_cycle",
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    RateLimited = "rate_limited",
    InternalError = "internal_error",
    OauthProviderError = "oauth_provider_error",
    NotReady = "not_ready",
    OauthNotConfigured = "oauth_not_configured",
    PaymentProviderError = "payment_provider_error",
    PaymentsNotConfigured = "payments_not_configured",
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error body of every failing request.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// Always `about:blank`: `code` carries the machine-readable meaning.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: Option<String>,
    /// Stable machine-readable error code, e.g. `validation_error`.
    pub code: ProblemCode,
    /// Present on validation failures: what is wrong with which field.
    pub errors: Option<Vec<FieldError>>,
    /// Present on `insufficient_stock`: each line that cannot be bought as asked.
    pub lines: Option<Vec<StockShortage>>,
    /// Present on `price_changed`: the totals as they are now.
    pub totals: Option<TotalsBody>,
}

/// Every part of a cart's or an order's total: `total = subtotal − discount_total +
/// shipping_total + tax_total`.
#[derive(Debug, Clone, Copy, Object, PartialEq, Eq)]
#[oai(rename = "Totals")]
pub struct TotalsBody {
    pub subtotal: MoneyString,
    pub discount_total: MoneyString,
    pub shipping_total: MoneyString,
    pub tax_total: MoneyString,
    pub total: MoneyString,
}

impl From<swift_core::orders::Totals> for TotalsBody {
    fn from(t: swift_core::orders::Totals) -> Self {
        Self {
            subtotal: MoneyString(t.subtotal),
            discount_total: MoneyString(t.discount_total),
            shipping_total: MoneyString(t.shipping_total),
            tax_total: MoneyString(t.tax_total),
            total: MoneyString(t.total),
        }
    }
}

/// A failure that a handler or middleware answers with; rendered as problem+json.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ProblemCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub lines: Vec<StockShortage>,
    /// Boxed: rare, and an `ApiError` travels in every `Result` of the server.
    pub totals: Option<Box<TotalsBody>>,
    /// Seconds for the `Retry-After` header of a 429 or 503.
    pub retry_after: Option<u64>,
    /// What went wrong underneath (never shown to the client): the request's one log line
    /// carries it (`middleware::request_context`), so a failure is logged once.
    pub cause: Option<Cause>,
}

/// The hidden cause of a failed answer, handed to the access log in the response's
/// extensions.
#[derive(Debug, Clone)]
pub struct Cause(pub std::sync::Arc<str>);

impl ApiError {
    pub fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            lines: Vec::new(),
            totals: None,
            retry_after: None,
            cause: None,
        }
    }

    /// Keeps `cause` for the request's log line.
    pub fn because(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(Cause(cause.to_string().into()));
        self
    }

    /// 400 `validation_error` naming the offending fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => "the request has invalid fields".to_owned(),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                ProblemCode::ValidationError,
                detail,
            )
        }
    }

    /// 400 `validation_error` for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ProblemCode::NotFound,
            "the resource does not exist",
        )
    }

    /// A 500 that says nothing about its cause; the cause goes to the log only.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::InternalError,
            "an unexpected error occurred; it has been logged",
        )
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Renames the fields `rename` knows a better name for, in `errors` and in `detail`.
    pub fn rename_fields(&mut self, rename: impl Fn(&str) -> Option<String>) {
        for error in &mut self.errors {
            if let Some(name) = rename(&error.field) {
                if let Some(rest) = self.detail.strip_prefix(&format!("{}:", error.field)) {
                    self.detail = format!("{name}:{rest}");
                }
                error.field = name;
            }
        }
    }

    /// Translates an error raised by poem or poem-openapi (routing, extractors, middleware).
    pub fn from_poem(err: poem::Error) -> Self {
        if let Some(api) = err.downcast_ref::<ApiError>() {
            return api.clone();
        }
        if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseRequestPayloadError>() {
            return payload_error(&e.reason);
        }
        if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
            return Self::invalid_field(e.name, humanize(&e.reason));
        }
        if let Some(e) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
            return Self::invalid_field(e.name, humanize(&e.reason));
        }
        let status = err.status();
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                ProblemCode::MethodNotAllowed,
                "this method is not allowed on this resource",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                ProblemCode::UnsupportedMediaType,
                "send the request body as application/json",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                ProblemCode::PayloadTooLarge,
                "the request body exceeds the 1 MiB limit",
            ),
            StatusCode::UNAUTHORIZED => Self::new(
                status,
                ProblemCode::NotAuthenticated,
                "authentication credentials were not provided",
            ),
            StatusCode::FORBIDDEN => {
                Self::new(status, ProblemCode::PermissionDenied, err.to_string())
            }
            s if s.is_client_error() => Self::new(s, ProblemCode::BadRequest, err.to_string()),
            _ => Self::internal().because(format!("unhandled error: {err}")),
        }
    }

    fn to_problem(&self) -> Problem {
        Problem {
            kind: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: Some(self.detail.clone()),
            code: self.code,
            errors: (!self.errors.is_empty()).then(|| self.errors.clone()),
            lines: (!self.lines.is_empty()).then(|| self.lines.clone()),
            totals: self.totals.as_deref().copied(),
        }
    }
}

/// poem-openapi reports body problems as prose; recover the field name where it gives one
/// (e.g. "failed to parse \"string\": ... (occurred while parsing \"Login\")" or
/// "field `email` verification failed").
fn payload_error(reason: &str) -> ApiError {
    let field = between(reason, "field `", "`")
        .or_else(|| between(reason, "field \"", "\""))
        .unwrap_or("body");
    ApiError::invalid_field(field, humanize(reason))
}

/// poem-openapi's parse and validator messages ("verification failed. maximum(100,
/// exclusive: false)", `failed to parse "integer"`) in the API's own words, which a
/// storefront can show ("must be at most 100"). The limits come from the same document, so
/// the body-schema check (`middleware::body_schema`) words them the same way.
pub fn humanize(reason: &str) -> String {
    use crate::middleware::limit_message;
    for key in ["maximum", "minimum", "maxLength", "minLength", "maxItems"] {
        if let Some(limit) = between(reason, &format!("{key}("), ")")
            .and_then(|args| args.split(',').next())
            .and_then(|n| n.trim().parse::<f64>().ok())
        {
            return limit_message(key, limit);
        }
    }
    if let Some(pattern) = between(reason, "pattern(\"", "\")") {
        // Debug-formatted: backslashes come doubled.
        return crate::patterns::message(&pattern.replace("\\\\", "\\"));
    }
    if let Some(kind) = between(reason, "failed to parse \"", "\"") {
        return match kind {
            "integer" | "int32" | "int64" | "uint32" | "uint64" => "must be a whole number".into(),
            "number" | "float" | "double" => "must be a number".into(),
            "boolean" => "must be true or false".into(),
            "uuid" | "string(uuid)" | "string_uuid" => "must be a UUID".into(),
            _ => match enum_values(kind) {
                Some(values) => format!("must be one of: {values}"),
                None => format!("must be a valid {kind}"),
            },
        };
    }
    reason.to_owned()
}

/// The values of the enum schema `name` ("password, google"), from the API document: what
/// poem-openapi names only by its type when a parameter is none of them.
fn enum_values(name: &str) -> Option<&'static str> {
    static ENUMS: std::sync::LazyLock<std::collections::HashMap<String, String>> =
        std::sync::LazyLock::new(|| {
            let spec: serde_json::Value =
                serde_json::from_str(&crate::api_service().spec()).unwrap_or_default();
            spec["components"]["schemas"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(name, schema)| {
                    let values: Vec<&str> = schema["enum"]
                        .as_array()?
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect();
                    Some((name.clone(), values.join(", ")))
                })
                .collect()
        });
    ENUMS.get(name).map(String::as_str)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let body = self.to_problem().to_json_string();
        let mut resp = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, PROBLEM_JSON)
            .body(body);
        if let Some(cause) = &self.cause {
            resp.extensions_mut().insert(cause.clone());
        }
        if let Some(seconds) = self.retry_after {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                seconds.to_string().parse().expect("digits"),
            );
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

/// Statuses documented on every operation: the failures any endpoint can meet.
const DOCUMENTED: &[(u16, &str)] = &[
    (
        400,
        "Invalid request: `validation_error` (with `errors`) or `bad_request`",
    ),
    (401, "Missing or invalid credentials"),
    (403, "Authenticated but not allowed"),
    (404, "No such resource (or not yours)"),
    (409, "Conflicts with the current state"),
    (413, "Request body over 1 MiB"),
    (415, "Body is not application/json"),
    (429, "Rate limited; see `Retry-After`"),
    (500, "Unexpected error (no internals disclosed)"),
    (
        502,
        "An outside provider failed (Google sign-in, Stripe payments)",
    ),
    (503, "Not ready or not configured"),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|&(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::invalid_field(e.field, e.message)
    }
}

/// SQLSTATE classes of an unavailable database: 08 connection exception, 53 insufficient
/// resources (too many connections), 57 operator intervention (shutdown, restart).
fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57")),
        _ => false,
    }
}

/// A database failure: an outage is 503 (retryable), anything else a logged 500.
fn database_error(e: &sqlx::Error) -> ApiError {
    match e {
        e if is_outage(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::NotReady,
            "the database is unavailable; retry shortly",
        )
        .with_retry_after(5)
        .because(format!("database unavailable: {e}")),
        _ => ApiError::internal().because(format!("database error: {e}")),
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        use AccountsError as E;
        let detail = e.to_string();
        match e {
            E::Invalid(invalid) => invalid.into(),
            E::EmailTaken => Self::new(StatusCode::CONFLICT, ProblemCode::EmailTaken, detail),
            E::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                ProblemCode::InvalidCredentials,
                detail,
            ),
            E::EmailNotVerified => {
                Self::new(StatusCode::FORBIDDEN, ProblemCode::EmailNotVerified, detail)
            }
            E::AccountDisabled => {
                Self::new(StatusCode::FORBIDDEN, ProblemCode::AccountDisabled, detail)
            }
            E::NotAuthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                ProblemCode::NotAuthenticated,
                detail,
            ),
            E::TokenInvalid => {
                Self::new(StatusCode::UNAUTHORIZED, ProblemCode::TokenInvalid, detail)
            }
            E::TokenExpired => {
                Self::new(StatusCode::UNAUTHORIZED, ProblemCode::TokenExpired, detail)
            }
            E::TokenReused => Self::new(StatusCode::UNAUTHORIZED, ProblemCode::TokenReused, detail),
            E::PermissionDenied => {
                Self::new(StatusCode::FORBIDDEN, ProblemCode::PermissionDenied, detail)
            }
            E::NotFound => Self::not_found(),
            E::TwoFactorCodeInvalid => Self::new(
                StatusCode::BAD_REQUEST,
                ProblemCode::InvalidTwoFactorCode,
                detail,
            ),
            E::TwoFactorEnabled => {
                Self::new(StatusCode::CONFLICT, ProblemCode::TwoFactorEnabled, detail)
            }
            E::TwoFactorNotEnabled => Self::new(
                StatusCode::CONFLICT,
                ProblemCode::TwoFactorNotEnabled,
                detail,
            ),
            E::TwoFactorRequired => Self::new(
                StatusCode::FORBIDDEN,
                ProblemCode::TwoFactorRequired,
                detail,
            ),
            E::LastSignInMethod => {
                Self::new(StatusCode::CONFLICT, ProblemCode::LastSignInMethod, detail)
            }
            E::RateLimited { retry_after } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ProblemCode::RateLimited,
                detail,
            )
            .with_retry_after(retry_after),
            E::Database(db) => database_error(&db),
            E::Internal(msg) => Self::internal().because(format!("internal error: {msg}")),
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        use OAuthError as E;
        let detail = e.to_string();
        match e {
            E::NotConfigured => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::OauthNotConfigured,
                detail,
            ),
            E::Provider(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                ProblemCode::OauthProviderError,
                "the identity provider is unavailable; retry shortly",
            )
            .because(format!("identity provider unavailable: {detail}")),
            E::InvalidToken(_) | E::CodeRejected(_) | E::InvalidLoginCode => {
                Self::new(StatusCode::UNAUTHORIZED, ProblemCode::TokenInvalid, detail)
            }
            E::InvalidState => Self::new(StatusCode::BAD_REQUEST, ProblemCode::BadRequest, detail),
            E::LinkConflict | E::LinkedElsewhere => Self::new(
                StatusCode::CONFLICT,
                ProblemCode::AccountLinkConflict,
                detail,
            ),
            E::DomainNotAllowed => {
                Self::new(StatusCode::FORBIDDEN, ProblemCode::PermissionDenied, detail)
            }
            E::Invalid(invalid) => invalid.into(),
            E::Accounts(accounts) => accounts.into(),
            E::Database(db) => database_error(&db),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        use CatalogError as E;
        let detail = e.to_string();
        match e {
            E::Invalid(invalid) => invalid.into(),
            E::NotFound => Self::not_found(),
            E::SlugTaken(_) => Self::new(StatusCode::CONFLICT, ProblemCode::SlugTaken, detail),
            E::SkuTaken(_) => Self::new(StatusCode::CONFLICT, ProblemCode::SkuTaken, detail),
            E::VariantOptionsTaken => Self::new(
                StatusCode::CONFLICT,
                ProblemCode::VariantOptionsTaken,
                detail,
            ),
            E::OptionValueInUse(_) => {
                Self::new(StatusCode::CONFLICT, ProblemCode::OptionValueInUse, detail)
            }
            E::CategoryInUse => Self::new(StatusCode::CONFLICT, ProblemCode::CategoryInUse, detail),
            E::CategoryCycle => Self::new(StatusCode::CONFLICT, ProblemCode::CategoryCycle, detail),
            E::StockBelowZero { .. } => {
                Self::new(StatusCode::CONFLICT, ProblemCode::InsufficientStock, detail)
            }
            E::Database(db) => database_error(&db),
        }
    }
}

impl From<OrdersError> for ApiError {
    fn from(e: OrdersError) -> Self {
        use OrdersError as E;
        let detail = e.to_string();
        match e {
            E::Invalid(invalid) => invalid.into(),
            E::NotFound => Self::not_found(),
            E::EmptyCart => Self::new(StatusCode::BAD_REQUEST, ProblemCode::BadRequest, detail),
            E::InsufficientStock(shortages) => Self {
                lines: shortages
                    .into_iter()
                    .map(|s| StockShortage {
                        variant_id: s.variant_id,
                        sku: s.sku,
                        requested: s.requested,
                        available: s.available,
                    })
                    .collect(),
                ..Self::new(StatusCode::CONFLICT, ProblemCode::InsufficientStock, detail)
            },
            E::PriceChanged(totals) => Self {
                totals: Some(Box::new((*totals).into())),
                ..Self::new(StatusCode::CONFLICT, ProblemCode::PriceChanged, detail)
            },
            E::DiscountNotApplicable(_) => Self::new(
                StatusCode::CONFLICT,
                ProblemCode::DiscountNotApplicable,
                detail,
            ),
            E::ShippingUnavailable(_) => Self::new(
                StatusCode::CONFLICT,
                ProblemCode::ShippingUnavailable,
                detail,
            ),
            E::EmailNotVerified => {
                Self::new(StatusCode::FORBIDDEN, ProblemCode::EmailNotVerified, detail)
            }
            E::InvalidTransition { .. } => {
                Self::new(StatusCode::CONFLICT, ProblemCode::InvalidTransition, detail)
            }
            E::Payments(e) => (*e).into(),
            E::Database(db) => database_error(&db),
        }
    }
}

impl From<PaymentsError> for ApiError {
    fn from(e: PaymentsError) -> Self {
        use PaymentsError as E;
        let detail = e.to_string();
        match e {
            E::Invalid(invalid) => invalid.into(),
            E::NotFound => Self::not_found(),
            E::NotConfigured => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::PaymentsNotConfigured,
                detail,
            ),
            E::NotPayable(_) => Self::new(StatusCode::CONFLICT, ProblemCode::NotPayable, detail),
            E::NotRefundable(_) | E::NotPaidThroughProvider => {
                Self::new(StatusCode::CONFLICT, ProblemCode::NotRefundable, detail)
            }
            E::RefundTooLarge(_) => {
                Self::new(StatusCode::CONFLICT, ProblemCode::RefundTooLarge, detail)
            }
            E::Provider(provider) => Self::new(
                StatusCode::BAD_GATEWAY,
                ProblemCode::PaymentProviderError,
                provider.to_string(),
            )
            .because(format!("payment provider call failed: {provider}")),
            // Signed by Stripe but not an event: nothing to apply.
            E::Webhook(swift_core::payments::WebhookError::NotAnEvent) => {
                Self::new(StatusCode::BAD_REQUEST, ProblemCode::BadRequest, detail)
            }
            E::Webhook(_) => Self::new(
                StatusCode::BAD_REQUEST,
                ProblemCode::InvalidSignature,
                detail,
            ),
            E::Orders(e) => (*e).into(),
            E::Database(db) => database_error(&db),
        }
    }
}

/// A database failure outside any domain (the idempotency middleware's own queries).
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        database_error(&e)
    }
}

/// Result type of every operation.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_errors_name_the_field() {
        let e = payload_error("field `email` verification failed. maxLength(254)");
        assert_eq!(e.errors[0].field, "email");
        assert_eq!(e.code, ProblemCode::ValidationError);
        let e = payload_error("expected value at line 1 column 2");
        assert_eq!(e.errors[0].field, "body");
    }

    /// A database error with a given SQLSTATE, as PostgreSQL would send it.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlstate {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "terminating connection due to administrator command"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn database_outages_are_503_and_other_failures_500() {
        // Seen in the soak test: a PostgreSQL restart ends sessions with 57P01.
        for code in ["57P01", "08006", "53300"] {
            let e = database_error(&sqlx::Error::Database(Box::new(Sqlstate(code))));
            assert_eq!(
                (e.status.as_u16(), e.code),
                (503, ProblemCode::NotReady),
                "{code}"
            );
        }
        assert_eq!(
            database_error(&sqlx::Error::PoolTimedOut).status.as_u16(),
            503
        );
        let e = database_error(&sqlx::Error::Database(Box::new(Sqlstate("42601"))));
        assert_eq!(
            (e.status.as_u16(), e.code),
            (500, ProblemCode::InternalError)
        );
        assert!(!e.detail.contains("administrator"));
    }

    #[test]
    fn internal_errors_disclose_nothing() {
        let body = ApiError::internal().to_problem().to_json_string();
        assert!(body.contains("internal_error"));
        assert!(!body.to_lowercase().contains("sql"));
    }

    /// docs/API.md is the contract: every code the server can answer is listed there.
    #[test]
    fn every_problem_code_is_in_the_contract() {
        let contract = include_str!("../../docs/API.md");
        for code in ProblemCode::ALL {
            assert!(
                contract.contains(&format!("`{}`", code.as_str())),
                "docs/API.md does not list {code}"
            );
        }
    }

    #[test]
    fn framework_messages_are_said_in_the_api_s_words() {
        for (reason, human) in [
            (
                "field `quantity` verification failed. maximum(100, exclusive: false)",
                "must be at most 100",
            ),
            (
                "verification failed. minimum(1, exclusive: false)",
                "must be at least 1",
            ),
            (
                "verification failed. maxLength(200)",
                "must be at most 200 characters",
            ),
            (
                r#"verification failed. pattern("^\\d{1,10}\\.\\d{2}$")"#,
                "must be an amount with two decimals, such as 19.99",
            ),
            (
                r#"failed to parse "integer": invalid digit"#,
                "must be a whole number",
            ),
        ] {
            assert_eq!(humanize(reason), human, "{reason}");
        }
    }
}
