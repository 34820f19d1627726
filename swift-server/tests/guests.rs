//! Guest carts and guest checkout, carts merged on sign-in, guest order links and claims,
//! and `Idempotency-Key` on every mutating call (#15), over HTTP.

mod common;

use common::{PASSWORD, Shop, TestApp, assert_problem, link, query_param};
use reqwest::{Method, Response};
use serde_json::{Value, json};

impl Shop {
    async fn product(&self, sku: &str, stock: i64) -> Value {
        self.app
            .create_product(&self.staff, sku, "5.00", stock)
            .await
    }

    /// Adds to a guest cart (`cart` = its token) or, with `None`, opens one.
    async fn guest_add(&self, cart: Option<&str>, product: &Value, quantity: i64) -> Response {
        let mut rb = self
            .app
            .request(Method::POST, "/api/v1/cart/items")
            .json(&json!({"variant_id": product["variants"][0]["id"], "quantity": quantity}));
        if let Some(cart) = cart {
            rb = rb.header("x-cart-token", cart);
        }
        rb.send().await.unwrap()
    }

    /// Opens a guest cart with `quantity` of `product`; its token.
    async fn guest_cart(&self, product: &Value, quantity: i64) -> String {
        let resp = self.guest_add(None, product, quantity).await;
        assert_eq!(resp.status(), 201);
        resp.headers()["x-cart-token"].to_str().unwrap().to_owned()
    }

    async fn guest_get(&self, path: &str, cart: &str) -> Response {
        self.app
            .request(Method::GET, path)
            .header("x-cart-token", cart)
            .send()
            .await
            .unwrap()
    }

    async fn login_with_cart(&self, email: &str, cart: &str) -> Response {
        self.app
            .request(Method::POST, "/api/v1/auth/login")
            .header("x-cart-token", cart)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
    }

    async fn guest_checkout(&self, cart: &str, email: Option<&str>) -> Response {
        let mut body = order_body();
        if let Some(email) = email {
            body["email"] = json!(email);
        }
        self.app
            .request(Method::POST, "/api/v1/orders")
            .header("x-cart-token", cart)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A guest's order: checks out `cart` with `email`.
    async fn guest_order(&self, cart: &str, email: &str) -> Value {
        let resp = self.guest_checkout(cart, Some(email)).await;
        assert_eq!(resp.status(), 201);
        resp.json().await.unwrap()
    }

    async fn carts(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM carts WHERE user_id IS NULL")
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap()
    }
}

fn order_body() -> Value {
    json!({
        "shipping_address": {"full_name": "Grace Hopper", "line1": "1 Harbour Rd", "city": "Arlington",
                             "postal_code": "22201", "country": "US"}
    })
}

/// `(sku, quantity)` of each line of a cart body.
fn lines(cart: &Value) -> Vec<(String, i64)> {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product"]["sku"].as_str().unwrap().to_owned(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_guest_adds_signs_in_and_finds_the_merged_cart_with_clamps_reported() {
    let shop = Shop::new().await;
    let (tea, mug, pot) = (
        shop.product("TEA", 500).await,
        shop.product("MUG", 500).await,
        shop.product("POT", 500).await,
    );
    let customer = shop.app.access_token("ada@example.com").await;
    shop.app.add_to_cart(&customer, &tea, 60).await;

    // Anonymous: the first line opens a guest cart; the token finds it again.
    let cart = shop.guest_cart(&tea, 50).await;
    assert_eq!(cart.len(), 43);
    for (product, quantity) in [(&mug, 2), (&pot, 1)] {
        let resp = shop.guest_add(Some(&cart), product, quantity).await;
        assert_eq!(resp.status(), 201);
        assert!(
            resp.headers().get("x-cart-token").is_none(),
            "only when opened"
        );
    }
    let seen: Value = shop
        .guest_get("/api/v1/cart", &cart)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        lines(&seen),
        [("TEA".into(), 50), ("MUG".into(), 2), ("POT".into(), 1)]
    );
    // The server keeps only the token's hash.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM carts WHERE user_id IS NULL")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_ne!(stored, cart.as_bytes());
    // The pot is archived before the guest signs in.
    shop.app
        .delete(
            &format!("/api/v1/admin/products/{}", pot["id"].as_str().unwrap()),
            &shop.staff,
        )
        .await;

    let resp = shop.login_with_cart("ada@example.com", &cart).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let merge = &body["cart"];
    assert_eq!(merge["merged"], 2, "{merge}");
    assert_eq!(merge["clamped"][0]["sku"], "TEA");
    assert_eq!(merge["clamped"][0]["requested"], 110);
    assert_eq!(merge["clamped"][0]["quantity"], 100);
    assert_eq!(merge["dropped"][0]["sku"], "POT");
    assert_eq!(merge["dropped"][0]["reason"], "archived");

    let access = body["access"].as_str().unwrap();
    let merged: Value = shop.app.get_json("/api/v1/cart", Some(access)).await;
    assert_eq!(lines(&merged), [("TEA".into(), 100), ("MUG".into(), 2)]);
    // The guest cart is gone: its token finds nothing, and signing in with it again merges
    // nothing.
    assert_problem(
        shop.guest_get("/api/v1/cart", &cart).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        shop.guest_checkout(&cart, Some("ada@example.com")).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(shop.carts().await, 0);
    let again: Value = shop
        .login_with_cart("ada@example.com", &cart)
        .await
        .json()
        .await
        .unwrap();
    assert!(again.get("cart").is_none(), "{again}");
}

#[tokio::test]
async fn two_sign_ins_at_once_consume_the_guest_cart_once() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 100).await;
    shop.app.register("two@example.com").await;
    for round in 0..5 {
        let cart = shop.guest_cart(&tea, 3).await;
        let (a, b) = tokio::join!(
            shop.login_with_cart("two@example.com", &cart),
            shop.login_with_cart("two@example.com", &cart)
        );
        let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
        let merges = [&a, &b].iter().filter(|r| r.get("cart").is_some()).count();
        assert_eq!(merges, 1, "round {round}: {a} {b}");
        let access = a["access"].as_str().unwrap();
        let merged: Value = shop.app.get_json("/api/v1/cart", Some(access)).await;
        assert_eq!(lines(&merged), [("TEA".into(), 3 * (round + 1))]);
        assert_eq!(shop.carts().await, 0);
    }
}

#[tokio::test]
async fn a_guest_checks_out_and_reads_the_order_by_its_link_only() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 10).await;
    let cart = shop.guest_cart(&tea, 2).await;
    let problem = assert_problem(
        shop.guest_checkout(&cart, None).await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "email");

    let resp = shop.guest_checkout(&cart, Some("Grace@Example.com")).await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["guest_email"], "grace@example.com");
    assert_eq!(order["subtotal"], "10.00");
    let token = order["order_token"].as_str().unwrap().to_owned();
    let stock: i32 =
        sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE variant_id = $1::uuid")
            .bind(tea["variants"][0]["id"].as_str().unwrap())
            .fetch_one(&shop.app.db.pool)
            .await
            .unwrap();
    assert_eq!(stock, 8);

    // The link, as mailed, reads the order; the token is shown only at checkout.
    let mail = shop.app.mail_to("grace@example.com", "Your order").await;
    let mailed = link(&mail, "http://localhost:3000/orders/guest/");
    assert!(mailed.ends_with(&token), "{mailed}");
    let read: Value = shop
        .app
        .get_json(&format!("/api/v1/guest-orders/{token}"), None)
        .await;
    assert_eq!(read["id"], order["id"]);
    assert!(read.get("order_token").is_none());

    // Another guest: their own cart token reads neither this order nor the customer routes,
    // their order's link opens only their order, and an altered link opens nothing.
    let other_cart = shop.guest_cart(&tea, 1).await;
    let other = shop.guest_order(&other_cart, "eve@example.com").await;
    let id = order["id"].as_str().unwrap();
    assert_problem(
        shop.guest_get(&format!("/api/v1/orders/{id}"), &other_cart)
            .await,
        401,
        "not_authenticated",
    )
    .await;
    let theirs: Value = shop
        .app
        .get_json(
            &format!(
                "/api/v1/guest-orders/{}",
                other["order_token"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(theirs["id"], other["id"]);
    let mut altered = token.into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert_problem(
        shop.app
            .get(&format!("/api/v1/guest-orders/{altered}"), None)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        shop.app.get("/api/v1/guest-orders/SW-100001", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_account_claims_guest_orders_only_with_a_verified_address() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 10).await;
    let cart = shop.guest_cart(&tea, 1).await;
    let order = shop.guest_order(&cart, "lin@example.com").await;
    let access = shop.app.access_token("lin@example.com").await;
    let claim = |access: String| {
        shop.app
            .request(Method::POST, "/api/v1/orders/claim")
            .bearer_auth(access)
            .send()
    };
    assert_problem(
        claim(access.clone()).await.unwrap(),
        403,
        "email_not_verified",
    )
    .await;
    let mine: Value = shop.app.get_json("/api/v1/orders", Some(&access)).await;
    assert_eq!(mine["total"], 0);

    let mail = shop.app.mail_to("lin@example.com", "Confirm").await;
    let key = query_param(&link(&mail, "http://localhost:3000/verify-email?"), "key");
    let verified = shop
        .app
        .post("/api/v1/auth/verify-email", None, json!({"key": key}))
        .await;
    assert_eq!(verified.status(), 200);
    let claimed: Value = claim(access.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(claimed["claimed"], 1);
    let mine: Value = shop.app.get_json("/api/v1/orders", Some(&access)).await;
    assert_eq!(mine["items"][0]["id"], order["id"]);
    let again: Value = claim(access).await.unwrap().json().await.unwrap();
    assert_eq!(again["claimed"], 0);
}

/// POSTs an `addCartItem` with `key`, as `token`'s user.
async fn add_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    product: &Value,
    quantity: i64,
) -> Response {
    app.request(Method::POST, "/api/v1/cart/items")
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({"variant_id": product["variants"][0]["id"], "quantity": quantity}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_replayed_add_does_not_double_and_keys_belong_to_their_caller() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 100).await;
    let (alice, bob) = (
        shop.app.access_token("alice@example.com").await,
        shop.app.access_token("bob@example.com").await,
    );
    let first = add_with_key(&shop.app, &alice, "add-tea-1", &tea, 2).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let replay = add_with_key(&shop.app, &alice, "add-tea-1", &tea, 2).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(
        replay.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&alice)).await;
    assert_eq!(lines(&cart), [("TEA".into(), 2)], "not doubled");

    // The same key with another body is refused, and changes nothing.
    assert_problem(
        add_with_key(&shop.app, &alice, "add-tea-1", &tea, 3).await,
        409,
        "idempotency_conflict",
    )
    .await;
    // Bob's identical request with Alice's key is Bob's own: it runs for his cart.
    let bobs = add_with_key(&shop.app, &bob, "add-tea-1", &tea, 2).await;
    assert!(bobs.headers().get("idempotent-replayed").is_none());
    let bobs: Value = bobs.json().await.unwrap();
    assert_ne!(bobs["items"][0]["id"], first["items"][0]["id"]);
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&alice)).await;
    assert_eq!(lines(&cart), [("TEA".into(), 2)]);

    // A failed call keeps no answer: the retry runs (and succeeds once the cause is gone).
    let sold_out = shop.product("GONE", 1).await;
    shop.app
        .delete(
            &format!(
                "/api/v1/admin/products/{}",
                sold_out["id"].as_str().unwrap()
            ),
            &shop.staff,
        )
        .await;
    assert_problem(
        add_with_key(&shop.app, &alice, "add-gone", &sold_out, 1).await,
        404,
        "not_found",
    )
    .await;
    let saved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = 'add-gone'")
            .fetch_one(&shop.app.db.pool)
            .await
            .unwrap();
    assert_eq!(saved, 0);

    // PATCH and DELETE are covered too, and a malformed key is a 400.
    let item = first["items"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/cart/items/{item}");
    for _ in 0..2 {
        let resp = shop
            .app
            .request(Method::PATCH, &path)
            .bearer_auth(&alice)
            .header("idempotency-key", "set-5")
            .json(&json!({"quantity": 5}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = shop
        .app
        .request(Method::DELETE, "/api/v1/cart")
        .bearer_auth(&alice)
        .header("idempotency-key", "bad key")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "validation_error").await;
}

#[tokio::test]
async fn concurrent_duplicates_wait_for_the_first_answer() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 100).await;
    let token = shop.app.access_token("dup@example.com").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, token) = (
            shop.app.client.clone(),
            shop.app.url("/api/v1/cart/items"),
            token.clone(),
        );
        let body = json!({"variant_id": tea["variants"][0]["id"], "quantity": 1});
        tasks.spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "once")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            resp.json::<Value>().await.unwrap()
        });
    }
    let answers = tasks.join_all().await;
    assert!(answers.iter().all(|a| *a == answers[0]));
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(lines(&cart), [("TEA".into(), 1)]);
}

#[tokio::test]
async fn a_guest_cart_keys_its_own_idempotency_and_expired_carts_are_pruned() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 100).await;
    let cart = shop.guest_cart(&tea, 1).await;
    for _ in 0..2 {
        let resp = shop
            .app
            .request(Method::POST, "/api/v1/cart/items")
            .header("x-cart-token", &cart)
            .header("idempotency-key", "guest-add")
            .json(&json!({"variant_id": tea["variants"][0]["id"], "quantity": 4}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let seen: Value = shop
        .guest_get("/api/v1/cart", &cart)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lines(&seen), [("TEA".into(), 5)]);

    // A guest cart lives 30 days untouched, a customer's 90.
    let customer = shop.app.access_token("keep@example.com").await;
    shop.app.add_to_cart(&customer, &tea, 1).await;
    let fresh = shop.guest_cart(&tea, 1).await;
    sqlx::query("UPDATE carts SET updated_at = now() - interval '31 days' WHERE token_hash IS DISTINCT FROM $1")
        .bind(swift_core::accounts::tokens::hash_token(&fresh))
        .execute(&shop.app.db.pool)
        .await
        .unwrap();
    let pruned = swift_core::maintenance::prune(&shop.app.db.pool, &shop.app.ctx.config.lifetimes)
        .await
        .unwrap();
    assert_eq!(pruned.carts, 1);
    assert_problem(
        shop.guest_get("/api/v1/cart", &cart).await,
        404,
        "not_found",
    )
    .await;
    let kept: Value = shop.app.get_json("/api/v1/cart", Some(&customer)).await;
    assert_eq!(lines(&kept), [("TEA".into(), 1)]);
    assert_eq!(shop.guest_get("/api/v1/cart", &fresh).await.status(), 200);
    // Past 90 days the customer's goes too.
    sqlx::query("UPDATE carts SET updated_at = now() - interval '91 days'")
        .execute(&shop.app.db.pool)
        .await
        .unwrap();
    let pruned = swift_core::maintenance::prune(&shop.app.db.pool, &shop.app.ctx.config.lifetimes)
        .await
        .unwrap();
    assert_eq!(pruned.carts, 2);
}

#[tokio::test]
async fn a_malformed_cart_token_is_refused() {
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 5).await;
    let resp = shop.guest_add(Some("not-a-token"), &tea, 1).await;
    let problem = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(problem["errors"][0]["field"], "X-Cart-Token");
    // A well-formed token that names no cart is not found, never someone's cart.
    let unknown = "A".repeat(43);
    assert_problem(
        shop.guest_add(Some(&unknown), &tea, 1).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn in_cookie_mode_the_guest_cart_rides_an_http_only_cookie() {
    // Staff stock the shop through a Bearer instance; shoppers use a cookie-mode one.
    let shop = Shop::new().await;
    let tea = shop.product("TEA", 10).await;
    let cookies = [("AUTH_COOKIES", "true"), ("AUTH_COOKIE_SECURE", "false")];
    let app = TestApp::spawn_on(shop.app.db.clone(), &cookies, poem::Route::new()).await;
    app.register("cookie@example.com").await;
    let add = |cookie: Option<String>| {
        let mut rb = app
            .request(Method::POST, "/api/v1/cart/items")
            .json(&json!({"variant_id": tea["variants"][0]["id"], "quantity": 1}));
        if let Some(cookie) = cookie {
            rb = rb.header("cookie", cookie);
        }
        rb.send()
    };
    let opened = add(None).await.unwrap();
    let set = common::cookie_value(&opened, "swift_cart").expect("the cart cookie is set");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let pair = set.split(';').next().unwrap().to_owned();
    // The cookie alone finds the cart again.
    let again: Value = add(Some(pair.clone())).await.unwrap().json().await.unwrap();
    assert_eq!(lines(&again), [("TEA".into(), 2)]);
    // Signing in with it merges the cart and expires the cookie.
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("cookie", pair)
        .json(&json!({"email": "cookie@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cleared = common::cookie_value(&resp, "swift_cart").expect("the cart cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["cart"]["merged"], 1);
}
