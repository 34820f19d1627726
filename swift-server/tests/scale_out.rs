//! Two server instances on one database behave as one service: nothing another instance
//! needs lives in process memory.

mod common;

use std::sync::Arc;

use common::{PASSWORD, TestApp, assert_problem};
use poem::Route;
use reqwest::Method;
use serde_json::{Value, json};

async fn pair(vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(vars).await;
    let b = TestApp::spawn_on(Arc::clone(&a.db), vars, Route::new()).await;
    (a, b)
}

#[tokio::test]
async fn tokens_sessions_and_revocation_work_across_instances() {
    let (a, b) = pair(&[]).await;
    let pair_a = a.register("both@example.com").await;
    // An access token from A works on B.
    assert_eq!(
        b.get("/api/v1/auth/user", pair_a["access"].as_str())
            .await
            .status(),
        200
    );
    // Rotation on B, reuse detected on A.
    let rotated: Value = b
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": pair_a["refresh"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    a.age_rotations(31).await;
    let reuse = a
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": pair_a["refresh"]}),
        )
        .await;
    assert_problem(reuse, 401, "token_reused").await;
    assert_problem(
        b.get("/api/v1/auth/user", rotated["access"].as_str()).await,
        401,
        "token_invalid",
    )
    .await;
    // Logout-all on A kills a session made on B at once.
    let on_b: Value = b
        .login("both@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let on_a: Value = a
        .login("both@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        a.post(
            "/api/v1/auth/logout-all",
            on_a["access"].as_str(),
            json!({})
        )
        .await
        .status(),
        204
    );
    assert_problem(
        b.get("/api/v1/auth/user", on_b["access"].as_str()).await,
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test]
async fn rate_limits_are_shared_by_all_instances() {
    let (a, b) = pair(&[("RATE_LIMITS", "on"), ("RATE_LIMIT_PER_ACCOUNT", "4")]).await;
    for app in [&a, &b, &a, &b] {
        assert_eq!(
            app.login("target@example.com", "wrong-password-1")
                .await
                .status(),
            401
        );
    }
    assert_problem(
        a.login("target@example.com", "wrong-password-1").await,
        429,
        "rate_limited",
    )
    .await;
    assert_problem(
        b.login("target@example.com", "wrong-password-1").await,
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn idempotency_keys_replay_on_another_instance() {
    let (a, b) = pair(&[]).await;
    let staff = a.staff_token("staff@example.com").await;
    let product: Value = a
        .post(
            "/api/v1/admin/products",
            Some(&staff),
            json!({"name": "Tea", "variants": [{"sku": "T-1", "price": "4.00", "stock": 5}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = a.access_token("buyer@example.com").await;
    a.post(
        "/api/v1/cart/items",
        Some(&token),
        json!({"variant_id": product["variants"][0]["id"], "quantity": 1}),
    )
    .await;
    let body = json!({"shipping_address": {"full_name": "B", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}});
    let send = |app: &TestApp| {
        app.request(Method::POST, "/api/v1/orders")
            .bearer_auth(&token)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
    };
    let first: Value = send(&a).await.unwrap().json().await.unwrap();
    let replay = send(&b).await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], first["id"]);
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&a.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
}
