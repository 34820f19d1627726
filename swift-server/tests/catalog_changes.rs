//! Cached catalog reads across instances (#14): a change reaches every instance's caches
//! within a second, drops only what it affects, and a sale that sells nothing out changes
//! nothing cached (product pages read stock live).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, variant_path, within};
use poem::Route;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::postgres::PgListener;

const ADDRESS: &str = r#"{"shipping_address": {"full_name": "Ada Buyer", "line1": "1 Main St",
    "city": "Springfield", "postal_code": "12345", "country": "US"}}"#;

/// Two instances on one database, both listening for catalog changes.
async fn two_instances() -> (TestApp, TestApp) {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(Arc::clone(&a.db), &[], Route::new()).await;
    for app in [&a, &b] {
        within(Duration::from_secs(5), || async {
            app.ctx.catalog_changes.is_listening()
        })
        .await;
    }
    (a, b)
}

/// Waits until `app` has applied every catalog notification sent so far: notifications
/// arrive in commit order, so once a harmless one sent now is applied, so are all before.
async fn settle(app: &TestApp) {
    let changes = &app.ctx.catalog_changes;
    let before = changes.generation();
    notify_nothing(app).await;
    within(Duration::from_secs(5), || async {
        changes.generation() > before
    })
    .await;
}

/// A change of no product in no facet: it affects no cached answer.
const NOTHING: &str = r#"{"products": ["00000000-0000-0000-0000-000000000000"],
    "categories": [], "prices": [], "price": false, "stock": false, "text": false}"#;

async fn notify_nothing(app: &TestApp) {
    sqlx::query("SELECT pg_notify('catalog_changed', $1)")
        .bind(NOTHING)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// Runs `sql` with the catalog triggers off: no instance hears of it, so an instance that
/// still answers as before answers from its cache.
async fn behind_the_triggers(app: &TestApp, sql: &str) {
    let mut tx = app.db.pool.begin().await.unwrap();
    for table in ["products", "product_variants", "stock_levels"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} DISABLE TRIGGER USER"
        )))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *tx)
        .await
        .unwrap();
    for table in ["products", "product_variants", "stock_levels"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} ENABLE TRIGGER USER"
        )))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let page: Value = app
        .get_json(&format!("/api/v1/products{query}"), None)
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn buy(app: &TestApp, email: &str, product: &Value, quantity: i64) {
    let token = app.access_token(email).await;
    assert_eq!(
        app.add_to_cart(&token, product, quantity).await.status(),
        201
    );
    let body: Value = serde_json::from_str(ADDRESS).unwrap();
    let resp = app.post("/api/v1/orders", Some(&token), body).await;
    assert_eq!(resp.status(), 201, "checkout");
}

async fn category(app: &TestApp, staff: &str, name: &str) -> Value {
    let resp = app
        .post(
            "/api/v1/admin/categories",
            Some(staff),
            json!({"name": name}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

async fn product_in(
    app: &TestApp,
    staff: &str,
    name: &str,
    category: &Value,
    price: &str,
) -> Value {
    let body = json!({"name": name, "category_id": category["id"],
        "variants": [{"sku": name.to_uppercase(), "price": price, "stock": 5}]});
    let resp = app.post("/api/v1/admin/products", Some(staff), body).await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_sell_out_on_one_instance_leaves_the_others_in_stock_listing_within_a_second() {
    let (a, b) = two_instances().await;
    let staff = b.staff_token("staff@shop.example").await;
    let last = b.create_product(&staff, "LAST-1", "5.00", 1).await;
    b.create_product(&staff, "MANY-1", "6.00", 9).await;
    settle(&a).await;
    let in_stock = "?in_stock=true&ordering=price";
    assert_eq!(
        names(&a, in_stock).await,
        ["Product LAST-1", "Product MANY-1"]
    );
    // A answers from its cache: a change no instance hears of is not seen.
    behind_the_triggers(&a, "UPDATE products SET name = name || ' (renamed)'").await;
    assert_eq!(
        names(&a, in_stock).await,
        ["Product LAST-1", "Product MANY-1"]
    );

    buy(&b, "buyer@shop.example", &last, 1).await;
    within(Duration::from_secs(1), || async {
        names(&a, in_stock).await == ["Product MANY-1 (renamed)"]
    })
    .await;
    // The product page says so at once on both, and still shows the product.
    for app in [&a, &b] {
        let page: Value = app
            .get_json(
                &format!("/api/v1/products/{}", last["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(page["in_stock"], false);
        assert_eq!(page["variants"][0]["stock"], 0);
    }
}

#[tokio::test]
async fn a_price_edit_is_seen_by_both_instances_within_a_second() {
    let (a, b) = two_instances().await;
    let staff = b.staff_token("staff@shop.example").await;
    let tea = b.create_product(&staff, "TEA-1", "3.00", 5).await;
    let path = format!("/api/v1/products/{}", tea["id"].as_str().unwrap());
    settle(&a).await;
    settle(&b).await;
    for app in [&a, &b] {
        let page: Value = app.get_json("/api/v1/products?max_price=3.00", None).await;
        assert_eq!(page["total"], 1);
        let detail: Value = app.get_json(&path, None).await;
        assert_eq!(detail["price_min"], "3.00");
    }
    let resp = b
        .send_json(
            Method::PATCH,
            &variant_path(&tea),
            Some(&staff),
            json!({"price": "3.50"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // The instance that wrote sees it on its next request.
    let page: Value = b.get_json("/api/v1/products?max_price=3.00", None).await;
    assert_eq!(page["total"], 0);
    let detail: Value = b.get_json(&path, None).await;
    assert_eq!(detail["price_min"], "3.50");
    // The other within a second.
    within(Duration::from_secs(1), || async {
        let page: Value = a.get_json("/api/v1/products?max_price=3.00", None).await;
        let detail: Value = a.get_json(&path, None).await;
        page["total"] == 0 && detail["price_min"] == "3.50"
    })
    .await;
}

/// A price edit drops the answers it can change, and keeps the others: a listing of
/// another category, a price range that never held the prices, a search.
#[tokio::test]
async fn a_price_edit_keeps_the_answers_it_cannot_change() {
    let (a, b) = two_instances().await;
    let staff = b.staff_token("staff@shop.example").await;
    let teas = category(&b, &staff, "Teas").await;
    let mugs = category(&b, &staff, "Mugs").await;
    let green = product_in(&b, &staff, "Green", &teas, "4.00").await;
    product_in(&b, &staff, "Stoneware", &mugs, "20.00").await;
    settle(&a).await;
    let kept = [
        "?category=mugs&ordering=price",
        "?min_price=10.00&max_price=30.00",
        "?q=stoneware",
    ];
    let dropped = ["?category=teas&ordering=price", "?ordering=-price"];
    settle(&b).await;
    for app in [&a, &b] {
        for query in kept.iter().chain(&dropped) {
            let expected = 1 + usize::from(*query == "?ordering=-price");
            assert_eq!(names(app, query).await.len(), expected);
        }
    }
    behind_the_triggers(&a, "UPDATE products SET name = name || '*'").await;

    let resp = b
        .send_json(
            Method::PATCH,
            &variant_path(&green),
            Some(&staff),
            json!({"price": "4.50"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    within(Duration::from_secs(1), || async {
        names(&a, "?category=teas&ordering=price").await == ["Green*"]
    })
    .await;
    assert_eq!(
        names(&a, "?ordering=-price").await,
        ["Stoneware*", "Green*"]
    );
    // The instance that wrote drops the same answers at once, and keeps the same others.
    assert_eq!(names(&b, "?category=teas&ordering=price").await, ["Green*"]);
    for app in [&a, &b] {
        for query in kept {
            assert_eq!(names(app, query).await, ["Stoneware"], "{query} was kept");
        }
    }
}

/// A price that moves within a price range changes neither which products the range holds
/// nor how many: a listing of it that does not order by price keeps its cached answer on
/// every instance (the trigger says how each price moved), while the same range ordered
/// by price is dropped. A price that leaves the range drops both.
#[tokio::test]
async fn a_price_moving_within_a_range_keeps_its_count_and_unordered_pages() {
    let (a, b) = two_instances().await;
    let staff = b.staff_token("staff@shop.example").await;
    let moving = b.create_product(&staff, "MOVING-1", "4.00", 5).await;
    b.create_product(&staff, "NEWER-1", "5.00", 5).await;
    settle(&a).await;
    settle(&b).await;
    // Newest first, one a page: the first page shows the newer product only.
    let unordered = "?min_price=2.00&max_price=10.00&page_size=1";
    let by_price = "?min_price=2.00&max_price=10.00&ordering=price";
    let total = async |app: &TestApp| {
        let page: Value = app
            .get_json(&format!("/api/v1/products{unordered}"), None)
            .await;
        (
            page["total"].as_i64().unwrap(),
            page["items"][0]["name"].clone(),
        )
    };
    for app in [&a, &b] {
        assert_eq!(total(app).await, (2, json!("Product NEWER-1")));
        assert_eq!(names(app, by_price).await.len(), 2);
    }
    behind_the_triggers(&a, "UPDATE products SET name = name || '*'").await;
    let edit = async |price: &str| {
        let resp = b
            .send_json(
                Method::PATCH,
                &variant_path(&moving),
                Some(&staff),
                json!({"price": price}),
            )
            .await;
        assert_eq!(resp.status(), 200);
    };

    edit("4.50").await;
    settle(&a).await;
    for app in [&a, &b] {
        assert_eq!(
            names(app, by_price).await,
            ["Product MOVING-1*", "Product NEWER-1*"]
        );
        assert_eq!(total(app).await, (2, json!("Product NEWER-1")), "kept");
    }

    edit("12.00").await;
    settle(&a).await;
    for app in [&a, &b] {
        assert_eq!(total(app).await, (1, json!("Product NEWER-1*")), "dropped");
    }
}

/// A sale that leaves stock sends no notification at all (the stock trigger's WHEN), keeps
/// every cached listing on the instance that sold, and the product page shows the new
/// stock at once: it reads stock live.
#[tokio::test]
async fn a_sale_that_leaves_stock_changes_nothing_cached() {
    let (a, _b) = two_instances().await;
    let staff = a.staff_token("staff@shop.example").await;
    let mug = a.create_product(&staff, "MUG-1", "9.00", 5).await;
    let path = format!("/api/v1/products/{}", mug["id"].as_str().unwrap());
    settle(&a).await;
    assert_eq!(names(&a, "?in_stock=true").await, ["Product MUG-1"]);
    let before: Value = a.get_json(&path, None).await;
    assert_eq!(before["variants"][0]["stock"], 5);
    behind_the_triggers(&a, "UPDATE products SET name = 'Renamed'").await;

    let mut listener = PgListener::connect_with(&a.db.pool).await.unwrap();
    listener.listen("catalog_changed").await.unwrap();
    buy(&a, "buyer@shop.example", &mug, 2).await;
    notify_nothing(&a).await;
    let first = listener.recv().await.unwrap();
    assert_eq!(first.payload(), NOTHING, "the sale sent nothing before it");

    assert_eq!(names(&a, "?in_stock=true").await, ["Product MUG-1"], "kept");
    let after: Value = a.get_json(&path, None).await;
    assert_eq!(after["name"], "Product MUG-1", "the product page is cached");
    assert_eq!(after["variants"][0]["stock"], 3, "but its stock is live");
    assert_ne!(
        after["variants"][0]["stock"],
        before["variants"][0]["stock"]
    );
}
