//! The writes of a shop that is selling, for `bench/selling.sh` (not a test): while the
//! browse mix runs, CUSTOMERS signed-in customers together place about ORDERS_PER_SECOND
//! orders on products shown on the first listing pages, and staff change one of those
//! products' price every PRICE_EVERY seconds. Runs for SECONDS and reports what it did.
//!
//! cargo run --release -p swift-server --example selling_load -- \
//!   BASE_URL STAFF_PASSWORD CUSTOMER_PASSWORD CUSTOMERS SECONDS ORDERS_PER_SECOND PRICE_EVERY

use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/mod.rs"]
mod support;
use support::{login, restock};

/// GETs `url` until it answers 200 (the server may be busy with a cold cache).
async fn get(client: &reqwest::Client, url: String) -> Value {
    for _ in 0..50 {
        if let Ok(resp) = client.get(&url).send().await
            && resp.status().is_success()
        {
            return resp.json().await.expect("JSON");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} did not answer")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        base,
        staff_password,
        customer_password,
        customers,
        seconds,
        rate,
        price_every,
    ] = &args[..]
    else {
        eprintln!(
            "usage: selling_load BASE STAFF_PASSWORD CUSTOMER_PASSWORD CUSTOMERS SECONDS ORDERS_PER_SECOND PRICE_EVERY"
        );
        std::process::exit(2);
    };
    let customers: u32 = customers.parse().expect("customers");
    let seconds: u64 = seconds.parse().expect("seconds");
    let rate: f64 = rate.parse().expect("orders per second");
    let price_every: f64 = price_every.parse().expect("price every");
    let client = reqwest::Client::new();
    let staff = login(&client, base, "staff@swift.example", staff_password).await;

    // The products of the first five pages of the default listing, with their first
    // variant and its price: what a browsing customer sees first.
    let mut shown = Vec::new();
    for page in 1..=5 {
        let listing = get(&client, format!("{base}/api/v1/products?page={page}")).await;
        for item in listing["items"].as_array().expect("items") {
            let id = item["id"].as_str().unwrap().to_owned();
            let detail = get(&client, format!("{base}/api/v1/products/{id}")).await;
            let variant = &detail["variants"][0];
            let price: f64 = variant["price"].as_str().unwrap().parse().unwrap();
            shown.push((id, variant["id"].as_str().unwrap().to_owned(), price));
        }
    }
    // Enough stock that they sell for the whole run rather than selling out at once.
    for (product, variant, _) in &shown {
        restock(&client, base, &staff, product, variant, 1000).await;
    }
    let mut tokens = Vec::new();
    for n in 1..=customers {
        let email = format!("customer{n}@swift.example");
        tokens.push(login(&client, base, &email, customer_password).await);
    }

    // Set up: bench/selling.sh starts measuring now. (The restocks above bring back
    // products the seed left without stock, which drops the in-stock listings holding
    // them: part of getting ready, not of the shop selling.)
    println!("READY");
    std::io::Write::flush(&mut std::io::stdout()).expect("stdout");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let address = json!({"shipping_address": {"full_name": "Bench Customer", "line1": "1 Load St", "city": "Testville", "postal_code": "12345", "country": "US"}});
    // Each customer orders every `customers / rate` seconds, the customers staggered.
    let period = Duration::from_secs_f64(f64::from(customers) / rate);
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let (client, base, shown, address) =
            (client.clone(), base.clone(), shown.clone(), address.clone());
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + period.mul_f64(n as f64 / f64::from(customers)),
                period,
            );
            let (mut placed, mut refused) = (0u64, 0u64);
            let mut first_refusal = None;
            let mut i = n * 13;
            while Instant::now() < deadline {
                ticks.tick().await;
                let (_, variant, _) = &shown[i % shown.len()];
                i += 7;
                let added = client
                    .post(format!("{base}/api/v1/cart/items"))
                    .bearer_auth(&token)
                    .json(&json!({"variant_id": variant, "quantity": 1}))
                    .send()
                    .await;
                let ordered = match added {
                    Ok(r) if r.status().as_u16() == 201 => {
                        client
                            .post(format!("{base}/api/v1/orders"))
                            .bearer_auth(&token)
                            .json(&address)
                            .send()
                            .await
                    }
                    other => other,
                };
                match ordered {
                    Ok(r) if r.status().as_u16() == 201 => placed += 1,
                    other => {
                        refused += 1;
                        if first_refusal.is_none() {
                            first_refusal = Some(match other {
                                Ok(r) => {
                                    format!("{} {}", r.status(), r.text().await.unwrap_or_default())
                                }
                                Err(e) => e.to_string(),
                            });
                        }
                    }
                }
            }
            if let Some(why) = first_refusal {
                eprintln!("customer {n}: first refusal: {why}");
            }
            (placed, refused)
        }));
    }
    // Staff: one price change every `price_every` seconds, a cent up then back down.
    let staff_task = {
        let (client, base, shown) = (client.clone(), base.clone(), shown.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(price_every));
            let (mut edits, mut failed) = (0u64, 0u64);
            let mut i = 0usize;
            while Instant::now() < deadline {
                ticks.tick().await;
                let (product, variant, price) = &shown[i % shown.len()];
                let new_price = if (i / shown.len()).is_multiple_of(2) {
                    price + 0.01
                } else {
                    *price
                };
                i += 1;
                let ok = client
                    .patch(format!(
                        "{base}/api/v1/admin/products/{product}/variants/{variant}"
                    ))
                    .bearer_auth(&staff)
                    .json(&json!({"price": format!("{new_price:.2}")}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    edits += 1;
                } else {
                    failed += 1;
                }
            }
            (edits, failed)
        })
    };
    let (mut placed, mut refused) = (0, 0);
    for t in tasks {
        let (p, r) = t.await.unwrap();
        placed += p;
        refused += r;
    }
    let (edits, failed) = staff_task.await.unwrap();
    println!(
        "RESULT orders={placed} orders_per_second={:.1} refused={refused} price_edits={edits} price_edit_failures={failed}",
        placed as f64 / started.elapsed().as_secs_f64()
    );
}
