//! The HTTP foundation: probes, problem+json for every error class, request ids, CORS.

mod common;

use common::{TestApp, assert_problem};
use poem::{Route, handler};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness_answer_when_the_database_does() {
    let app = TestApp::spawn().await;
    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "ok"})
    );
    let resp = app.get("/readyz", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn readiness_fails_but_liveness_holds_without_a_database() {
    // Nothing listens on port 1: the pool can never connect.
    let app = TestApp::spawn_with(&[]).await;
    let mut config = (*app.ctx.config).clone();
    config.database_url = "postgres://postgres@127.0.0.1:1/swift".into();
    let pool = swift_core::db::lazy_pool(&config).unwrap();
    let ctx = swift_core::Context::new(pool, config).unwrap();
    let acceptor = {
        use poem::listener::{Acceptor, Listener, TcpListener};
        let a = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = a.local_addr()[0].as_socket_addr().copied().unwrap();
        (a, addr)
    };
    let (acceptor, addr) = acceptor;
    tokio::spawn(swift_server::server::serve(
        acceptor,
        ctx,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 503, "not_ready").await;
}

#[tokio::test]
async fn readiness_fails_while_migrations_are_pending() {
    let app = TestApp::spawn().await;
    swift_core::db::revert_last(&app.db.pool).await.unwrap();
    let body = assert_problem(app.get("/readyz", None).await, 503, "not_ready").await;
    assert!(
        body["detail"].as_str().unwrap().contains("pending"),
        "{body}"
    );
    swift_core::db::migrate(&app.db.pool).await.unwrap();
    assert_eq!(app.get("/readyz", None).await.status(), 200);
}

#[tokio::test]
async fn unknown_routes_are_problem_404() {
    let app = TestApp::spawn().await;
    assert_problem(app.get("/nope", None).await, 404, "not_found").await;
    assert_problem(
        app.get("/api/v1/nothing/here", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn wrong_methods_are_problem_405_with_allow() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(Method::DELETE, "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "GET");
    assert_problem(resp, 405, "method_not_allowed").await;
    let resp = app
        .request(Method::GET, "/api/v1/auth/login")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "POST");
    assert_problem(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_json_is_a_validation_error() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 400, "validation_error").await;
    assert!(body["errors"].is_array(), "{body}");
}

/// Issue #12.15: media types are case-insensitive, so an upper-case `Content-Type` gets the
/// same schema check and the same human messages.
#[tokio::test]
async fn upper_case_json_media_types_are_checked_like_any_other() {
    let app = TestApp::spawn().await;
    for content_type in ["APPLICATION/JSON", "Application/Json; Charset=UTF-8"] {
        let resp = app
            .request(Method::POST, "/api/v1/auth/login")
            .header("content-type", content_type)
            .body(r#"{"email": "a@example.com", "password": 5}"#)
            .send()
            .await
            .unwrap();
        let body = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "password", "{body}");
        let resp = app
            .request(Method::POST, "/api/v1/auth/login")
            .header("content-type", content_type)
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        let body = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "body", "{body}");
        assert_eq!(
            body["errors"][0]["message"], "must be valid JSON (line 1, column 10)",
            "{body}"
        );
    }
}

#[tokio::test]
async fn wrong_field_types_name_the_field() {
    let app = TestApp::spawn().await;
    let resp = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a@example.com", "password": 5}),
        )
        .await;
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
    let resp = app
        .post("/api/v1/auth/login", None, json!({"password": "x"}))
        .await;
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "email", "{body}");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let app = TestApp::spawn().await;
    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, "payload_too_large").await;
    // The same without a Content-Length (chunked).
    let stream = futures_stream(big.into_bytes());
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, "payload_too_large").await;
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    tokio_stream::iter(chunks)
}

#[handler]
fn boom() -> &'static str {
    panic!("secret internal detail: SELECT * FROM users")
}

#[tokio::test]
async fn panics_are_500_without_internals() {
    let app = TestApp::spawn_custom(&[], Route::new().at("/__boom", boom)).await;
    let resp = app.get("/__boom", None).await;
    assert!(resp.headers().contains_key("x-request-id"));
    let body = assert_problem(resp, 500, "internal_error").await;
    let text = body.to_string();
    assert!(
        !text.contains("secret") && !text.contains("SELECT"),
        "{text}"
    );
    // The server survives the panic.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
    let resp = app.get("/nope", None).await;
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&generated).unwrap().get_version_num(),
        7
    );
    // A hostile id is replaced, not echoed.
    let resp = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "bad id with spaces");
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins_only() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(Method::OPTIONS, "/api/v1/auth/login")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    let resp = app
        .request(Method::OPTIONS, "/api/v1/auth/login")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_problem(resp, 403, "permission_denied").await;
}

#[tokio::test]
async fn error_answers_carry_cors_headers_for_allowed_origins() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(Method::GET, "/nope")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn openapi_and_docs_are_served() {
    let app = TestApp::spawn().await;
    let served = app.get("/openapi.json", None).await.text().await.unwrap();
    assert_eq!(served.trim(), swift_server::openapi_json().trim());
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"));
    // Swagger UI shows the same polished document (shared error responses, tag order).
    assert!(html.contains("#/components/responses/UnexpectedError"));
}

/// A GET whose `Accept-Encoding` is `accept`.
async fn get_accepting(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.request(Method::GET, path)
        .header("accept-encoding", accept)
        .send()
        .await
        .unwrap()
}

/// Decodes a body in the coding the server named.
fn decode(coding: &str, bytes: &[u8]) -> String {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
        }
        "br" => {
            brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
        }
        other => panic!("unexpected coding {other}"),
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn every_response_says_nosniff_and_private_ones_are_no_store() {
    let app = TestApp::spawn().await;
    let pair = app.register("basics@example.com").await;
    let access = pair["access"].as_str().unwrap();
    // Tokens, personal data and errors: never cached.
    for resp in [
        app.login("basics@example.com", common::PASSWORD).await,
        app.get("/api/v1/auth/user", Some(access)).await,
        app.get("/api/v1/cart", Some(access)).await,
        app.get("/api/v1/nowhere", None).await,
    ] {
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", resp.url());
        assert_eq!(h["cache-control"], "no-store", "{}", resp.url());
    }
    // The public catalog keeps its own caching.
    let resp = app.get("/api/v1/products", None).await;
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(
        resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_asks() {
    let app = TestApp::spawn().await;
    let plain = app.get("/openapi.json", None).await;
    assert!(plain.headers().get("content-encoding").is_none());
    // Uncompressed too: a shared cache must not hand this variant to a gzip client, nor
    // the other way round.
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    let plain = plain.text().await.unwrap();
    for coding in ["gzip", "br"] {
        let resp = get_accepting(&app, "/openapi.json", coding).await;
        assert_eq!(resp.headers()["content-encoding"], coding);
        assert_eq!(resp.headers()["vary"], "accept-encoding");
        let bytes = resp.bytes().await.unwrap();
        assert!(
            bytes.len() < plain.len() / 4,
            "{coding}: {} bytes",
            bytes.len()
        );
        assert_eq!(decode(coding, &bytes), plain);
    }
    // Small bodies and refused codings stay as they are.
    let resp = get_accepting(&app, "/healthz", "gzip").await;
    assert!(resp.headers().get("content-encoding").is_none());
    let resp = get_accepting(&app, "/openapi.json", "gzip;q=0").await;
    assert!(resp.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_compressed_catalog_page_has_a_weak_etag_that_still_revalidates() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("etag-staff@example.com").await;
    for i in 0..8 {
        let resp = app
            .post(
                "/api/v1/admin/products",
                Some(&staff),
                json!({"name": format!("Walnut mug {i}"), "description": "A mug ".repeat(40),
                       "variants": [{"sku": format!("MUG-{i}"), "price": "12.50", "stock": 5}]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let resp = get_accepting(&app, "/api/v1/products", "gzip").await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let resp = app
        .request(Method::GET, "/api/v1/products")
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
}

/// Swagger UI at /docs posts to its own origin, and browsers send `Origin` on such a POST:
/// that is not a cross-origin request, while a foreign origin is still refused.
#[tokio::test]
async fn same_origin_posts_are_not_refused_by_cors() {
    let app = TestApp::spawn().await;
    let host = app.url("").trim_start_matches("http://").to_owned();
    let body = json!({"email": "same@example.com", "password": common::PASSWORD});
    let resp = app
        .request(Method::POST, "/api/v1/auth/register")
        .header("origin", format!("http://{host}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "permission_denied").await;
}
