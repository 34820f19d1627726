//! The API document as a client generator sees it (issue #11): the limits it states are
//! the server's, in the server's words.

mod common;

use common::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

/// The message a storefront would show for one bad field.
async fn message(resp: reqwest::Response, field: &str) -> String {
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], field, "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn validation_messages_are_human_and_name_the_field() {
    let app = TestApp::spawn().await;
    let token = app.access_token("words@example.com").await;
    for (path, field, expected) in [
        (
            "/api/v1/products?page_size=500",
            "page_size",
            "must be at most 100",
        ),
        ("/api/v1/products?page=0", "page", "must be at least 1"),
        (
            "/api/v1/products?min_price=12.5",
            "min_price",
            "must be an amount with two decimals, such as 19.99",
        ),
        (
            "/api/v1/products?in_stock=maybe",
            "in_stock",
            "must be true or false",
        ),
    ] {
        assert_eq!(
            message(app.get(path, None).await, field).await,
            expected,
            "{path}"
        );
    }
    let resp = app
        .post(
            "/api/v1/cart/items",
            Some(&token),
            json!({"variant_id": uuid::Uuid::new_v4(), "quantity": 500}),
        )
        .await;
    assert_eq!(message(resp, "quantity").await, "must be at most 100");
    for (country, expected) in [
        (
            "XX",
            "must be an ISO 3166-1 alpha-2 country code, such as GB",
        ),
        (
            "gb",
            "must be an ISO 3166-1 alpha-2 country code, such as GB",
        ),
    ] {
        let resp = app
            .post(
                "/api/v1/orders",
                Some(&token),
                json!({"shipping_address": {"full_name": "A", "line1": "1 St", "city": "C",
                       "postal_code": "1", "country": country}}),
            )
            .await;
        assert_eq!(message(resp, "shipping_address.country").await, expected);
    }
}

#[tokio::test]
async fn null_removes_what_the_schema_says_it_removes() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let category: Value = app
        .post(
            "/api/v1/admin/categories",
            Some(&staff),
            json!({"name": "Mugs"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let product: Value = app
        .post(
            "/api/v1/admin/products",
            Some(&staff),
            json!({"name": "Mug", "category_id": category["id"],
                   "variants": [{"sku": "M-1", "price": "5.00", "stock": 1, "compare_at_price": "6.00"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(product["category"]["id"], category["id"]);
    let resp = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/products/{}", product["id"].as_str().unwrap()),
            Some(&staff),
            json!({"category_id": null}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.json::<Value>()
            .await
            .unwrap()
            .get("category")
            .is_none()
    );
    assert_eq!(product["variants"][0]["compare_at_price"], "6.00");
    let variant = format!(
        "/api/v1/admin/products/{}/variants/{}",
        product["id"].as_str().unwrap(),
        product["variants"][0]["id"].as_str().unwrap()
    );
    let resp = app
        .send_json(
            Method::PATCH,
            &variant,
            Some(&staff),
            json!({"compare_at_price": null}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    assert!(
        updated["variants"][0].get("compare_at_price").is_none(),
        "{updated}"
    );
    assert_eq!(
        updated["variants"][0]["price"], "5.00",
        "the rest unchanged"
    );
    let spec: Value = serde_json::from_str(&swift_server::openapi_json()).unwrap();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["ProductUpdate"]["properties"]["category_id"]["nullable"],
        true
    );
    assert_eq!(
        schemas["VariantUpdate"]["properties"]["compare_at_price"]["nullable"],
        true
    );
    assert_eq!(
        schemas["CategoryUpdate"]["properties"]["parent_id"]["nullable"],
        true
    );
    assert!(schemas["ProductCreate"]["properties"]["category_id"]["nullable"].is_null());
}

/// Every operation lists only what it can answer: a GET takes no body, so it documents no
/// 413 or 415; a public read documents no 401.
#[test]
fn operations_document_only_their_own_failures() {
    let spec: Value = serde_json::from_str(&swift_server::openapi_json()).unwrap();
    let list = &spec["paths"]["/api/v1/products"]["get"]["responses"];
    let statuses: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "304", "400", "default"]);
    let create = &spec["paths"]["/api/v1/orders"]["post"]["responses"];
    // 404: a saved address of someone else's, or a cart token that names no cart.
    for status in ["400", "401", "403", "404", "409", "413", "415"] {
        assert!(create.get(status).is_some(), "createOrder {status}");
    }
    assert!(create.get("429").is_none() && create.get("502").is_none());
    assert_eq!(
        spec["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["auth", "catalog", "cart", "orders", "admin", "ops"]
    );
    let problem_code = &spec["components"]["schemas"]["ProblemCode"]["enum"];
    assert!(
        problem_code
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "insufficient_stock")
    );
}

/// `googleLogin` takes exactly one of two shapes; anything else says which they are.
#[tokio::test]
async fn one_of_bodies_say_which_shapes_they_take() {
    let app = TestApp::spawn_with(&[("GOOGLE_CLIENT_ID", "swift-test")]).await;
    for body in [
        json!({}),
        json!({"code": "c"}),
        json!({"id_token": "t", "code": "c", "redirect_uri": "http://localhost:3000/cb"}),
    ] {
        let resp = app.post("/api/v1/auth/google", None, body.clone()).await;
        assert_eq!(
            message(resp, "body").await,
            "send exactly one of: id_token; or code and redirect_uri",
            "{body}"
        );
    }
    let resp = app
        .post(
            "/api/v1/auth/password/reset/confirm",
            None,
            json!({"uid": "x", "token": "t", "new_password": "plum-Orbit-cactus-42"}),
        )
        .await;
    assert_eq!(message(resp, "uid").await, "must be a UUID");
}

/// A malformed path parameter is named as the document names it (poem-openapi's errors say
/// `param0`), in words a storefront can show.
#[tokio::test]
async fn path_parameters_are_named_in_errors() {
    let app = TestApp::spawn().await;
    let token = app.access_token("paths@example.com").await;
    let resp = app.delete("/api/v1/auth/sessions/not-a-uuid", &token).await;
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "id", "{body}");
    assert_eq!(body["errors"][0]["message"], "must be a UUID");
    assert_eq!(body["detail"], "id: must be a UUID");
    let resp = app
        .delete("/api/v1/auth/methods/carrier-pigeon", &token)
        .await;
    assert_eq!(
        message(resp, "method").await,
        "must be one of: password, google"
    );
    let staff = app.staff_token("staff@shop.example").await;
    let resp = app
        .get("/api/v1/admin/orders/7/refunds", Some(&staff))
        .await;
    assert_eq!(message(resp, "id").await, "must be a UUID");
}
