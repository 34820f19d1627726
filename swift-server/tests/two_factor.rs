//! Two-factor sign-in, recovery codes, the staff policy and linked sign-in methods (#19),
//! over HTTP like a client, with the codes an authenticator app would show.
//!
//! An app's code is computed with the server's own TOTP function, which is held to RFC 6238's
//! appendix B vectors in its unit tests. A code is good once per 30-second step; where a test
//! needs more codes than the steps at hand, it moves the account's last used step back, as if
//! that much time had passed, instead of waiting for the clock.

mod common;

use common::oidc::{CLIENT_ID, Person, TestProvider};
use common::{PASSWORD, TestApp, assert_problem, link, query_param};
use serde_json::{Value, json};
use swift_core::accounts::two_factor::totp;

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// The secret's bytes from the base32 an app is given.
fn secret_bytes(base32: &str) -> Vec<u8> {
    totp::secret_from_base32(base32).unwrap()
}

/// What the app shows now, or `steps` 30-second steps later.
fn code(secret: &[u8], steps: i64) -> String {
    totp::code_at(secret, now().saturating_add_signed(steps * 30))
}

/// Enrols and confirms for the holder of `token`: (secret, recovery codes).
async fn turn_on(app: &TestApp, token: &str) -> (Vec<u8>, Vec<String>) {
    let resp = app
        .post("/api/v1/auth/two-factor", Some(token), json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let enrolment: Value = resp.json().await.unwrap();
    let secret = secret_bytes(enrolment["secret"].as_str().unwrap());
    let resp = app
        .post(
            "/api/v1/auth/two-factor/confirm",
            Some(token),
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// As if `minutes` had passed since the account's last code: codes of the steps since
/// become good again.
async fn time_passes(app: &TestApp, email: &str, minutes: i64) {
    sqlx::query(
        "UPDATE totp_factors SET last_step = last_step - $2 \
         WHERE user_id = (SELECT id FROM users WHERE email = $1)",
    )
    .bind(email)
    .bind(minutes * 2)
    .execute(&app.db.pool)
    .await
    .unwrap();
}

/// The first step of a password sign-in for an account with a factor: its challenge.
async fn challenge(app: &TestApp, email: &str) -> String {
    let resp = app.login(email, PASSWORD).await;
    assert_eq!(resp.status(), 202, "a second step is asked for");
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("access").is_none(), "no tokens before the code");
    assert!(body["expires_at"].is_string());
    body["challenge"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, challenge: &str, code: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/second-factor",
        None,
        json!({"challenge": challenge, "code": code}),
    )
    .await
}

async fn status(app: &TestApp, token: &str) -> Value {
    app.get_json("/api/v1/auth/two-factor", Some(token)).await
}

#[tokio::test]
async fn enrol_confirm_sign_in_and_disable() {
    let app = TestApp::spawn().await;
    let token = app.access_token("ada@example.com").await;
    assert_eq!(
        status(&app, &token).await,
        json!({"enabled": false, "pending": false, "recovery_codes_left": 0})
    );

    // Enrolment shows the secret and a URI for a QR code, and is pending until confirmed.
    let resp = app
        .post("/api/v1/auth/two-factor", Some(&token), json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let enrolment: Value = resp.json().await.unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/SWIFT:ada%40example.com?"),
        "{uri}"
    );
    assert!(uri.contains(enrolment["secret"].as_str().unwrap()));
    assert_eq!(status(&app, &token).await["pending"], true);
    // While pending, sign-in still takes the password alone.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    // The secret is sealed at rest.
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT secret_sealed FROM totp_factors")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let secret = secret_bytes(enrolment["secret"].as_str().unwrap());
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));

    // A wrong first code confirms nothing.
    let wrong = if code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let resp = app
        .post(
            "/api/v1/auth/two-factor/confirm",
            Some(&token),
            json!({"code": wrong}),
        )
        .await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;
    let resp = app
        .post(
            "/api/v1/auth/two-factor/confirm",
            Some(&token),
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let codes: Value = resp.json().await.unwrap();
    assert_eq!(codes["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(
        status(&app, &token).await,
        json!({"enabled": true, "pending": false, "recovery_codes_left": 10})
    );
    app.mail_to("ada@example.com", "Two-factor sign-in is on")
        .await;
    // Enrolling again while on is refused.
    let resp = app
        .post("/api/v1/auth/two-factor", Some(&token), json!({}))
        .await;
    assert_problem(resp, 409, "two_factor_enabled").await;

    // Sign-in now takes two steps; the second answers the tokens.
    let challenge = challenge(&app, "ada@example.com").await;
    let resp = second_step(&app, &challenge, &code(&secret, 1)).await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    let second = pair["access"].as_str().unwrap().to_owned();
    assert_eq!(pair["user"]["email"], "ada@example.com");
    // The challenge was single use.
    time_passes(&app, "ada@example.com", 5).await;
    let resp = second_step(&app, &challenge, &code(&secret, 0)).await;
    assert_problem(resp, 401, "token_invalid").await;

    // Turning it off takes the password and a code.
    let resp = app
        .post(
            "/api/v1/auth/two-factor/disable",
            Some(&second),
            json!({"password": "not-the-password-1", "code": code(&secret, 0)}),
        )
        .await;
    assert_problem(resp, 400, "validation_error").await;
    let resp = app
        .post(
            "/api/v1/auth/two-factor/disable",
            Some(&second),
            json!({"password": PASSWORD, "code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    app.mail_to("ada@example.com", "Two-factor sign-in is off")
        .await;
    assert_eq!(status(&app, &second).await["enabled"], false);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM recovery_codes")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the recovery codes went with the factor");
}

#[tokio::test]
async fn wrong_and_reused_codes_are_refused_and_challenges_run_out() {
    let app = TestApp::spawn().await;
    let token = app.access_token("bo@example.com").await;
    let (secret, _) = turn_on(&app, &token).await;

    // The confirming code cannot sign in: each code is good once.
    let first = challenge(&app, "bo@example.com").await;
    let resp = second_step(&app, &first, &code(&secret, 0)).await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;
    // The next step's code works once, and not again in another sign-in.
    let next = code(&secret, 1);
    assert_eq!(second_step(&app, &first, &next).await.status(), 200);
    let again = challenge(&app, "bo@example.com").await;
    let resp = second_step(&app, &again, &next).await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;
    // A code from outside the window (two steps ahead) is wrong, as is a malformed one.
    let resp = second_step(&app, &again, &code(&secret, 3)).await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;
    let resp = second_step(&app, &again, "12345x").await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;

    // Five tries per challenge: the fifth wrong one kills it, even for a right code after.
    for _ in 0..2 {
        let resp = second_step(&app, &again, "000000").await;
        assert_eq!(resp.status(), 400);
    }
    time_passes(&app, "bo@example.com", 5).await;
    let resp = second_step(&app, &again, &code(&secret, 0)).await;
    assert_problem(resp, 401, "token_invalid").await;
    // A made-up challenge is no better.
    let resp = second_step(&app, "made-up-challenge", &code(&secret, 0)).await;
    assert_problem(resp, 401, "token_invalid").await;

    // An expired challenge is refused.
    let late = challenge(&app, "bo@example.com").await;
    sqlx::query("UPDATE two_factor_challenges SET expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let resp = second_step(&app, &late, &code(&secret, 0)).await;
    assert_problem(resp, 401, "token_invalid").await;
}

#[tokio::test]
async fn second_factor_attempts_are_rate_limited_per_account() {
    let app = TestApp::spawn_with(&[
        ("RATE_LIMITS", "on"),
        ("RATE_LIMIT_PER_ACCOUNT", "3"),
        ("RATE_LIMIT_PER_ADDRESS", "100"),
    ])
    .await;
    let token = app.access_token("cy@example.com").await;
    turn_on(&app, &token).await;
    // A fresh challenge does not buy more guesses: the account's allowance is spent.
    let first = challenge(&app, "cy@example.com").await;
    for _ in 0..2 {
        assert_eq!(second_step(&app, &first, "000000").await.status(), 400);
    }
    let fresh = challenge(&app, "cy@example.com").await;
    assert_eq!(second_step(&app, &fresh, "000000").await.status(), 400);
    let resp = second_step(&app, &fresh, "000000").await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 429, "rate_limited").await;
}

#[tokio::test]
async fn recovery_codes_work_once_are_mailed_about_and_can_be_renewed() {
    let app = TestApp::spawn().await;
    let token = app.access_token("dee@example.com").await;
    let (secret, codes) = turn_on(&app, &token).await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    assert!(
        stored
            .iter()
            .all(|h| !codes.iter().any(|c| h.as_slice() == c.as_bytes())),
        "hashed, not kept"
    );

    // A recovery code signs in, typed as people type (upper case, no dash)...
    let typed = codes[0].to_uppercase().replace('-', "");
    let c = challenge(&app, "dee@example.com").await;
    assert_eq!(second_step(&app, &c, &typed).await.status(), 200);
    let mail = app
        .mail_to("dee@example.com", "A recovery code was used")
        .await;
    assert!(mail.contains("9 remain unused"), "{mail}");
    assert_eq!(status(&app, &token).await["recovery_codes_left"], 9);
    // ...once.
    let c = challenge(&app, "dee@example.com").await;
    let resp = second_step(&app, &c, &codes[0]).await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;
    // Another account's codes are not this one's.
    let other = app.access_token("eve@example.com").await;
    let (_, eve_codes) = turn_on(&app, &other).await;
    let resp = second_step(&app, &c, &eve_codes[0]).await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;

    // Renewing takes a code and kills every old recovery code.
    let resp = app
        .post(
            "/api/v1/auth/two-factor/recovery-codes",
            Some(&token),
            json!({"code": code(&secret, 1)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let renewed: Value = resp.json().await.unwrap();
    let renewed: Vec<String> = renewed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(renewed.len(), 10);
    app.mail_to("dee@example.com", "New recovery codes").await;
    let c = challenge(&app, "dee@example.com").await;
    let resp = second_step(&app, &c, &codes[1]).await;
    assert_problem(resp, 400, "invalid_two_factor_code").await;
    assert_eq!(second_step(&app, &c, &renewed[1]).await.status(), 200);

    // A recovery code can also turn the factor off (the app is lost).
    let resp = app
        .post(
            "/api/v1/auth/two-factor/disable",
            Some(&token),
            json!({"password": PASSWORD, "code": renewed[2]}),
        )
        .await;
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn staff_policy_needs_a_second_factor_for_staff_endpoints() {
    let app = TestApp::spawn_with(&[("STAFF_REQUIRE_2FA", "true")]).await;
    let staff = app.staff_token("boss@shop.example").await;
    let customer = app.access_token("cal@example.com").await;

    // A staff session without a second factor: staff endpoints refuse, the rest work.
    let resp = app.get("/api/v1/admin/users", Some(&staff)).await;
    let problem = assert_problem(resp, 403, "two_factor_required").await;
    assert!(problem["detail"].as_str().unwrap().contains("two-factor"));
    assert_eq!(
        app.get("/api/v1/auth/user", Some(&staff)).await.status(),
        200
    );
    // Customers are refused as before (not a staff member at all).
    let resp = app.get("/api/v1/admin/users", Some(&customer)).await;
    assert_problem(resp, 403, "permission_denied").await;
    // Customers sign in with one factor as before.
    assert_eq!(app.login("cal@example.com", PASSWORD).await.status(), 200);

    // Turning it on makes this session a two-factor one...
    let (secret, _) = turn_on(&app, &staff).await;
    assert_eq!(
        app.get("/api/v1/admin/users", Some(&staff)).await.status(),
        200
    );
    // ...and a new sign-in passes the policy only through the second step.
    let c = challenge(&app, "boss@shop.example").await;
    let resp = second_step(&app, &c, &code(&secret, 1)).await;
    let fresh: Value = resp.json().await.unwrap();
    let fresh = fresh["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/admin/users", Some(fresh)).await.status(),
        200
    );

    // Turned off: no session counts as two-factor any more.
    time_passes(&app, "boss@shop.example", 5).await;
    let resp = app
        .post(
            "/api/v1/auth/two-factor/disable",
            Some(fresh),
            json!({"password": PASSWORD, "code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app.get("/api/v1/admin/users", Some(fresh)).await;
    assert_problem(resp, 403, "two_factor_required").await;

    // Without the policy, the same staff session is enough.
    let relaxed = TestApp::spawn_on(app.db.clone(), &[], poem::Route::new()).await;
    assert_eq!(
        relaxed
            .get("/api/v1/admin/users", Some(&staff))
            .await
            .status(),
        200
    );
}

async fn google_app() -> (TestProvider, TestApp) {
    let provider = TestProvider::start().await;
    let app = TestApp::spawn_with_google(&provider, &[]).await;
    (provider, app)
}

#[tokio::test]
async fn google_sign_in_asks_for_the_second_factor_too() {
    let (provider, app) = google_app().await;
    let person = Person::new("google-sub-fay", "fay@example.com");
    let resp = app.google_login(&provider, &person).await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    assert_eq!(pair["created"], true);
    let token = pair["access"].as_str().unwrap().to_owned();
    // A Google-only account turns it on without a password, and needs none to turn it off.
    let (secret, _) = turn_on(&app, &token).await;

    let resp = app.google_login(&provider, &person).await;
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("access").is_none());
    let resp = second_step(&app, body["challenge"].as_str().unwrap(), &code(&secret, 1)).await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    assert_eq!(pair["user"]["email"], "fay@example.com");
    assert_eq!(
        pair["created"], false,
        "Google's answer comes through the second step"
    );

    time_passes(&app, "fay@example.com", 5).await;
    let resp = app
        .post(
            "/api/v1/auth/two-factor/disable",
            Some(pair["access"].as_str().unwrap()),
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(resp.status(), 204);
}

/// `connectGoogle` for the holder of `token`, with an id_token for `person`.
async fn connect(
    app: &TestApp,
    provider: &TestProvider,
    person: &Person,
    token: &str,
) -> reqwest::Response {
    let id_token = provider.id_token(person, CLIENT_ID);
    app.post(
        "/api/v1/auth/google/connect",
        Some(token),
        json!({"id_token": id_token}),
    )
    .await
}

#[tokio::test]
async fn sign_in_methods_connect_and_disconnect_but_never_the_last() {
    let (provider, app) = google_app().await;
    let token = app.access_token("gus@example.com").await;
    let methods: Value = app.get_json("/api/v1/auth/methods", Some(&token)).await;
    assert_eq!(methods, json!([{"method": "password"}]));

    // The only method cannot go.
    let resp = app.delete("/api/v1/auth/methods/password", &token).await;
    assert_problem(resp, 409, "last_sign_in_method").await;
    let resp = app.delete("/api/v1/auth/methods/google", &token).await;
    assert_problem(resp, 404, "not_found").await;

    // Google must vouch for the address it connects.
    let mut unverified = Person::new("google-sub-gus", "gus.work@example.com");
    unverified.email_verified = false;
    let resp = connect(&app, &provider, &unverified, &token).await;
    assert_problem(resp, 409, "account_link_conflict").await;
    // A verified Google identity connects, with another address than the account's.
    let person = Person::new("google-sub-gus", "gus.work@example.com");
    let resp = connect(&app, &provider, &person, &token).await;
    assert_eq!(resp.status(), 200);
    let methods: Value = resp.json().await.unwrap();
    assert_eq!(methods[0], json!({"method": "password"}));
    assert_eq!(methods[1]["method"], "google");
    assert_eq!(methods[1]["email"], "gus.work@example.com");
    app.mail_to("gus@example.com", "Google sign-in connected")
        .await;
    // Connecting it again changes nothing; another account cannot take it.
    let again = connect(&app, &provider, &person, &token).await;
    assert_eq!(again.status(), 200);
    let other = app.access_token("hal@example.com").await;
    let resp = connect(&app, &provider, &person, &other).await;
    assert_problem(resp, 409, "account_link_conflict").await;
    // Google now signs in to this account.
    let resp = app.google_login(&provider, &person).await;
    let pair: Value = resp.json().await.unwrap();
    assert_eq!(pair["user"]["email"], "gus@example.com");

    // With two methods, the password can go; then Google is the last and stays.
    let resp = app.delete("/api/v1/auth/methods/password", &token).await;
    assert_eq!(resp.status(), 200);
    let methods: Value = resp.json().await.unwrap();
    assert_eq!(methods.as_array().unwrap().len(), 1);
    app.mail_to("gus@example.com", "Password sign-in removed")
        .await;
    assert_eq!(app.login("gus@example.com", PASSWORD).await.status(), 401);
    let resp = app.delete("/api/v1/auth/methods/google", &token).await;
    assert_problem(resp, 409, "last_sign_in_method").await;

    // A Google-only account sets a password through the reset flow...
    app.post(
        "/api/v1/auth/password/reset",
        None,
        json!({"email": "gus@example.com"}),
    )
    .await;
    let mail = app.mail_to("gus@example.com", "Reset").await;
    let url = link(&mail, "http://localhost:3000/reset-password?");
    let new_password = "saffron-Kettle-meadow-19";
    let resp = app
        .post(
            "/api/v1/auth/password/reset/confirm",
            None,
            json!({"uid": query_param(&url, "uid"), "token": query_param(&url, "token"), "new_password": new_password}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    // (which signs every session out, as a reset does)...
    assert_eq!(
        app.get("/api/v1/auth/user", Some(&token)).await.status(),
        401
    );
    let resp = app.login("gus@example.com", new_password).await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    let token = pair["access"].as_str().unwrap();
    // ...after which Google may go.
    let resp = app.delete("/api/v1/auth/methods/google", token).await;
    assert_eq!(resp.status(), 200);
    let methods: Value = resp.json().await.unwrap();
    assert_eq!(methods, json!([{"method": "password"}]));
    app.mail_to("gus@example.com", "Google sign-in disconnected")
        .await;
}

/// What needs a factor, asked of an account without one: 409 `two_factor_not_enabled`.
#[tokio::test]
async fn without_a_factor_confirming_disabling_and_renewing_are_refused() {
    let app = TestApp::spawn().await;
    let token = app.access_token("ivy@example.com").await;
    for (path, body) in [
        ("/api/v1/auth/two-factor/confirm", json!({"code": "123456"})),
        (
            "/api/v1/auth/two-factor/disable",
            json!({"password": PASSWORD, "code": "123456"}),
        ),
        (
            "/api/v1/auth/two-factor/recovery-codes",
            json!({"code": "123456"}),
        ),
    ] {
        let resp = app.post(path, Some(&token), body).await;
        assert_problem(resp, 409, "two_factor_not_enabled").await;
    }
    // A pending enrolment is not a factor either: only confirming it works.
    let resp = app
        .post("/api/v1/auth/two-factor", Some(&token), json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post(
            "/api/v1/auth/two-factor/recovery-codes",
            Some(&token),
            json!({"code": "123456"}),
        )
        .await;
    assert_problem(resp, 409, "two_factor_not_enabled").await;
}
