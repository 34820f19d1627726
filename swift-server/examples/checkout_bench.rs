//! Checkout load driver for `bench/checkout.sh` (not a test): N signed-in customers each
//! loop "add to cart, check out" for a fixed time against a running server, on one hot
//! variant or spread over many, and report checkouts per second with p50/p99 latency.
//!
//! cargo run --release -p swift-server --example checkout_bench -- \
//!   BASE_URL STAFF_PASSWORD CUSTOMER_PASSWORD CUSTOMERS SECONDS hot|spread

use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/mod.rs"]
mod support;
use support::{login, restock};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        base,
        staff_password,
        customer_password,
        customers,
        seconds,
        mode,
    ] = &args[..]
    else {
        eprintln!(
            "usage: checkout_bench BASE STAFF_PASSWORD CUSTOMER_PASSWORD CUSTOMERS SECONDS hot|spread"
        );
        std::process::exit(2);
    };
    let customers: usize = customers.parse().expect("customers");
    let seconds: u64 = seconds.parse().expect("seconds");
    let client = reqwest::Client::new();

    // Products to buy, restocked so that stock never runs out during the run.
    let staff = login(&client, base, "staff@swift.example", staff_password).await;
    let page: Value = client
        .get(format!(
            "{base}/api/v1/products?page_size=100&ordering=price"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut products: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    if mode == "hot" {
        products.truncate(1);
    }
    // One variant of each: (product, variant).
    let mut variants = Vec::new();
    for id in &products {
        let detail: Value = client
            .get(format!("{base}/api/v1/products/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let variant = detail["variants"][0]["id"].as_str().unwrap().to_owned();
        variants.push((id.clone(), variant));
    }
    for (id, variant) in &variants {
        restock(&client, base, &staff, id, variant, 10_000_000).await;
    }

    let mut tokens = Vec::new();
    for n in 1..=customers {
        tokens.push(
            login(
                &client,
                base,
                &format!("customer{n}@swift.example"),
                customer_password,
            )
            .await,
        );
    }
    let address = json!({"shipping_address": {"full_name": "Bench Customer", "line1": "1 Load St", "city": "Testville", "postal_code": "12345", "country": "US"}});
    let cpu_before = machine_cpu();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let (client, base, variants, address) = (
            client.clone(),
            base.clone(),
            variants.clone(),
            address.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut i = n;
            while Instant::now() < deadline {
                let (_, variant) = &variants[i % variants.len()];
                i += 7;
                let add = client
                    .post(format!("{base}/api/v1/cart/items"))
                    .bearer_auth(&token)
                    .json(&json!({"variant_id": variant, "quantity": 1}))
                    .send()
                    .await;
                if !matches!(&add, Ok(r) if r.status().as_u16() == 201) {
                    failures += 1;
                    continue;
                }
                let started = Instant::now();
                let resp = client
                    .post(format!("{base}/api/v1/orders"))
                    .bearer_auth(&token)
                    .json(&address)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(started.elapsed()),
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.unwrap();
        all.extend(l);
        failures += f;
    }
    let cpu = machine_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    // CPU time per checkout varies less than the rate on a shared box: a neighbour that
    // steals cycles lowers the rate, not (much) the work each order costs.
    let cpu_per_checkout = match cpu {
        Some(cpu) if !all.is_empty() => format!(
            " machine_cpu_ms_per_checkout={:.2} steal_percent={:.0}",
            cpu.busy_ms / all.len() as f64,
            100.0 * cpu.steal_ms / (seconds as f64 * 1000.0 * cpu.cores as f64),
        ),
        _ => String::new(),
    };
    println!(
        "RESULT {mode} customers={customers} checkouts={} per_second={:.0} p50_ms={:.2} p99_ms={:.2} failures={failures}{cpu_per_checkout}",
        all.len(),
        all.len() as f64 / seconds as f64,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
}

/// The whole machine's CPU time so far (every process: server, PostgreSQL, this driver),
/// from Linux's `/proc/stat`; `None` elsewhere.
#[derive(Clone, Copy)]
struct Cpu {
    busy_ms: f64,
    steal_ms: f64,
    cores: usize,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            busy_ms: self.busy_ms - earlier.busy_ms,
            steal_ms: self.steal_ms - earlier.steal_ms,
            cores: self.cores,
        }
    }
}

fn machine_cpu() -> Option<Cpu> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // "cpu  user nice system idle iowait irq softirq steal …", in clock ticks (100 a second).
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    let tick_ms = 10.0;
    let busy = [0, 1, 2, 5, 6]
        .iter()
        .map(|&i| ticks.get(i).copied().unwrap_or(0.0));
    Some(Cpu {
        busy_ms: busy.sum::<f64>() * tick_ms,
        steal_ms: ticks.get(7).copied().unwrap_or(0.0) * tick_ms,
        cores: stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count(),
    })
}
