//! Profile, passwords by mail, email verification, rate limits, cookie mode, staff users.

mod common;

use common::{PASSWORD, TestApp, assert_problem, cookie_value, link, query_param};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn profile_updates_ignore_privileged_fields() {
    let app = TestApp::spawn().await;
    let token = app.access_token("amy@example.com").await;
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/auth/user",
            Some(&token),
            json!({"first_name": "Amy", "is_staff": true, "email_verified": true, "email": "x@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let user: Value = resp.json().await.unwrap();
    assert_eq!(user["first_name"], "Amy");
    assert_eq!(user["is_staff"], false);
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["email"], "amy@example.com");
    let staff: bool =
        sqlx::query_scalar("SELECT is_staff FROM users WHERE email = 'amy@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!staff);
    // Registration cannot set them either.
    let resp = app
        .post("/api/v1/auth/register", None, json!({"email": "sly@example.com", "password": PASSWORD, "is_staff": true, "email_verified": true}))
        .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["is_staff"], false);
    assert_eq!(body["user"]["email_verified"], false);
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/auth/user",
            Some(&token),
            json!({"first_name": "A\u{0}my"}),
        )
        .await;
    assert_problem(resp, 400, "validation_error").await;
}

#[tokio::test]
async fn account_deletion_needs_the_password_and_removes_the_user() {
    let app = TestApp::spawn().await;
    let token = app.access_token("del@example.com").await;
    let resp = app
        .send_json(
            Method::DELETE,
            "/api/v1/auth/user",
            Some(&token),
            json!({"password": "not-the-password"}),
        )
        .await;
    assert_problem(resp, 400, "validation_error").await;
    let resp = app
        .send_json(
            Method::DELETE,
            "/api/v1/auth/user",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert_eq!(
        app.get("/api/v1/auth/user", Some(&token)).await.status(),
        401
    );
}

#[tokio::test]
async fn password_reset_by_mailed_link_works_once() {
    let app = TestApp::spawn().await;
    let pair = app.register("rae@example.com").await;
    let resp = app
        .post(
            "/api/v1/auth/password/reset",
            None,
            json!({"email": "rae@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    let mail = app.mail_to("rae@example.com", "Reset").await;
    let url = link(&mail, "http://localhost:3000/reset-password?");
    let (uid, token) = (query_param(&url, "uid"), query_param(&url, "token"));
    assert_eq!(uid, pair["user"]["id"].as_str().unwrap());

    let new_password = "saffron-Kettle-meadow-19";
    let confirm = json!({"uid": uid, "token": token, "new_password": new_password});
    let weak = json!({"uid": uid, "token": token, "new_password": "123"});
    assert_problem(
        app.post("/api/v1/auth/password/reset/confirm", None, weak)
            .await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(
        app.post("/api/v1/auth/password/reset/confirm", None, confirm.clone())
            .await
            .status(),
        204
    );
    // Single use.
    let body = assert_problem(
        app.post("/api/v1/auth/password/reset/confirm", None, confirm)
            .await,
        400,
        "validation_error",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "token");
    // All sessions revoked, new password works.
    assert_eq!(
        app.get("/api/v1/auth/user", pair["access"].as_str())
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login("rae@example.com", new_password).await.status(),
        200
    );
}

#[tokio::test]
async fn reset_links_die_when_the_password_changes_and_after_an_hour() {
    let app = TestApp::spawn().await;
    let token = app.access_token("sam@example.com").await;
    app.post(
        "/api/v1/auth/password/reset",
        None,
        json!({"email": "sam@example.com"}),
    )
    .await;
    let mail = app.mail_to("sam@example.com", "Reset").await;
    let url = link(&mail, "http://localhost:3000/reset-password?");
    let new_password = "saffron-Kettle-meadow-19";
    let resp = app
        .post(
            "/api/v1/auth/password/change",
            Some(&token),
            json!({"old_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let confirm = json!({"uid": query_param(&url, "uid"), "token": query_param(&url, "token"), "new_password": "other-Lantern-quartz-55"});
    assert_problem(
        app.post("/api/v1/auth/password/reset/confirm", None, confirm)
            .await,
        400,
        "validation_error",
    )
    .await;

    app.post(
        "/api/v1/auth/password/reset",
        None,
        json!({"email": "sam@example.com"}),
    )
    .await;
    let mail = app.mail_to("sam@example.com", "Reset").await;
    let url = link(&mail, "http://localhost:3000/reset-password?");
    sqlx::query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let confirm = json!({"uid": query_param(&url, "uid"), "token": query_param(&url, "token"), "new_password": "other-Lantern-quartz-55"});
    assert_problem(
        app.post("/api/v1/auth/password/reset/confirm", None, confirm)
            .await,
        400,
        "validation_error",
    )
    .await;
}

#[tokio::test]
async fn reset_requests_for_unknown_emails_look_the_same() {
    let app = TestApp::spawn().await;
    let resp = app
        .post(
            "/api/v1/auth/password/reset",
            None,
            json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.mail_count(), 0);
}

#[tokio::test]
async fn email_verification_link_verifies_once() {
    let app = TestApp::spawn().await;
    app.register("val@example.com").await;
    let mail = app.mail_to("val@example.com", "Confirm").await;
    let key = query_param(&link(&mail, "http://localhost:3000/verify-email?"), "key");
    let resp = app
        .post("/api/v1/auth/verify-email", None, json!({"key": key}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["email_verified"], true);
    assert_problem(
        app.post("/api/v1/auth/verify-email", None, json!({"key": key}))
            .await,
        400,
        "validation_error",
    )
    .await;
    // Verified accounts get no more mails.
    assert_eq!(
        app.post(
            "/api/v1/auth/verify-email/resend",
            None,
            json!({"email": "val@example.com"})
        )
        .await
        .status(),
        202
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.mail_count(), 0);
}

#[tokio::test]
async fn mandatory_verification_blocks_sign_in_until_verified() {
    let app = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "mandatory")]).await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "wes@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("access").is_none(), "{body}");
    assert_eq!(body["result"], "verification_required");
    assert_eq!(body["user"]["email"], "wes@example.com");
    assert!(body["detail"].is_string());
    assert_problem(
        app.login("wes@example.com", PASSWORD).await,
        403,
        "email_not_verified",
    )
    .await;
    app.mail_to("wes@example.com", "Confirm").await;
    assert_eq!(
        app.post(
            "/api/v1/auth/verify-email/resend",
            None,
            json!({"email": "wes@example.com"})
        )
        .await
        .status(),
        202
    );
    let mail = app.mail_to("wes@example.com", "Confirm").await;
    let key = query_param(&link(&mail, "http://localhost:3000/verify-email?"), "key");
    assert_eq!(
        app.post("/api/v1/auth/verify-email", None, json!({"key": key}))
            .await
            .status(),
        200
    );
    assert_eq!(app.login("wes@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn no_verification_mail_when_verification_is_off() {
    let app = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "none")]).await;
    app.register("xan@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.mail_count(), 0);
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_per_address() {
    let app = TestApp::spawn_with(&[
        ("RATE_LIMITS", "on"),
        ("RATE_LIMIT_PER_ACCOUNT", "3"),
        ("RATE_LIMIT_PER_ADDRESS", "5"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.login("yul@example.com", "wrong-password-1")
                .await
                .status(),
            401
        );
    }
    let resp = app.login("yul@example.com", "wrong-password-1").await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_problem(resp, 429, "rate_limited").await;
    // Other accounts from the same address until the address limit (5) is reached.
    assert_eq!(
        app.login("zed@example.com", "wrong-password-1")
            .await
            .status(),
        401
    );
    assert_problem(
        app.login("zoe@example.com", "wrong-password-1").await,
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_trusted_proxies() {
    let app = TestApp::spawn_with(&[
        ("RATE_LIMITS", "on"),
        ("RATE_LIMIT_PER_ADDRESS", "2"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let reset = |ip: &'static str| {
        app.request(Method::POST, "/api/v1/auth/password/reset")
            .header("x-forwarded-for", ip)
            .json(&json!({"email": format!("{}@example.com", uuid::Uuid::new_v4().simple())}))
            .send()
    };
    assert_eq!(reset("203.0.113.1").await.unwrap().status(), 202);
    assert_eq!(reset("203.0.113.1").await.unwrap().status(), 202);
    assert_eq!(reset("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(
        reset("203.0.113.2").await.unwrap().status(),
        202,
        "another client behind the proxy"
    );

    // Without trust, the header is ignored: every request counts for 127.0.0.1.
    let app = TestApp::spawn_with(&[("RATE_LIMITS", "on"), ("RATE_LIMIT_PER_ADDRESS", "2")]).await;
    for (i, expected) in [202, 202, 429].into_iter().enumerate() {
        let resp = app
            .request(Method::POST, "/api/v1/auth/password/reset")
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": format!("u{i}@example.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), expected);
    }
}

#[tokio::test]
async fn cookie_mode_authenticates_by_cookie_with_csrf_on_unsafe_methods() {
    let app =
        TestApp::spawn_with(&[("AUTH_COOKIES", "true"), ("AUTH_COOKIE_SECURE", "false")]).await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let resp = browser
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "cat@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let access = cookie_value(&resp, "swift_access").unwrap();
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Lax"),
        "{access}"
    );
    let refresh = cookie_value(&resp, "swift_refresh").unwrap();
    assert!(
        refresh.contains("Path=/api/v1/auth") && refresh.contains("HttpOnly"),
        "{refresh}"
    );
    let csrf_cookie = cookie_value(&resp, "swift_csrf").unwrap();
    assert!(!csrf_cookie.contains("HttpOnly"));
    let csrf = csrf_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("swift_csrf=")
        .to_owned();

    // Safe method: the cookie alone is enough.
    let me = browser
        .get(app.url("/api/v1/auth/user"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Unsafe method without the CSRF header: refused.
    let resp = browser
        .patch(app.url("/api/v1/auth/user"))
        .json(&json!({"first_name": "Cat"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "csrf_failed").await;
    let resp = browser
        .patch(app.url("/api/v1/auth/user"))
        .header("x-csrf-token", "forged")
        .json(&json!({"first_name": "Cat"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "csrf_failed").await;
    let resp = browser
        .patch(app.url("/api/v1/auth/user"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"first_name": "Cat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Refresh from the cookie (CSRF required too), then logout clears the cookies.
    let resp = browser
        .post(app.url("/api/v1/auth/token/refresh"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "csrf_failed").await;
    let resp = browser
        .post(app.url("/api/v1/auth/token/refresh"))
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csrf = cookie_value(&resp, "swift_csrf")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("swift_csrf=")
        .to_owned();
    let resp = browser
        .post(app.url("/api/v1/auth/logout"))
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(
        cookie_value(&resp, "swift_access")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        browser
            .get(app.url("/api/v1/auth/user"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn cookies_are_ignored_when_cookie_mode_is_off() {
    let app = TestApp::spawn().await;
    let pair = app.register("dot@example.com").await;
    assert!(
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "dot@example.com", "password": PASSWORD})
        )
        .await
        .headers()
        .get("set-cookie")
        .is_none()
    );
    let resp = app
        .request(Method::GET, "/api/v1/auth/user")
        .header(
            "cookie",
            format!("swift_access={}", pair["access"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_problem(resp, 401, "not_authenticated").await;
}

#[tokio::test]
async fn staff_endpoints_refuse_customers_and_anonymous_callers() {
    let app = TestApp::spawn().await;
    let customer = app.access_token("cus@example.com").await;
    assert_problem(
        app.get("/api/v1/admin/users", None).await,
        401,
        "not_authenticated",
    )
    .await;
    assert_problem(
        app.get("/api/v1/admin/users", Some(&customer)).await,
        403,
        "permission_denied",
    )
    .await;
    let resp = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4()),
            Some(&customer),
            json!({"is_staff": true}),
        )
        .await;
    assert_problem(resp, 403, "permission_denied").await;
}

#[tokio::test]
async fn staff_list_and_update_users() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("root@example.com").await;
    for name in ["ann", "ben", "bea"] {
        app.register(&format!("{name}@shop.example")).await;
    }
    let page: Value = app
        .get_json("/api/v1/admin/users?q=b&page_size=10", Some(&staff))
        .await;
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(page["pages"], 1);
    let page: Value = app
        .get_json("/api/v1/admin/users?is_staff=true", Some(&staff))
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["email"], "root@example.com");
    let page: Value = app
        .get_json("/api/v1/admin/users?page=2&page_size=3", Some(&staff))
        .await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(4), 1)
    );
    assert_problem(
        app.get("/api/v1/admin/users?page_size=101", Some(&staff))
            .await,
        400,
        "validation_error",
    )
    .await;
    assert_problem(
        app.get("/api/v1/admin/users?page=0", Some(&staff)).await,
        400,
        "validation_error",
    )
    .await;

    let ann: Value = app
        .get_json("/api/v1/admin/users?q=ann", Some(&staff))
        .await;
    let id = ann["items"][0]["id"].as_str().unwrap();
    let resp = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/users/{id}"),
            Some(&staff),
            json!({"is_staff": true}),
        )
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["is_staff"], true);
    let resp = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4()),
            Some(&staff),
            json!({"is_staff": true}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn registration_resend_and_refresh_are_rate_limited_too() {
    let app = TestApp::spawn_with(&[("RATE_LIMITS", "on"), ("RATE_LIMIT_PER_ADDRESS", "2")]).await;
    for i in 0..2 {
        app.register(&format!("r{i}@example.com")).await;
    }
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "r9@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(resp, 429, "rate_limited").await;

    for _ in 0..2 {
        let resp = app
            .post(
                "/api/v1/auth/verify-email/resend",
                None,
                json!({"email": "r0@example.com"}),
            )
            .await;
        assert_eq!(resp.status(), 202);
    }
    let resp = app
        .post(
            "/api/v1/auth/verify-email/resend",
            None,
            json!({"email": "r0@example.com"}),
        )
        .await;
    assert_problem(resp, 429, "rate_limited").await;

    for _ in 0..2 {
        let resp = app
            .post(
                "/api/v1/auth/token/refresh",
                None,
                json!({"refresh": "unknown"}),
            )
            .await;
        assert_eq!(resp.status(), 401);
    }
    let resp = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": "unknown"}),
        )
        .await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 429, "rate_limited").await;
}
