//! Payments through Stripe (#17), against a local fake Stripe that speaks Stripe's HTTP and
//! signs its webhook deliveries as Stripe does (`fake-stripe`): the server's client, its
//! signature check and its event handling are all the real ones.

mod common;

use common::{Shop, TestApp, assert_problem};
use fake_stripe::FakeStripe;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET_KEY: &str = "sk_test_swift";
const WEBHOOK_SECRET: &str = "whsec_swift_test";

/// A shop with Stripe configured, and its fake Stripe delivering to its webhook.
struct Paying {
    shop: Shop,
    stripe: FakeStripe,
}

impl Paying {
    async fn new() -> Self {
        Self::with(&[]).await
    }

    async fn with(extra: &[(&str, &str)]) -> Self {
        let stripe = FakeStripe::start(SECRET_KEY, WEBHOOK_SECRET).await;
        let mut vars = vec![
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE", stripe.base.as_str()),
            // The tests drive expiry and refund retries themselves.
            ("PAYMENTS_WORKER", "false"),
        ];
        vars.extend_from_slice(extra);
        let app = TestApp::spawn_with(&vars).await;
        stripe.set_webhook_url(&app.url("/api/v1/payments/stripe/webhook"));
        let staff = app.staff_token("staff@shop.example").await;
        Self {
            shop: Shop { app, staff },
            stripe,
        }
    }

    fn app(&self) -> &TestApp {
        &self.shop.app
    }

    /// A customer's order of `quantity` × a product at `price` (with `stock`).
    async fn order(&self, email: &str, price: &str, quantity: i64, stock: i64) -> (String, Value) {
        let sku = format!("SKU-{}", uuid::Uuid::new_v4().simple());
        let product = self
            .app()
            .create_product(&self.shop.staff, &sku, price, stock)
            .await;
        let token = self.app().access_token(email).await;
        assert!(
            self.app()
                .add_to_cart(&token, &product, quantity)
                .await
                .status()
                .is_success()
        );
        let resp = self
            .app()
            .post("/api/v1/orders", Some(&token), address())
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        (token, resp.json().await.unwrap())
    }

    async fn pay_intent(&self, token: &str, order: &Value) -> Value {
        let resp = self
            .app()
            .post(&payment_path(order), Some(token), json!({}))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "createPayment");
        resp.json().await.unwrap()
    }

    async fn get_order(&self, token: &str, order: &Value) -> Value {
        self.app()
            .get_json(
                &format!("/api/v1/orders/{}", order["id"].as_str().unwrap()),
                Some(token),
            )
            .await
    }

    async fn stock_of(&self, order: &Value) -> i64 {
        sqlx::query_scalar::<_, i32>("SELECT on_hand FROM stock_levels WHERE variant_id = $1")
            .bind(uuid(&order["items"][0]["variant_id"]))
            .fetch_one(&self.app().db.pool)
            .await
            .unwrap()
            .into()
    }

    async fn refund(&self, order: &Value, body: Value) -> reqwest::Response {
        self.app()
            .post(
                &format!(
                    "/api/v1/admin/orders/{}/refunds",
                    order["id"].as_str().unwrap()
                ),
                Some(&self.shop.staff),
                body,
            )
            .await
    }

    /// The order's refunds, as staff list them.
    async fn refunds_of(&self, order: &Value) -> Vec<Value> {
        let path = format!(
            "/api/v1/admin/orders/{}/refunds",
            order["id"].as_str().unwrap()
        );
        self.app().get_json(&path, Some(&self.shop.staff)).await
    }

    async fn outbox_subjects(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT payload->>'subject' FROM outbox ORDER BY created_at, id")
            .fetch_all(&self.app().db.pool)
            .await
            .unwrap()
    }
}

fn address() -> Value {
    json!({"shipping_address": {"full_name": "Ada Lovelace", "line1": "12 Analytical St", "city": "London",
                                "postal_code": "N1 7AA", "country": "GB"}})
}

fn uuid(v: &Value) -> uuid::Uuid {
    v.as_str().unwrap().parse().unwrap()
}

fn payment_path(order: &Value) -> String {
    format!("/api/v1/orders/{}/payment", order["id"].as_str().unwrap())
}

/// History entries as (status, event) pairs.
fn history(order: &Value) -> Vec<(String, Option<String>)> {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_owned(),
                h["event"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn the_whole_pay_flow() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "12.34", 2, 10).await;
    assert_eq!(order["status"], "pending");
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["amount_refunded"], "0.00");

    let payment = p.pay_intent(&token, &order).await;
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["amount"], "24.68");
    assert_eq!(payment["currency"], "USD");
    assert_eq!(payment["status"], "requires_payment_method");
    let intent_id = payment["intent_id"].as_str().unwrap();
    let secret = payment["client_secret"].as_str().unwrap();
    assert!(secret.starts_with(intent_id), "{secret}");
    // At Stripe: minor units, lower-case currency, the order in the metadata.
    let intent = p.stripe.intent(intent_id).unwrap();
    assert_eq!(intent["amount"], 2468);
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["metadata"]["order_id"], order["id"]);
    assert_eq!(intent["metadata"]["order_number"], order["number"]);

    // Asking again gives the same payment: one per order.
    let again = p.pay_intent(&token, &order).await;
    assert_eq!(again["intent_id"], payment["intent_id"]);
    assert_eq!(again["client_secret"], payment["client_secret"]);

    // Another customer cannot pay (or see) it.
    let eve = p.app().access_token("eve@example.com").await;
    let resp = p
        .app()
        .post(&payment_path(&order), Some(&eve), json!({}))
        .await;
    assert_problem(resp, 404, "not_found").await;

    // The browser pays (Stripe.js); Stripe tells the server.
    let paid_intent = p.stripe.confirm(intent_id, secret, "pm_card_visa").await;
    assert_eq!(paid_intent["status"], "succeeded");
    assert_eq!(p.stripe.deliveries().last().unwrap().status, 200);
    let paid = p.get_order(&token, &order).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(
        history(&paid),
        vec![("pending".into(), None), ("paid".into(), None)]
    );
    assert_eq!(paid["history"][1]["by"], "system");
    assert!(
        p.outbox_subjects()
            .await
            .iter()
            .any(|s| s.starts_with("Payment received for order")),
        "the buyer is mailed"
    );
    p.app().mail_to("ada@example.com", "Payment received").await;

    // A paid order cannot be paid again.
    let resp = p
        .app()
        .post(&payment_path(&order), Some(&token), json!({}))
        .await;
    assert_problem(resp, 409, "not_payable").await;
}

#[tokio::test]
async fn a_declined_card_is_recorded_and_the_buyer_can_try_again() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "5.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    let (id, secret) = (
        payment["intent_id"].as_str().unwrap(),
        payment["client_secret"].as_str().unwrap(),
    );
    p.stripe.confirm(id, secret, "pm_card_chargeDeclined").await;
    let after = p.get_order(&token, &order).await;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["payment_status"], "unpaid");
    let failed = &after["history"][1];
    assert_eq!(failed["status"], "pending");
    assert_eq!(failed["event"], "payment_failed");
    assert_eq!(failed["note"], "Your card was declined.");
    assert_eq!(failed["by"], "system");

    p.stripe.confirm(id, secret, "pm_card_visa").await;
    let paid = p.get_order(&token, &order).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(
        history(&paid),
        vec![
            ("pending".into(), None),
            ("pending".into(), Some("payment_failed".into())),
            ("paid".into(), None)
        ]
    );
}

#[tokio::test]
async fn a_bad_or_stale_signature_is_refused_and_changes_nothing() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "5.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    let mut intent = p
        .stripe
        .intent(payment["intent_id"].as_str().unwrap())
        .unwrap();
    intent["status"] = json!("succeeded");
    intent["amount_received"] = intent["amount"].clone();
    let event = p.stripe.event("payment_intent.succeeded", &intent);
    let payload = serde_json::to_vec(&event).unwrap();

    let signed = |secret: &str, t: i64, body: &[u8]| fake_stripe::signature_header(secret, t, body);
    let mut tampered = payload.clone();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'1' { b'2' } else { b'1' };
    for (body, header, why) in [
        (
            payload.clone(),
            signed("whsec_someone_else", now(), &payload),
            "another secret",
        ),
        (
            tampered,
            signed(WEBHOOK_SECRET, now(), &payload),
            "a changed body",
        ),
        (
            payload.clone(),
            signed(WEBHOOK_SECRET, now() - 600, &payload),
            "ten minutes old",
        ),
        (payload.clone(), "t=1,v0=abc".to_owned(), "no v1"),
        (payload.clone(), "garbage".to_owned(), "malformed"),
    ] {
        assert_eq!(p.stripe.deliver_raw(body, &header).await, 400, "{why}");
    }
    // Without the header at all.
    let resp = p
        .app()
        .request(reqwest::Method::POST, "/api/v1/payments/stripe/webhook")
        .header("content-type", "application/json")
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = p
        .app()
        .request(reqwest::Method::POST, "/api/v1/payments/stripe/webhook")
        .header("content-type", "application/json")
        .header("stripe-signature", signed("whsec_x", now(), &payload))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "invalid_signature").await;

    let still = p.get_order(&token, &order).await;
    assert_eq!(still["status"], "pending");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_events")
        .fetch_one(&p.app().db.pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "a refused delivery is not even recorded");

    // The same event, signed right, is applied.
    assert_eq!(p.stripe.redeliver(&event, now()).await, 200);
    assert_eq!(p.get_order(&token, &order).await["status"], "paid");
}

#[tokio::test]
async fn a_replayed_event_is_applied_once() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "5.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    p.stripe
        .confirm(
            payment["intent_id"].as_str().unwrap(),
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    let delivered = p.stripe.deliveries().pop().unwrap().event;
    for _ in 0..3 {
        let resp = p
            .app()
            .request(reqwest::Method::POST, "/api/v1/payments/stripe/webhook")
            .header("content-type", "application/json")
            .header(
                "stripe-signature",
                fake_stripe::signature_header(
                    WEBHOOK_SECRET,
                    now(),
                    &serde_json::to_vec(&delivered).unwrap(),
                ),
            )
            .body(serde_json::to_vec(&delivered).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["applied"], false, "a redelivery");
    }
    // A different event about the same success (Stripe may send one again under a new id)
    // finds the order paid and changes nothing either.
    let intent = &delivered["data"]["object"];
    let fresh = p.stripe.event("payment_intent.succeeded", intent);
    assert_eq!(p.stripe.redeliver(&fresh, now()).await, 200);

    let paid = p.get_order(&token, &order).await;
    assert_eq!(
        history(&paid),
        vec![("pending".into(), None), ("paid".into(), None)]
    );
    let paid_mails = p
        .outbox_subjects()
        .await
        .into_iter()
        .filter(|s| s.starts_with("Payment received"))
        .count();
    assert_eq!(paid_mails, 1);
}

#[tokio::test]
async fn a_failure_delivered_after_the_success_changes_nothing() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "5.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    let id = payment["intent_id"].as_str().unwrap();
    // The card is declined first, then accepted; Stripe delivers the two out of order.
    let mut declined = p.stripe.intent(id).unwrap();
    declined["status"] = json!("requires_payment_method");
    declined["last_payment_error"] = json!({"message": "Your card was declined."});
    let failure = p.stripe.event("payment_intent.payment_failed", &declined);
    p.stripe
        .confirm(
            id,
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(p.stripe.redeliver(&failure, now()).await, 200);

    let paid = p.get_order(&token, &order).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(
        history(&paid),
        vec![("pending".into(), None), ("paid".into(), None)],
        "the stale failure is not recorded"
    );
}

#[tokio::test]
async fn a_guest_pays_by_the_order_token() {
    let p = Paying::new().await;
    let product = p
        .app()
        .create_product(&p.shop.staff, "GUEST-TEA", "7.00", 5)
        .await;
    let resp = p
        .app()
        .post(
            "/api/v1/cart/items",
            None,
            json!({"variant_id": product["variants"][0]["id"], "quantity": 1}),
        )
        .await;
    let cart = resp.headers()["x-cart-token"].to_str().unwrap().to_owned();
    let mut body = address();
    body["email"] = json!("guest@example.com");
    let order: Value = p
        .app()
        .request(reqwest::Method::POST, "/api/v1/orders")
        .header("x-cart-token", &cart)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = order["order_token"].as_str().unwrap();
    let path = format!("/api/v1/guest-orders/{token}/payment");
    let payment: Value = p
        .app()
        .post(&path, None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["amount"], "7.00");
    p.stripe
        .confirm(
            payment["intent_id"].as_str().unwrap(),
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    let seen: Value = p
        .app()
        .get_json(&format!("/api/v1/guest-orders/{token}"), None)
        .await;
    assert_eq!(seen["status"], "paid");
    // A forged token finds nothing.
    let resp = p
        .app()
        .post("/api/v1/guest-orders/not-a-token/payment", None, json!({}))
        .await;
    assert_problem(resp, 404, "not_found").await;
}

/// Moves an order's creation back, as if it had waited that long unpaid.
async fn age_order(app: &TestApp, order: &Value, minutes: i64) {
    sqlx::query(
        "UPDATE orders SET created_at = created_at - make_interval(mins => $2) WHERE id = $1",
    )
    .bind(uuid(&order["id"]))
    .bind(minutes as i32)
    .execute(&app.db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn unpaid_orders_expire_and_give_their_stock_back() {
    let p = Paying::with(&[("PAYMENT_TIMEOUT", "30m")]).await;
    let (token, old) = p.order("ada@example.com", "5.00", 3, 10).await;
    let payment = p.pay_intent(&token, &old).await;
    let (_, fresh) = p.order("bob@example.com", "5.00", 1, 10).await;
    assert_eq!(p.stock_of(&old).await, 7);
    age_order(p.app(), &old, 31).await;
    age_order(p.app(), &fresh, 29).await;

    let expired = swift_core::payments::expire_unpaid(&p.app().ctx, 20)
        .await
        .unwrap();
    assert_eq!(expired, 1, "only the order past the timeout");
    let after = p.get_order(&token, &old).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(
        history(&after).last().unwrap(),
        &("cancelled".to_owned(), Some("payment_expired".to_owned()))
    );
    assert_eq!(after["history"][1]["by"], "system");
    assert_eq!(p.stock_of(&old).await, 10, "the stock is back");
    let ledger: Vec<(i32, String)> = sqlx::query_as(
        "SELECT delta, reason::text FROM inventory_movements WHERE order_id = $1 ORDER BY id",
    )
    .bind(uuid(&old["id"]))
    .fetch_all(&p.app().db.pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        vec![(-3, "order_placed".into()), (3, "order_cancelled".into())]
    );
    // Its payment is closed at Stripe, so it cannot be paid any more.
    let intent = p
        .stripe
        .intent(payment["intent_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(intent["status"], "canceled");
    p.app().mail_to("ada@example.com", "was cancelled").await;

    // Nothing else is due, and a second pass does nothing.
    assert_eq!(
        swift_core::payments::expire_unpaid(&p.app().ctx, 20)
            .await
            .unwrap(),
        0
    );
    let fresh_now: Value = p
        .app()
        .get_json(
            &format!("/api/v1/admin/orders/{}", fresh["id"].as_str().unwrap()),
            Some(&p.shop.staff),
        )
        .await;
    assert_eq!(fresh_now["status"], "pending");
}

#[tokio::test]
async fn two_workers_expire_each_order_once() {
    let p = Paying::new().await;
    let mut orders = Vec::new();
    for i in 0..12 {
        let (_, order) = p
            .order(&format!("buyer{i}@example.com"), "5.00", 1, 10)
            .await;
        age_order(p.app(), &order, 31).await;
        orders.push(order);
    }
    // Two instances on one database, each with its own pool.
    let other = TestApp::spawn_on(
        p.app().db.clone(),
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE", p.stripe.base.as_str()),
            ("PAYMENTS_WORKER", "false"),
        ],
        poem::Route::new(),
    )
    .await;
    let (a, b) = tokio::join!(
        swift_core::payments::expire_unpaid(&p.app().ctx, 5),
        swift_core::payments::expire_unpaid(&other.ctx, 5),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a + b <= 10);
    let mut total = a + b;
    while total < 12 {
        total += swift_core::payments::expire_unpaid(&other.ctx, 5)
            .await
            .unwrap();
    }
    assert_eq!(total, 12);
    let cancellations: Vec<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM order_history WHERE status = 'cancelled' GROUP BY order_id",
    )
    .fetch_all(&p.app().db.pool)
    .await
    .unwrap();
    assert_eq!(
        cancellations,
        vec![1; 12],
        "each order cancelled exactly once"
    );
}

#[tokio::test]
async fn a_payment_after_expiry_is_refunded_automatically() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "8.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    let id = payment["intent_id"].as_str().unwrap();
    age_order(p.app(), &order, 31).await;
    // The buyer pays just before the expiry, but Stripe's event arrives after it.
    p.stripe.hold_deliveries();
    p.stripe
        .confirm(
            id,
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(
        swift_core::payments::expire_unpaid(&p.app().ctx, 20)
            .await
            .unwrap(),
        1
    );
    p.stripe.release().await;
    assert_eq!(p.stripe.deliveries().last().unwrap().status, 200);
    let after = p.get_order(&token, &order).await;
    assert_eq!(
        after["status"], "cancelled",
        "the goods are back on sale; the sale is off"
    );
    assert_eq!(after["payment_status"], "refunded");
    assert_eq!(after["amount_refunded"], "8.00");
    let tail: Vec<_> = history(&after).into_iter().skip(1).collect();
    assert_eq!(
        tail,
        vec![
            ("cancelled".into(), Some("payment_expired".into())),
            ("cancelled".into(), Some("paid_after_cancellation".into())),
            ("cancelled".into(), Some("refund".into())),
        ]
    );
    let refunds = p.stripe.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["amount"], 800);
    assert_eq!(refunds[0]["payment_intent"], id);
    let listed = p.refunds_of(&order).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["reason"], "paid_after_cancellation");
    assert_eq!(listed[0]["status"], "succeeded");
    assert!(
        p.outbox_subjects()
            .await
            .iter()
            .any(|s| s.starts_with("A refund for your order")),
        "the buyer hears the money is coming back"
    );
}

/// Pays an order at the fake Stripe and returns it as paid.
async fn paid_order(p: &Paying, email: &str, price: &str) -> (String, Value) {
    let (token, order) = p.order(email, price, 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    p.stripe
        .confirm(
            payment["intent_id"].as_str().unwrap(),
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    let order = p.get_order(&token, &order).await;
    assert_eq!(order["status"], "paid");
    (token, order)
}

#[tokio::test]
async fn staff_refund_part_then_the_rest() {
    let p = Paying::new().await;
    let (token, order) = paid_order(&p, "ada@example.com", "20.00").await;

    let customer = p
        .app()
        .post(
            &format!(
                "/api/v1/admin/orders/{}/refunds",
                order["id"].as_str().unwrap()
            ),
            Some(&token),
            json!({"amount": "1.00"}),
        )
        .await;
    assert_problem(customer, 403, "permission_denied").await;

    let resp = p.refund(&order, json!({"amount": "5.00"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let refund: Value = resp.json().await.unwrap();
    assert_eq!(refund["amount"], "5.00");
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["reason"], "requested_by_staff");
    assert!(
        refund["provider_refund_id"]
            .as_str()
            .unwrap()
            .starts_with("re_")
    );
    let part = p.get_order(&token, &order).await;
    assert_eq!(part["status"], "paid");
    assert_eq!(part["payment_status"], "partially_refunded");
    assert_eq!(part["amount_refunded"], "5.00");
    let last = part["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "refund");
    assert_eq!(last["note"], "refunded 5.00");
    assert_eq!(last["by"], "staff");
    p.app()
        .mail_to("ada@example.com", "A refund for your order")
        .await;

    let resp = p.refund(&order, json!({"amount": "15.01"})).await;
    let body = assert_problem(resp, 409, "refund_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("15.00"), "{body}");
    let resp = p.refund(&order, json!({"amount": "0.00"})).await;
    assert_problem(resp, 400, "validation_error").await;

    // The rest, by leaving the amount out.
    let resp = p.refund(&order, json!({})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let rest: Value = resp.json().await.unwrap();
    assert_eq!(rest["amount"], "15.00");
    let all = p.get_order(&token, &order).await;
    assert_eq!(all["status"], "refunded");
    assert_eq!(all["payment_status"], "refunded");
    assert_eq!(all["amount_refunded"], "20.00");
    p.app().mail_to("ada@example.com", "was refunded").await;
    let at_stripe: Vec<i64> = p
        .stripe
        .refunds()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(at_stripe, vec![500, 1500]);

    let resp = p.refund(&order, json!({})).await;
    assert_problem(resp, 409, "not_refundable").await;
}

#[tokio::test]
async fn orders_not_paid_through_stripe_are_not_refunded_there() {
    let p = Paying::new().await;
    let (_, pending) = p.order("ada@example.com", "5.00", 1, 10).await;
    let resp = p.refund(&pending, json!({})).await;
    assert_problem(resp, 409, "not_refundable").await;
    // Marked paid by staff (cash, bank transfer): refunded by marking it too.
    let transition = format!(
        "/api/v1/admin/orders/{}/transition",
        pending["id"].as_str().unwrap()
    );
    let resp = p
        .app()
        .post(&transition, Some(&p.shop.staff), json!({"status": "paid"}))
        .await;
    assert_eq!(resp.status(), 200);
    let resp = p.refund(&pending, json!({})).await;
    assert_problem(resp, 409, "not_refundable").await;
    let resp = p
        .app()
        .post(
            &transition,
            Some(&p.shop.staff),
            json!({"status": "refunded"}),
        )
        .await;
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["payment_status"], "refunded");
    assert_eq!(order["amount_refunded"], "5.00");
    assert!(p.stripe.refunds().is_empty());
}

#[tokio::test]
async fn marking_a_stripe_order_refunded_or_cancelling_it_refunds_at_stripe() {
    let p = Paying::new().await;
    let (_, first) = paid_order(&p, "ada@example.com", "9.00").await;
    let transition = |o: &Value| {
        format!(
            "/api/v1/admin/orders/{}/transition",
            o["id"].as_str().unwrap()
        )
    };
    let resp = p
        .app()
        .post(
            &transition(&first),
            Some(&p.shop.staff),
            json!({"status": "refunded"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let refunded: Value = resp.json().await.unwrap();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["payment_status"], "refunded");

    let (token, second) = paid_order(&p, "bob@example.com", "4.00").await;
    let before = p.stock_of(&second).await;
    let resp = p
        .app()
        .post(
            &transition(&second),
            Some(&p.shop.staff),
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let cancelled = p.get_order(&token, &second).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment_status"], "refunded");
    assert_eq!(p.stock_of(&second).await, before + 1);
    let amounts: Vec<i64> = p
        .stripe
        .refunds()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![900, 400]);
}

#[tokio::test]
async fn a_refund_while_stripe_is_down_is_kept_and_sent_once_later() {
    let p = Paying::new().await;
    let (token, order) = paid_order(&p, "ada@example.com", "6.00").await;
    p.stripe.set_down(true);
    let resp = p.refund(&order, json!({"amount": "2.00"})).await;
    assert_problem(resp, 502, "payment_provider_error").await;
    let unchanged = p.get_order(&token, &order).await;
    assert_eq!(unchanged["payment_status"], "paid");
    let listed = p.refunds_of(&order).await;
    assert_eq!(listed[0]["status"], "pending");
    assert!(listed[0]["error"].as_str().unwrap().contains("unavailable"));
    // While it is pending, it counts against what can still be refunded.
    let resp = p.refund(&order, json!({"amount": "4.01"})).await;
    assert_problem(resp, 409, "refund_too_large").await;

    // Too recent for the worker: its sender may still be at it.
    assert_eq!(
        swift_core::payments::retry_stalled_refunds(&p.app().ctx)
            .await
            .unwrap(),
        0
    );
    p.stripe.set_down(false);
    sqlx::query("UPDATE refunds SET updated_at = updated_at - interval '2 minutes'")
        .execute(&p.app().db.pool)
        .await
        .unwrap();
    assert_eq!(
        swift_core::payments::retry_stalled_refunds(&p.app().ctx)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        swift_core::payments::retry_stalled_refunds(&p.app().ctx)
            .await
            .unwrap(),
        0
    );
    let after = p.get_order(&token, &order).await;
    assert_eq!(after["payment_status"], "partially_refunded");
    assert_eq!(after["amount_refunded"], "2.00");
    assert_eq!(p.stripe.refunds().len(), 1);
}

#[tokio::test]
async fn without_stripe_payments_answer_503_and_orders_wait_for_staff() {
    let shop = Shop::new().await;
    let product = shop.app.create_product(&shop.staff, "TEA", "5.00", 5).await;
    let token = shop.app.access_token("ada@example.com").await;
    shop.app.add_to_cart(&token, &product, 1).await;
    let order: Value = shop
        .app
        .post("/api/v1/orders", Some(&token), address())
        .await
        .json()
        .await
        .unwrap();
    let resp = shop
        .app
        .post(&payment_path(&order), Some(&token), json!({}))
        .await;
    assert_problem(resp, 503, "payments_not_configured").await;
    let resp = shop
        .app
        .request(reqwest::Method::POST, "/api/v1/payments/stripe/webhook")
        .header("content-type", "application/json")
        .header("stripe-signature", "t=1,v1=00")
        .body(r#"{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}}"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 503, "payments_not_configured").await;
}

#[tokio::test]
async fn a_payment_whose_record_was_lost_is_still_the_orders() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "5.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    // The process died between Stripe's answer and recording the payment.
    sqlx::query("DELETE FROM payments")
        .execute(&p.app().db.pool)
        .await
        .unwrap();
    p.stripe
        .confirm(
            payment["intent_id"].as_str().unwrap(),
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(
        p.get_order(&token, &order).await["status"],
        "paid",
        "found by its metadata"
    );
    let recorded: String = sqlx::query_scalar("SELECT intent_id FROM payments WHERE order_id = $1")
        .bind(uuid(&order["id"]))
        .fetch_one(&p.app().db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, payment["intent_id"].as_str().unwrap());

    // A payment the shop never opened for an order that has one pays nothing.
    let (token2, second) = p.order("bob@example.com", "5.00", 1, 10).await;
    p.pay_intent(&token2, &second).await;
    let stranger = json!({"id": "pi_someoneelse", "object": "payment_intent", "status": "succeeded",
                          "amount": 500, "amount_received": 500, "currency": "usd",
                          "metadata": {"order_id": second["id"]}});
    let event = p.stripe.event("payment_intent.succeeded", &stranger);
    assert_eq!(p.stripe.redeliver(&event, now()).await, 200);
    assert_eq!(p.get_order(&token2, &second).await["status"], "pending");
}

#[tokio::test]
async fn a_payment_of_another_amount_or_currency_pays_nothing() {
    let p = Paying::new().await;
    let (token, order) = p.order("ada@example.com", "5.00", 1, 10).await;
    let payment = p.pay_intent(&token, &order).await;
    let intent_id = payment["intent_id"].as_str().unwrap();
    // Stripe reports the order's own payment as succeeded, but for less, then in another
    // currency (an intent edited in the dashboard, say): signed, and still not the order's
    // price.
    let mut intent = p.stripe.intent(intent_id).unwrap();
    intent["status"] = json!("succeeded");
    for (amount, currency) in [(499, "usd"), (500, "eur")] {
        intent["amount"] = json!(amount);
        intent["amount_received"] = json!(amount);
        intent["currency"] = json!(currency);
        let event = p.stripe.event("payment_intent.succeeded", &intent);
        assert_eq!(p.stripe.redeliver(&event, now()).await, 200, "acknowledged");
    }
    let after = p.get_order(&token, &order).await;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["payment_status"], "unpaid");
    assert_eq!(
        history(&after),
        vec![
            ("pending".into(), None),
            ("pending".into(), Some("payment_mismatch".into())),
            ("pending".into(), Some("payment_mismatch".into())),
        ]
    );
    assert_eq!(
        after["history"][1]["note"],
        format!(
            "Stripe reported 4.99 USD received by {intent_id}; the order's total is 5.00 USD; not applied"
        )
    );
    assert_eq!(after["history"][2]["by"], "system");
    assert!(
        !p.outbox_subjects()
            .await
            .iter()
            .any(|s| s.starts_with("Payment received")),
        "the buyer is not told it is paid"
    );

    // An intent the shop never opened, naming an order without a recorded payment, for
    // less: not recorded as the order's payment, and pays nothing.
    let (token2, second) = p.order("bob@example.com", "5.00", 1, 10).await;
    let stranger = json!({"id": "pi_cheaper", "object": "payment_intent", "status": "succeeded",
                          "amount": 1, "amount_received": 1, "currency": "usd",
                          "metadata": {"order_id": second["id"]}});
    let event = p.stripe.event("payment_intent.succeeded", &stranger);
    assert_eq!(p.stripe.redeliver(&event, now()).await, 200);
    let after = p.get_order(&token2, &second).await;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["history"][1]["event"], "payment_mismatch");
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1")
        .bind(uuid(&second["id"]))
        .fetch_one(&p.app().db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);

    // The real payment, for the right amount, still pays the first order.
    p.stripe
        .confirm(
            intent_id,
            payment["client_secret"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(p.get_order(&token, &order).await["status"], "paid");
}

/// What `swift-cli order refund` calls: a refund asked for at the command line is staff's,
/// by no account.
#[tokio::test]
async fn an_operator_refund_is_recorded_as_staff() {
    let p = Paying::new().await;
    let (token, order) = paid_order(&p, "ada@example.com", "10.00").await;
    let amount = swift_core::money::Money::parse("amount", "2.50").unwrap();
    let refund = swift_core::payments::refund(&p.app().ctx, None, uuid(&order["id"]), Some(amount))
        .await
        .unwrap();
    assert_eq!(refund.status, swift_core::payments::RefundStatus::Succeeded);
    let after = p.get_order(&token, &order).await;
    let last = after["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["by"], "staff");
    assert_eq!(last["note"], "refunded 2.50");
    assert_eq!(p.stripe.refunds()[0]["amount"], 250);
}

/// An order with nothing to pay (a 100 % code, no shipping charge) is paid as it is placed:
/// Stripe takes no zero amount, and unpaid it would wait for a payment until it expired.
#[tokio::test]
async fn an_order_with_nothing_to_pay_is_paid_as_placed() {
    let p = Paying::new().await;
    let app = p.app();
    let resp = app
        .post(
            "/api/v1/admin/discount-codes",
            Some(&p.shop.staff),
            json!({"code": "ONUS", "kind": "percent", "value": "100"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let gift = app.create_product(&p.shop.staff, "GIFT", "12.00", 5).await;
    let token = app.access_token("gift@example.com").await;
    app.add_to_cart(&token, &gift, 2).await;
    let resp = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/cart/discount",
            Some(&token),
            json!({"code": "ONUS"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.post("/api/v1/orders", Some(&token), address()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["total"], "0.00");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment_status"], "paid");
    assert_eq!(
        history(&order),
        [("pending".to_owned(), None), ("paid".to_owned(), None)]
    );
    assert_eq!(order["history"][1]["by"], "system");
    assert_eq!(order["history"][1]["note"], "nothing to pay");
    // The answer is the order as stored.
    assert_eq!(p.get_order(&token, &order).await, order);
    // Nothing to pay at Stripe, and nothing for the expiry to take back.
    let resp = app
        .post(&payment_path(&order), Some(&token), json!({}))
        .await;
    assert_problem(resp, 409, "not_payable").await;
    age_order(app, &order, 120).await;
    let expired = swift_core::payments::expire_unpaid(&app.ctx, 20)
        .await
        .unwrap();
    assert_eq!(expired, 0);
    assert_eq!(p.get_order(&token, &order).await["status"], "paid");
    assert_eq!(p.stock_of(&order).await, 3);
}
