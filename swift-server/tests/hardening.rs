//! Regression tests for the adversarial review of issue #12, one per finding (the memory and
//! cache-size findings are in swift-core's unit tests and `bench/memory.sh`; the rate-limit
//! algorithm in `swift-core/src/ratelimit.rs`).

mod common;

use common::{PASSWORD, TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

/// #12.9: text that cannot be an id or a slug is simply not found, never a 500.
#[tokio::test]
async fn nul_bytes_in_paths_are_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/products/%00",
        "/api/v1/products/a%00b",
        "/api/v1/categories/%00",
        "/api/v1/products/UPPER",
    ] {
        assert_problem(app.get(path, None).await, 404, "not_found").await;
    }
}

/// #12.10: a delta outside ±1e9 is refused by the schema, and no delta can carry stock past
/// the cap the rest of the catalog enforces (so export then import always round-trips).
#[tokio::test]
async fn stock_adjustments_stay_within_the_cap() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let p = app.create_product(&staff, "CAP-1", "1.00", 5).await;
    let path = format!("{}/stock", common::variant_path(&p));
    // Past the schema's bounds, or (999,999,996 on top of 5) past the cap.
    for delta in [2_147_483_647i64, -2_147_483_648, 1_000_000_001, 999_999_996] {
        let resp = app
            .post(&path, Some(&staff), json!({"delta": delta, "reason": "x"}))
            .await;
        let body = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "delta", "{body}");
    }
    let resp = app
        .post(
            &path,
            Some(&staff),
            json!({"delta": 999_999_995, "reason": "x"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["variants"][0]["stock"],
        1_000_000_000
    );
}

const ADDRESS: &str = r#"{"full_name": "Ada", "line1": "1 Main St", "city": "Leeds", "postal_code": "LS1", "country": "GB"}"#;

fn checkout_body() -> Value {
    json!({"shipping_address": serde_json::from_str::<Value>(ADDRESS).unwrap()})
}

/// #12.4: an archived product's line stays visible as unavailable, can be removed by id,
/// and checkout names it instead of failing on something the shopper cannot see.
#[tokio::test]
async fn archived_lines_stay_visible_and_removable() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let x = app.create_product(&staff, "X-1", "3.00", 5).await;
    let y = app.create_product(&staff, "Y-1", "4.00", 5).await;
    let token = app.access_token("shopper@example.com").await;
    app.add_to_cart(&token, &x, 1).await;
    app.add_to_cart(&token, &y, 2).await;
    let archive = format!("/api/v1/admin/products/{}", y["id"].as_str().unwrap());
    assert!(app.delete(&archive, &staff).await.status().is_success());

    let cart: Value = app.get_json("/api/v1/cart", Some(&token)).await;
    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{cart}");
    let y_line = items
        .iter()
        .find(|l| l["product"]["id"] == y["id"])
        .unwrap();
    assert_eq!(y_line["available"], false);
    assert_eq!(y_line["unavailable_reason"], "archived");
    assert_eq!(y_line["product"]["in_stock"], false);
    let x_line = items
        .iter()
        .find(|l| l["product"]["id"] == x["id"])
        .unwrap();
    assert_eq!(x_line["available"], true);
    assert!(x_line.get("unavailable_reason").is_none());
    assert_eq!(cart["subtotal"], "3.00", "only available lines count");

    let resp = app
        .post("/api/v1/orders", Some(&token), checkout_body())
        .await;
    let body = assert_problem(resp, 409, "insufficient_stock").await;
    assert_eq!(body["lines"][0]["sku"], "Y-1", "{body}");

    // Removing the archived line by id unblocks checkout.
    let line = format!("/api/v1/cart/items/{}", y_line["id"].as_str().unwrap());
    assert_eq!(app.delete(&line, &token).await.status(), 200);
    let resp = app
        .post("/api/v1/orders", Some(&token), checkout_body())
        .await;
    assert_eq!(resp.status(), 201);
}

/// #12.11: a line whose total would not fit in an order is refused when added, and totals
/// are exact, never zeroed.
#[tokio::test]
async fn cart_totals_never_overflow_silently() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let dear = app.create_product(&staff, "DEAR", "9999999999.99", 5).await;
    let half = app.create_product(&staff, "HALF", "6000000000.00", 5).await;
    let token = app.access_token("rich@example.com").await;
    // A variant that is not sold opens no cart (the line and the cart are one statement).
    let ghost = json!({"variants": [{"id": uuid::Uuid::new_v4()}]});
    assert_problem(app.add_to_cart(&token, &ghost, 1).await, 404, "not_found").await;
    let carts: i64 = sqlx::query_scalar("SELECT count(*) FROM carts")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(carts, 0);
    let resp = app.add_to_cart(&token, &dear, 2).await;
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "quantity", "{body}");
    assert_eq!(app.add_to_cart(&token, &dear, 1).await.status(), 201);
    // Two lines that fit alone but not together.
    let resp = app.add_to_cart(&token, &half, 1).await;
    assert_problem(resp, 400, "validation_error").await;
    let cart: Value = app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "nothing was added"
    );
    assert_eq!(cart["subtotal"], "9999999999.99");

    // A price rise after the fact: the line is shown exactly and marked unavailable.
    sqlx::query("UPDATE cart_items SET quantity = 3")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let cart: Value = app.get_json("/api/v1/cart", Some(&token)).await;
    assert_eq!(cart["items"][0]["line_total"], "29999999999.97");
    assert_eq!(cart["items"][0]["unavailable_reason"], "total_too_large");
}

/// #12.7: checkout removes exactly the lines it ordered. A line added while it runs stays.
#[tokio::test]
async fn a_line_added_during_checkout_is_kept() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let first = app.create_product(&staff, "FIRST", "1.00", 5).await;
    let later = app.create_product(&staff, "LATER", "2.00", 5).await;
    let token = app.access_token("racer@example.com").await;
    app.add_to_cart(&token, &first, 1).await;

    // Hold checkout between reading the cart and writing the order: a lock on `orders` that
    // its INSERT must wait for.
    let mut blocker = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE orders IN SHARE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let checkout = {
        let (client, url, token) = (
            reqwest::Client::new(),
            app.url("/api/v1/orders"),
            token.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&checkout_body())
                .send()
                .await
                .unwrap()
        })
    };
    // Wait (on a condition, not a clock) until the checkout is blocked on that lock. The
    // bound only turns a checkout that never gets there into a failure instead of a hang.
    let blocked = async {
        loop {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE '%INSERT INTO orders%')",
            )
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
            if waiting {
                break;
            }
            // Poll gently; the loop ends on the condition above, not on a clock.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), blocked)
        .await
        .expect("the checkout never waited on the lock of orders");
    assert_eq!(app.add_to_cart(&token, &later, 1).await.status(), 201);
    blocker.commit().await.unwrap();
    let order: Value = checkout.await.unwrap().json().await.unwrap();
    assert_eq!(order["items"].as_array().unwrap().len(), 1, "{order}");
    assert_eq!(order["items"][0]["sku"], "FIRST");
    let cart: Value = app.get_json("/api/v1/cart", Some(&token)).await;
    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{cart}");
    assert_eq!(items[0]["product"]["id"], later["id"]);
}

fn limited() -> [(&'static str, &'static str); 2] {
    [("RATE_LIMITS", "on"), ("RATE_LIMIT_PER_ACCOUNT", "3")]
}

/// #12.3: the reset token is checked before any password is hashed (a bad link with a weak
/// password is refused for the link), and confirmations are rate limited per account.
#[tokio::test]
async fn reset_confirmation_checks_the_token_first_and_is_limited() {
    let app = TestApp::spawn_with(&limited()).await;
    let user = app.register("reset@example.com").await;
    let uid = user["user"]["id"].as_str().unwrap();
    let confirm = |token: &'static str, password: &'static str| {
        app.post(
            "/api/v1/auth/password/reset/confirm",
            None,
            json!({"uid": uid, "token": token, "new_password": password}),
        )
    };
    let body = assert_problem(
        confirm("forged", "password1").await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "token", "{body}");
    for _ in 0..2 {
        assert_problem(
            confirm("forged", "plum-Orbit-cactus-43").await,
            400,
            "validation_error",
        )
        .await;
    }
    assert_problem(
        confirm("forged", "plum-Orbit-cactus-43").await,
        429,
        "rate_limited",
    )
    .await;
}

/// #12.5: re-proving a password while signed in is rate limited like signing in.
#[tokio::test]
async fn password_rechecks_are_rate_limited() {
    let app = TestApp::spawn_with(&limited()).await;
    let token = app.access_token("guess@example.com").await;
    for attempt in 0..4 {
        let resp = app
            .post(
                "/api/v1/auth/password/change",
                Some(&token),
                json!({"old_password": format!("wrong-{attempt}"), "new_password": "plum-Orbit-cactus-43"}),
            )
            .await;
        let expected = if attempt < 3 { 400 } else { 429 };
        assert_eq!(resp.status(), expected, "attempt {attempt}");
    }
    // The account-deletion check shares the limit: the next guess is refused untried.
    let resp = app
        .send_json(
            Method::DELETE,
            "/api/v1/auth/user",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_problem(resp, 429, "rate_limited").await;
}

/// #12.12: reset and resend make a token only for a live matching account, in one
/// statement either way, and always answer 202. (Equal timing follows from equal work; a
/// clock-based assertion would be flaky, so the work is what is tested.)
#[tokio::test]
async fn reset_and_resend_answer_alike_and_only_mail_real_accounts() {
    let app = TestApp::spawn().await;
    app.register("known@example.com").await;
    for (path, email) in [
        ("/api/v1/auth/password/reset", "known@example.com"),
        ("/api/v1/auth/password/reset", "unknown@example.com"),
        ("/api/v1/auth/verify-email/resend", "known@example.com"),
        ("/api/v1/auth/verify-email/resend", "unknown@example.com"),
    ] {
        let resp = app.post(path, None, json!({"email": email})).await;
        assert_eq!(resp.status(), 202, "{path} {email}");
    }
    let tokens: Vec<(String, String)> =
        sqlx::query_as("SELECT purpose, email FROM one_time_tokens ORDER BY purpose, created_at")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    // Registration's own verification mail, the resend, and the reset: all for `known`.
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    assert!(tokens.iter().all(|(_, e)| e == "known@example.com"));
    let reset = app.mail_to("known@example.com", "Reset").await;
    assert!(reset.contains("/reset-password?uid="), "{reset}");
}

/// #12.6: an Idempotency-Key that is present but not plain ASCII is a 400, not "no key".
#[tokio::test]
async fn a_non_ascii_idempotency_key_is_refused() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let p = app.create_product(&staff, "KEY-1", "1.00", 5).await;
    let token = app.access_token("keys@example.com").await;
    app.add_to_cart(&token, &p, 1).await;
    for _ in 0..2 {
        let resp = app
            .request(Method::POST, "/api/v1/orders")
            .bearer_auth(&token)
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes("clé-1".as_bytes()).unwrap(),
            )
            .json(&checkout_body())
            .send()
            .await
            .unwrap();
        let body = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{body}");
    }
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
}

/// Sends `bodies` to createProduct all at once; the statuses and codes that come back.
async fn create_at_once(app: &TestApp, staff: &str, bodies: Vec<Value>) -> Vec<(u16, String)> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (client, url, staff) = (
                app.client.clone(),
                app.url("/api/v1/admin/products"),
                staff.to_owned(),
            );
            tokio::spawn(async move {
                let resp = client
                    .post(url)
                    .bearer_auth(staff)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap();
                let code = body["code"].as_str().unwrap_or_default().to_owned();
                (
                    status,
                    if status == 201 {
                        body["slug"].as_str().unwrap().to_owned()
                    } else {
                        code
                    },
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// #12.14: concurrent creations with one name and no slug each get their own slug; with
/// one sku too, the losers are told `sku_taken`, never `slug_taken`.
#[tokio::test]
async fn concurrent_creates_get_their_own_slugs() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("staff@example.com").await;
    let bodies = (0..8)
        .map(|i| json!({"name": "Walnut Mug", "variants": [{"sku": format!("WM-{i}"), "price": "9.00", "stock": 1}]}))
        .collect();
    let results = create_at_once(&app, &staff, bodies).await;
    assert!(results.iter().all(|(s, _)| *s == 201), "{results:?}");
    let slugs: std::collections::HashSet<_> = results.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(slugs.len(), 8, "{slugs:?}");
    assert!(
        slugs.contains("walnut-mug") && slugs.contains("walnut-mug-8"),
        "{slugs:?}"
    );

    let bodies = (0..8)
        .map(|_| json!({"name": "Teak Tray", "variants": [{"sku": "TT-1", "price": "9.00", "stock": 1}]}))
        .collect();
    let results = create_at_once(&app, &staff, bodies).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|(s, _)| *s != 201)
            .all(|r| *r == (409, "sku_taken".to_owned())),
        "{results:?}"
    );
}

/// #12.8 over HTTP: a look-alike address is refused, an equivalent spelling is the same
/// account.
#[tokio::test]
async fn look_alike_emails_do_not_make_second_accounts() {
    let app = TestApp::spawn().await;
    app.register("shopper@example.com").await;
    for (email, status, code) in [
        ("shopper@example.com\u{200b}", 400, "validation_error"),
        ("<shopper@example.com>", 400, "validation_error"),
        ("\"shopper\"@example.com", 400, "validation_error"),
        ("SHOPPER@ＥＸＡＭＰＬＥ.com", 409, "email_taken"),
    ] {
        let resp = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_problem(resp, status, code).await;
    }
}

/// A cookie-mode app and a cookie-keeping client signed in on it; the CSRF token.
async fn cookie_session(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar)
        .build()
        .unwrap();
    let resp = browser
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let csrf = common::cookie_value(&resp, "swift_csrf").unwrap();
    let csrf = csrf
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("swift_csrf=")
        .to_owned();
    (browser, csrf)
}

async fn live_sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM auth_sessions WHERE revoked_at IS NULL")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

const COOKIES: [(&str, &str); 2] = [("AUTH_COOKIES", "true"), ("AUTH_COOKIE_SECURE", "false")];

/// #12.13: in cookie mode a logout carried by cookies needs the CSRF header (no logout
/// CSRF), and a refused one changes nothing; with the header the session ends.
#[tokio::test]
async fn cookie_logout_needs_the_csrf_token_and_then_really_ends_the_session() {
    let app = TestApp::spawn_with(&COOKIES).await;
    let (browser, csrf) = cookie_session(&app, "cookie@example.com").await;
    let logout = |csrf: Option<&str>| {
        let mut rb = browser
            .post(app.url("/api/v1/auth/logout"))
            .json(&json!({}));
        if let Some(c) = csrf {
            rb = rb.header("x-csrf-token", c);
        }
        rb.send()
    };
    assert_problem(logout(None).await.unwrap(), 403, "csrf_failed").await;
    assert_problem(logout(Some("forged")).await.unwrap(), 403, "csrf_failed").await;
    assert_eq!(
        live_sessions(&app).await,
        1,
        "a refused logout changes nothing"
    );
    assert_eq!(logout(Some(&csrf)).await.unwrap().status(), 204);
    assert_eq!(live_sessions(&app).await, 0);
}

/// With only the access cookie (the refresh cookie is scoped elsewhere or gone), a
/// CSRF-checked logout still ends the session instead of answering 204 and keeping it.
#[tokio::test]
async fn cookie_logout_with_the_access_cookie_alone_ends_the_session() {
    let app = TestApp::spawn_with(&COOKIES).await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "solo@example.com", "password": PASSWORD}),
        )
        .await;
    let access = common::cookie_value(&resp, "swift_access").unwrap();
    let access = access.split(';').next().unwrap().to_owned();
    let csrf = common::cookie_value(&resp, "swift_csrf").unwrap();
    let csrf = csrf
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("swift_csrf=")
        .to_owned();
    let logout = |with_csrf: bool| {
        let mut rb = app
            .request(Method::POST, "/api/v1/auth/logout")
            .header("cookie", &access)
            .json(&json!({}));
        if with_csrf {
            rb = rb.header("x-csrf-token", &csrf);
        }
        rb.send()
    };
    assert_problem(logout(false).await.unwrap(), 403, "csrf_failed").await;
    assert_eq!(live_sessions(&app).await, 1);
    assert_eq!(logout(true).await.unwrap().status(), 204);
    assert_eq!(live_sessions(&app).await, 0);
}

/// Token bodies carry no tokens in cookie mode (script on the page never sees them), and
/// a CSRF pair the attacker made up (their own cookie and the same header) is refused:
/// the token is bound to the session.
#[tokio::test]
async fn cookie_mode_keeps_tokens_out_of_bodies_and_binds_csrf_to_the_session() {
    let app = TestApp::spawn_with(&COOKIES).await;
    let (browser, csrf) = cookie_session(&app, "bound@example.com").await;
    let resp = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "bound@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("access").is_none() && body.get("refresh").is_none(),
        "{body}"
    );
    assert!(body["access_expires_at"].is_string() && body["user"].is_object());
    // The login started a second session; its CSRF token differs from the first's.
    let planted = "attacker-chosen-value";
    let resp = app
        .request(Method::PATCH, "/api/v1/auth/user")
        .header(
            "cookie",
            format!(
                "swift_csrf={planted}; {}",
                browser_access(&app, &browser).await
            ),
        )
        .header("x-csrf-token", planted)
        .json(&json!({"first_name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "csrf_failed").await;
    assert!(!csrf.is_empty());
}

/// The access cookie a cookie-keeping client holds, as `name=value`.
async fn browser_access(app: &TestApp, browser: &reqwest::Client) -> String {
    let resp = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "bound@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    common::cookie_value(&resp, "swift_access")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Secure cookies carry the `__Host-` prefix (and `__Secure-` for the path-scoped one).
#[tokio::test]
async fn secure_cookies_are_host_prefixed() {
    let app =
        TestApp::spawn_with(&[("AUTH_COOKIES", "true"), ("AUTH_COOKIE_SECURE", "true")]).await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "host@example.com", "password": PASSWORD}),
        )
        .await;
    for (name, path) in [
        ("__Host-swift_access", "Path=/;"),
        ("__Host-swift_csrf", "Path=/;"),
        ("__Secure-swift_refresh", "Path=/api/v1/auth"),
    ] {
        let line = common::cookie_value(&resp, name).unwrap_or_else(|| panic!("{name}"));
        assert!(line.contains("Secure") && line.contains(path), "{line}");
        assert!(!line.contains("Domain"), "{line}");
    }
}
