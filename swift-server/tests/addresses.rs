//! The address book, checkout by saved address with a billing address, and the price the
//! customer saw confirmed at checkout (#16), over HTTP.

mod common;

use common::{Shop, assert_problem, variant_path};
use reqwest::{Method, Response};
use serde_json::{Value, json};

fn address(name: &str, country: &str) -> Value {
    json!({"full_name": name, "line1": "1 Long Lane", "city": "Town", "postal_code": "T1 1AA", "country": country})
}

impl Shop {
    async fn save(&self, token: &str, body: Value) -> Response {
        self.app.post("/api/v1/addresses", Some(token), body).await
    }

    async fn saved(&self, token: &str, name: &str) -> Value {
        let resp = self
            .save(token, json!({"address": address(name, "GB")}))
            .await;
        assert_eq!(resp.status(), 201);
        resp.json().await.unwrap()
    }

    async fn book(&self, token: &str) -> Vec<(String, bool, bool)> {
        let list: Vec<Value> = self.app.get_json("/api/v1/addresses", Some(token)).await;
        list.iter()
            .map(|a| {
                (
                    a["address"]["full_name"].as_str().unwrap().to_owned(),
                    a["is_default_shipping"].as_bool().unwrap(),
                    a["is_default_billing"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    async fn order(&self, token: &str, body: Value) -> Response {
        self.app.post("/api/v1/orders", Some(token), body).await
    }

    async fn orders(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_address_book_keeps_one_default_of_each_kind() {
    let shop = Shop::new().await;
    let ada = shop.app.access_token("ada@example.com").await;
    let home = shop.saved(&ada, "Home").await;
    assert_eq!(shop.book(&ada).await, [("Home".into(), true, true)]);
    let work = shop
        .save(
            &ada,
            json!({"address": address("Work", "FR"), "is_default_shipping": true}),
        )
        .await;
    assert_eq!(work.status(), 201);
    let work: Value = work.json().await.unwrap();
    assert_eq!(
        shop.book(&ada).await,
        [("Home".into(), false, true), ("Work".into(), true, false)]
    );
    // Billing moves to Work, and Home is renamed.
    let path = |a: &Value| format!("/api/v1/addresses/{}", a["id"].as_str().unwrap());
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path(&work),
            Some(&ada),
            json!({"is_default_billing": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path(&home),
            Some(&ada),
            json!({"address": address("Old home", "GB")}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        shop.book(&ada).await,
        [
            ("Old home".into(), false, false),
            ("Work".into(), true, true)
        ]
    );
    // And back: the older address takes the defaults from the newer one (the one-default
    // index must never see two at once, whichever row is written first).
    for (to, book) in [
        (
            &home,
            [
                ("Old home".into(), true, true),
                ("Work".into(), false, false),
            ],
        ),
        (
            &work,
            [
                ("Old home".into(), false, false),
                ("Work".into(), true, true),
            ],
        ),
    ] {
        let resp = shop
            .app
            .send_json(
                Method::PATCH,
                &path(to),
                Some(&ada),
                json!({"is_default_shipping": true, "is_default_billing": true}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let expected: [(String, bool, bool); 2] = book;
        assert_eq!(shop.book(&ada).await, expected);
    }
    // A default moves; it is not switched off. Bad countries name their field.
    let problem = assert_problem(
        shop.app
            .send_json(
                Method::PATCH,
                &path(&work),
                Some(&ada),
                json!({"is_default_shipping": false}),
            )
            .await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "is_default_shipping");
    let problem = assert_problem(
        shop.save(&ada, json!({"address": address("Nowhere", "XX")}))
            .await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "address.country");

    // Another customer's addresses are not found, to read, change, delete or ship to.
    let eve = shop.app.access_token("eve@example.com").await;
    assert!(shop.book(&eve).await.is_empty());
    assert_problem(
        shop.app
            .send_json(
                Method::PATCH,
                &path(&work),
                Some(&eve),
                json!({"is_default_billing": true}),
            )
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(shop.app.delete(&path(&work), &eve).await, 404, "not_found").await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 10)
        .await;
    shop.app.add_to_cart(&eve, &tea, 1).await;
    assert_problem(
        shop.order(&eve, json!({"shipping_address_id": work["id"]}))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(shop.orders().await, 0);

    let deleted = shop.app.delete(&path(&home), &ada).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(shop.book(&ada).await, [("Work".into(), true, true)]);
}

#[tokio::test]
async fn checkout_ships_and_bills_to_saved_addresses_and_keeps_its_copies() {
    let shop = Shop::new().await;
    let ada = shop.app.access_token("ada@example.com").await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 10)
        .await;
    shop.app.add_to_cart(&ada, &tea, 1).await;
    // No address given and none saved.
    let problem = assert_problem(shop.order(&ada, json!({})).await, 400, "validation_error").await;
    assert_eq!(problem["errors"][0]["field"], "shipping_address");
    // Inline and by id at once is ambiguous.
    let home = shop.saved(&ada, "Home").await;
    let problem = assert_problem(
        shop.order(
            &ada,
            json!({"shipping_address": address("X", "GB"), "shipping_address_id": home["id"]}),
        )
        .await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "shipping_address");

    // Given nothing, the defaults: Home for both.
    let order: Value = shop.order(&ada, json!({})).await.json().await.unwrap();
    assert_eq!(order["shipping_address"]["full_name"], "Home");
    assert_eq!(order["billing_address"]["full_name"], "Home");
    assert_eq!(
        (
            &order["subtotal"],
            &order["discount_total"],
            &order["shipping_total"],
            &order["tax_total"],
            &order["total"]
        ),
        (
            &json!("4.50"),
            &json!("0.00"),
            &json!("0.00"),
            &json!("0.00"),
            &json!("4.50")
        )
    );

    // By id for shipping, inline for billing; later edits of the book leave the order be.
    let office = shop.saved(&ada, "Office").await;
    shop.app.add_to_cart(&ada, &tea, 2).await;
    let resp = shop
        .order(
            &ada,
            json!({"shipping_address_id": office["id"], "billing_address": address("Accounts", "DE")}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["shipping_address"]["full_name"], "Office");
    assert_eq!(order["billing_address"]["country"], "DE");
    shop.app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/addresses/{}", office["id"].as_str().unwrap()),
            Some(&ada),
            json!({"address": address("Moved office", "GB")}),
        )
        .await;
    let path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    let read: Value = shop.app.get_json(&path, Some(&ada)).await;
    assert_eq!(read["shipping_address"]["full_name"], "Office");
    assert_eq!(read, order);
}

#[tokio::test]
async fn a_changed_price_stops_checkout_until_the_customer_sees_it() {
    let shop = Shop::new().await;
    let ada = shop.app.access_token("ada@example.com").await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 10)
        .await;
    shop.app.add_to_cart(&ada, &tea, 3).await;
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&ada)).await;
    assert_eq!(cart["total"], "13.50");
    // Staff raise the price between "view cart" and "place order".
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &variant_path(&tea),
            Some(&shop.staff),
            json!({"price": "4.75"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = json!({"shipping_address": address("Home", "GB"), "expected_total": cart["total"]});
    let problem = assert_problem(shop.order(&ada, body).await, 409, "price_changed").await;
    assert_eq!(problem["totals"]["subtotal"], "14.25");
    assert_eq!(problem["totals"]["total"], "14.25");
    // Nothing changed: no order, the stock and the cart as they were.
    assert_eq!(shop.orders().await, 0);
    let stock: i32 =
        sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE variant_id = $1::uuid")
            .bind(tea["variants"][0]["id"].as_str().unwrap())
            .fetch_one(&shop.app.db.pool)
            .await
            .unwrap();
    assert_eq!(stock, 10);
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&ada)).await;
    assert_eq!(cart["item_count"], 3);
    // Confirming the new total places the order.
    let body = json!({"shipping_address": address("Home", "GB"), "expected_total": "14.25"});
    let resp = shop.order(&ada, body).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["total"], "14.25");
}
