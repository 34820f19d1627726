//! Order e-mails through the transactional outbox (#17): written with the change they
//! report, delivered by a worker, exactly once across a restart and across instances.

mod common;

use std::time::Duration;

use common::{Shop, TestApp, assert_problem};
use serde_json::{Value, json};
use swift_core::mail::Mail;
use swift_core::outbox::{self, Event};

fn order_body() -> Value {
    json!({"shipping_address": {"full_name": "Ada Lovelace", "line1": "12 Analytical St", "city": "London",
                                "postal_code": "N1 7AA", "country": "GB"}})
}

/// Mails written to an instance's mail directory so far.
fn mails_in(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(&app.mail_dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (bounded) until the outbox holds nothing undelivered.
async fn drained(app: &TestApp) {
    for _ in 0..200 {
        let waiting: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox was not delivered");
}

#[tokio::test]
async fn order_mails_follow_the_order_in_text_and_html() {
    let shop = Shop::new().await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 10)
        .await;
    let token = shop.app.access_token("ada@example.com").await;
    shop.app.add_to_cart(&token, &tea, 2).await;
    let order: Value = shop
        .app
        .post("/api/v1/orders", Some(&token), order_body())
        .await
        .json()
        .await
        .unwrap();
    let number = order["number"].as_str().unwrap();
    let mail = shop.app.mail_to("ada@example.com", "Your order").await;
    assert!(mail.contains(number), "{mail}");
    assert!(mail.contains("Product TEA (TEA): 9.00 USD"), "{mail}");
    assert!(mail.contains("Total: 9.00 USD"), "{mail}");
    assert!(
        mail.contains("multipart/alternative"),
        "plain text and HTML: {mail}"
    );
    let link = format!(
        "http://localhost:3000/account/orders/{}",
        order["id"].as_str().unwrap()
    );
    assert!(mail.contains(&link), "{mail}");

    let transition = format!(
        "/api/v1/admin/orders/{}/transition",
        order["id"].as_str().unwrap()
    );
    for (status, subject) in [("paid", "Payment received"), ("shipped", "has shipped")] {
        let resp = shop
            .app
            .post(&transition, Some(&shop.staff), json!({"status": status}))
            .await;
        assert_eq!(resp.status(), 200);
        let mail = shop.app.mail_to("ada@example.com", subject).await;
        assert!(mail.contains(number), "{mail}");
    }
    let events: Vec<Event> = sqlx::query_scalar("SELECT event FROM outbox ORDER BY id")
        .fetch_all(&shop.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        &events[events.len() - 3..],
        [Event::OrderPlaced, Event::OrderPaid, Event::OrderShipped]
    );
}

#[tokio::test]
async fn a_refused_change_writes_no_mail() {
    let shop = Shop::new().await;
    let tea = shop.app.create_product(&shop.staff, "TEA", "4.50", 1).await;
    let token = shop.app.access_token("short@example.com").await;
    shop.app.add_to_cart(&token, &tea, 1).await;
    sqlx::query("UPDATE stock_levels SET on_hand = 0")
        .execute(&shop.app.db.pool)
        .await
        .unwrap();
    assert_problem(
        shop.app
            .post("/api/v1/orders", Some(&token), order_body())
            .await,
        409,
        "insufficient_stock",
    )
    .await;
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event = 'order_placed'")
            .fetch_one(&shop.app.db.pool)
            .await
            .unwrap();
    assert_eq!(orders, 0, "the order's mail rolled back with it");
}

/// The process that placed the order dies before its mail goes out (here: it never runs a
/// worker); the mail waits in the outbox, and the next instance delivers it, once.
#[tokio::test]
async fn mail_of_a_process_that_died_after_commit_is_delivered_once_by_the_next() {
    let shop = Shop::new().await;
    let tea = shop
        .app
        .create_product(&shop.staff, "TEA", "4.50", 10)
        .await;
    let db = shop.app.db.clone();
    drained(&shop.app).await;
    let before = mails_in(&shop.app).len();
    let doomed = TestApp::spawn_on(
        db.clone(),
        &[("OUTBOX_WORKER", "false")],
        poem::Route::new(),
    )
    .await;
    let token = doomed.access_token("grace@example.com").await;
    doomed.add_to_cart(&token, &tea, 1).await;
    let order: Value = doomed
        .post("/api/v1/orders", Some(&token), order_body())
        .await
        .json()
        .await
        .unwrap();
    let number = order["number"].as_str().unwrap().to_owned();
    drop(doomed);
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND event = 'order_placed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(waiting, 1, "committed with the order, not yet sent");

    // The surviving instance's worker delivers it (a restarted one would alike).
    shop.app.ctx.outbox_wake.now();
    drained(&shop.app).await;
    let delivered: Vec<String> = mails_in(&shop.app)
        .into_iter()
        .filter(|m| m.contains(&number))
        .collect();
    assert_eq!(delivered.len(), 1);
    // The order's confirmation and grace's verification mail, nothing twice.
    assert_eq!(mails_in(&shop.app).len(), before + 2);
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM outbox WHERE event = 'order_placed'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn two_instances_deliver_each_mail_once() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_on(first.db.clone(), &[], poem::Route::new()).await;
    let pool = &first.db.pool;
    for i in 0..40 {
        let mail = Mail {
            to: format!("reader{i}@example.com"),
            subject: format!("Issue {i}"),
            body: "Hello".into(),
            html: None,
        };
        outbox::enqueue(pool, Event::OrderShipped, &mail)
            .await
            .unwrap();
        if i % 2 == 0 {
            first.ctx.outbox_wake.now();
        } else {
            second.ctx.outbox_wake.now();
        }
    }
    drained(&first).await;
    let all: Vec<String> = mails_in(&first)
        .into_iter()
        .chain(mails_in(&second))
        .collect();
    assert_eq!(all.len(), 40);
    for i in 0..40 {
        let to = format!("To: reader{i}@example.com");
        assert_eq!(all.iter().filter(|m| m.contains(&to)).count(), 1, "{to}");
    }
}

#[tokio::test]
async fn a_failed_send_is_kept_and_retried_later() {
    // An SMTP relay that refuses connections (a closed port).
    // No worker of its own: the test is the only one delivering.
    let app = TestApp::spawn_with(&[
        ("EMAIL_BACKEND", "smtp"),
        ("SMTP_URL", "smtp://127.0.0.1:1"),
        ("OUTBOX_WORKER", "false"),
    ])
    .await;
    let mail = Mail {
        to: "x@example.com".into(),
        subject: "Try".into(),
        body: "Hello".into(),
        html: None,
    };
    outbox::enqueue(&app.db.pool, Event::OrderShipped, &mail)
        .await
        .unwrap();
    let delivered = outbox::deliver_due(&app.db.pool, &app.ctx.mailer, 10)
        .await
        .unwrap();
    assert_eq!(delivered, 0);
    let (attempts, waits, error): (i32, bool, Option<String>) = sqlx::query_as(
        "SELECT attempts, next_attempt_at > now(), last_error FROM outbox WHERE delivered_at IS NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(attempts >= 1);
    assert!(waits, "the retry waits its backoff");
    assert!(error.is_some());
}
