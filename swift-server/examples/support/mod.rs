//! What the load drivers (`checkout_bench`, `selling_load`) share: signing in and restocking
//! over the public API, as a client would.

use serde_json::{Value, json};

/// Signs in; the access token.
pub async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let resp: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    resp["access"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed for {email}: {resp}"))
        .to_owned()
}

/// Adds `delta` units to a variant's stock (staff).
pub async fn restock(
    client: &reqwest::Client,
    base: &str,
    staff: &str,
    product: &str,
    variant: &str,
    delta: i32,
) {
    let resp = client
        .post(format!(
            "{base}/api/v1/admin/products/{product}/variants/{variant}/stock"
        ))
        .bearer_auth(staff)
        .json(&json!({"delta": delta, "reason": "benchmark restock"}))
        .send()
        .await
        .expect("restock");
    assert!(resp.status().is_success(), "restock: {}", resp.status());
}
