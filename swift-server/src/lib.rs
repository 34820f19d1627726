//! SWIFT's HTTP layer: poem + poem-openapi routes over `swift-core`'s services.
//!
//! It parses requests into domain types, calls a service, and renders the result or a
//! problem+json error. Business rules live in `swift-core`, never here.

pub mod api;
pub mod auth;
pub mod client;
pub mod cookies;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod patterns;
pub mod problem;
pub mod server;
pub mod shopper;

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

/// Handlers reach the pool, configuration, mailer and keys through this.
pub use swift_core::Context as AppState;

/// The OpenAPI service: every operation of docs/API.md, grouped by tag.
pub fn api_service() -> OpenApiService<api::Api, ()> {
    OpenApiService::new(api::apis(), "SWIFT API", env!("CARGO_PKG_VERSION")).description(
        "The SWIFT shop backend. Errors are RFC 9457 application/problem+json with a stable \
         `code`. Authenticate with `Authorization: Bearer <access token>`.",
    )
}

/// The OpenAPI document as committed in `openapi.json` (see [`openapi::polish`]).
pub fn openapi_json() -> String {
    openapi::polish(&api_service().spec())
}

/// The routes without middleware: the API, `/openapi.json` and Swagger UI at `/docs`, both
/// showing the same polished document.
pub fn routes() -> Route {
    let api = api_service();
    let raw = api.spec();
    let spec = openapi::polish(&raw);
    // poem-openapi's Swagger UI page embeds the raw document; put the polished one there.
    let docs = api.swagger_ui_html().replacen(&raw, &spec, 1);
    Route::new()
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .at(
            "/docs",
            poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone())),
        )
        .at("/metrics", poem::get(metrics::scrape))
        .nest("/", api)
}

/// The complete application for `state`, middleware included.
pub fn app(state: AppState) -> impl Endpoint + 'static {
    app_with_routes(routes(), state)
}

/// The application over custom routes (tests add failing handlers next to the real ones).
pub fn app_with_routes(routes: Route, state: AppState) -> impl Endpoint + 'static {
    let spec = openapi_json();
    let allowed = middleware::AllowedMethods::from_spec(&spec);
    let schemas = middleware::BodySchemas::from_spec(&spec);
    let operations = metrics::Operations::from_spec(&spec);
    metrics::recorder();
    let origins = state.config.cors_allowed_origins.clone();
    let reads = std::sync::Arc::new(api::caching::CatalogReads::new(&state));
    let routes = routes
        .around(middleware::idempotency::idempotent)
        .with(poem::middleware::CookieJarManager::new())
        .data(reads)
        .data(state);
    middleware::stack(routes, origins, allowed, schemas, operations)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    /// docs/API.md: every operation has a stable operationId and one of the documented tags, and
    /// every error it can answer is documented as problem+json.
    #[test]
    fn every_operation_has_an_id_a_tag_and_problem_errors() {
        let spec: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let tags: HashSet<&str> = ["auth", "catalog", "cart", "orders", "admin", "ops"].into();
        let mut ids = HashSet::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                let op_tags = op["tags"].as_array().unwrap();
                assert_eq!(op_tags.len(), 1, "{id}");
                assert!(tags.contains(op_tags[0].as_str().unwrap()), "{id}");
                let default = &op["responses"]["default"]["$ref"];
                assert_eq!(default, "#/components/responses/UnexpectedError", "{id}");
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        let problem = response["$ref"].is_string()
                            || response["content"]["application/problem+json"].is_object();
                        assert!(problem, "{id}: {status} is not problem+json");
                    }
                }
                if op_tags[0] != "ops" {
                    assert!(path.starts_with("/api/v1/"), "{id}: {path}");
                }
            }
        }
    }
}
