//! The test harness: the real app on a random port, against its own fresh database, with
//! mail written to a per-test directory. Tests talk to it over HTTP like any client.
#![allow(dead_code)]

pub mod cluster;
pub mod oidc;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use poem::Route;
use poem::listener::{Acceptor, Listener, TcpListener};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use swift_core::testing::TestDb;
use swift_core::{Config, Context};

/// A shop to test against: the app, and a signed-in staff member's access token. Each test
/// file adds the helpers it needs in its own `impl Shop`.
pub struct Shop {
    pub app: TestApp,
    pub staff: String,
}

impl Shop {
    pub async fn new() -> Self {
        let app = TestApp::spawn().await;
        let staff = app.staff_token("staff@shop.example").await;
        Self { app, staff }
    }
}

/// Polls `check` until it holds, failing after `limit`: what "visible within a second" means.
pub async fn within<F, Fut>(limit: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A password that passes the strength rules.
pub const PASSWORD: &str = "plum-Orbit-cactus-42";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub client: Client,
    pub ctx: Context,
    pub mail_dir: PathBuf,
    pub db: Arc<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// The app with test defaults: file mail, rate limits off.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// The app with some configuration variables overridden.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        Self::spawn_custom(vars, Route::new()).await
    }

    /// The app with extra routes mounted beside the real ones (e.g. a panicking handler).
    pub async fn spawn_custom(vars: &[(&str, &str)], extra: Route) -> Self {
        let db = Arc::new(TestDb::new().await);
        Self::spawn_on(db, vars, extra).await
    }

    /// The app on a given database (several instances may share one). `{base}` in a value
    /// becomes this instance's own base URL (for redirect URIs).
    pub async fn spawn_on(db: Arc<TestDb>, vars: &[(&str, &str)], extra: Route) -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("tcp address");
        let base = format!("http://{addr}");
        let mail_dir =
            std::env::temp_dir().join(format!("swift-test-mail-{}", uuid::Uuid::new_v4().simple()));
        let mut env: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), db.url.clone()),
            ("EMAIL_BACKEND".into(), "file".into()),
            ("EMAIL_FILE_DIR".into(), mail_dir.display().to_string()),
            ("RATE_LIMITS".into(), "off".into()),
            (
                "CORS_ALLOWED_ORIGINS".into(),
                "http://localhost:3000".into(),
            ),
            ("FRONTEND_URL".into(), "http://localhost:3000".into()),
        ]);
        for (k, v) in vars {
            env.insert((*k).into(), v.replace("{base}", &base));
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test configuration");
        // The same logger as the binary's (a test's output shows on failure), once per process.
        swift_server::logging::init(&config).ok();
        let ctx = Context::new(db.pool.clone(), config).expect("context");
        // The same background work as `server::serve`: pruner, catalog listener, outbox worker.
        let background = swift_server::server::Background::spawn(&ctx);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app =
            swift_server::app_with_routes(extra.nest("/", swift_server::routes()), ctx.clone());
        tokio::spawn(async move {
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        rx.await.ok();
                    },
                    Some(Duration::from_secs(5)),
                )
                .await
                .ok();
            background.stop();
        });
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            client,
            ctx,
            mail_dir,
            db,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut rb = self.request(Method::GET, path);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.unwrap()
    }

    /// GET and parse the JSON body (for reads whose status is not the point).
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> T {
        self.get(path, token).await.json().await.unwrap()
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Response {
        let mut rb = self.request(method, path).json(&body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.unwrap()
    }

    /// A product as staff create it: `Product {sku}`, `stock` units at `price`.
    /// Creates a simple product: one variant, no options.
    pub async fn create_product(&self, staff: &str, sku: &str, price: &str, stock: i64) -> Value {
        let body = json!({
            "name": format!("Product {sku}"),
            "variants": [{"sku": sku, "price": price, "stock": stock}],
        });
        let resp = self.post("/api/v1/admin/products", Some(staff), body).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "create {sku}");
        resp.json().await.unwrap()
    }

    /// Adds `quantity` of `product`'s first variant to the cart of `token`'s user.
    pub async fn add_to_cart(&self, token: &str, product: &Value, quantity: i64) -> Response {
        self.post(
            "/api/v1/cart/items",
            Some(token),
            json!({"variant_id": product["variants"][0]["id"], "quantity": quantity}),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.send_json(Method::POST, path, token, body).await
    }

    /// Registers and returns the token pair body.
    pub async fn register(&self, email: &str) -> Value {
        let resp = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
        resp.json().await.unwrap()
    }

    /// Registers and returns the access token.
    pub async fn access_token(&self, email: &str) -> String {
        self.register(email).await["access"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A signed-in staff user's access token.
    pub async fn staff_token(&self, email: &str) -> String {
        self.register(email).await;
        sqlx::query("UPDATE users SET is_staff = true WHERE email = $1")
            .bind(email)
            .execute(&self.db.pool)
            .await
            .unwrap();
        let resp = self.login(email, PASSWORD).await;
        let body: Value = resp.json().await.unwrap();
        body["access"].as_str().unwrap().to_owned()
    }

    /// Moves every refresh-token rotation `seconds` into the past, as if that much time had
    /// gone by since (past the reuse grace window, say) without waiting for it.
    pub async fn age_rotations(&self, seconds: i64) {
        sqlx::query(
            "UPDATE refresh_tokens SET used_at = used_at - make_interval(secs => $1) \
             WHERE used_at IS NOT NULL",
        )
        .bind(seconds as f64)
        .execute(&self.db.pool)
        .await
        .unwrap();
    }

    /// Waits for the newest mail to `to` (sent in the background) and returns its text.
    pub async fn mail_to(&self, to: &str, subject_part: &str) -> String {
        for _ in 0..100 {
            if let Ok(dir) = std::fs::read_dir(&self.mail_dir) {
                for entry in dir.flatten() {
                    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    let unfolded = unfold_quoted_printable(&text);
                    if unfolded.contains(&format!("To: {to}")) && unfolded.contains(subject_part) {
                        std::fs::remove_file(entry.path()).ok();
                        return unfolded;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} about {subject_part:?}");
    }

    /// Number of mails written so far.
    pub fn mail_count(&self) -> usize {
        std::fs::read_dir(&self.mail_dir)
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl TestApp {
    /// The app with Google sign-in pointed at the tests' `provider`, plus `extra` settings.
    pub async fn spawn_with_google(provider: &oidc::TestProvider, extra: &[(&str, &str)]) -> Self {
        let mut vars: Vec<(&str, String)> = provider.vars();
        vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Self::spawn_with(&vars).await
    }

    /// `googleLogin` with an id_token the provider signs for `person`.
    pub async fn google_login(
        &self,
        provider: &oidc::TestProvider,
        person: &oidc::Person,
    ) -> Response {
        let id_token = provider.id_token(person, oidc::CLIENT_ID);
        self.post("/api/v1/auth/google", None, json!({"id_token": id_token}))
            .await
    }
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read links in mails.
fn unfold_quoted_printable(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The first URL in `text` that starts with `prefix`, up to whitespace.
pub fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

/// Asserts a problem+json body with this status and code, and returns the body.
pub async fn assert_problem(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], "about:blank");
    assert!(body["title"].is_string());
    body
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        std::fs::remove_dir_all(&self.mail_dir).ok();
    }
}

/// The whole `Set-Cookie` line for cookie `name`, if the response sets it.
pub fn cookie_value(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.to_owned())
}

/// A simple product's body from the flat shape: `sku`, `price`, `stock` and
/// `compare_at_price` move into its one variant; the rest stays on the product.
pub fn simple_product(mut body: Value) -> Value {
    let fields = body.as_object_mut().expect("a JSON object");
    let mut variant = serde_json::Map::new();
    for key in ["sku", "price", "stock", "compare_at_price"] {
        if let Some(value) = fields.remove(key) {
            variant.insert(key.to_owned(), value);
        }
    }
    fields.insert("variants".to_owned(), json!([variant]));
    body
}

/// The admin path of `product`'s first variant.
pub fn variant_path(product: &Value) -> String {
    format!(
        "/api/v1/admin/products/{}/variants/{}",
        product["id"].as_str().expect("a product id"),
        product["variants"][0]["id"].as_str().expect("a variant id")
    )
}
