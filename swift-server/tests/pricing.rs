//! Shipping, tax and discount codes from the admin's setup to the order's totals (#16), over
//! HTTP. The rules' tricky cases are unit tests of `swift-core`'s `orders::pricing`; these
//! show the same numbers reach carts and orders, and that a code's limit holds under a race.

mod common;

use common::{Shop, TestApp, assert_problem, variant_path};
use reqwest::{Method, Response};
use serde_json::{Value, json};

impl Shop {
    async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let resp = self
            .app
            .send_json(
                method,
                &format!("/api/v1/admin{path}"),
                Some(&self.staff),
                body,
            )
            .await;
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// A zone for `countries` with one method of `rate`; the method.
    async fn method(&self, countries: &[&str], rate: Value) -> Value {
        let zone = self
            .admin(
                Method::POST,
                "/shipping-zones",
                json!({"name": "Zone", "countries": countries}),
            )
            .await;
        let path = format!("/shipping-zones/{}/methods", zone["id"].as_str().unwrap());
        self.admin(
            Method::POST,
            &path,
            json!({"name": "Standard", "rate": rate}),
        )
        .await
    }

    /// Checks out `token`'s cart to a British address.
    async fn gb_checkout(&self, token: &str) -> Response {
        self.app
            .post(
                "/api/v1/orders",
                Some(token),
                json!({"shipping_address": gb_address()}),
            )
            .await
    }

    async fn put(&self, token: &str, path: &str, body: Value) -> Response {
        self.app
            .send_json(Method::PUT, path, Some(token), body)
            .await
    }
}

fn gb_address() -> Value {
    json!({"full_name": "Ada", "line1": "1 Lane", "city": "London", "postal_code": "N1", "country": "GB"})
}

/// (subtotal, discount, shipping, tax, total) of a cart or an order.
fn totals(body: &Value) -> [&str; 5] {
    [
        "subtotal",
        "discount_total",
        "shipping_total",
        "tax_total",
        "total",
    ]
    .map(|k| body[k].as_str().unwrap_or_else(|| panic!("{k} in {body}")))
}

#[tokio::test]
async fn a_discount_under_the_free_shipping_threshold_brings_shipping_back_and_tax_follows() {
    let shop = Shop::new().await;
    let method = shop
        .method(
            &["GB"],
            json!({"kind": "free_over", "price": "4.95", "free_over": "50.00"}),
        )
        .await;
    shop.admin(
        Method::POST,
        "/tax-rates",
        json!({"country": "GB", "name": "VAT", "percent": "20"}),
    )
    .await;
    shop.admin(
        Method::POST,
        "/discount-codes",
        json!({"code": "Save10", "kind": "percent", "value": "10"}),
    )
    .await;
    let book = shop
        .app
        .create_product(&shop.staff, "BOOK", "26.00", 10)
        .await;
    let ada = shop.app.access_token("ada@example.com").await;
    shop.app.add_to_cart(&ada, &book, 2).await;

    // Without a method chosen, checkout says so (the store ships by zone).
    assert_problem(shop.gb_checkout(&ada).await, 409, "shipping_unavailable").await;
    let options: Vec<Value> = shop
        .app
        .get_json("/api/v1/cart/shipping-methods?country=gb", Some(&ada))
        .await;
    assert_eq!(options.len(), 1);
    assert_eq!(options[0]["price"], "0.00", "52.00 is over the threshold");
    let none: Vec<Value> = shop
        .app
        .get_json("/api/v1/cart/shipping-methods?country=FR", Some(&ada))
        .await;
    assert!(none.is_empty());
    let choice = json!({"country": "GB", "method_id": method["id"]});
    let cart: Value = shop
        .put(&ada, "/api/v1/cart/shipping", choice)
        .await
        .json()
        .await
        .unwrap();
    // 52.00, free shipping, VAT 20 % added: 10.40.
    assert_eq!(totals(&cart), ["52.00", "0.00", "0.00", "10.40", "62.40"]);
    assert_eq!(cart["shipping"]["method_name"], "Standard");

    // 10 % off: 46.80 of goods, under 50.00: shipping 4.95 is back; VAT on 46.80 = 9.36.
    let cart: Value = shop
        .put(&ada, "/api/v1/cart/discount", json!({"code": "save10"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["discount_code"], "SAVE10");
    assert_eq!(totals(&cart), ["52.00", "5.20", "4.95", "9.36", "61.11"]);
    let resp = shop
        .app
        .post(
            "/api/v1/orders",
            Some(&ada),
            json!({"shipping_address": gb_address(), "expected_total": "61.11"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(totals(&order), ["52.00", "5.20", "4.95", "9.36", "61.11"]);
    assert_eq!(order["shipping_method"], "Standard");
    assert_eq!(order["discount_code"], "SAVE10");
    assert_eq!(
        order["tax_lines"],
        json!([{"name": "VAT", "percent": "20", "amount": "9.36"}])
    );
    // The code leaves the cart with the order; the order reads back the same.
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&ada)).await;
    assert!(cart.get("discount_code").is_none(), "{cart}");
    let path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    assert_eq!(shop.app.get_json::<Value>(&path, Some(&ada)).await, order);

    // Shipping to a country outside the method's zone is refused.
    shop.app.add_to_cart(&ada, &book, 1).await;
    shop.put(
        &ada,
        "/api/v1/cart/shipping",
        json!({"country": "GB", "method_id": method["id"]}),
    )
    .await;
    let mut elsewhere = gb_address();
    elsewhere["country"] = json!("FR");
    assert_problem(
        shop.app
            .post(
                "/api/v1/orders",
                Some(&ada),
                json!({"shipping_address": elsewhere}),
            )
            .await,
        409,
        "shipping_unavailable",
    )
    .await;
}

#[tokio::test]
async fn inclusive_prices_show_the_tax_they_hold_and_weight_picks_the_band() {
    let shop = Shop::new().await;
    let app = TestApp::spawn_on(
        shop.app.db.clone(),
        &[("PRICES_INCLUDE_TAX", "true"), ("TAX_SHIPPING", "true")],
        poem::Route::new(),
    )
    .await;
    let method = shop
        .method(
            &["DE"],
            json!({"kind": "by_weight", "bands": [
                {"up_to_grams": 1000, "price": "4.00"},
                {"up_to_grams": 5000, "price": "9.00"}]}),
        )
        .await;
    shop.admin(
        Method::POST,
        "/tax-rates",
        json!({"country": "DE", "name": "MwSt", "percent": "19"}),
    )
    .await;
    let mug = shop
        .app
        .create_product(&shop.staff, "MUG", "9.99", 100)
        .await;
    shop.app
        .send_json(
            Method::PATCH,
            &variant_path(&mug),
            Some(&shop.staff),
            json!({"weight_grams": 400}),
        )
        .await;
    let ada = app.access_token("ada@example.com").await;
    app.add_to_cart(&ada, &mug, 3).await;
    let cart: Value = app
        .send_json(
            Method::PUT,
            "/api/v1/cart/shipping",
            Some(&ada),
            json!({"country": "DE", "method_id": method["id"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    // 1,200 g: the 9.00 band. Gross 29.97 + 9.00 = 38.97 holds 38.97 × 19 / 119 = 6.2222… of
    // tax: 6.22, shown, not added.
    assert_eq!(totals(&cart), ["29.97", "0.00", "9.00", "6.22", "38.97"]);
    // Past the last band the method cannot carry the cart: it charges nothing, and says so.
    app.add_to_cart(&ada, &mug, 10).await;
    let heavy: Value = app.get_json("/api/v1/cart", Some(&ada)).await;
    assert!(heavy["shipping_note"].is_string(), "{heavy}");
    let options: Vec<Value> = app
        .get_json("/api/v1/cart/shipping-methods?country=DE", Some(&ada))
        .await;
    assert!(options.is_empty());
}

#[tokio::test]
async fn thirty_checkouts_racing_for_a_code_of_five_uses_redeem_it_five_times() {
    let shop = Shop::new().await;
    shop.admin(
        Method::POST,
        "/discount-codes",
        json!({"code": "FIVE", "kind": "fixed", "value": "1.00", "usage_limit": 5}),
    )
    .await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 1000)
        .await;
    let mut tokens = Vec::new();
    for i in 0..30 {
        let token = shop
            .app
            .access_token(&format!("buyer{i}@example.com"))
            .await;
        shop.app.add_to_cart(&token, &tea, 1).await;
        let resp = shop
            .put(&token, "/api/v1/cart/discount", json!({"code": "FIVE"}))
            .await;
        assert_eq!(resp.status(), 200);
        tokens.push(token);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for token in tokens {
        let (client, url) = (shop.app.client.clone(), shop.app.url("/api/v1/orders"));
        tasks.spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"shipping_address": gb_address()}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }
    let answers = tasks.join_all().await;
    let placed = answers.iter().filter(|(s, _)| *s == 201).count();
    for (status, body) in &answers {
        match status {
            201 => assert_eq!(body["total"], "3.50"),
            409 => assert_eq!(body["code"], "discount_not_applicable", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(placed, 5);
    let (used, redeemed, orders): (i32, i64, i64) = sqlx::query_as(
        "SELECT (SELECT times_used FROM discount_codes), (SELECT count(*) FROM discount_redemptions), \
                (SELECT count(*) FROM orders)",
    )
    .fetch_one(&shop.app.db.pool)
    .await
    .unwrap();
    assert_eq!((used, redeemed, orders), (5, 5, 5));
    let stock: i32 = sqlx::query_scalar("SELECT on_hand FROM stock_levels")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(stock, 995, "the refused checkouts took nothing");
}

#[tokio::test]
async fn codes_are_refused_with_their_reason_and_limited_per_customer() {
    let shop = Shop::new().await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 100)
        .await;
    for body in [
        json!({"code": "LATER", "kind": "percent", "value": "5", "starts_at": "2999-01-01T00:00:00Z"}),
        json!({"code": "OVER", "kind": "percent", "value": "5", "ends_at": "2000-01-01T00:00:00Z"}),
        json!({"code": "ONCE", "kind": "percent", "value": "5", "per_customer_limit": 1}),
        json!({"code": "BIG", "kind": "fixed", "value": "2.00", "min_subtotal": "10.00"}),
    ] {
        shop.admin(Method::POST, "/discount-codes", body).await;
    }
    let ada = shop.app.access_token("ada@example.com").await;
    shop.app.add_to_cart(&ada, &tea, 1).await;
    for (code, reason) in [
        ("LATER", "not valid yet"),
        ("OVER", "expired"),
        ("NOPE", "not valid"),
    ] {
        let problem = assert_problem(
            shop.put(&ada, "/api/v1/cart/discount", json!({"code": code}))
                .await,
            409,
            "discount_not_applicable",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{problem}"
        );
    }
    // Under its minimum, a code stays on the cart but takes nothing off, and says why.
    let cart: Value = shop
        .put(&ada, "/api/v1/cart/discount", json!({"code": "big"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["discount_total"], "0.00");
    assert!(
        cart["discount_note"].as_str().unwrap().contains("10.00"),
        "{cart}"
    );
    assert_problem(shop.gb_checkout(&ada).await, 409, "discount_not_applicable").await;
    // Once per customer: the second order with it is refused.
    shop.put(&ada, "/api/v1/cart/discount", json!({"code": "ONCE"}))
        .await;
    let first = shop.gb_checkout(&ada).await;
    assert_eq!(first.status(), 201);
    shop.app.add_to_cart(&ada, &tea, 1).await;
    shop.put(&ada, "/api/v1/cart/discount", json!({"code": "ONCE"}))
        .await;
    assert_problem(shop.gb_checkout(&ada).await, 409, "discount_not_applicable").await;
    // Admin refusals name their field.
    let resp = shop
        .app
        .post(
            "/api/v1/admin/discount-codes",
            Some(&shop.staff),
            json!({"code": "once", "kind": "percent", "value": "5"}),
        )
        .await;
    let problem = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(problem["errors"][0]["field"], "code");
    let resp = shop
        .app
        .post(
            "/api/v1/admin/discount-codes",
            Some(&shop.staff),
            json!({"code": "HUGE", "kind": "percent", "value": "150"}),
        )
        .await;
    let problem = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(problem["errors"][0]["field"], "value");
}

/// The rate a checkout charges is the region's own, else the country's, else none, in any
/// case and spacing of the region; the same whether the address is given (its rate is read
/// with the cart) or the customer's default (read after it).
#[tokio::test]
async fn a_regions_own_rate_wins_for_given_and_saved_addresses_alike() {
    let shop = Shop::new().await;
    for rate in [
        json!({"country": "US", "name": "Sales tax", "percent": "5"}),
        json!({"country": "US", "region": "NY", "name": "NY tax", "percent": "8.875"}),
    ] {
        shop.admin(Method::POST, "/tax-rates", rate).await;
    }
    let lamp = shop
        .app
        .create_product(&shop.staff, "LAMP", "10.00", 100)
        .await;
    let ada = shop.app.access_token("ada@example.com").await;
    let us = |region: &str| {
        json!({"full_name": "Ada", "line1": "1 Main St", "city": "Town", "postal_code": "10001",
               "country": "US", "region": region})
    };
    let saved = shop
        .app
        .post(
            "/api/v1/addresses",
            Some(&ada),
            json!({"address": us("ny")}),
        )
        .await;
    assert_eq!(saved.status(), 201);

    let mut charged = Vec::new();
    for body in [
        json!({}),
        json!({"shipping_address": us(" Ny ")}),
        json!({"shipping_address": us("CA")}),
        json!({"shipping_address": {"full_name": "Ada", "line1": "1 Rue", "city": "Paris",
                                    "postal_code": "75001", "country": "FR"}}),
    ] {
        shop.app.add_to_cart(&ada, &lamp, 1).await;
        let resp = shop.app.post("/api/v1/orders", Some(&ada), body).await;
        assert_eq!(resp.status(), 201);
        let order: Value = resp.json().await.unwrap();
        let lines: Vec<String> = order["tax_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect();
        charged.push((order["tax_total"].as_str().unwrap().to_owned(), lines));
    }
    let expected = [
        ("0.89", vec!["NY tax"]),
        ("0.89", vec!["NY tax"]),
        ("0.50", vec!["Sales tax"]),
        ("0.00", vec![]),
    ]
    .map(|(total, names)| {
        (
            total.to_owned(),
            names.into_iter().map(str::to_owned).collect::<Vec<_>>(),
        )
    });
    assert_eq!(charged, expected);
}

/// Staff change a method's name and rate, from one kind to another, and its zone lists it
/// as changed; a method or zone that does not exist is not found.
#[tokio::test]
async fn staff_change_a_shipping_methods_rate_and_its_zone_lists_it() {
    let shop = Shop::new().await;
    let method = shop
        .method(&["GB"], json!({"kind": "flat", "price": "4.95"}))
        .await;
    let path = format!("/shipping-methods/{}", method["id"].as_str().unwrap());
    let by_weight = json!({"kind": "by_weight", "bands": [
        {"up_to_grams": 1000, "price": "3.00"},
        {"up_to_grams": 5000, "price": "8.00"},
    ]});
    let changed = shop
        .admin(
            Method::PUT,
            &path,
            json!({"name": "Heavy", "rate": by_weight}),
        )
        .await;
    assert_eq!(
        (&changed["id"], &changed["name"], &changed["rate"]),
        (&method["id"], &json!("Heavy"), &by_weight)
    );
    let free_over = json!({"kind": "free_over", "price": "4.95", "free_over": "50.00"});
    let changed = shop
        .admin(
            Method::PUT,
            &path,
            json!({"name": "Standard", "rate": free_over}),
        )
        .await;
    let zones: Value = shop
        .app
        .get_json("/api/v1/admin/shipping-zones", Some(&shop.staff))
        .await;
    assert_eq!(zones[0]["methods"], json!([changed]), "{zones}");
    assert_eq!(changed["rate"], free_over);

    let absent = "/api/v1/admin/shipping-methods/00000000-0000-0000-0000-000000000000";
    let body = json!({"name": "X", "rate": {"kind": "flat", "price": "1.00"}});
    assert_problem(
        shop.put(&shop.staff, absent, body.clone()).await,
        404,
        "not_found",
    )
    .await;
    let absent_zone = "/api/v1/admin/shipping-zones/00000000-0000-0000-0000-000000000000/methods";
    let resp = shop.app.post(absent_zone, Some(&shop.staff), body).await;
    assert_problem(resp, 404, "not_found").await;
}
