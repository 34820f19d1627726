//! A local Stripe for tests and the storefront example: the REST endpoints SWIFT uses
//! (PaymentIntents create/retrieve/cancel/confirm, Refunds) with Stripe's form encoding,
//! bearer keys, `Idempotency-Key` semantics and error bodies, and webhook deliveries signed
//! exactly as Stripe signs them (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 over
//! `"{t}.{payload}"`).
//!
//! Confirming a payment stands for what Stripe.js does in the browser, with Stripe's test
//! payment methods: `pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined. Each
//! confirmation delivers its event to the webhook URL before it answers, so a caller sees
//! the shop's reaction as soon as its call returns.
//!
//! The signing here is written separately from the server's verification on purpose: a test
//! of one against the other catches a mistake in either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Form, Json, Path};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, handler, post};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;

/// A publishable key the fake accepts from browsers (with a payment's client secret).
pub const PUBLISHABLE_KEY: &str = "pk_test_fake";

/// `t=…,v1=…` for `payload` signed with `secret` at Unix time `t`.
pub fn signature_header(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

fn random_id(prefix: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..24)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("{prefix}_{tail}")
}

/// One webhook delivery the fake made.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Value,
    /// The status the shop answered with (0 when it could not be reached).
    pub status: u16,
}

struct Remembered {
    params: Vec<(String, String)>,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct State {
    intents: HashMap<String, Value>,
    refunds: Vec<Value>,
    /// Idempotency-Key → the first request with it, and its answer.
    idempotent: HashMap<String, Remembered>,
    deliveries: Vec<Delivery>,
    webhook_url: Option<String>,
    /// While set, every API call answers 503 (Stripe down).
    down: bool,
    /// While `Some`, events wait here instead of being delivered (a delayed delivery).
    held: Option<Vec<Value>>,
    requests: usize,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State>>,
    secret_key: String,
    webhook_secret: String,
    http: reqwest::Client,
}

/// A running fake Stripe.
pub struct FakeStripe {
    /// `http://127.0.0.1:PORT`: what `STRIPE_API_BASE` points at.
    pub base: String,
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeStripe {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(secret_key: &str, webhook_secret: &str) -> Self {
        Self::start_on("127.0.0.1:0", secret_key, webhook_secret).await
    }

    pub async fn start_on(addr: &str, secret_key: &str, webhook_secret: &str) -> Self {
        let acceptor = TcpListener::bind(addr.to_owned())
            .into_acceptor()
            .await
            .expect("bind the fake Stripe");
        let local = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("a TCP address");
        let shared = Shared {
            state: Arc::default(),
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            http: reqwest::Client::new(),
        };
        let app = Route::new()
            .at("/v1/payment_intents", post(create_intent))
            .at("/v1/payment_intents/:id", poem::get(get_intent))
            .at("/v1/payment_intents/:id/cancel", post(cancel_intent))
            .at("/v1/payment_intents/:id/confirm", post(confirm_intent))
            .at("/v1/refunds", post(create_refund))
            .data(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        rx.await.ok();
                    },
                    None,
                )
                .await
                .ok();
        });
        Self {
            base: format!("http://{local}"),
            shared,
            shutdown: Some(tx),
        }
    }

    /// Where events are delivered (the shop's webhook endpoint).
    pub fn set_webhook_url(&self, url: &str) {
        self.lock().webhook_url = Some(url.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("not poisoned")
    }

    /// Every delivery so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// A payment as the fake holds it.
    pub fn intent(&self, id: &str) -> Option<Value> {
        self.lock().intents.get(id).cloned()
    }

    /// Every refund made, oldest first.
    pub fn refunds(&self) -> Vec<Value> {
        self.lock().refunds.clone()
    }

    /// API calls received so far.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Makes every API call answer 503 until set back.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Holds events back (Stripe's deliveries can lag) until [`Self::release`].
    pub fn hold_deliveries(&self) {
        self.lock().held.get_or_insert_with(Vec::new);
    }

    /// Delivers the events held back, signed now, in order.
    pub async fn release(&self) {
        let held = self.lock().held.take().unwrap_or_default();
        for event in held {
            self.redeliver(&event, now()).await;
        }
    }

    /// Delivers `event` again (a redelivery, or an old one out of order), signed at `t`.
    pub async fn redeliver(&self, event: &Value, t: i64) -> u16 {
        let payload = serde_json::to_vec(event).expect("JSON");
        let header = signature_header(&self.shared.webhook_secret, t, &payload);
        self.shared.post_webhook(payload, &header).await
    }

    /// Posts a body with any signature header (tests of refused deliveries).
    pub async fn deliver_raw(&self, payload: Vec<u8>, header: &str) -> u16 {
        self.shared.post_webhook(payload, header).await
    }

    /// A signed event of `kind` about the payment `intent`, as Stripe would send it now;
    /// not delivered.
    pub fn event(&self, kind: &str, intent: &Value) -> Value {
        event(kind, intent)
    }

    /// Confirms a payment as Stripe.js would, with one of Stripe's test payment methods.
    pub async fn confirm(
        &self,
        intent_id: &str,
        client_secret: &str,
        payment_method: &str,
    ) -> Value {
        reqwest::Client::new()
            .post(format!(
                "{}/v1/payment_intents/{intent_id}/confirm",
                self.base
            ))
            .bearer_auth(PUBLISHABLE_KEY)
            .form(&[
                ("client_secret", client_secret),
                ("payment_method", payment_method),
            ])
            .send()
            .await
            .expect("the fake answers")
            .json()
            .await
            .expect("JSON")
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn event(kind: &str, object: &Value) -> Value {
    json!({
        "id": random_id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": now(),
        "livemode": false,
        "type": kind,
        "data": { "object": object },
    })
}

impl Shared {
    async fn post_webhook(&self, payload: Vec<u8>, header: &str) -> u16 {
        let url = self.state.lock().expect("not poisoned").webhook_url.clone();
        let Some(url) = url else { return 0 };
        let event: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
        let status = match self
            .http
            .post(url)
            .header("Stripe-Signature", header)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(payload)
            .send()
            .await
        {
            Ok(resp) => resp.status().as_u16(),
            Err(_) => 0,
        };
        self.state
            .lock()
            .expect("not poisoned")
            .deliveries
            .push(Delivery { event, status });
        status
    }

    /// Sends `kind` about `object` now, signed now (or holds it back).
    async fn emit(&self, kind: &str, object: &Value) {
        let event = event(kind, object);
        if let Some(held) = &mut self.state.lock().expect("not poisoned").held {
            held.push(event);
            return;
        }
        let payload = serde_json::to_vec(&event).expect("JSON");
        let header = signature_header(&self.webhook_secret, now(), &payload);
        self.post_webhook(payload, &header).await;
    }
}

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "type": kind, "code": code, "message": message } })),
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "parameter_invalid",
        message,
    )
}

/// The secret key, or (for browser calls that allow it) the publishable key; the refusal
/// otherwise.
fn refused(req: &Request, shared: &Shared, publishable_ok: bool) -> Option<Response> {
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let allowed = given == shared.secret_key || (publishable_ok && given == PUBLISHABLE_KEY);
    (!allowed).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided.",
        )
    })
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Common to every call: counts it, answers 503 while "down", checks the key; the answer
/// when the call goes no further.
fn turned_away(req: &Request, shared: &Shared, publishable_ok: bool) -> Option<Response> {
    let mut state = shared.state.lock().expect("not poisoned");
    state.requests += 1;
    if state.down {
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "",
            "Stripe is unavailable (fake outage).",
        ));
    }
    drop(state);
    refused(req, shared, publishable_ok)
}

/// Stripe's idempotency: the same key and parameters replay the first answer; the same key
/// with other parameters is an error.
fn replay(shared: &Shared, req: &Request, form: &[(String, String)]) -> Option<Response> {
    let key = req.headers().get("idempotency-key")?.to_str().ok()?;
    let state = shared.state.lock().expect("not poisoned");
    let first = state.idempotent.get(key)?;
    if first.params != form {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            "idempotency_key_in_use",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
        ));
    }
    Some(
        (
            StatusCode::from_u16(first.status).expect("a status"),
            Json(first.body.clone()),
        )
            .into_response(),
    )
}

fn remember(shared: &Shared, req: &Request, form: &[(String, String)], status: u16, body: &Value) {
    if let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|k| k.to_str().ok())
    {
        shared
            .state
            .lock()
            .expect("not poisoned")
            .idempotent
            .insert(
                key.to_owned(),
                Remembered {
                    params: form.to_vec(),
                    status,
                    body: body.clone(),
                },
            );
    }
}

#[handler]
fn create_intent(
    req: &Request,
    Data(shared): Data<&Shared>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(resp) = turned_away(req, shared, false) {
        return resp;
    }
    if let Some(resp) = replay(shared, req, &form) {
        return resp;
    }
    let Some(amount) = param(&form, "amount").and_then(|a| a.parse::<i64>().ok()) else {
        return invalid("Missing required param: amount.");
    };
    if amount < 50 {
        return invalid("Amount must be at least 50 cents.");
    }
    let Some(currency) = param(&form, "currency").filter(|c| c.len() == 3) else {
        return invalid("Missing required param: currency.");
    };
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name.to_owned(), Value::String(v.clone())))
        })
        .collect();
    let id = random_id("pi");
    let intent = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": currency,
        "status": "requires_payment_method",
        "client_secret": format!("{id}_secret_{}", random_id("s")),
        "description": param(&form, "description"),
        "metadata": metadata,
        "last_payment_error": null,
        "livemode": false,
    });
    shared
        .state
        .lock()
        .expect("not poisoned")
        .intents
        .insert(id, intent.clone());
    remember(shared, req, &form, 200, &intent);
    Json(intent).into_response()
}

fn missing(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "resource_missing",
        &format!("No such payment_intent: '{id}'"),
    )
}

#[handler]
fn get_intent(req: &Request, Data(shared): Data<&Shared>, Path(id): Path<String>) -> Response {
    if let Some(resp) = turned_away(req, shared, false) {
        return resp;
    }
    match shared.state.lock().expect("not poisoned").intents.get(&id) {
        Some(intent) => Json(intent.clone()).into_response(),
        None => missing(&id),
    }
}

fn unexpected_state(intent: &Value, action: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "payment_intent_unexpected_state",
        &format!(
            "You cannot {action} this PaymentIntent because it has a status of {}.",
            intent["status"].as_str().unwrap_or_default()
        ),
    )
}

#[handler]
fn cancel_intent(req: &Request, Data(shared): Data<&Shared>, Path(id): Path<String>) -> Response {
    if let Some(resp) = turned_away(req, shared, false) {
        return resp;
    }
    let mut state = shared.state.lock().expect("not poisoned");
    let Some(intent) = state.intents.get_mut(&id) else {
        return missing(&id);
    };
    if matches!(intent["status"].as_str(), Some("succeeded" | "canceled")) {
        return unexpected_state(intent, "cancel");
    }
    intent["status"] = json!("canceled");
    Json(intent.clone()).into_response()
}

#[handler]
async fn confirm_intent(
    req: &Request,
    Data(shared): Data<&Shared>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(resp) = turned_away(req, shared, true) {
        return resp;
    }
    let (intent, kind) = {
        let mut state = shared.state.lock().expect("not poisoned");
        let Some(intent) = state.intents.get_mut(&id) else {
            return missing(&id);
        };
        let browser = param(&form, "client_secret");
        if browser.is_some_and(|s| Some(s) != intent["client_secret"].as_str()) {
            return invalid("The client_secret provided does not match this PaymentIntent.");
        }
        if matches!(intent["status"].as_str(), Some("succeeded" | "canceled")) {
            return unexpected_state(intent, "confirm");
        }
        let kind = match param(&form, "payment_method") {
            Some("pm_card_visa") => {
                intent["status"] = json!("succeeded");
                intent["amount_received"] = intent["amount"].clone();
                intent["last_payment_error"] = Value::Null;
                "payment_intent.succeeded"
            }
            Some("pm_card_chargeDeclined") => {
                intent["status"] = json!("requires_payment_method");
                intent["last_payment_error"] = json!({
                    "type": "card_error",
                    "code": "card_declined",
                    "message": "Your card was declined.",
                });
                "payment_intent.payment_failed"
            }
            _ => return invalid("Use pm_card_visa or pm_card_chargeDeclined."),
        };
        (intent.clone(), kind)
    };
    shared.emit(kind, &intent).await;
    Json(intent).into_response()
}

#[handler]
fn create_refund(
    req: &Request,
    Data(shared): Data<&Shared>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(resp) = turned_away(req, shared, false) {
        return resp;
    }
    if let Some(resp) = replay(shared, req, &form) {
        return resp;
    }
    let Some(id) = param(&form, "payment_intent") else {
        return invalid("Missing required param: payment_intent.");
    };
    let mut state = shared.state.lock().expect("not poisoned");
    let Some(intent) = state.intents.get(id).cloned() else {
        return missing(id);
    };
    if intent["status"] != "succeeded" {
        return unexpected_state(&intent, "refund");
    }
    let received = intent["amount_received"].as_i64().unwrap_or(0);
    let refunded: i64 = state
        .refunds
        .iter()
        .filter(|r| r["payment_intent"] == id)
        .map(|r| r["amount"].as_i64().unwrap_or(0))
        .sum();
    let left = received - refunded;
    let amount = match param(&form, "amount").map(str::parse::<i64>) {
        None => left,
        Some(Ok(a)) if a > 0 => a,
        Some(_) => return invalid("Invalid positive integer: amount."),
    };
    if left == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "charge_already_refunded",
            "This charge has already been refunded.",
        );
    }
    if amount > left {
        return invalid(&format!(
            "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})."
        ));
    }
    let refund = json!({
        "id": random_id("re"),
        "object": "refund",
        "amount": amount,
        "currency": intent["currency"],
        "payment_intent": id,
        "status": "succeeded",
        "created": now(),
    });
    state.refunds.push(refund.clone());
    drop(state);
    remember(shared, req, &form, 200, &refund);
    Json(refund).into_response()
}
