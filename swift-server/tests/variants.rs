//! Products with options and variants, over HTTP: the storefront's view of them, staff
//! managing them, and carts, checkout and orders per variant.

mod common;

use common::{Shop, TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

impl Shop {
    async fn create(&self, body: Value) -> Value {
        let resp = self
            .app
            .post("/api/v1/admin/products", Some(&self.staff), body.clone())
            .await;
        assert_eq!(resp.status(), 201, "create {body}");
        resp.json().await.unwrap()
    }

    /// A shirt in sizes and colours: S/Red 20.00 (none left), M/Red 25.00 (3), L/Blue 30.00
    /// (was 40.00, 5 left).
    async fn shirt(&self) -> Value {
        self.create(json!({
            "name": "Linen Shirt",
            "description": "Washed linen.",
            "options": [{"name": "Size", "values": ["S", "M", "L"]},
                        {"name": "Colour", "values": ["Red", "Blue"]}],
            "variants": [
                {"sku": "SH-S-RED", "price": "20.00", "stock": 0,
                 "options": [{"name": "Size", "value": "S"}, {"name": "Colour", "value": "Red"}]},
                {"sku": "SH-M-RED", "price": "25.00", "stock": 3,
                 "options": [{"name": "Colour", "value": "Red"}, {"name": "Size", "value": "M"}]},
                {"sku": "SH-L-BLUE", "price": "30.00", "compare_at_price": "40.00", "stock": 5,
                 "images": [{"url": "https://cdn.example/blue.jpg", "alt": "Blue"}],
                 "options": [{"name": "Size", "value": "L"}, {"name": "Colour", "value": "Blue"}]}
            ]
        }))
        .await
    }

    async fn mug(&self) -> Value {
        self.app
            .create_product(&self.staff, "MUG-1", "22.00", 1)
            .await
    }

    /// The slugs a storefront listing shows.
    async fn listed(&self, query: &str) -> Vec<String> {
        let page: Value = self
            .app
            .get_json(&format!("/api/v1/products{query}"), None)
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["slug"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> reqwest::Response {
        self.app
            .send_json(method, path, Some(&self.staff), body)
            .await
    }

    async fn stock(&self, variant: &Value) -> i32 {
        sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE variant_id = $1::uuid")
            .bind(variant["id"].as_str().unwrap())
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap()
    }
}

fn variant<'a>(product: &'a Value, sku: &str) -> &'a Value {
    product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == sku)
        .unwrap_or_else(|| panic!("no variant {sku} in {product}"))
}

fn admin_path(product: &Value) -> String {
    format!("/api/v1/admin/products/{}", product["id"].as_str().unwrap())
}

fn variant_path(product: &Value, sku: &str) -> String {
    format!(
        "{}/variants/{}",
        admin_path(product),
        variant(product, sku)["id"].as_str().unwrap()
    )
}

fn order_body() -> Value {
    json!({"shipping_address": {"full_name": "Ada Lovelace", "line1": "12 Analytical Street",
           "city": "London", "postal_code": "N1 7AA", "country": "GB"}})
}

#[tokio::test]
async fn a_product_lists_once_with_its_price_range_and_filters_look_at_variants() {
    let shop = Shop::new().await;
    let shirt = shop.shirt().await;
    shop.mug().await;

    assert_eq!(
        shirt["options"][0],
        json!({"name": "Size", "values": ["S", "M", "L"]})
    );
    let m = variant(&shirt, "SH-M-RED");
    assert_eq!(
        m["options"],
        json!([{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Red"}]),
        "named values come in the options' order, whatever order they were sent in"
    );
    let l = variant(&shirt, "SH-L-BLUE");
    assert_eq!(l["compare_at_price"], "40.00");
    assert_eq!(l["images"][0]["alt"], "Blue");
    assert_eq!(variant(&shirt, "SH-S-RED")["in_stock"], false);

    let page: Value = shop.app.get_json("/api/v1/products", None).await;
    assert_eq!(page["total"], 2, "each product once, not each variant");
    let listed = &page["items"][1];
    assert_eq!(listed["slug"], "linen-shirt");
    assert_eq!(
        (&listed["price_min"], &listed["price_max"]),
        (&json!("20.00"), &json!("30.00"))
    );
    assert_eq!(listed["in_stock"], true);
    assert!(listed.get("variants").is_none(), "listings stay light");

    // Without a price filter, `price` orders by the lowest price; with one, by the lowest
    // price among the variants that match.
    assert_eq!(
        shop.listed("?ordering=price").await,
        ["linen-shirt", "product-mug-1"]
    );
    assert_eq!(
        shop.listed("?min_price=21.00&ordering=price").await,
        ["product-mug-1", "linen-shirt"]
    );
    assert_eq!(
        shop.listed("?min_price=21.00&ordering=-price").await,
        ["linen-shirt", "product-mug-1"]
    );
    assert_eq!(shop.listed("?min_price=26.00").await, ["linen-shirt"]);
    assert_eq!(shop.listed("?max_price=21.00").await, ["linen-shirt"]);
    // The one variant at 21.00 or less has no stock: stock and price must hold together.
    assert!(
        shop.listed("?max_price=21.00&in_stock=true")
            .await
            .is_empty()
    );
    assert_eq!(
        shop.listed("?in_stock=true&max_price=26.00&ordering=price")
            .await,
        ["product-mug-1", "linen-shirt"]
    );
    assert!(shop.listed("?in_stock=false").await.is_empty());

    // Search covers variant SKUs (exact first) and option values.
    assert_eq!(shop.listed("?q=blue").await, ["linen-shirt"]);
    assert_eq!(shop.listed("?q=sh-m-red").await, ["linen-shirt"]);
    assert_eq!(shop.listed("?q=MUG-1").await, ["product-mug-1"]);

    // The storefront's detail carries the options and the active variants.
    let detail: Value = shop
        .app
        .get_json("/api/v1/products/linen-shirt", None)
        .await;
    assert_eq!(detail["variants"].as_array().unwrap().len(), 3);
    assert_eq!(detail["options"], shirt["options"]);
}

#[tokio::test]
async fn staff_manage_variants_and_options_within_the_rules() {
    let shop = Shop::new().await;
    let shirt = shop.shirt().await;
    let variants = format!("{}/variants", admin_path(&shirt));
    let new = |sku: &str, size: &str, colour: &str| {
        json!({"sku": sku, "price": "26.00", "stock": 2,
               "options": [{"name": "Size", "value": size}, {"name": "Colour", "value": colour}]})
    };

    // A new variant: distinct option values, values of the options, every option named.
    let resp = shop
        .app
        .post(&variants, Some(&shop.staff), new("SH-M-BLUE", "M", "Blue"))
        .await;
    assert_eq!(resp.status(), 201);
    let shirt: Value = resp.json().await.unwrap();
    assert_eq!(shirt["variants"].as_array().unwrap().len(), 4);
    let same = shop
        .app
        .post(
            &variants,
            Some(&shop.staff),
            new("SH-M-BLUE-2", "M", "Blue"),
        )
        .await;
    assert_problem(same, 409, "variant_options_taken").await;
    let taken = shop
        .app
        .post(&variants, Some(&shop.staff), new("SH-M-RED", "S", "Blue"))
        .await;
    assert_problem(taken, 409, "sku_taken").await;
    let unknown = shop
        .app
        .post(&variants, Some(&shop.staff), new("SH-XL", "XL", "Blue"))
        .await;
    let problem = assert_problem(unknown, 400, "validation_error").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("\"XL\" is not a value"),
        "{problem}"
    );
    let partial =
        json!({"sku": "SH-S", "price": "1.00", "options": [{"name": "Size", "value": "S"}]});
    let resp = shop.app.post(&variants, Some(&shop.staff), partial).await;
    assert_problem(resp, 400, "validation_error").await;

    // Variant updates: price and compare-at price keep their order, the stock is a movement.
    let m_red = variant_path(&shirt, "SH-M-RED");
    let low = shop
        .send(Method::PATCH, &m_red, json!({"compare_at_price": "24.00"}))
        .await;
    assert_problem(low, 400, "validation_error").await;
    let resp = shop
        .send(
            Method::PATCH,
            &m_red,
            json!({"price": "19.00", "compare_at_price": "24.00", "stock": 9}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let shirt: Value = resp.json().await.unwrap();
    let m = variant(&shirt, "SH-M-RED");
    assert_eq!(
        (&m["price"], &m["compare_at_price"], &m["stock"]),
        (&json!("19.00"), &json!("24.00"), &json!(9))
    );
    assert_eq!(shirt["price_min"], "19.00");
    let ledger: (i32, String) = sqlx::query_as(
        "SELECT delta, reason::text FROM inventory_movements WHERE variant_id = $1::uuid ORDER BY id DESC LIMIT 1",
    )
    .bind(m["id"].as_str().unwrap())
    .fetch_one(&shop.app.db.pool)
    .await
    .unwrap();
    assert_eq!(ledger, (6, "staff_set".to_owned()));
    // Stock adjustments are per variant.
    let resp = shop
        .app
        .post(
            &format!("{m_red}/stock"),
            Some(&shop.staff),
            json!({"delta": -10, "reason": "count"}),
        )
        .await;
    assert_problem(resp, 409, "insufficient_stock").await;

    // Archiving a variant takes it off the storefront; staff still see it.
    let l_blue = variant_path(&shirt, "SH-L-BLUE");
    assert_eq!(shop.app.delete(&l_blue, &shop.staff).await.status(), 204);
    let detail: Value = shop
        .app
        .get_json("/api/v1/products/linen-shirt", None)
        .await;
    let skus: Vec<&str> = detail["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["SH-S-RED", "SH-M-RED", "SH-M-BLUE"]);
    assert_eq!(detail["price_max"], "26.00");
    assert!(shop.listed("?min_price=27.00").await.is_empty());
    let staff_view: Value = shop
        .app
        .get_json(&admin_path(&shirt), Some(&shop.staff))
        .await;
    assert_eq!(staff_view["variants"].as_array().unwrap().len(), 4);
    assert_eq!(variant(&staff_view, "SH-L-BLUE")["is_active"], false);
    let customer = shop.app.access_token("nosy@example.com").await;
    let resp = shop.app.get(&admin_path(&shirt), Some(&customer)).await;
    assert_problem(resp, 403, "permission_denied").await;

    // Options: a value still held (by the archived L/Blue) cannot go; new values and names can.
    let path = admin_path(&shirt);
    let resp = shop
        .send(Method::PATCH, &path, json!({"options": [{"name": "Size", "values": ["S", "M"]},
                                                       {"name": "Colour", "values": ["Red", "Blue"]}]}))
        .await;
    assert_problem(resp, 409, "option_value_in_use").await;
    let resp = shop
        .send(Method::PATCH, &path, json!({"options": [{"name": "Size", "values": ["S", "M", "L", "XL"]},
                                                       {"name": "Color", "values": ["Red", "Blue"]},
                                                       {"name": "Fit", "values": ["Regular", "Slim"]}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let shirt: Value = resp.json().await.unwrap();
    assert_eq!(
        variant(&shirt, "SH-S-RED")["options"],
        json!([{"name": "Size", "value": "S"}, {"name": "Color", "value": "Red"},
               {"name": "Fit", "value": "Regular"}]),
        "an option added at the end gives every variant its first value"
    );
    // Dropping Color would make M/Red and M/Blue the same variant.
    let resp = shop
        .send(
            Method::PATCH,
            &path,
            json!({"options": [{"name": "Size", "values": ["S", "M", "L", "XL"]}]}),
        )
        .await;
    assert_problem(resp, 409, "variant_options_taken").await;
    // Dropping Fit is fine.
    let resp = shop
        .send(Method::PATCH, &path, json!({"options": [{"name": "Size", "values": ["S", "M", "L", "XL"]},
                                                       {"name": "Color", "values": ["Red", "Blue"]}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let shirt: Value = resp.json().await.unwrap();
    assert_eq!(variant(&shirt, "SH-M-BLUE")["options"][1]["value"], "Blue");
    assert_eq!(
        variant(&shirt, "SH-M-BLUE")["options"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The product's own price is gone: sending it is refused by name, not ignored.
    let resp = shop
        .send(Method::PATCH, &path, json!({"price": "5.00", "stock": 3}))
        .await;
    let problem = assert_problem(resp, 400, "validation_error").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["price", "stock"], "{problem}");
    assert_eq!(
        problem["errors"][0]["message"],
        "is not a field of this request"
    );
    // A product needs a variant; options are few, with distinct values.
    let none = shop
        .app
        .post(
            "/api/v1/admin/products",
            Some(&shop.staff),
            json!({"name": "Nothing", "variants": []}),
        )
        .await;
    assert_problem(none, 400, "validation_error").await;
    let twice = json!({"name": "Twice", "options": [{"name": "Size", "values": ["S", "S"]}],
                       "variants": [{"sku": "TW-1", "price": "1.00", "options": [{"name": "Size", "value": "S"}]}]});
    let resp = shop
        .app
        .post("/api/v1/admin/products", Some(&shop.staff), twice)
        .await;
    assert_problem(resp, 400, "validation_error").await;
    // A variant of another product is not found under this one.
    let mug = shop.mug().await;
    let foreign = format!(
        "{}/variants/{}",
        admin_path(&mug),
        variant(&shirt, "SH-M-RED")["id"].as_str().unwrap()
    );
    assert_problem(
        shop.send(Method::PATCH, &foreign, json!({"price": "1.00"}))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn orders_snapshot_the_variant_its_option_values_and_price() {
    let shop = Shop::new().await;
    let shirt = shop.shirt().await;
    let token = shop.app.access_token("buyer@example.com").await;
    let m = variant(&shirt, "SH-M-RED").clone();
    let resp = shop
        .app
        .post(
            "/api/v1/cart/items",
            Some(&token),
            json!({"variant_id": m["id"], "quantity": 2}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let cart: Value = resp.json().await.unwrap();
    let line = &cart["items"][0]["product"];
    assert_eq!(
        (&line["id"], &line["variant_id"], &line["sku"]),
        (&shirt["id"], &m["id"], &json!("SH-M-RED"))
    );
    assert_eq!(line["options"][0], json!({"name": "Size", "value": "M"}));
    assert_eq!(cart["subtotal"], "50.00");

    let resp = shop
        .app
        .post("/api/v1/orders", Some(&token), order_body())
        .await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    let item = &order["items"][0];
    assert_eq!(
        (&item["product_id"], &item["variant_id"]),
        (&shirt["id"], &m["id"])
    );
    assert_eq!(
        (&item["sku"], &item["name"], &item["unit_price"]),
        (&json!("SH-M-RED"), &json!("Linen Shirt"), &json!("25.00"))
    );
    assert_eq!(
        item["options"],
        json!([{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Red"}])
    );
    assert_eq!(shop.stock(&m).await, 1);

    // Later changes to the variant, its options and the product leave the order as it was.
    shop.send(
        Method::PATCH,
        &variant_path(&shirt, "SH-M-RED"),
        json!({"price": "99.00", "sku": "SH-M-RED-2"}),
    )
    .await;
    shop.send(Method::PATCH, &admin_path(&shirt), json!({"name": "Renamed",
            "options": [{"name": "Fit", "values": ["S", "M", "L"]}, {"name": "Shade", "values": ["Red", "Blue"]}]}))
        .await;
    let path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    let again: Value = shop.app.get_json(&path, Some(&token)).await;
    assert_eq!(again["items"], order["items"]);

    // Cancelling gives the stock back to that variant.
    let resp = shop
        .app
        .post(&format!("{path}/cancel"), Some(&token), json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(shop.stock(&m).await, 3);

    // An archived variant cannot be added; one archived after adding fails checkout by name.
    let l = variant(&shirt, "SH-L-BLUE").clone();
    let resp = shop
        .app
        .post(
            "/api/v1/cart/items",
            Some(&token),
            json!({"variant_id": l["id"], "quantity": 1}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        shop.app
            .delete(&variant_path(&shirt, "SH-L-BLUE"), &shop.staff)
            .await
            .status(),
        204
    );
    let cart: Value = shop.app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(cart["items"][0]["unavailable_reason"], "archived");
    let problem = assert_problem(
        shop.app
            .post("/api/v1/orders", Some(&token), order_body())
            .await,
        409,
        "insufficient_stock",
    )
    .await;
    assert_eq!(problem["lines"][0]["variant_id"], l["id"]);
    assert_eq!(problem["lines"][0]["available"], 0);
    let resp = shop
        .app
        .post(
            "/api/v1/cart/items",
            Some(&token),
            json!({"variant_id": l["id"], "quantity": 1}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
}

/// Fifty buyers race for the last 10 of one variant while twenty buy another variant of the
/// same product: exactly 10 orders of the first, all twenty of the second, nothing oversold.
#[tokio::test]
async fn a_fifty_way_race_on_one_variant_sells_exactly_its_stock_beside_another_variant() {
    let shop = Shop::new().await;
    let tee = shop
        .create(json!({
            "name": "Tee",
            "options": [{"name": "Size", "values": ["M", "L"]}],
            "variants": [
                {"sku": "TEE-M", "price": "15.00", "stock": 10, "options": [{"name": "Size", "value": "M"}]},
                {"sku": "TEE-L", "price": "15.00", "stock": 20, "options": [{"name": "Size", "value": "L"}]}
            ]
        }))
        .await;
    let (m, l) = (
        variant(&tee, "TEE-M").clone(),
        variant(&tee, "TEE-L").clone(),
    );
    let mut buyers = Vec::new();
    for n in 0..70 {
        let token = shop
            .app
            .access_token(&format!("racer{n}@example.com"))
            .await;
        let wanted = if n < 50 { &m } else { &l };
        let resp = shop
            .app
            .post(
                "/api/v1/cart/items",
                Some(&token),
                json!({"variant_id": wanted["id"], "quantity": 1}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        buyers.push((token, wanted["sku"].as_str().unwrap().to_owned()));
    }
    let mut tasks = Vec::new();
    for (token, sku) in buyers {
        let (client, url) = (shop.app.client.clone(), shop.app.url("/api/v1/orders"));
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&order_body())
                .send()
                .await
                .unwrap();
            (
                sku,
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap(),
            )
        }));
    }
    let (mut sold_m, mut sold_l) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (sku, 201, _) if sku == "TEE-M" => sold_m += 1,
            (sku, 201, _) if sku == "TEE-L" => sold_l += 1,
            (sku, 409, body) if sku == "TEE-M" => assert_eq!(body["code"], "insufficient_stock"),
            (sku, status, body) => panic!("{sku}: unexpected {status}: {body}"),
        }
    }
    assert_eq!((sold_m, sold_l), (10, 20));
    assert_eq!((shop.stock(&m).await, shop.stock(&l).await), (0, 0));
    let moved: i64 = sqlx::query_scalar(
        "SELECT -sum(delta) FROM inventory_movements WHERE reason = 'order_placed'",
    )
    .fetch_one(&shop.app.db.pool)
    .await
    .unwrap();
    assert_eq!(moved, 30, "the ledger holds every unit sold");
}

/// A shop on the schema before variants (one SKU, price and stock per product), with a
/// product in a cart and in an order, is migrated: every product becomes one variant with
/// its own id, SKU, price and stock, and the cart line, the order line and the ledger follow.
#[tokio::test]
async fn migrating_a_shop_to_variants_keeps_products_carts_and_orders() {
    let db = swift_core::testing::TestDb::new().await;
    let pool = &db.pool;
    // Back to the schema before variants.
    swift_core::db::MIGRATOR
        .undo(pool, 20261125000300)
        .await
        .unwrap();
    for statement in [
        "INSERT INTO users (id, email, password_hash) VALUES ('00000000-0000-7000-8000-000000000001', 'old@example.com', 'x')",
        "INSERT INTO products (id, slug, sku, name, price) VALUES \
           ('00000000-0000-7000-8000-0000000000a1', 'old-mug', 'OLD-MUG', 'Old Mug', 12.50), \
           ('00000000-0000-7000-8000-0000000000a2', 'old-cup', 'OLD-CUP', 'Old Cup', 3.00)",
        "INSERT INTO stock_levels (product_id, on_hand) VALUES \
           ('00000000-0000-7000-8000-0000000000a1', 7), ('00000000-0000-7000-8000-0000000000a2', 0)",
        "INSERT INTO inventory_movements (product_id, delta, stock_after, reason) VALUES \
           ('00000000-0000-7000-8000-0000000000a1', 9, 9, 'initial_stock'), \
           ('00000000-0000-7000-8000-0000000000a1', -2, 7, 'order_placed')",
        "INSERT INTO carts (user_id) VALUES ('00000000-0000-7000-8000-000000000001')",
        "INSERT INTO cart_items (id, user_id, product_id, quantity) VALUES \
           (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-0000000000a2', 4)",
        "INSERT INTO orders (id, number, user_id, status, subtotal, total, currency, shipping_address) VALUES \
           ('00000000-0000-7000-8000-0000000000b1', 'SW-100001', '00000000-0000-7000-8000-000000000001', \
            'pending', 25.00, 25.00, 'USD', '{}')",
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status, body) VALUES \
           ('00000000-0000-7000-8000-000000000001', 'order-1', '\\x00', 201, '{}')",
        "INSERT INTO order_items (order_id, line, product_id, sku, name, unit_price, quantity, line_total) VALUES \
           ('00000000-0000-7000-8000-0000000000b1', 1, '00000000-0000-7000-8000-0000000000a1', 'OLD-MUG', 'Old Mug', 12.50, 2, 25.00)",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }

    swift_core::db::migrate(pool).await.unwrap();

    let variants: Vec<(String, String, String, String, i32)> = sqlx::query_as(
        "SELECT v.id::text, v.product_id::text, v.sku, v.price::text, s.on_hand \
         FROM product_variants v JOIN stock_levels s ON s.variant_id = v.id ORDER BY v.sku",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let (cup, mug) = (
        "00000000-0000-7000-8000-0000000000a2".to_owned(),
        "00000000-0000-7000-8000-0000000000a1".to_owned(),
    );
    assert_eq!(
        variants,
        vec![
            (cup.clone(), cup.clone(), "OLD-CUP".into(), "3.00".into(), 0),
            (
                mug.clone(),
                mug.clone(),
                "OLD-MUG".into(),
                "12.50".into(),
                7
            ),
        ]
    );
    let summary: (String, String, String) = sqlx::query_as(
        "SELECT price_min::text, price_max::text, variant_skus FROM products WHERE slug = 'old-mug'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(summary, ("12.50".into(), "12.50".into(), "OLD-MUG".into()));
    let cart: (String, i32, String) = sqlx::query_as(
        "SELECT ci.variant_id::text, ci.quantity, c.user_id::text \
         FROM cart_items ci JOIN carts c ON c.id = ci.cart_id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let owner = "00000000-0000-7000-8000-000000000001".to_owned();
    assert_eq!(
        cart,
        (cup, 4, owner.clone()),
        "the cart line stays its owner's"
    );
    // Idempotency keys of users keep replaying for them (#15 scoped keys to callers).
    let key: (String, i32) = sqlx::query_as("SELECT scope, status FROM idempotency_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(key, (format!("user:{owner}"), 201));
    let line: (String, String, Value) =
        sqlx::query_as("SELECT product_id::text, variant_id::text, options FROM order_items")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(line, (mug.clone(), mug.clone(), json!([])));
    let ledger: (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(delta) FROM inventory_movements WHERE variant_id = $1::uuid",
    )
    .bind(&mug)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(ledger, (2, 7), "the ledger still adds up to the stock");

    // And the migrated shop works: the storefront shows the product with its variant.
    let app = TestApp::spawn_on(std::sync::Arc::new(db), &[], poem::Route::new()).await;
    let detail: Value = app.get_json("/api/v1/products/old-mug", None).await;
    assert_eq!(detail["variants"][0]["id"], json!(mug));
    assert_eq!(detail["variants"][0]["stock"], 7);
    assert_eq!(detail["price_min"], "12.50");
}

/// #14: a product's lowest in-stock price (which bounds in-stock price-range counts) follows
/// every way a variant runs out, comes back, changes price or leaves: a sale, a
/// cancellation, a staff adjustment, a price edit, an archive.
#[tokio::test]
async fn a_products_lowest_in_stock_price_follows_sales_restocks_and_edits() {
    let shop = Shop::new().await;
    let shirt = shop.shirt().await;
    let pool = &shop.app.db.pool;
    let id = shirt["id"].as_str().unwrap().to_owned();
    // The stored value, and the one the variants give now.
    let lowest = || {
        let id = id.clone();
        async move {
            sqlx::query_as::<_, (Option<String>, Option<String>)>(
                "SELECT p.in_stock_price_min::text, \
                   (SELECT min(price)::text FROM product_variants v \
                     WHERE v.product_id = p.id AND v.is_active AND v.in_stock) \
                 FROM products p WHERE p.id = $1::uuid",
            )
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
        }
    };
    let is = |price: &str| (Some(price.to_owned()), Some(price.to_owned()));
    let in_stock_between = |low: &'static str, high: &'static str| {
        let app = &shop.app;
        async move {
            let page: Value = app
                .get_json(
                    &format!("/api/v1/products?in_stock=true&min_price={low}&max_price={high}"),
                    None,
                )
                .await;
            page["total"].as_i64().unwrap()
        }
    };
    assert_eq!(lowest().await, is("25.00"), "S/Red 20.00 has none left");

    // M/Red sells out: L/Blue is the lowest left.
    let token = shop.app.access_token("buyer@example.com").await;
    let m = variant(&shirt, "SH-M-RED").clone();
    let resp = shop
        .app
        .post(
            "/api/v1/cart/items",
            Some(&token),
            json!({"variant_id": m["id"], "quantity": 3}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = shop
        .app
        .post("/api/v1/orders", Some(&token), order_body())
        .await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(lowest().await, is("30.00"));
    assert_eq!(in_stock_between("24.00", "26.00").await, 0);

    // Cancelled, the stock comes back.
    let resp = shop
        .app
        .post(
            &format!("/api/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(lowest().await, is("25.00"));
    assert_eq!(in_stock_between("24.00", "26.00").await, 1);

    // Staff restock S/Red, reprice it, then archive it.
    let s_red = variant_path(&shirt, "SH-S-RED");
    let resp = shop
        .app
        .post(
            &format!("{s_red}/stock"),
            Some(&shop.staff),
            json!({"delta": 2, "reason": "found two"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(lowest().await, is("20.00"));
    let resp = shop
        .send(Method::PATCH, &s_red, json!({"price": "22.00"}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(lowest().await, is("22.00"));
    assert_eq!(in_stock_between("21.00", "23.00").await, 1);
    assert_eq!(shop.app.delete(&s_red, &shop.staff).await.status(), 204);
    assert_eq!(lowest().await, is("25.00"));
    assert_eq!(in_stock_between("21.00", "23.00").await, 0);
}
