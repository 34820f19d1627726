//! `fake-stripe`: the local Stripe of `fake_stripe`, as a process, for the storefront
//! example and manual runs (`.ci/e2e.sh`). Never for production: it takes no money.

use clap::Parser;

#[derive(Parser)]
#[command(about = "A local stand-in for Stripe's API and signed webhooks")]
struct Args {
    #[arg(long, env = "FAKE_STRIPE_LISTEN", default_value = "127.0.0.1:12111")]
    listen: String,
    /// The secret key the shop uses (its STRIPE_SECRET_KEY).
    #[arg(long, env = "STRIPE_SECRET_KEY", default_value = "sk_test_fake")]
    secret_key: String,
    /// The signing secret of the shop's webhook endpoint (its STRIPE_WEBHOOK_SECRET).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", default_value = "whsec_fake")]
    webhook_secret: String,
    /// Where events go: the shop's `/api/v1/payments/stripe/webhook`.
    #[arg(
        long,
        env = "FAKE_STRIPE_WEBHOOK_URL",
        default_value = "http://127.0.0.1:8000/api/v1/payments/stripe/webhook"
    )]
    webhook_url: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let fake =
        fake_stripe::FakeStripe::start_on(&args.listen, &args.secret_key, &args.webhook_secret)
            .await;
    fake.set_webhook_url(&args.webhook_url);
    println!(
        "fake Stripe at {} (publishable key {}), delivering to {}",
        fake.base,
        fake_stripe::PUBLISHABLE_KEY,
        args.webhook_url
    );
    let _ = tokio::signal::ctrl_c().await;
}
