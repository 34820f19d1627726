//! The tests' local OpenID Provider as a process, so that CI can fuzz and click through the
//! Google endpoints of a live server without reaching Google:
//! `cargo run -p swift-server --example oidc_provider -- 127.0.0.1:4010`

#[path = "../tests/common/oidc.rs"]
mod oidc;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4010".into());
    let provider = oidc::TestProvider::start_on(&addr).await;
    println!(
        "OpenID Provider at {} (client id {})",
        provider.issuer,
        oidc::CLIENT_ID
    );
    std::future::pending::<()>().await;
}
