//! `/metrics` (#18): Prometheus counters that move with traffic, behind a token.

mod common;

use common::{Shop, TestApp, assert_problem};
use serde_json::json;

const TOKEN: &str = "a-long-random-metrics-token-for-tests";

async fn scrape(app: &TestApp) -> String {
    let resp = app
        .request(reqwest::Method::GET, "/metrics")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    resp.text().await.unwrap()
}

/// The value of the sample whose name and labels start as `series` says (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', ',', '}']))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn traffic_moves_the_counters() {
    let app = TestApp::spawn_with(&[("METRICS_TOKEN", TOKEN)]).await;
    let staff = app.staff_token("staff@shop.example").await;
    let before = scrape(&app).await;

    let tea = app.create_product(&staff, "TEA", "4.50", 10).await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/api/v1/products?page_size=5", None).await.status(),
            200
        );
    }
    let slug = tea["slug"].as_str().unwrap();
    app.get(&format!("/api/v1/products/{slug}"), None).await;
    app.get("/api/v1/products/no-such-product", None).await;
    let buyer = app.access_token("ada@example.com").await;
    app.add_to_cart(&buyer, &tea, 1).await;
    let order = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"shipping_address": {"full_name": "Ada Lovelace", "line1": "1 St", "city": "London",
                                        "postal_code": "N1", "country": "GB"}}),
        )
        .await;
    assert_eq!(order.status(), 201);
    app.get("/wp-admin/install.php", None).await;

    let after = scrape(&app).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        moved(r#"swift_http_requests_total{operation="listProducts",status="200""#),
        3.0,
        "{after}"
    );
    assert_eq!(
        moved(r#"swift_http_requests_total{operation="getProduct",status="404""#),
        1.0
    );
    assert_eq!(
        moved(r#"swift_http_requests_total{operation="createOrder",status="201""#),
        1.0
    );
    assert_eq!(
        moved(r#"swift_http_requests_total{operation="other",status="404""#),
        1.0,
        "made-up URLs share one label"
    );
    assert!(!after.contains("wp-admin"), "no URL ever becomes a label");
    assert!(moved(r#"swift_http_request_duration_seconds_count{operation="listProducts""#) >= 3.0);
    assert_eq!(moved("swift_orders_placed_total"), 1.0);
    // The same listing three times: computed once, then served from the cache.
    assert!(
        moved(r#"swift_cache_hits_total{cache="pages""#) >= 2.0,
        "{after}"
    );
    assert!(moved(r#"swift_cache_misses_total{cache="pages""#) >= 1.0);
    assert!(sample(&after, r#"swift_cache_bytes{cache="pages""#) > 0.0);
    // Levels sampled at scrape time.
    assert!(
        sample(&after, r#"swift_db_pool_connections{state="idle""#) >= 1.0,
        "{after}"
    );
    assert!(after.contains("swift_db_pool_connections{state=\"in_use\"}"));
    assert_eq!(sample(&after, "swift_db_pool_max_connections"), 10.0);
    // Every query's wait for a connection (sqlx's acquire event, counted by the server's
    // own logger set-up): the order alone took several.
    assert!(
        moved("swift_db_pool_acquire_seconds_count") >= 5.0,
        "{after}"
    );
    assert!(moved("swift_db_pool_acquire_seconds_sum") > 0.0);
    assert!(after.contains("swift_outbox_backlog "));
    assert!(after.contains("swift_outbox_oldest_age_seconds "));
    // Sign-ins hash passwords through the bounded queue.
    assert!(after.contains("swift_password_hash_waiting "));
}

#[tokio::test]
async fn metrics_need_the_token() {
    let app = TestApp::spawn_with(&[("METRICS_TOKEN", TOKEN)]).await;
    let none = app.get("/metrics", None).await;
    assert_problem(none, 401, "not_authenticated").await;
    let wrong = app
        .get("/metrics", Some("a-long-random-metrics-token-for-test"))
        .await;
    assert_problem(wrong, 401, "not_authenticated").await;
    let staff = app.staff_token("staff@shop.example").await;
    let session = app.get("/metrics", Some(&staff)).await;
    assert_eq!(
        session.status(),
        401,
        "a staff session is not the metrics token"
    );

    // Without a token configured there is nothing there.
    let shop = Shop::new().await;
    let resp = shop.app.get("/metrics", Some(TOKEN)).await;
    assert_problem(resp, 404, "not_found").await;
}
