//! The built `swift-server` binary: configuration errors, start-up and graceful shutdown.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swift_core::testing::TestDb;

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swift-server"));
    // Run from an empty directory so no developer .env is picked up.
    cmd.current_dir(std::env::temp_dir())
        .env("RATE_LIMITS", "off");
    cmd
}

#[test]
fn malformed_configuration_stops_start_up_with_exit_code_2() {
    let out = server()
        .env("LISTEN_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("LISTEN_ADDR"), "{stderr}");
}

#[test]
fn openapi_command_prints_the_committed_document() {
    let out = server().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "openapi.json is stale"
    );
}

#[tokio::test]
async fn serves_then_shuts_down_gracefully_on_sigterm() {
    let db = TestDb::empty().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = server()
        .env("DATABASE_URL", &db.url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(resp) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && resp.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // It migrated the empty database on start.
    let users: bool = sqlx::query_scalar("SELECT to_regclass('users') IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(users);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("shut down"), "{log}");
}
