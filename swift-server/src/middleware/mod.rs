//! The HTTP stack every request passes through, outermost first:
//! request id + access log → nosniff, no-store default and compression → problem+json → CORS → body-schema check, problem+json and
//! `Allow` on 405 → panic catcher → 1 MiB body limit → routes.
//!
//! problem+json conversion sits on both sides of CORS: inside, so that error answers still
//! carry CORS headers a browser needs to read them; outside, for CORS's own refusals.

mod allow;
mod body_limit;
mod body_schema;
pub mod idempotency;
mod problems;
mod request_context;
mod response_headers;

use poem::http::header;
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, IntoResponse, http::Method};

pub use allow::{AllowedMethods, fits};
pub use body_schema::{BodySchemas, limit_message};
pub use request_context::RequestId;

use crate::problem::ApiError;

/// Largest accepted request body (docs/API.md: bodies over 1 MiB are refused with 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Wraps `routes` in the full middleware stack.
pub fn stack(
    routes: impl Endpoint + 'static,
    cors_origins: Vec<String>,
    allowed: AllowedMethods,
    schemas: BodySchemas,
    operations: crate::metrics::Operations,
) -> impl Endpoint + 'static {
    let origins = cors_origins;
    // An explicit predicate: poem's Cors treats an empty origin list as "allow any", and
    // an empty CORS_ALLOWED_ORIGINS must mean "allow none".
    let cors = Cors::new()
        .allow_origins_fn(move |origin| origins.iter().any(|o| o == origin))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "authorization",
            "content-type",
            "x-request-id",
            "idempotency-key",
            "x-cart-token",
            "x-csrf-token",
            "if-none-match",
        ])
        .expose_headers([
            "x-request-id",
            "etag",
            "retry-after",
            "location",
            "x-cart-token",
            "idempotent-replayed",
        ])
        .max_age(600);

    routes
        .around(body_limit::limit_body)
        .with(CatchPanic::new().with_handler(panic_response))
        .around(move |ep, req| {
            let (allowed, schemas) = (allowed.clone(), schemas.clone());
            async move { problems::checked_routes(ep, req, &allowed, &schemas).await }
        })
        // Boxed: the fully nested middleware type is deep enough to exceed the compiler's
        // recursion limit when a release build computes its layout.
        .boxed()
        .with(cors)
        .around(same_origin)
        .around(problems::to_problem_json)
        .around(response_headers::finish)
        .around(move |ep, req| {
            let operations = operations.clone();
            request_context::request_context(ep, req, operations)
        })
}

/// Browsers send `Origin` on a same-origin POST too (Swagger UI's "Try it out" at `/docs`);
/// CORS is about other origins, so an `Origin` naming this very host is dropped before the
/// CORS layer, which would otherwise refuse it for not being a listed storefront.
async fn same_origin<E: Endpoint>(next: E, mut req: poem::Request) -> poem::Result<poem::Response> {
    let headers = req.headers();
    let same = match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(_, authority)| authority.as_bytes() == host.as_bytes()),
        _ => false,
    };
    if same {
        req.headers_mut().remove(header::ORIGIN);
    }
    next.call(req).await.map(IntoResponse::into_response)
}

fn panic_response(panic: Box<dyn std::any::Any + Send>) -> poem::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    // Logged inside the request's span, so the line carries its request id.
    tracing::error!(panic = %message, "handler panicked");
    ApiError::internal().into_response()
}
