//! Cart, checkout and orders over HTTP, including concurrency and replays.

mod common;

use common::{Shop, assert_problem, variant_path};
use reqwest::Method;
use serde_json::{Value, json};

impl Shop {
    async fn product(&self, sku: &str, price: &str, stock: i64) -> Value {
        self.app
            .create_product(&self.staff, sku, price, stock)
            .await
    }

    async fn add(&self, token: &str, product: &Value, quantity: i64) -> reqwest::Response {
        self.app.add_to_cart(token, product, quantity).await
    }

    async fn stock(&self, product: &Value) -> i32 {
        sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE variant_id = $1::uuid")
            .bind(product["variants"][0]["id"].as_str().unwrap())
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap()
    }

    async fn checkout(&self, token: &str) -> reqwest::Response {
        self.app
            .post("/api/v1/orders", Some(token), order_body())
            .await
    }

    /// Every token checks out its cart at the same moment; each answer's status and body.
    async fn checkout_all(&self, tokens: Vec<String>) -> Vec<(u16, Value)> {
        let mut tasks = Vec::new();
        for token in tokens {
            let (client, url) = (self.app.client.clone(), self.app.url("/api/v1/orders"));
            tasks.push(tokio::spawn(async move {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&order_body())
                    .send()
                    .await
                    .unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    async fn transition(&self, order: &Value, status: &str) -> reqwest::Response {
        let path = format!(
            "/api/v1/admin/orders/{}/transition",
            order["id"].as_str().unwrap()
        );
        self.app
            .post(&path, Some(&self.staff), json!({"status": status}))
            .await
    }
}

fn order_body() -> Value {
    json!({
        "shipping_address": {"full_name": "Ada Lovelace", "line1": "12 Analytical St", "city": "London",
                             "postal_code": "N1 7AA", "country": "GB", "phone": "+44 20 7946 0000"},
        "notes": "Leave at the door"
    })
}

#[tokio::test]
async fn the_cart_adds_updates_removes_and_clears() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("cart@example.com").await;
    let empty: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(empty["items"].as_array().unwrap().len(), 0);
    assert_eq!(empty["subtotal"], "0.00");

    let tea = shop.product("TEA", "4.50", 10).await;
    let mug = shop.product("MUG", "12.00", 0).await;
    let resp = shop.add(&token, &tea, 2).await;
    assert_eq!(resp.status(), 201);
    let cart: Value = shop.add(&token, &tea, 3).await.json().await.unwrap();
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "same product, same line"
    );
    assert_eq!(cart["items"][0]["quantity"], 5);
    assert_eq!(cart["items"][0]["line_total"], "22.50");
    let cart: Value = shop.add(&token, &mug, 1).await.json().await.unwrap();
    // The sold-out mug is listed but, unavailable, left out of the subtotal.
    assert_eq!(cart["subtotal"], "22.50");
    assert_eq!(cart["item_count"], 6);
    assert_eq!(cart["currency"], "USD");
    assert_eq!(cart["items"][1]["product"]["in_stock"], false);
    assert_eq!(cart["items"][1]["available"], false);
    assert_eq!(cart["items"][1]["unavailable_reason"], "out_of_stock");

    let line = cart["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cart/items/{line}");
    let cart: Value = shop
        .app
        .send_json(Method::PATCH, &path, Some(&token), json!({"quantity": 1}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["subtotal"], "4.50");
    for bad in [0, 101] {
        let resp = shop
            .app
            .send_json(Method::PATCH, &path, Some(&token), json!({"quantity": bad}))
            .await;
        assert_problem(resp, 400, "validation_error").await;
    }
    assert_problem(shop.add(&token, &tea, 100).await, 400, "validation_error").await;
    assert_problem(shop.add(&token, &tea, 0).await, 400, "validation_error").await;

    // Prices shown are today's; archived products stay in view, marked, out of the subtotal.
    let admin = format!("/api/v1/admin/products/{}", mug["id"].as_str().unwrap());
    shop.app
        .send_json(
            Method::PATCH,
            &admin,
            Some(&shop.staff),
            json!({"is_active": false}),
        )
        .await;
    shop.app
        .send_json(
            Method::PATCH,
            &variant_path(&tea),
            Some(&shop.staff),
            json!({"price": "5.00"}),
        )
        .await;
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 2);
    assert_eq!(cart["items"][1]["unavailable_reason"], "archived");
    assert_eq!(cart["subtotal"], "5.00");
    assert_problem(shop.add(&token, &mug, 1).await, 404, "not_found").await;
    let ghost = json!({"variants": [{"id": uuid::Uuid::new_v4()}]});
    assert_problem(shop.add(&token, &ghost, 1).await, 404, "not_found").await;

    let cart: Value = shop
        .app
        .request(Method::DELETE, &path)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "the archived mug is left"
    );
    shop.add(&token, &tea, 1).await;
    let resp = shop
        .app
        .request(Method::DELETE, "/api/v1/cart")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(cart["item_count"], 0);
    // A visitor (no session, no cart token) has an empty cart, never anyone else's.
    shop.add(&token, &tea, 1).await;
    let visitor: Value = shop.app.get_json("/api/v1/cart", None).await;
    assert_eq!(visitor["items"], json!([]));
    assert_eq!(visitor["item_count"], 0);
}

#[tokio::test]
async fn another_users_cart_lines_are_not_found() {
    let shop = Shop::new().await;
    let (alice, mallory) = (
        shop.app.access_token("alice@example.com").await,
        shop.app.access_token("mallory@example.com").await,
    );
    let tea = shop.product("TEA", "4.50", 10).await;
    let cart: Value = shop.add(&alice, &tea, 2).await.json().await.unwrap();
    let path = format!(
        "/api/v1/cart/items/{}",
        cart["items"][0]["id"].as_str().unwrap()
    );
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&mallory),
            json!({"quantity": 50}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
    let resp = shop
        .app
        .request(Method::DELETE, &path)
        .bearer_auth(&mallory)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&alice)).await;
    assert_eq!(cart["items"][0]["quantity"], 2);
}

#[tokio::test]
async fn checkout_snapshots_prices_and_totals_to_the_cent() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("buyer@example.com").await;
    let dime = shop.product("DIME", "0.10", 10).await;
    let book = shop.product("BOOK", "19.99", 10).await;
    shop.add(&token, &dime, 3).await;
    shop.add(&token, &book, 7).await;
    let resp = shop.checkout(&token).await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert!(
        order["number"].as_str().unwrap().starts_with("SW-1"),
        "{order}"
    );
    assert_eq!(order["status"], "pending");
    assert_eq!(order["subtotal"], "140.23");
    assert_eq!(order["total"], "140.23");
    let lines: Vec<(String, String, i64)> = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["line_total"].as_str().unwrap().to_owned(),
                i["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut lines = lines;
    lines.sort();
    assert_eq!(
        lines,
        vec![
            ("BOOK".into(), "139.93".into(), 7),
            ("DIME".into(), "0.30".into(), 3)
        ]
    );
    assert_eq!(order["shipping_address"]["country"], "GB");
    assert_eq!(order["notes"], "Leave at the door");
    assert_eq!(order["history"][0]["status"], "pending");
    assert_eq!(order["history"][0]["by"], "customer");
    assert_eq!((shop.stock(&dime).await, shop.stock(&book).await), (7, 3));
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(cart["item_count"], 0, "the cart is emptied");
    // Checkout answers with the order as it wrote it, without reading it back: the same
    // order, to the field, as reading it gives.
    let path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    let read: Value = shop.app.get_json(&path, Some(&token)).await;
    assert_eq!(read, order);

    // Later price changes do not touch the order.
    let admin = format!("/api/v1/admin/products/{}", book["id"].as_str().unwrap());
    shop.app
        .send_json(
            Method::PATCH,
            &admin,
            Some(&shop.staff),
            json!({"name": "Renamed"}),
        )
        .await;
    shop.app
        .send_json(
            Method::PATCH,
            &variant_path(&book),
            Some(&shop.staff),
            json!({"price": "25.00"}),
        )
        .await;
    let again: Value = shop.app.get_json(&path, Some(&token)).await;
    assert_eq!(again["subtotal"], "140.23");
    assert!(
        again["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "Product BOOK" && i["unit_price"] == "19.99")
    );
    let movements: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inventory_movements WHERE reason = 'order_placed'",
    )
    .fetch_one(&shop.app.db.pool)
    .await
    .unwrap();
    assert_eq!(movements, 2);
}

#[tokio::test]
async fn checkout_refuses_empty_carts_and_bad_addresses() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("e@example.com").await;
    assert_problem(shop.checkout(&token).await, 400, "bad_request").await;
    let tea = shop.product("TEA", "4.50", 10).await;
    // A cart emptied is as empty as none.
    shop.add(&token, &tea, 1).await;
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    let line = cart["items"][0]["id"].as_str().unwrap();
    let resp = shop
        .app
        .delete(&format!("/api/v1/cart/items/{line}"), &token)
        .await;
    assert_eq!(resp.status(), 200);
    assert_problem(shop.checkout(&token).await, 400, "bad_request").await;
    shop.add(&token, &tea, 1).await;
    let mut body = order_body();
    body["shipping_address"]["country"] = json!("Britain");
    let problem = assert_problem(
        shop.app.post("/api/v1/orders", Some(&token), body).await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "shipping_address.country");
    let mut body = order_body();
    body["shipping_address"]
        .as_object_mut()
        .unwrap()
        .remove("city");
    let problem = assert_problem(
        shop.app.post("/api/v1/orders", Some(&token), body).await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "shipping_address.city");
    assert_eq!(shop.stock(&tea).await, 10);
}

#[tokio::test]
async fn short_or_inactive_lines_fail_the_whole_checkout() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("short@example.com").await;
    let plenty = shop.product("PLENTY", "1.00", 50).await;
    let few = shop.product("FEW", "2.00", 2).await;
    let gone = shop.product("GONE", "3.00", 5).await;
    shop.add(&token, &plenty, 5).await;
    shop.add(&token, &few, 3).await;
    shop.add(&token, &gone, 1).await;
    let admin = format!("/api/v1/admin/products/{}", gone["id"].as_str().unwrap());
    shop.app
        .send_json(
            Method::PATCH,
            &admin,
            Some(&shop.staff),
            json!({"is_active": false}),
        )
        .await;
    let problem = assert_problem(shop.checkout(&token).await, 409, "insufficient_stock").await;
    let mut lines: Vec<(String, i64, i64)> = problem["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["requested"].as_i64().unwrap(),
                l["available"].as_i64().unwrap(),
            )
        })
        .collect();
    lines.sort();
    assert_eq!(lines, vec![("FEW".into(), 3, 2), ("GONE".into(), 1, 0)]);
    // Nothing changed.
    assert_eq!((shop.stock(&plenty).await, shop.stock(&few).await), (50, 2));
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
    let lines_left: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_items")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(lines_left, 3);
}

/// Twenty carts of two products each, half filled in one order and half in the other,
/// checked out at once: the rows are locked in one order (no deadlock), and a cart whose
/// second product ran out takes none of the first (all or nothing, per order).
#[tokio::test]
async fn concurrent_two_line_checkouts_neither_deadlock_nor_take_half() {
    let shop = Shop::new().await;
    let plenty = shop.product("PLENTY", "1.00", 100).await;
    let scarce = shop.product("SCARCE", "2.00", 5).await;
    let mut tokens = Vec::new();
    for n in 0..20 {
        let token = shop.app.access_token(&format!("pair{n}@example.com")).await;
        let (first, second) = if n % 2 == 0 {
            (&plenty, &scarce)
        } else {
            (&scarce, &plenty)
        };
        assert_eq!(shop.add(&token, first, 1).await.status(), 201);
        assert_eq!(shop.add(&token, second, 1).await.status(), 201);
        tokens.push(token);
    }
    let results = shop.checkout_all(tokens).await;
    let mut created = 0;
    for result in results {
        match result {
            (201, _) => created += 1,
            (409, body) => {
                assert_eq!(body["code"], "insufficient_stock");
                let short: Vec<&str> = body["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["sku"].as_str().unwrap())
                    .collect();
                assert_eq!(short, ["SCARCE"], "{body}");
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(
        (shop.stock(&plenty).await, shop.stock(&scarce).await),
        (95, 0)
    );
    let ledger: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inventory_movements WHERE reason = 'order_placed'",
    )
    .fetch_one(&shop.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        ledger, 10,
        "two ledger rows per order placed, none for the refused"
    );
}

#[tokio::test]
async fn fifty_concurrent_checkouts_never_oversell() {
    let shop = Shop::new().await;
    let hot = shop.product("HOT", "9.99", 10).await;
    let mut tokens = Vec::new();
    for n in 0..50 {
        let token = shop
            .app
            .access_token(&format!("buyer{n}@example.com"))
            .await;
        assert_eq!(shop.add(&token, &hot, 1).await.status(), 201);
        tokens.push(token);
    }
    let results = shop.checkout_all(tokens).await;
    let mut created = 0;
    for (status, body) in results {
        match status {
            201 => created += 1,
            409 => assert_eq!(body["code"], "insufficient_stock"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(shop.stock(&hot).await, 0);
    let pool = &shop.app.db.pool;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(orders, 10);
    let moves: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inventory_movements WHERE reason = 'order_placed'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(moves, 10);
    let numbers: i64 = sqlx::query_scalar("SELECT count(DISTINCT number) FROM orders")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(numbers, 10);
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_other_bodies() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("idem@example.com").await;
    let tea = shop.product("TEA", "4.50", 10).await;
    shop.add(&token, &tea, 2).await;
    let send = |body: Value| {
        shop.app
            .request(Method::POST, "/api/v1/orders")
            .bearer_auth(&token)
            .header("idempotency-key", "order-attempt-1")
            .json(&body)
            .send()
    };
    let first = send(order_body()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(order_body()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        first,
        "the first answer, replayed"
    );
    let mut other = order_body();
    other["notes"] = json!("something else");
    assert_problem(send(other).await.unwrap(), 409, "idempotency_conflict").await;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
    assert_eq!(shop.stock(&tea).await, 8);
    // Another user may use the same key for their own order.
    let other_user = shop.app.access_token("idem2@example.com").await;
    shop.add(&other_user, &tea, 1).await;
    let resp = shop
        .app
        .request(Method::POST, "/api/v1/orders")
        .bearer_auth(&other_user)
        .header("idempotency-key", "order-attempt-1")
        .json(&order_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_order() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("race@example.com").await;
    let tea = shop.product("TEA", "4.50", 100).await;
    shop.add(&token, &tea, 3).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, url, token) = (
            shop.app.client.clone(),
            shop.app.url("/api/v1/orders"),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "same-key")
                .json(&order_body())
                .send()
                .await
                .unwrap();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            (
                resp.status().as_u16(),
                replayed,
                resp.json::<Value>().await.unwrap(),
            )
        }));
    }
    // Duplicates that arrive while the first runs wait for its answer: all ten are the one
    // order, nine of them replays.
    let mut ids = std::collections::HashSet::new();
    let mut replays = 0;
    for task in tasks {
        let (status, replayed, body) = task.await.unwrap();
        assert_eq!(status, 201, "{body}");
        ids.insert(body["id"].as_str().unwrap().to_owned());
        replays += usize::from(replayed);
    }
    assert_eq!(ids.len(), 1, "every 201 is the same order");
    assert_eq!(replays, 9);
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
    assert_eq!(shop.stock(&tea).await, 97);
}

async fn place(shop: &Shop, token: &str, product: &Value, quantity: i64) -> Value {
    shop.add(token, product, quantity).await;
    let resp = shop.checkout(token).await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn every_transition_is_allowed_or_refused_as_documented() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("life@example.com").await;
    let tea = shop.product("TEA", "4.50", 1000).await;
    let all = [
        "pending",
        "paid",
        "shipped",
        "delivered",
        "cancelled",
        "refunded",
    ];
    let allowed = [
        ("pending", "paid"),
        ("pending", "cancelled"),
        ("paid", "shipped"),
        ("paid", "cancelled"),
        ("paid", "refunded"),
        ("shipped", "delivered"),
        ("shipped", "refunded"),
        ("delivered", "refunded"),
    ];
    // How to bring a fresh order to each status.
    let path_to = |status: &str| -> Vec<&'static str> {
        match status {
            "pending" => vec![],
            "paid" => vec!["paid"],
            "shipped" => vec!["paid", "shipped"],
            "delivered" => vec!["paid", "shipped", "delivered"],
            "cancelled" => vec!["cancelled"],
            _ => vec!["paid", "refunded"],
        }
    };
    for from in all {
        for to in all {
            let order = place(&shop, &token, &tea, 1).await;
            for step in path_to(from) {
                assert_eq!(shop.transition(&order, step).await.status(), 200);
            }
            let resp = shop.transition(&order, to).await;
            if allowed.contains(&(from, to)) {
                assert_eq!(resp.status(), 200, "{from} -> {to}");
                let moved: Value = resp.json().await.unwrap();
                assert_eq!(moved["status"], to);
                let last = moved["history"].as_array().unwrap().last().unwrap().clone();
                assert_eq!(
                    (last["status"].as_str(), last["by"].as_str()),
                    (Some(to), Some("staff"))
                );
            } else {
                assert_problem(resp, 409, "invalid_transition").await;
            }
        }
    }
    let resp = shop
        .transition(&json!({"id": uuid::Uuid::new_v4()}), "paid")
        .await;
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn cancelling_restores_stock_and_customers_cancel_only_pending_own_orders() {
    let shop = Shop::new().await;
    let (alice, mallory) = (
        shop.app.access_token("alice@example.com").await,
        shop.app.access_token("mallory@example.com").await,
    );
    let tea = shop.product("TEA", "4.50", 10).await;
    let order = place(&shop, &alice, &tea, 4).await;
    assert_eq!(shop.stock(&tea).await, 6);
    let get = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    let cancel = format!("{get}/cancel");
    // Someone else's order does not exist for them.
    assert_problem(shop.app.get(&get, Some(&mallory)).await, 404, "not_found").await;
    assert_problem(
        shop.app.post(&cancel, Some(&mallory), json!({})).await,
        404,
        "not_found",
    )
    .await;
    let mine: Value = shop.app.get_json("/api/v1/orders", Some(&mallory)).await;
    assert_eq!(mine["total"], 0);

    let cancelled: Value = shop
        .app
        .post(&cancel, Some(&alice), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["history"][1]["by"], "customer");
    assert_eq!(shop.stock(&tea).await, 10, "stock restored");
    let ledger: Vec<(i32, String)> = sqlx::query_as(
        "SELECT delta, reason::text FROM inventory_movements WHERE order_id IS NOT NULL ORDER BY id",
    )
    .fetch_all(&shop.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        vec![
            (-4, "order_placed".to_owned()),
            (4, "order_cancelled".to_owned())
        ]
    );
    assert_problem(
        shop.app.post(&cancel, Some(&alice), json!({})).await,
        409,
        "invalid_transition",
    )
    .await;

    // Once paid, only staff can cancel; staff cancelling a paid order restores stock too.
    let paid = place(&shop, &alice, &tea, 2).await;
    shop.transition(&paid, "paid").await;
    let cancel_paid = format!("/api/v1/orders/{}/cancel", paid["id"].as_str().unwrap());
    assert_problem(
        shop.app.post(&cancel_paid, Some(&alice), json!({})).await,
        409,
        "invalid_transition",
    )
    .await;
    assert_eq!(shop.stock(&tea).await, 8);
    assert_eq!(shop.transition(&paid, "cancelled").await.status(), 200);
    assert_eq!(shop.stock(&tea).await, 10);
}

#[tokio::test]
async fn order_lists_for_customers_and_staff() {
    let shop = Shop::new().await;
    let (a, b) = (
        shop.app.access_token("a@example.com").await,
        shop.app.access_token("b@example.com").await,
    );
    let tea = shop.product("TEA", "4.50", 100).await;
    let first = place(&shop, &a, &tea, 1).await;
    let second = place(&shop, &a, &tea, 1).await;
    place(&shop, &b, &tea, 1).await;
    shop.transition(&first, "paid").await;
    let mine: Value = shop
        .app
        .get_json("/api/v1/orders?page_size=1", Some(&a))
        .await;
    assert_eq!(
        (mine["total"].as_i64(), mine["pages"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(mine["items"][0]["id"], second["id"], "newest first");
    let all: Value = shop
        .app
        .get_json("/api/v1/admin/orders", Some(&shop.staff))
        .await;
    assert_eq!(all["total"], 3);
    let paid: Value = shop
        .app
        .get_json("/api/v1/admin/orders?status=paid", Some(&shop.staff))
        .await;
    assert_eq!(paid["total"], 1);
    let user_a: Value = shop.app.get_json("/api/v1/auth/user", Some(&a)).await;
    let by_user: Value = shop
        .app
        .get_json(
            &format!(
                "/api/v1/admin/orders?user_id={}",
                user_a["id"].as_str().unwrap()
            ),
            Some(&shop.staff),
        )
        .await;
    assert_eq!(by_user["total"], 2);
    let one = format!("/api/v1/admin/orders/{}", first["id"].as_str().unwrap());
    assert_eq!(shop.app.get(&one, Some(&shop.staff)).await.status(), 200);
    assert_problem(shop.app.get(&one, Some(&a)).await, 403, "permission_denied").await;
    assert_problem(
        shop.app.get("/api/v1/admin/orders", Some(&a)).await,
        403,
        "permission_denied",
    )
    .await;
    assert_problem(
        shop.app
            .get("/api/v1/admin/orders?status=lost", Some(&shop.staff))
            .await,
        400,
        "validation_error",
    )
    .await;
}

#[tokio::test]
async fn deleted_accounts_leave_anonymised_orders() {
    let shop = Shop::new().await;
    let token = shop.app.access_token("gone@example.com").await;
    let tea = shop.product("TEA", "4.50", 10).await;
    let order = place(&shop, &token, &tea, 1).await;
    let resp = shop
        .app
        .send_json(
            Method::DELETE,
            "/api/v1/auth/user",
            Some(&token),
            json!({"password": common::PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let path = format!("/api/v1/admin/orders/{}", order["id"].as_str().unwrap());
    let kept: Value = shop.app.get_json(&path, Some(&shop.staff)).await;
    assert_eq!(kept["total"], "4.50");
    let address = &kept["shipping_address"];
    assert_eq!(address["full_name"], "deleted customer");
    assert_eq!(address["line1"], "removed");
    assert!(address.get("phone").is_none());
    assert_eq!(
        (
            address["city"].as_str(),
            address["postal_code"].as_str(),
            address["country"].as_str()
        ),
        (Some("London"), Some("N1 7AA"), Some("GB"))
    );
    assert_eq!(kept["notes"], "");
    let owner: Option<uuid::Uuid> = sqlx::query_scalar("SELECT user_id FROM orders")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(owner, None);
}
