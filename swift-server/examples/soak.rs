//! Soak driver for `bench/soak.sh` (not a test): customers browse, fill carts and check out
//! for a while, and a watcher polls `/readyz`, while the script restarts PostgreSQL
//! underneath. Prints every status seen, any 5xx body that leaks internals, and writes the
//! ids of orders answered 201 to a file so the script can count them in the database.
//!
//! soak BASE_URL CUSTOMER_PASSWORD CUSTOMERS SECONDS ORDER_IDS_FILE

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    leaks: Vec<String>,
    orders: Vec<String>,
}

fn record(tally: &Mutex<Tally>, status: u16, body: &str) {
    let mut t = tally.lock().unwrap();
    *t.statuses.entry(status).or_default() += 1;
    let lower = body.to_lowercase();
    if status >= 500
        && ["sql", "panick", "postgres", "connection refused", "stack"]
            .iter()
            .any(|w| lower.contains(w))
    {
        t.leaks.push(body.chars().take(300).collect());
    }
}

async fn call(
    client: &reqwest::Client,
    tally: &Mutex<Tally>,
    req: reqwest::RequestBuilder,
) -> Option<(u16, Value)> {
    let _ = client;
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            record(tally, status, &text);
            Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
        }
        Err(_) => {
            tally.lock().unwrap().transport_errors += 1;
            None
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, password, customers, seconds, ids_file] = &args[..] else {
        eprintln!("usage: soak BASE_URL CUSTOMER_PASSWORD CUSTOMERS SECONDS ORDER_IDS_FILE");
        std::process::exit(2);
    };
    let customers: usize = customers.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds.parse().unwrap());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));

    // /readyz as an orchestrator sees it.
    let ready = Arc::new(Mutex::new(BTreeMap::<u16, u64>::new()));
    let watcher = {
        let (client, base, ready) = (client.clone(), base.clone(), Arc::clone(&ready));
        tokio::spawn(async move {
            while Instant::now() < deadline {
                let status = match client.get(format!("{base}/readyz")).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                *ready.lock().unwrap().entry(status).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let mut tasks = Vec::new();
    for n in 1..=customers {
        let (client, base, password, tally) = (
            client.clone(),
            base.clone(),
            password.clone(),
            Arc::clone(&tally),
        );
        tasks.push(tokio::spawn(async move {
            let mut token = None;
            let mut round = 0u64;
            while Instant::now() < deadline {
                round += 1;
                if token.is_none() {
                    let login = client
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&json!({"email": format!("customer{n}@swift.example"), "password": password}));
                    match call(&client, &tally, login).await {
                        Some((200, body)) => token = body["access"].as_str().map(str::to_owned),
                        _ => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    }
                }
                let bearer = token.clone().unwrap();
                let page = 1 + (round * 7 + n as u64) % 20;
                let list = client.get(format!("{base}/api/v1/products?page={page}&in_stock=true"));
                let Some((200, listing)) = call(&client, &tally, list).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let Some(product) = listing["items"].get((round % 5) as usize).cloned() else { continue };
                let detail = client.get(format!("{base}/api/v1/products/{}", product["id"].as_str().unwrap()));
                call(&client, &tally, detail).await;
                let add = client
                    .post(format!("{base}/api/v1/cart/items"))
                    .bearer_auth(&bearer)
                    .json(&json!({"product_id": product["id"], "quantity": 1}));
                match call(&client, &tally, add).await {
                    Some((201, _)) => {}
                    Some((401, _)) => {
                        token = None;
                        continue;
                    }
                    _ => continue,
                }
                // Retries of one checkout reuse its Idempotency-Key, as a careful client does.
                let key = format!("soak-{n}-{round}");
                for _ in 0..3 {
                    let checkout = client
                        .post(format!("{base}/api/v1/orders"))
                        .bearer_auth(&bearer)
                        .header("idempotency-key", &key)
                        .json(&json!({"shipping_address": {"full_name": "Soak", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}}));
                    match call(&client, &tally, checkout).await {
                        Some((201, order)) => {
                            tally.lock().unwrap().orders.push(order["id"].as_str().unwrap_or_default().to_owned());
                            break;
                        }
                        Some((409 | 400, _)) => break,
                        _ => tokio::time::sleep(Duration::from_millis(300)).await,
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    watcher.await.unwrap();
    let tally = tally.lock().unwrap();
    let mut unique = tally.orders.clone();
    unique.sort();
    unique.dedup();
    std::fs::write(ids_file, unique.join("\n")).unwrap();
    println!("statuses: {:?}", tally.statuses);
    println!(
        "transport errors (connection refused/timeouts): {}",
        tally.transport_errors
    );
    println!("/readyz answers: {:?}", ready.lock().unwrap());
    println!(
        "orders answered 201: {} ({} unique)",
        tally.orders.len(),
        unique.len()
    );
    println!("5xx bodies with internals: {}", tally.leaks.len());
    for leak in &tally.leaks {
        println!("  LEAK: {leak}");
    }
}
