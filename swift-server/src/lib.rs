//! SWIFT's HTTP layer: poem + poem-openapi routes over `swift-core`'s services.
//!
//! It parses requests into domain types, calls a service, and renders the result or a
//! problem+json error. Business rules live in `swift-core`, never here.

pub mod api;
pub mod auth;
pub mod client;
pub mod cookies;
pub mod middleware;
pub mod problem;
pub mod server;

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

/// Handlers reach the pool, configuration, mailer and keys through this.
pub use swift_core::Context as AppState;

/// The OpenAPI service: every operation of API.md, grouped by tag.
pub fn api_service() -> OpenApiService<api::Api, ()> {
    OpenApiService::new(api::apis(), "SWIFT API", env!("CARGO_PKG_VERSION")).description(
        "The SWIFT shop backend. Errors are RFC 9457 application/problem+json with a stable \
         `code`. Authenticate with `Authorization: Bearer <access token>`.",
    )
}

/// The OpenAPI document as committed in `openapi.json`.
pub fn openapi_json() -> String {
    api_service().spec()
}

/// The routes without middleware: the API, `/openapi.json` and Swagger UI at `/docs`.
pub fn routes() -> Route {
    let api = api_service();
    Route::new()
        .at("/openapi.json", api.spec_endpoint())
        .nest("/docs", api.swagger_ui())
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
    let origins = state.config.cors_allowed_origins.clone();
    let routes = routes
        .with(poem::middleware::CookieJarManager::new())
        .data(state);
    middleware::stack(routes, origins, allowed, schemas)
}
