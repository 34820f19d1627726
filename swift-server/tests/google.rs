//! Google sign-in end to end: the server's real openidconnect code against a real local
//! OpenID Provider (discovery, JWKS, authorization and token endpoints, RS256 id_tokens).

mod common;

use std::sync::Arc;

use common::oidc::{CLIENT_ID, Person, TestProvider};
use common::{PASSWORD, TestApp, assert_problem, query_param};
use poem::Route;
use reqwest::Client;
use serde_json::{Value, json};

async fn setup_with(extra: &[(&str, &str)]) -> (TestProvider, TestApp) {
    let provider = TestProvider::start().await;
    let app = TestApp::spawn_with_google(&provider, extra).await;
    (provider, app)
}

async fn setup() -> (TestProvider, TestApp) {
    setup_with(&[]).await
}

/// A browser: keeps cookies, does not follow redirects (each hop is asserted).
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), 302, "expected a redirect");
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// authorize (on `start`) → provider → callback (on `finish`); returns the frontend URL.
async fn redirect_flow(start: &TestApp, finish: &TestApp, browser: &Client, next: &str) -> String {
    let resp = browser
        .get(start.url(&format!("/api/v1/auth/google/authorize?next={next}")))
        .send()
        .await
        .unwrap();
    let to_provider = location(&resp);
    assert!(
        to_provider.contains("code_challenge_method=S256"),
        "{to_provider}"
    );
    assert!(to_provider.contains("nonce="), "{to_provider}");
    let resp = browser.get(&to_provider).send().await.unwrap();
    let to_callback = location(&resp);
    // The callback may be served by another instance (same cookie jar: same browser).
    let to_callback = to_callback.replace(&start.base, &finish.base);
    let resp = browser.get(&to_callback).send().await.unwrap();
    location(&resp)
}

/// authorize → provider; returns the provider's redirect to our callback, not yet followed.
async fn to_callback(app: &TestApp, browser: &Client) -> String {
    let resp = browser
        .get(app.url("/api/v1/auth/google/authorize"))
        .send()
        .await
        .unwrap();
    let resp = browser.get(location(&resp)).send().await.unwrap();
    location(&resp)
}

async fn exchange(app: &TestApp, frontend_url: &str) -> reqwest::Response {
    let code = query_param(frontend_url, "login_code");
    app.post("/api/v1/auth/exchange", None, json!({"login_code": code}))
        .await
}

#[tokio::test]
async fn new_user_signs_up_through_the_redirect_flow() {
    let (_provider, app) = setup().await;
    let b = browser();
    let frontend = redirect_flow(&app, &app, &b, "/account/orders").await;
    assert!(
        frontend.starts_with("http://localhost:3000/auth/callback?"),
        "{frontend}"
    );
    assert_eq!(query_param(&frontend, "next"), "/account/orders");
    let resp = exchange(&app, &frontend).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["created"], true);
    let user = &body["user"];
    assert_eq!(user["email"], "grace@example.com");
    assert_eq!(user["has_password"], false);
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["first_name"], "Grace");
    assert_eq!(
        app.get("/api/v1/auth/user", body["access"].as_str())
            .await
            .status(),
        200
    );
    // A password login is impossible for a Google-only account.
    assert_problem(
        app.login("grace@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn returning_user_gets_the_same_account() {
    let (provider, app) = setup().await;
    let first: Value = exchange(&app, &redirect_flow(&app, &app, &browser(), "/").await)
        .await
        .json()
        .await
        .unwrap();
    // The provider email changed: only the linked identity's record follows.
    let mut person = Person::new("google-sub-1", "grace.new@example.com");
    person.given_name = Some("Changed".into());
    provider.sign_in_as(person);
    let second: Value = exchange(&app, &redirect_flow(&app, &app, &browser(), "/").await)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["created"], false);
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    assert_eq!(second["user"]["email"], "grace@example.com");
    assert_eq!(second["user"]["first_name"], "Grace");
    let stored: String =
        sqlx::query_scalar("SELECT email FROM social_accounts WHERE subject = 'google-sub-1'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, "grace.new@example.com");
}

#[tokio::test]
async fn verified_email_links_to_the_existing_account() {
    let (provider, app) = setup().await;
    let local = app.register("ada@example.com").await;
    provider.sign_in_as(Person::new("google-sub-ada", "ada@example.com"));
    let body: Value = exchange(&app, &redirect_flow(&app, &app, &browser(), "/").await)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["created"], false);
    assert_eq!(body["user"]["id"], local["user"]["id"]);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"]["has_password"], true);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn unverified_email_matching_an_account_is_refused() {
    let (provider, app) = setup().await;
    app.register("eve@example.com").await;
    let mut person = Person::new("google-sub-eve", "eve@example.com");
    person.email_verified = false;
    provider.sign_in_as(person.clone());
    let frontend = redirect_flow(&app, &app, &browser(), "/").await;
    assert_eq!(query_param(&frontend, "error"), "account_link_conflict");
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&person, CLIENT_ID)}),
        )
        .await;
    assert_problem(resp, 409, "account_link_conflict").await;
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM social_accounts")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(links, 0);
}

#[tokio::test]
async fn id_tokens_failing_any_check_are_refused() {
    let (provider, app) = setup().await;
    let person = Person::new("google-sub-2", "tok@example.com");
    let good = provider.id_token(&person, CLIENT_ID);
    type Tweak = fn(&mut common::oidc::Tweaks);
    let cases: [(&str, Tweak); 4] = [
        ("wrong audience", |t| {
            t.audience = Some("someone-else".into())
        }),
        ("wrong issuer", |t| {
            t.issuer = Some("https://evil.example".into())
        }),
        ("expired", |t| t.expired = true),
        ("bad signature", |t| t.bad_signature = true),
    ];
    for (why, tweak) in cases {
        provider.tweak(|t| *t = Default::default());
        provider.tweak(tweak);
        let token = provider.id_token(&person, CLIENT_ID);
        let resp = app
            .post("/api/v1/auth/google", None, json!({"id_token": token}))
            .await;
        let body = assert_problem(resp, 401, "token_invalid").await;
        assert!(body["detail"].is_string(), "{why}");
    }
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": "not.a.jwt"}),
        )
        .await;
    assert_problem(resp, 401, "token_invalid").await;
    // The untampered token still works: the failures were the checks, not the setup.
    let resp = app
        .post("/api/v1/auth/google", None, json!({"id_token": good}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["created"], true);
}

#[tokio::test]
async fn wrong_nonce_fails_the_redirect_flow() {
    let (provider, app) = setup().await;
    provider.tweak(|t| t.nonce = Some("not-the-flow-nonce".into()));
    let frontend = redirect_flow(&app, &app, &browser(), "/").await;
    assert_eq!(query_param(&frontend, "error"), "invalid_token");
}

#[tokio::test]
async fn denied_consent_reaches_the_frontend_as_an_error() {
    let (provider, app) = setup().await;
    provider.tweak(|t| t.deny_consent = true);
    let frontend = redirect_flow(&app, &app, &browser(), "/").await;
    assert_eq!(query_param(&frontend, "error"), "access_denied");
}

#[tokio::test]
async fn replayed_unknown_or_foreign_state_is_refused() {
    let (_provider, app) = setup().await;
    let b = browser();
    let callback = to_callback(&app, &b).await;
    let first = location(&b.get(&callback).send().await.unwrap());
    assert!(first.contains("login_code="), "{first}");
    // Replayed state.
    let replay = location(&b.get(&callback).send().await.unwrap());
    assert_eq!(query_param(&replay, "error"), "invalid_state");
    // Unknown state.
    let unknown = callback.replace(&query_param(&callback, "state"), "made-up-state");
    assert_eq!(
        query_param(&location(&b.get(&unknown).send().await.unwrap()), "error"),
        "invalid_state"
    );
    // A state started in another browser (no binding cookie here): login CSRF refused.
    let victim = browser();
    let attacker = browser();
    let planted = to_callback(&app, &attacker).await;
    assert_eq!(
        query_param(
            &location(&victim.get(&planted).send().await.unwrap()),
            "error"
        ),
        "invalid_state"
    );
}

#[tokio::test]
async fn expired_flows_are_refused() {
    let (_provider, app) = setup().await;
    let b = browser();
    let callback = to_callback(&app, &b).await;
    sqlx::query("UPDATE oauth_flows SET expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&b.get(&callback).send().await.unwrap()), "error"),
        "invalid_state"
    );
}

#[tokio::test]
async fn login_codes_are_single_use_and_short_lived() {
    let (_provider, app) = setup().await;
    let frontend = redirect_flow(&app, &app, &browser(), "/").await;
    assert_eq!(exchange(&app, &frontend).await.status(), 200);
    assert_problem(exchange(&app, &frontend).await, 401, "token_invalid").await;
    let frontend = redirect_flow(&app, &app, &browser(), "/").await;
    sqlx::query("UPDATE login_codes SET expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_problem(exchange(&app, &frontend).await, 401, "token_invalid").await;
}

#[tokio::test]
async fn off_site_next_is_refused() {
    let (_provider, app) = setup().await;
    for next in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "evil",
    ] {
        let resp = app
            .get(&format!("/api/v1/auth/google/authorize?next={next}"), None)
            .await;
        let body = assert_problem(resp, 400, "validation_error").await;
        assert_eq!(body["errors"][0]["field"], "next", "{next}");
    }
}

#[tokio::test]
async fn rotated_signing_keys_are_fetched_once_and_accepted() {
    let (provider, app) = setup().await;
    let person = Person::new("google-sub-rot", "rot@example.com");
    // The first sign-in caches the JWKS (key-1).
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&person, CLIENT_ID)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    provider.rotate_key();
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&person, CLIENT_ID)}),
        )
        .await;
    assert_eq!(
        resp.status(),
        200,
        "token signed with key-2 accepted after a JWKS refetch"
    );
}

#[tokio::test]
async fn provider_down_is_a_clear_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(&[
        ("GOOGLE_CLIENT_ID", CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", "x"),
        ("GOOGLE_REDIRECT_URI", "{base}/api/v1/auth/google/callback"),
        ("OIDC_ISSUER_URL", &format!("http://{closed}")),
        ("OIDC_HTTP_TIMEOUT_SECONDS", "2"),
    ])
    .await;
    let started = std::time::Instant::now();
    assert_problem(
        app.get("/api/v1/auth/google/authorize", None).await,
        502,
        "oauth_provider_error",
    )
    .await;
    // A well-formed token: verifying it needs the provider's keys, which cannot be fetched.
    let b64 = |v: Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let token = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "RS256", "kid": "k"})),
        b64(
            json!({"iss": format!("http://{closed}"), "sub": "s", "aud": CLIENT_ID, "exp": 4102444800i64, "iat": 0})
        )
    );
    let resp = app
        .post("/api/v1/auth/google", None, json!({"id_token": token}))
        .await;
    assert_problem(resp, 502, "oauth_provider_error").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_hanging_provider_times_out_into_a_502() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(&[
        ("GOOGLE_CLIENT_ID", CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", "x"),
        ("GOOGLE_REDIRECT_URI", "{base}/api/v1/auth/google/callback"),
        ("OIDC_ISSUER_URL", &format!("http://{addr}")),
        ("OIDC_HTTP_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let started = std::time::Instant::now();
    let resp = app.get("/api/v1/auth/google/authorize", None).await;
    assert_problem(resp, 502, "oauth_provider_error").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn not_configured_answers_503_and_the_rest_runs() {
    let app = TestApp::spawn().await;
    assert_problem(
        app.get("/api/v1/auth/google/authorize", None).await,
        503,
        "oauth_not_configured",
    )
    .await;
    let resp = app
        .post("/api/v1/auth/google", None, json!({"id_token": "a.b.c"}))
        .await;
    assert_problem(resp, 503, "oauth_not_configured").await;
    assert_eq!(app.get("/readyz", None).await.status(), 200);
}

#[tokio::test]
async fn frontend_obtained_codes_and_extra_audiences_sign_in() {
    let (provider, app) = setup_with(&[("GOOGLE_EXTRA_AUDIENCES", "frontend-client")]).await;
    // An id_token minted for the frontend's own client id.
    let person = Person::new("google-sub-fe", "fe@example.com");
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&person, "frontend-client")}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // An authorization code the frontend obtained with its own PKCE pair.
    let verifier = "a-frontend-pkce-verifier-with-enough-entropy-0123456789";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let redirect_uri = "http://localhost:3000/auth/google";
    // The frontend's own trip to the provider: a fresh code each time.
    let frontend_code = || async {
        let url = format!(
            "{}/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri={redirect_uri}&scope=openid%20email&state=s&code_challenge={challenge}&code_challenge_method=S256",
            provider.issuer
        );
        let resp = browser().get(url).send().await.unwrap();
        query_param(&location(&resp), "code")
    };
    let code = frontend_code().await;
    let body =
        json!({"code": code, "redirect_uri": redirect_uri, "code_verifier": "wrong-verifier"});
    assert_problem(
        app.post("/api/v1/auth/google", None, body).await,
        401,
        "token_invalid",
    )
    .await;
    let body = json!({"code": frontend_code().await, "redirect_uri": redirect_uri, "code_verifier": verifier});
    let resp = app.post("/api/v1/auth/google", None, body).await;
    assert_eq!(resp.status(), 200);
    let resp = app.post("/api/v1/auth/google", None, json!({})).await;
    assert_problem(resp, 400, "validation_error").await;
    // Found by schemathesis: a malformed redirect_uri is the client's mistake, not a 502.
    for redirect_uri in ["", "not a url", "/relative"] {
        let body = json!({"code": "x", "redirect_uri": redirect_uri});
        let problem = assert_problem(
            app.post("/api/v1/auth/google", None, body).await,
            400,
            "validation_error",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "redirect_uri");
    }
}

#[tokio::test]
async fn workspace_domains_can_be_restricted() {
    let (provider, app) = setup_with(&[("GOOGLE_ALLOWED_DOMAINS", "corp.example")]).await;
    let outsider = Person::new("google-sub-out", "out@gmail.example");
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&outsider, CLIENT_ID)}),
        )
        .await;
    assert_problem(resp, 403, "permission_denied").await;
    let mut insider = Person::new("google-sub-in", "in@corp.example");
    insider.hd = Some("corp.example".into());
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&insider, CLIENT_ID)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_flow_begun_on_one_instance_finishes_on_another() {
    let provider = TestProvider::start().await;
    let vars = provider.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = TestApp::spawn_with(&vars).await;
    // Behind a load balancer every instance has the same public callback URL.
    let shared: Vec<(&str, String)> = vars
        .iter()
        .map(|(k, v)| (*k, v.replace("{base}", &a.base)))
        .collect();
    let shared: Vec<(&str, &str)> = shared.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let b = TestApp::spawn_on(Arc::clone(&a.db), &shared, Route::new()).await;
    let frontend = redirect_flow(&a, &b, &browser(), "/from-a").await;
    assert_eq!(query_param(&frontend, "next"), "/from-a");
    // ... and the login code is redeemed on the first one.
    assert_eq!(exchange(&a, &frontend).await.status(), 200);
}

#[tokio::test]
async fn cookie_mode_callback_sets_the_session_cookies() {
    let (_provider, app) =
        setup_with(&[("AUTH_COOKIES", "true"), ("AUTH_COOKIE_SECURE", "false")]).await;
    let b = browser();
    let resp = b.get(to_callback(&app, &b).await).send().await.unwrap();
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("swift_access=")),
        "{cookies:?}"
    );
    assert_eq!(
        b.get(app.url("/api/v1/auth/user"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Issue #11: a frontend that holds Google id_tokens (Auth.js) configures only the client
/// id; the flows that need the secret and redirect URI answer 503 until those are set.
#[tokio::test]
async fn id_tokens_need_only_the_client_id() {
    let provider = TestProvider::start().await;
    let issuer = provider
        .vars()
        .into_iter()
        .find(|(k, _)| *k == "OIDC_ISSUER_URL")
        .unwrap()
        .1;
    let app = TestApp::spawn_with(&[
        ("GOOGLE_CLIENT_ID", CLIENT_ID),
        ("OIDC_ISSUER_URL", &issuer),
    ])
    .await;
    let person = Person::new("google-sub-ida", "ida@example.com");
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"id_token": provider.id_token(&person, CLIENT_ID)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_problem(
        app.get("/api/v1/auth/google/authorize", None).await,
        503,
        "oauth_not_configured",
    )
    .await;
    let resp = app
        .post(
            "/api/v1/auth/google",
            None,
            json!({"code": "c", "redirect_uri": "http://localhost:3000/cb"}),
        )
        .await;
    assert_problem(resp, 503, "oauth_not_configured").await;
}

/// Issue #19: an account with two-factor sign-in gets a challenge, not tokens, from the
/// redirect flow's login code, and in cookie mode the callback sets no session cookies.
#[tokio::test]
async fn the_redirect_flow_asks_for_the_second_factor() {
    use swift_core::accounts::two_factor::totp;
    let (_provider, app) =
        setup_with(&[("AUTH_COOKIES", "true"), ("AUTH_COOKIE_SECURE", "false")]).await;
    let body: Value = exchange(&app, &redirect_flow(&app, &app, &browser(), "/").await)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["created"], true);
    let grace: (uuid::Uuid,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'grace@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    // Turned on directly in the database, as enrolment would leave it.
    let secret = totp::new_secret();
    let sealed = totp::seal(&app.ctx.config.auth.two_factor_key, grace.0, &secret);
    sqlx::query(
        "INSERT INTO totp_factors (user_id, secret_sealed, confirmed_at) VALUES ($1, $2, now())",
    )
    .bind(grace.0)
    .bind(&sealed)
    .execute(&app.db.pool)
    .await
    .unwrap();

    let fresh = browser();
    let frontend = redirect_flow(&app, &app, &fresh, "/").await;
    let before = fresh
        .get(app.url("/api/v1/auth/user"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        before.status(),
        401,
        "no session cookies before the second step"
    );
    let resp = exchange(&app, &frontend).await;
    assert_eq!(resp.status(), 202);
    let challenge: Value = resp.json().await.unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let resp = app
        .post(
            "/api/v1/auth/second-factor",
            None,
            json!({"challenge": challenge["challenge"], "code": totp::code_at(&secret, now)}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    assert_eq!(pair["user"]["email"], "grace@example.com");
    assert_eq!(pair["created"], false);
}
