//! The catalog over HTTP: categories, products, search, filters, caching headers, staff.

mod common;

use common::{Shop, assert_problem, simple_product, variant_path};
use reqwest::Method;
use serde_json::{Value, json};

impl Shop {
    async fn category(&self, name: &str, parent: Option<&str>, position: i32) -> Value {
        let resp = self
            .app
            .post(
                "/api/v1/admin/categories",
                Some(&self.staff),
                json!({"name": name, "parent_id": parent, "position": position}),
            )
            .await;
        assert_eq!(resp.status(), 201, "create category {name}");
        resp.json().await.unwrap()
    }

    /// Creates a product; a flat body (`sku`, `price`, `stock`) becomes a simple product.
    async fn product(&self, body: Value) -> Value {
        let body = if body.get("variants").is_some() {
            body
        } else {
            simple_product(body)
        };
        let resp = self
            .app
            .post("/api/v1/admin/products", Some(&self.staff), body.clone())
            .await;
        assert_eq!(resp.status(), 201, "create product {body}");
        resp.json().await.unwrap()
    }

    async fn list(&self, query: &str) -> Value {
        let resp = self
            .app
            .get(&format!("/api/v1/products{query}"), None)
            .await;
        assert_eq!(resp.status(), 200, "{query}");
        resp.json().await.unwrap()
    }

    /// The listed products, each named by its first variant's sku (read from the database:
    /// listings show products, not variants).
    async fn skus(&self, query: &str) -> Vec<String> {
        let ids: Vec<uuid::Uuid> = self.list(query).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().parse().unwrap())
            .collect();
        let mut skus = Vec::new();
        for id in ids {
            let sku: String = sqlx::query_scalar(
                "SELECT sku FROM product_variants WHERE product_id = $1 ORDER BY position LIMIT 1",
            )
            .bind(id)
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap();
            skus.push(sku);
        }
        skus
    }
}

/// A simple product's body.
fn product(name: &str, sku: &str, price: &str, stock: i64, category: Option<&Value>) -> Value {
    simple_product(
        json!({"name": name, "sku": sku, "price": price, "stock": stock, "category_id": category.map(|c| c["id"].clone())}),
    )
}

#[tokio::test]
async fn categories_form_a_tree_without_cycles() {
    let shop = Shop::new().await;
    let coffee = shop.category("Coffee", None, 2).await;
    let tea = shop.category("Tea", None, 1).await;
    let beans = shop
        .category("Coffee Beans", coffee["id"].as_str(), 0)
        .await;
    assert_eq!(beans["slug"], "coffee-beans");
    assert_eq!(beans["parent_id"], coffee["id"]);

    let list: Vec<Value> = shop.app.get_json("/api/v1/categories", None).await;
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Coffee Beans", "Tea", "Coffee"],
        "by position, then name"
    );
    let got: Value = shop.app.get_json("/api/v1/categories/tea", None).await;
    assert_eq!(got["id"], tea["id"]);
    assert_problem(
        shop.app.get("/api/v1/categories/nope", None).await,
        404,
        "not_found",
    )
    .await;

    // Cycles: itself, or one of its descendants, as parent.
    let path = format!(
        "/api/v1/admin/categories/{}",
        coffee["id"].as_str().unwrap()
    );
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"parent_id": coffee["id"]}),
        )
        .await;
    assert_problem(resp, 409, "category_cycle").await;
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"parent_id": beans["id"]}),
        )
        .await;
    assert_problem(resp, 409, "category_cycle").await;
    // A legal move, then back to the top level with null.
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"parent_id": tea["id"]}),
        )
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["parent_id"], tea["id"]);
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"parent_id": null, "name": "Coffee & More"}),
        )
        .await;
    let moved: Value = resp.json().await.unwrap();
    assert!(moved.get("parent_id").is_none(), "{moved}");
    assert_eq!(moved["name"], "Coffee & More");

    // Deleting: refused while it has children or products.
    let resp = shop
        .app
        .request(Method::DELETE, &path)
        .bearer_auth(&shop.staff)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 409, "category_in_use").await;
    shop.product(product("Espresso", "ESP-1", "9.50", 3, Some(&beans)))
        .await;
    let beans_path = format!("/api/v1/admin/categories/{}", beans["id"].as_str().unwrap());
    let resp = shop
        .app
        .request(Method::DELETE, &beans_path)
        .bearer_auth(&shop.staff)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 409, "category_in_use").await;
    let tea_path = format!("/api/v1/admin/categories/{}", tea["id"].as_str().unwrap());
    let resp = shop
        .app
        .request(Method::DELETE, &tea_path)
        .bearer_auth(&shop.staff)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_problem(
        shop.app.get("/api/v1/categories/tea", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn products_get_unique_slugs_skus_and_exact_prices() {
    let shop = Shop::new().await;
    let a = shop
        .product(product("Café Crème", "CC-1", "12.50", 5, None))
        .await;
    assert_eq!(a["slug"], "cafe-creme");
    assert_eq!(a["price_min"], "12.50");
    assert_eq!(a["price_max"], "12.50");
    assert_eq!(a["variants"][0]["price"], "12.50");
    assert_eq!(a["options"], json!([]));
    assert_eq!(a["currency"], "USD");
    assert_eq!(a["in_stock"], true);
    assert_eq!(a["is_active"], true);
    assert!(a.get("category").is_none());
    let b = shop
        .product(product("Café Crème", "CC-2", "100.00", 0, None))
        .await;
    assert_eq!(b["slug"], "cafe-creme-2");
    assert_eq!(b["variants"][0]["price"], "100.00");
    assert_eq!(b["in_stock"], false);

    let dup_sku = shop
        .app
        .post(
            "/api/v1/admin/products",
            Some(&shop.staff),
            product("Other", "CC-1", "1.00", 1, None),
        )
        .await;
    assert_problem(dup_sku, 409, "sku_taken").await;
    let mut explicit = product("Other", "CC-3", "1.00", 1, None);
    explicit["slug"] = json!("cafe-creme");
    assert_problem(
        shop.app
            .post("/api/v1/admin/products", Some(&shop.staff), explicit)
            .await,
        409,
        "slug_taken",
    )
    .await;

    for (price, why) in [
        (json!(12.5), "a number"),
        (json!("12.5"), "one decimal"),
        (json!("-1.00"), "negative"),
    ] {
        let mut body = product("Bad", "BAD-1", "1.00", 1, None);
        body["variants"][0]["price"] = price;
        let resp = shop
            .app
            .post("/api/v1/admin/products", Some(&shop.staff), body)
            .await;
        let problem = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(problem["errors"][0]["field"], "variants[0].price", "{why}");
    }
    let mut body = product("Bad", "BAD-1", "1.00", -1, None);
    assert_problem(
        shop.app
            .post("/api/v1/admin/products", Some(&shop.staff), body.clone())
            .await,
        400,
        "validation_error",
    )
    .await;
    body["variants"][0]["stock"] = json!(1);
    body["images"] = json!([{"url": "javascript:alert(1)", "alt": "x"}]);
    assert_problem(
        shop.app
            .post("/api/v1/admin/products", Some(&shop.staff), body)
            .await,
        400,
        "validation_error",
    )
    .await;
}

#[tokio::test]
async fn products_are_found_by_id_or_slug_while_active() {
    let shop = Shop::new().await;
    let p = shop
        .product(product("Green Tea", "GT-1", "4.00", 2, None))
        .await;
    let id = p["id"].as_str().unwrap();
    for key in [id, "green-tea"] {
        let got: Value = shop
            .app
            .get_json(&format!("/api/v1/products/{key}"), None)
            .await;
        assert_eq!(got["id"], p["id"]);
    }
    let resp = shop
        .app
        .request(Method::DELETE, &format!("/api/v1/admin/products/{id}"))
        .bearer_auth(&shop.staff)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_problem(
        shop.app.get(&format!("/api/v1/products/{id}"), None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(shop.list("").await["total"], 0);
    let archived: bool = sqlx::query_scalar("SELECT NOT is_active FROM products")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert!(archived, "archived, not deleted");
}

#[tokio::test]
async fn listing_filters_orders_and_paginates() {
    let shop = Shop::new().await;
    let drinks = shop.category("Drinks", None, 0).await;
    let hot = shop.category("Hot Drinks", drinks["id"].as_str(), 0).await;
    let food = shop.category("Food", None, 0).await;
    shop.product(product("Assam Tea", "P-1", "3.00", 10, Some(&hot)))
        .await;
    shop.product(product("Cola", "P-2", "1.50", 0, Some(&drinks)))
        .await;
    shop.product(product("Bagel", "P-3", "2.25", 4, Some(&food)))
        .await;
    shop.product(product("Decaf Coffee", "P-4", "7.80", 1, Some(&hot)))
        .await;
    let hidden = shop
        .product(product("Hidden", "P-5", "5.00", 1, Some(&hot)))
        .await;
    let path = format!("/api/v1/admin/products/{}", hidden["id"].as_str().unwrap());
    shop.app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"is_active": false}),
        )
        .await;

    assert_eq!(
        shop.skus("").await,
        ["P-4", "P-3", "P-2", "P-1"],
        "newest first by default"
    );
    assert_eq!(
        shop.skus("?category=drinks&ordering=price").await,
        ["P-2", "P-1", "P-4"],
        "descendants included"
    );
    assert_eq!(
        shop.skus("?category=hot-drinks&ordering=-price").await,
        ["P-4", "P-1"]
    );
    // A category without subcategories is read through its own indexes, in every order.
    assert_eq!(
        shop.skus("?category=hot-drinks&ordering=-name").await,
        ["P-4", "P-1"]
    );
    assert_eq!(
        shop.skus("?category=hot-drinks&ordering=name").await,
        ["P-1", "P-4"]
    );
    assert_eq!(
        shop.skus("?category=hot-drinks&ordering=created_at").await,
        ["P-1", "P-4"]
    );
    assert_eq!(shop.list("?category=hot-drinks").await["total"], 2);
    assert!(shop.skus("?category=no-such-category").await.is_empty());
    assert_eq!(
        shop.skus("?min_price=2.25&max_price=3.00&ordering=price")
            .await,
        ["P-3", "P-1"]
    );
    assert_eq!(shop.skus("?in_stock=false").await, ["P-2"]);
    assert_eq!(
        shop.skus("?in_stock=true&ordering=name").await,
        ["P-1", "P-3", "P-4"]
    );
    assert_eq!(
        shop.skus("?ordering=-name").await,
        ["P-4", "P-2", "P-3", "P-1"]
    );
    assert_eq!(
        shop.skus("?ordering=created_at").await,
        ["P-1", "P-2", "P-3", "P-4"]
    );

    let page = shop.list("?page=2&page_size=3").await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["pages"].as_i64(),
            page["page"].as_i64()
        ),
        (Some(4), Some(2), Some(2))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let past = shop.list("?page=9&page_size=3").await;
    assert_eq!(past["items"].as_array().unwrap().len(), 0);
    assert_eq!(past["total"], 4);
    for bad in [
        "?page_size=0",
        "?page_size=101",
        "?page=0",
        "?min_price=2",
        "?ordering=price_up",
        "?in_stock=maybe",
        "?category=Bad%20Slug",
    ] {
        assert_problem(
            shop.app.get(&format!("/api/v1/products{bad}"), None).await,
            400,
            "validation_error",
        )
        .await;
    }
    let long = "x".repeat(201);
    assert_problem(
        shop.app
            .get(&format!("/api/v1/products?q={long}"), None)
            .await,
        400,
        "validation_error",
    )
    .await;
}

/// #14: a listing shows and counts its first 1,000 products, so no listing costs a count
/// or an offset over the whole catalog: past them `total` says "1,000+" and pages are
/// empty; a narrower listing is counted exactly.
#[tokio::test]
async fn a_listing_shows_and_counts_its_first_thousand_products() {
    let shop = Shop::new().await;
    let spec = swift_core::seed::SeedSpec {
        products: 1_200,
        categories: 12,
        users: 0,
        seed: 7,
        jobs: 2,
    };
    swift_core::seed::seed(&shop.app.ctx, spec, Default::default())
        .await
        .unwrap();
    let pool = &shop.app.db.pool;
    let listed = "FROM products p WHERE p.is_active AND p.price_min IS NOT NULL";
    let all: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {listed}")))
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(all > 1_000, "the seed lists {all} products");
    let nth = |n: i64, order: &'static str| {
        let sql = format!(
            "SELECT p.id::text {listed} ORDER BY {order} OFFSET {} LIMIT 1",
            n - 1
        );
        async move {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let first = shop.list("?page_size=30").await;
    assert_eq!(first["total"], 1_000);
    assert_eq!(first["total_exact"], false);
    assert_eq!(first["pages"], 34);
    assert_eq!(ids(&first).len(), 30);
    // The last page is cut at the 1,000th product, which is the 1,000th newest.
    let last = shop.list("?page=34&page_size=30").await;
    assert_eq!(ids(&last).len(), 10);
    assert_eq!(
        ids(&last).last().unwrap(),
        &nth(1_000, "p.created_at DESC, p.id DESC").await
    );
    let past = shop.list("?page=35&page_size=30").await;
    assert!(ids(&past).is_empty());
    assert_eq!(
        (past["total"].as_i64(), past["total_exact"].as_bool()),
        (Some(1_000), Some(false))
    );
    // A deep page is the page of a plain query in every ordering: its ids are found
    // first and only its own rows are read after (`list_page`), in the same order.
    for (ordering, order) in [
        ("price", "p.price_min, p.id"),
        ("-price", "p.price_min DESC, p.id DESC"),
        ("name", "p.name, p.id"),
        ("-name", "p.name DESC, p.id DESC"),
        ("created_at", "p.created_at, p.id"),
        ("-created_at", "p.created_at DESC, p.id DESC"),
    ] {
        let deep = shop
            .list(&format!("?ordering={ordering}&page=33&page_size=30"))
            .await;
        let expected: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT p.id::text {listed} ORDER BY {order} OFFSET 960 LIMIT 30"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(ids(&deep), expected, "{ordering}");
    }
    // The same holds under a variant filter ordered by price, which reads a price prefix.
    let by_price = shop
        .list("?min_price=0.00&max_price=99999.00&ordering=price&page=10&page_size=100")
        .await;
    assert_eq!(ids(&by_price).len(), 100);
    assert_eq!(by_price["total_exact"], false);
    assert!(
        shop.list("?min_price=0.00&max_price=99999.00&ordering=price&page=11&page_size=100")
            .await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A narrow price range is counted exactly, with the products whose lowest price is
    // below it but that have a variant in it.
    let dearer: String = sqlx::query_scalar(
        "SELECT max(v.price)::text FROM product_variants v JOIN products p ON p.id = v.product_id \
         WHERE v.is_active AND p.is_active AND v.price > p.price_min",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let in_range: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) {listed} AND EXISTS (SELECT 1 FROM product_variants v \
         WHERE v.product_id = p.id AND v.is_active AND v.price = {dearer})"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    let range = shop
        .list(&format!("?min_price={dearer}&max_price={dearer}"))
        .await;
    assert_eq!(
        (range["total"].as_i64(), range["total_exact"].as_bool()),
        (Some(in_range), Some(true))
    );

    // In stock only: counted the same way, broad or narrow.
    let stocked = shop
        .list("?min_price=0.00&max_price=99999.00&in_stock=true")
        .await;
    let all_in_stock: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) {listed} AND EXISTS (SELECT 1 FROM product_variants v \
         WHERE v.product_id = p.id AND v.is_active AND v.in_stock)"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(all_in_stock > 1_000, "the seed has {all_in_stock} in stock");
    assert_eq!(
        (stocked["total"].as_i64(), stocked["total_exact"].as_bool()),
        (Some(1_000), Some(false))
    );
    let in_stock_in_range: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) {listed} AND EXISTS (SELECT 1 FROM product_variants v \
         WHERE v.product_id = p.id AND v.is_active AND v.in_stock AND v.price = {dearer})"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    let narrow = shop
        .list(&format!(
            "?min_price={dearer}&max_price={dearer}&in_stock=true"
        ))
        .await;
    assert_eq!(narrow["total"].as_i64(), Some(in_stock_in_range));

    // A category holds fewer: its count is exact.
    let (slug, in_category): (String, i64) = sqlx::query_as(
        "SELECT c.slug, count(p.id) FROM categories c \
         JOIN products p ON p.category_id = c.id AND p.is_active AND p.price_min IS NOT NULL \
         WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id) \
         GROUP BY c.slug ORDER BY count(p.id) DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(in_category < 1_000);
    let category = shop.list(&format!("?category={slug}")).await;
    assert_eq!(category["total"], in_category);
    assert_eq!(category["total_exact"], true);
}

/// #14: a cached page ordered by price is kept when a price changes beyond it, but its
/// total still follows every change, and a price moving onto the page shows at once.
#[tokio::test]
async fn a_price_ordered_page_and_its_total_follow_price_edits() {
    let shop = Shop::new().await;
    let a = shop.product(product("Apple", "A", "10.00", 5, None)).await;
    shop.product(product("Banana", "B", "11.00", 5, None)).await;
    let c = shop.product(product("Cherry", "C", "50.00", 5, None)).await;
    let d = shop.product(product("Date", "D", "200.00", 5, None)).await;
    let query = "?min_price=5.00&max_price=100.00&ordering=price&page_size=2";
    let seen = |page: Value| {
        let skus = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        (skus, page["total"].as_i64().unwrap())
    };
    let reprice = |p: Value, price: &'static str| {
        let app = &shop.app;
        let staff = &shop.staff;
        async move {
            let resp = app
                .send_json(
                    Method::PATCH,
                    &variant_path(&p),
                    Some(staff),
                    json!({"price": price}),
                )
                .await;
            assert_eq!(resp.status(), 200);
        }
    };
    assert_eq!(
        seen(shop.list(query).await),
        (vec!["Apple".into(), "Banana".into()], 3)
    );
    // Date enters the range beyond the first page: the page is the same, the total is not.
    reprice(d, "60.00").await;
    assert_eq!(
        seen(shop.list(query).await),
        (vec!["Apple".into(), "Banana".into()], 4)
    );
    // Cherry moves onto the first page.
    reprice(c, "9.00").await;
    assert_eq!(
        seen(shop.list(query).await),
        (vec!["Cherry".into(), "Apple".into()], 4)
    );
    // Apple leaves it for a price beyond it.
    reprice(a, "70.00").await;
    assert_eq!(
        seen(shop.list(query).await),
        (vec!["Cherry".into(), "Banana".into()], 4)
    );
}

/// #14: search-as-you-type. The word being typed (the last, unless the query ends in a
/// space) matches as a prefix, still ranked; a finished word matches whole words.
#[tokio::test]
async fn the_word_being_typed_matches_as_a_prefix() {
    let shop = Shop::new().await;
    shop.product(json!({"name": "Cast-Iron Teapot", "sku": "POT-1", "price": "40.00", "stock": 5}))
        .await;
    shop.product(json!({"name": "Tea Towel", "sku": "TOW-1", "price": "6.00", "stock": 5, "description": "Dries teacups"})).await;
    shop.product(json!({"name": "Steak Knife", "sku": "KNI-1", "price": "9.00", "stock": 5}))
        .await;
    let mut tea = shop.skus("?q=tea").await;
    assert_eq!(tea[0], "TOW-1", "both names match: the newest first");
    tea.sort();
    assert_eq!(
        tea,
        ["POT-1", "TOW-1"],
        "not the knife: its words do not start so"
    );
    assert_eq!(shop.skus("?q=teap").await, ["POT-1"]);
    assert_eq!(
        shop.skus("?q=cast%20tea").await,
        ["POT-1"],
        "earlier words whole"
    );
    assert_eq!(
        shop.skus("?q=tea%20").await,
        ["TOW-1"],
        "a finished word is whole"
    );
    assert_eq!(
        shop.skus("?q=%22tea").await,
        ["TOW-1"],
        "an open phrase is not typed on"
    );
    assert!(
        shop.skus("?q=t").await.is_empty(),
        "one letter is not a prefix"
    );
}

/// #14: relevance in tiers. Name (and SKU) matches come first, newest first, unranked;
/// the products matched elsewhere follow by rank. Pages read the same order whether they
/// lie within the name matches (read from an index) or reach past them (ranked).
#[tokio::test]
async fn search_puts_name_matches_first_then_ranks_the_rest() {
    let shop = Shop::new().await;
    for (name, sku, description) in [
        ("Tea Caddy", "CAD-1", ""),
        ("Kettle", "KET-1", "For tea, tea and more tea."),
        ("Teapot Stand", "STA-1", ""),
        ("Cup", "CUP-1", "A cup for tea."),
        ("Tea Towel", "TOW-1", ""),
        // Six words starting "tea" outrank a name by ts_rank; not in these tiers.
        (
            "Mug",
            "MUG-1",
            "teacup teaspoon teatime tealight teabag teacake",
        ),
    ] {
        shop.product(json!({"name": name, "sku": sku, "price": "5.00", "stock": 3, "description": description}))
            .await;
    }
    let order = ["TOW-1", "STA-1", "CAD-1", "MUG-1", "KET-1", "CUP-1"];
    assert_eq!(shop.skus("?q=tea").await, order);
    for size in [1, 2, 3, 4] {
        let mut paged = Vec::new();
        for page in 1..=6 {
            paged.extend(
                shop.skus(&format!("?q=tea&page_size={size}&page={page}"))
                    .await,
            );
        }
        assert_eq!(paged, order, "pages of {size}");
    }
    assert_eq!(shop.skus("?q=ket-1").await, ["KET-1"], "an exact SKU");
    assert_eq!(
        shop.skus("?q=tea&category=none").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn search_ranks_an_exact_sku_first() {
    let shop = Shop::new().await;
    shop.product(json!({"name": "Ceramic Mug", "sku": "MUG-100", "price": "8.00", "stock": 5, "description": "A mug for tea. Pairs with MUG-200 saucer."})).await;
    shop.product(json!({"name": "Tea Mug Deluxe", "sku": "MUG-200", "price": "12.00", "stock": 5, "description": "The mug of mugs, mug mug mug."})).await;
    shop.product(json!({"name": "Kettle", "sku": "KET-1", "price": "30.00", "stock": 5, "description": "Boils water"})).await;
    assert_eq!(
        shop.skus("?q=MUG-200").await.first().map(String::as_str),
        Some("MUG-200")
    );
    assert_eq!(
        shop.skus("?q=mug-100").await.first().map(String::as_str),
        Some("MUG-100")
    );
    let mugs = shop.skus("?q=mug").await;
    assert_eq!(mugs.len(), 2);
    assert_eq!(mugs[0], "MUG-200", "both names match: the newest first");
    assert_eq!(
        shop.skus("?q=boils").await,
        ["KET-1"],
        "description is searched (stemmed)"
    );
    assert_eq!(
        shop.skus("?q=mug%20-deluxe").await,
        ["MUG-100"],
        "web search syntax"
    );
    assert_eq!(
        shop.skus("?q=mug&ordering=-price").await,
        ["MUG-200", "MUG-100"]
    );
    assert!(shop.skus("?q=nothing-matches-this").await.is_empty());
}

#[tokio::test]
async fn etags_answer_304_and_change_with_the_data() {
    let shop = Shop::new().await;
    let p = shop
        .product(product("Oolong", "OO-1", "6.00", 3, None))
        .await;
    let path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    for url in [
        path.as_str(),
        "/api/v1/products",
        "/api/v1/products?q=oolong",
    ] {
        let resp = shop.app.get(url, None).await;
        assert!(
            resp.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("public")
        );
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        let again = shop
            .app
            .request(Method::GET, url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{url}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        let other = shop
            .app
            .request(Method::GET, url)
            .header("if-none-match", "\"stale\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
    }
    let before = shop.app.get("/api/v1/products", None).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &variant_path(&p),
            Some(&shop.staff),
            json!({"price": "6.50"}),
        )
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["price_min"], "6.50");
    let resp = shop
        .app
        .request(Method::GET, "/api/v1/products")
        .header("if-none-match", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the list changed, so the old tag no longer matches"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["items"][0]["price_min"],
        "6.50"
    );
}

#[tokio::test]
async fn stock_moves_are_recorded_and_never_go_below_zero() {
    let shop = Shop::new().await;
    let p = shop
        .product(product("Matcha", "MA-1", "15.00", 5, None))
        .await;
    let path = format!("{}/stock", variant_path(&p));
    let resp = shop
        .app
        .post(
            &path,
            Some(&shop.staff),
            json!({"delta": -3, "reason": "damaged"}),
        )
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["variants"][0]["stock"],
        2
    );
    let resp = shop
        .app
        .post(
            &path,
            Some(&shop.staff),
            json!({"delta": -3, "reason": "sold offline"}),
        )
        .await;
    assert_problem(resp, 409, "insufficient_stock").await;
    let resp = shop
        .app
        .post(
            &path,
            Some(&shop.staff),
            json!({"delta": 10, "reason": "delivery"}),
        )
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["variants"][0]["stock"],
        12
    );
    assert_problem(
        shop.app
            .post(&path, Some(&shop.staff), json!({"delta": 0, "reason": "x"}))
            .await,
        400,
        "validation_error",
    )
    .await;
    assert_problem(
        shop.app
            .post(&path, Some(&shop.staff), json!({"delta": 1, "reason": ""}))
            .await,
        400,
        "validation_error",
    )
    .await;
    let missing = format!(
        "/api/v1/admin/products/{}/variants/{}/stock",
        p["id"].as_str().unwrap(),
        uuid::Uuid::new_v4()
    );
    assert_problem(
        shop.app
            .post(
                &missing,
                Some(&shop.staff),
                json!({"delta": 1, "reason": "x"}),
            )
            .await,
        404,
        "not_found",
    )
    .await;
    // Setting stock through PATCH is a movement too.
    shop.app
        .send_json(
            Method::PATCH,
            &variant_path(&p),
            Some(&shop.staff),
            json!({"stock": 7}),
        )
        .await;
    let ledger: Vec<(i32, i32, String, String)> = sqlx::query_as(
        "SELECT delta, stock_after, reason::text, note FROM inventory_movements ORDER BY id",
    )
    .fetch_all(&shop.app.db.pool)
    .await
    .unwrap();
    let expected = vec![
        (5, 5, "initial_stock".to_owned(), String::new()),
        (-3, 2, "staff_adjustment".to_owned(), "damaged".to_owned()),
        (10, 12, "staff_adjustment".to_owned(), "delivery".to_owned()),
        (-5, 7, "staff_set".to_owned(), String::new()),
    ];
    assert_eq!(ledger, expected);
    let sum: i64 = sqlx::query_scalar("SELECT sum(delta) FROM inventory_movements")
        .fetch_one(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(sum, 7, "the ledger adds up to the stock");
}

#[tokio::test]
async fn partial_updates_change_only_what_is_sent() {
    let shop = Shop::new().await;
    let cat = shop.category("Snacks", None, 0).await;
    let p = shop.product(json!({"name": "Pretzel", "sku": "PR-1", "price": "2.00", "stock": 4, "category_id": cat["id"], "description": "Salty", "images": [{"url": "https://cdn.example/p.jpg", "alt": "A pretzel"}]})).await;
    assert_eq!(p["category"]["slug"], "snacks");
    assert_eq!(p["images"][0]["alt"], "A pretzel");
    let path = format!("/api/v1/admin/products/{}", p["id"].as_str().unwrap());
    let updated: Value = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"name": "Big Pretzel"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["name"], "Big Pretzel");
    assert_eq!(updated["price_min"], "2.00");
    assert_eq!(updated["description"], "Salty");
    assert_eq!(updated["slug"], "pretzel", "slugs stay stable unless set");
    let updated: Value = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"category_id": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(updated.get("category").is_none());
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &path,
            Some(&shop.staff),
            json!({"category_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_problem(resp, 400, "validation_error").await;
    let resp = shop
        .app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/products/{}", uuid::Uuid::new_v4()),
            Some(&shop.staff),
            json!({"name": "x"}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn catalog_administration_is_staff_only() {
    let shop = Shop::new().await;
    let customer = shop.app.access_token("shopper@example.com").await;
    let id = uuid::Uuid::new_v4();
    let attempts = [
        (
            Method::POST,
            "/api/v1/admin/products".to_owned(),
            product("X", "X-1", "1.00", 1, None),
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/products/{id}"),
            json!({"name": "x"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/products/{id}"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/products/{id}/variants/{id}/stock"),
            json!({"delta": 1, "reason": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/admin/categories".to_owned(),
            json!({"name": "x"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/categories/{id}"),
            json!({"name": "x"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/categories/{id}"),
            json!({}),
        ),
    ];
    for (method, path, body) in attempts {
        let resp = shop
            .app
            .send_json(method.clone(), &path, Some(&customer), body.clone())
            .await;
        assert_problem(resp, 403, "permission_denied").await;
        let resp = shop.app.send_json(method, &path, None, body).await;
        assert_problem(resp, 401, "not_authenticated").await;
    }
    assert_eq!(shop.list("").await["total"], 0);
}

/// #14: a price-ordered page under a variant filter is read through a prefix of the
/// matching variants (`PricePrefix`): every page, both directions, in stock or not, is the
/// page a plain query over every variant gives, and so is every count. Small pages make
/// the prefix end inside the range, where the boundary matters; the seed gives a third of
/// the products several variants, some out of stock, some products inactive.
#[tokio::test]
async fn price_ordered_pages_and_counts_match_a_query_over_every_variant() {
    let shop = Shop::new().await;
    let spec = swift_core::seed::SeedSpec {
        products: 400,
        categories: 4,
        users: 0,
        seed: 11,
        jobs: 2,
    };
    swift_core::seed::seed(&shop.app.ctx, spec, Default::default())
        .await
        .unwrap();
    let pool = &shop.app.db.pool;
    let ranges = [("0.00", "5.00"), ("5.00", "40.00"), ("20.00", "500.00")];
    let mut compared = 0;
    for (min, max) in ranges {
        for in_stock in [false, true] {
            let stock = if in_stock { " AND v.in_stock" } else { "" };
            let matches = format!(
                "FROM products p JOIN (SELECT product_id, min(price) AS price FROM product_variants v \
                   WHERE v.is_active{stock} AND v.price BETWEEN {min} AND {max} GROUP BY product_id) m \
                   ON m.product_id = p.id WHERE p.is_active AND p.price_min IS NOT NULL"
            );
            let total: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {matches}")))
                    .fetch_one(pool)
                    .await
                    .unwrap();
            assert!(
                total > 20,
                "{min}..{max} in_stock={in_stock}: only {total} match"
            );
            for (ordering, order) in [
                ("price", "m.price, p.id"),
                ("-price", "m.price DESC, p.id DESC"),
            ] {
                for (page, page_size) in [(1, 3), (2, 3), (5, 4), (2, 20)] {
                    let query = format!(
                        "?min_price={min}&max_price={max}&ordering={ordering}&page={page}&page_size={page_size}{}",
                        if in_stock { "&in_stock=true" } else { "" }
                    );
                    let listed = shop.list(&query).await;
                    let shown: Vec<String> = listed["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["id"].as_str().unwrap().to_owned())
                        .collect();
                    let expected: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT p.id::text {matches} ORDER BY {order} OFFSET {} LIMIT {page_size}",
                        (page - 1) * page_size
                    )))
                    .fetch_all(pool)
                    .await
                    .unwrap();
                    assert_eq!(shown, expected, "{query}");
                    assert_eq!(listed["total"], total, "{query}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 48);
}
