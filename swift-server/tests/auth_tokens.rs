//! Sign-up, sign-in and the life of tokens and sessions.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{PASSWORD, TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn register_returns_a_token_pair_and_user() {
    let app = TestApp::spawn().await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": " Ada@Example.com ", "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["result"], "signed_in",
        "the union says which shape it is"
    );
    for key in [
        "access",
        "refresh",
        "access_expires_at",
        "refresh_expires_at",
    ] {
        assert!(body[key].is_string(), "{key}");
    }
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["is_staff"], false);
    assert_eq!(user["has_password"], true);
    assert_eq!(user["email_verified"], false);
    let me: Value = app
        .get_json("/api/v1/auth/user", body["access"].as_str())
        .await;
    assert_eq!(me["id"], user["id"]);
    // Only a hash is stored.
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
}

#[tokio::test]
async fn register_refuses_duplicates_and_weak_passwords() {
    let app = TestApp::spawn().await;
    app.register("bob@example.com").await;
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "BOB@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(resp, 409, "email_taken").await;
    for (password, why) in [
        ("short", "length"),
        ("1234567890123", "numeric"),
        ("password123", "common"),
        ("carol.smith.example", "like the email"),
    ] {
        let resp = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": "carol.smith@example.com", "password": password}),
            )
            .await;
        let body = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "password", "{why}: {body}");
    }
    let resp = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn login_never_reveals_whether_an_email_exists() {
    let app = TestApp::spawn().await;
    app.register("dan@example.com").await;
    let resp = app.login("dan@example.com", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["user"]["last_login"].is_string());
    let wrong = assert_problem(
        app.login("dan@example.com", "wrong-password-1").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody@example.com", "wrong-password-1").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let first = app.register("erin@example.com").await;
    let r1 = first["refresh"].as_str().unwrap();
    let resp = app
        .post("/api/v1/auth/token/refresh", None, json!({"refresh": r1}))
        .await;
    assert_eq!(resp.status(), 200);
    let second: Value = resp.json().await.unwrap();
    let r2 = second["refresh"].as_str().unwrap();
    assert_ne!(r1, r2);
    let access2 = second["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/auth/user", Some(access2)).await.status(),
        200
    );

    // The rotated token comes back after the grace window: theft. The whole session dies.
    app.age_rotations(31).await;
    let resp = app
        .post("/api/v1/auth/token/refresh", None, json!({"refresh": r1}))
        .await;
    assert_problem(resp, 401, "token_reused").await;
    let resp = app
        .post("/api/v1/auth/token/refresh", None, json!({"refresh": r2}))
        .await;
    assert_problem(resp, 401, "token_invalid").await;
    assert_problem(
        app.get("/api/v1/auth/user", Some(access2)).await,
        401,
        "token_invalid",
    )
    .await;
    // Another sign-in is unaffected.
    assert_eq!(app.login("erin@example.com", PASSWORD).await.status(), 200);
}

/// Issue #12.16: a Next.js server and the browser (or several tabs) refresh with the same
/// token at once. Every one of them gets the same successor, and the session lives on.
#[tokio::test]
async fn parallel_refreshes_with_one_token_all_get_the_same_successor() {
    let app = TestApp::spawn().await;
    let pair = app.register("fay@example.com").await;
    let token = pair["refresh"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/auth/token/refresh"),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .json(&json!({"refresh": token}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }));
    }
    let mut successors = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            app.get("/api/v1/auth/user", body["access"].as_str())
                .await
                .status(),
            200
        );
        successors.insert(body["refresh"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "no fork: {successors:?}");
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(live, 1, "one live token in the session");
    let next = successors.into_iter().next().unwrap();
    let resp = app
        .post("/api/v1/auth/token/refresh", None, json!({"refresh": next}))
        .await;
    assert_eq!(resp.status(), 200);
}

/// A tab that slept through two rotations by its siblings is led to the live token, and
/// the chain it walked is not forked either.
#[tokio::test]
async fn a_token_two_rotations_behind_reaches_the_live_one_within_the_window() {
    let app = TestApp::spawn().await;
    let r0 = app.register("gil@example.com").await["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = |token: String| {
        let app = &app;
        async move {
            let resp = app
                .post(
                    "/api/v1/auth/token/refresh",
                    None,
                    json!({"refresh": token}),
                )
                .await;
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()["refresh"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let r1 = refresh(r0.clone()).await;
    let r2 = refresh(r1.clone()).await;
    assert_eq!(refresh(r0.clone()).await, r2);
    assert_eq!(refresh(r1).await, r2);
    // Once the window has passed, the old token is reuse.
    app.age_rotations(31).await;
    let resp = app
        .post("/api/v1/auth/token/refresh", None, json!({"refresh": r0}))
        .await;
    assert_problem(resp, 401, "token_reused").await;
}

#[tokio::test]
async fn without_a_grace_window_a_quick_second_refresh_is_reuse() {
    let app = TestApp::spawn_with(&[("REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    let pair = app.register("hil@example.com").await;
    let r1 = pair["refresh"].as_str().unwrap();
    assert_eq!(
        app.post("/api/v1/auth/token/refresh", None, json!({"refresh": r1}))
            .await
            .status(),
        200
    );
    app.age_rotations(1).await;
    let again = app
        .post("/api/v1/auth/token/refresh", None, json!({"refresh": r1}))
        .await;
    assert_problem(again, 401, "token_reused").await;
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let resp = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": "made-up"}),
        )
        .await;
    assert_problem(resp, 401, "token_invalid").await;
    let pair = app.register("hal@example.com").await;
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 minute'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let resp = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": pair["refresh"]}),
        )
        .await;
    assert_problem(resp, 401, "token_expired").await;
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn forged_tampered_expired_and_wrong_type_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let pair = app.register("ivy@example.com").await;
    let access = pair["access"].as_str().unwrap();
    let parts: Vec<&str> = access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    // Tampered payload (staff claim smuggled in), original signature.
    let mut forged = claims.clone();
    forged["sub"] = json!(uuid::Uuid::new_v4());
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged), parts[2]);
    assert_problem(
        app.get("/api/v1/auth/user", Some(&tampered)).await,
        401,
        "token_invalid",
    )
    .await;

    // alg: none.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    assert_problem(
        app.get("/api/v1/auth/user", Some(&none)).await,
        401,
        "token_invalid",
    )
    .await;

    // Expired.
    let user_id: uuid::Uuid = claims["sub"].as_str().unwrap().parse().unwrap();
    let sid: uuid::Uuid = claims["sid"].as_str().unwrap().parse().unwrap();
    let (expired, _) = app.ctx.jwt.issue(
        user_id,
        sid,
        chrono::Utc::now() - chrono::Duration::hours(1),
    );
    assert_problem(
        app.get("/api/v1/auth/user", Some(&expired)).await,
        401,
        "token_expired",
    )
    .await;

    // Correctly signed, but not an access token.
    let mut other = claims.clone();
    other["typ"] = json!("refresh");
    let key = jsonwebtoken::EncodingKey::from_secret(&app.ctx.config.auth.jwt_secret);
    let wrong_type = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &other, &key).unwrap();
    assert_problem(
        app.get("/api/v1/auth/user", Some(&wrong_type)).await,
        401,
        "token_invalid",
    )
    .await;

    // A refresh token is not an access token.
    let refresh = pair["refresh"].as_str().unwrap();
    assert_problem(
        app.get("/api/v1/auth/user", Some(refresh)).await,
        401,
        "token_invalid",
    )
    .await;

    // No token at all.
    assert_problem(
        app.get("/api/v1/auth/user", None).await,
        401,
        "not_authenticated",
    )
    .await;

    // verifyToken agrees.
    assert_eq!(
        app.post("/api/v1/auth/token/verify", None, json!({"token": access}))
            .await
            .status(),
        200
    );
    assert_problem(
        app.post("/api/v1/auth/token/verify", None, json!({"token": expired}))
            .await,
        401,
        "token_expired",
    )
    .await;
}

#[tokio::test]
async fn logout_all_kills_live_access_tokens_at_once() {
    let app = TestApp::spawn().await;
    let a = app.register("jo@example.com").await;
    let b: Value = app
        .login("jo@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let (ta, tb) = (a["access"].as_str().unwrap(), b["access"].as_str().unwrap());
    let resp = app
        .post("/api/v1/auth/logout-all", Some(ta), json!({}))
        .await;
    assert_eq!(resp.status(), 204);
    assert_problem(
        app.get("/api/v1/auth/user", Some(ta)).await,
        401,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.get("/api/v1/auth/user", Some(tb)).await,
        401,
        "token_invalid",
    )
    .await;
    let resp = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": b["refresh"]}),
        )
        .await;
    assert_problem(resp, 401, "token_invalid").await;
}

#[tokio::test]
async fn password_change_revokes_other_sessions_only() {
    let app = TestApp::spawn().await;
    let a = app.register("kim@example.com").await;
    let b: Value = app
        .login("kim@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let (ta, tb) = (a["access"].as_str().unwrap(), b["access"].as_str().unwrap());
    let new_password = "violet-Tundra-harbor-77";
    let resp = app
        .post(
            "/api/v1/auth/password/change",
            Some(ta),
            json!({"old_password": "wrong-one-here", "new_password": new_password}),
        )
        .await;
    let body = assert_problem(resp, 400, "validation_error").await;
    assert_eq!(body["errors"][0]["field"], "old_password");
    let resp = app
        .post(
            "/api/v1/auth/password/change",
            Some(ta),
            json!({"old_password": PASSWORD, "new_password": "abc"}),
        )
        .await;
    assert_problem(resp, 400, "validation_error").await;
    let resp = app
        .post(
            "/api/v1/auth/password/change",
            Some(ta),
            json!({"old_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        app.get("/api/v1/auth/user", Some(ta)).await.status(),
        200,
        "this session stays"
    );
    assert_problem(
        app.get("/api/v1/auth/user", Some(tb)).await,
        401,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.login("kim@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login("kim@example.com", new_password).await.status(),
        200
    );
}

#[tokio::test]
async fn deactivation_kills_live_tokens_and_blocks_sign_in() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token("boss@example.com").await;
    let user = app.register("lee@example.com").await;
    let token = user["access"].as_str().unwrap();
    let id = user["user"]["id"].as_str().unwrap();
    let resp = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/admin/users/{id}"),
            Some(&staff),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["is_active"], false);
    assert_problem(
        app.get("/api/v1/auth/user", Some(token)).await,
        401,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.login("lee@example.com", PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;
    let resp = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": user["refresh"]}),
        )
        .await;
    assert_problem(resp, 401, "token_invalid").await;
}

#[tokio::test]
async fn sessions_list_mark_current_and_revoke_own_only() {
    let app = TestApp::spawn().await;
    let a = app.register("max@example.com").await;
    let resp = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("user-agent", "SessionTest/1.0")
        .json(&json!({"email": "max@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let b: Value = resp.json().await.unwrap();
    let ta = a["access"].as_str().unwrap();
    let sessions: Vec<Value> = app.get_json("/api/v1/auth/sessions", Some(ta)).await;
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "SessionTest/1.0");
    assert_eq!(other["ip"], "127.0.0.1");

    // Someone else cannot see or revoke it.
    let intruder = app.access_token("nia@example.com").await;
    let path = format!("/api/v1/auth/sessions/{}", other["id"].as_str().unwrap());
    assert_problem(app.delete(&path, &intruder).await, 404, "not_found").await;

    assert_eq!(app.delete(&path, ta).await.status(), 204);
    assert_problem(
        app.get("/api/v1/auth/user", b["access"].as_str()).await,
        401,
        "token_invalid",
    )
    .await;
    let sessions: Vec<Value> = app.get_json("/api/v1/auth/sessions", Some(ta)).await;
    assert_eq!(sessions.len(), 1);
    // DELETE is idempotent: revoking it again is still 204, and still not the intruder's.
    assert_eq!(app.delete(&path, ta).await.status(), 204);
    assert_problem(app.delete(&path, &intruder).await, 404, "not_found").await;
}

#[tokio::test]
async fn logout_ends_the_session_of_the_refresh_token() {
    let app = TestApp::spawn().await;
    let pair = app.register("oli@example.com").await;
    let resp = app
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh": pair["refresh"]}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_problem(
        app.get("/api/v1/auth/user", pair["access"].as_str()).await,
        401,
        "token_invalid",
    )
    .await;
    let resp = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh": pair["refresh"]}),
        )
        .await;
    assert_eq!(resp.status(), 401);
    // Logging out again is harmless.
    assert_eq!(
        app.post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh": pair["refresh"]})
        )
        .await
        .status(),
        204
    );
    // Or by access token alone.
    let pair = app.register("pat@example.com").await;
    let resp = app
        .post("/api/v1/auth/logout", pair["access"].as_str(), json!({}))
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        app.get("/api/v1/auth/user", pair["access"].as_str())
            .await
            .status(),
        401
    );
}
