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

#[test]
fn configuration_errors_are_a_json_line_when_logs_are_json() {
    let out = server()
        .env("LOG_FORMAT", "json")
        .env("LISTEN_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stderr.trim()).expect("one JSON object");
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["fields"]["variable"], "LISTEN_ADDR");
    assert!(line["fields"]["reason"].is_string());
}

/// A failing request is one log line (its access line, with the cause), with the request's
/// span once; and logs written to a pipe carry no terminal colours.
#[tokio::test]
async fn a_database_failure_is_logged_once_per_request() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A PostgreSQL that is not there: nothing listens on the port just freed.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = server()
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{nowhere}/swift"),
        )
        .env("MIGRATE_ON_START", "false")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped even if an assertion below fails first.
    let guard = StopOnDrop(child.id());
    let client = reqwest::Client::new();
    let started = Instant::now();
    let resp = loop {
        if let Ok(resp) = client
            .get(format!("http://127.0.0.1:{port}/api/v1/categories"))
            .send()
            .await
        {
            break resp;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(resp.status(), 503);
    drop(guard);
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(!log.contains('\u{1b}'), "no colours in a pipe: {log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .filter(|l: &serde_json::Value| l["span"]["path"] == "/api/v1/categories")
        .collect();
    assert_eq!(lines.len(), 1, "one line for the failed request: {log}");
    let line = &lines[0];
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["fields"]["status"], 503);
    assert!(
        line["fields"]["error"]
            .as_str()
            .unwrap()
            .starts_with("database unavailable"),
        "{line}"
    );
    assert!(line["span"]["request_id"].is_string());
    assert!(
        line.get("spans").is_none(),
        "the span once, not twice: {line}"
    );
}

/// Sends SIGTERM to a child process when dropped, so a failing test leaves no server behind.
struct StopOnDrop(u32);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.to_string()])
            .status();
    }
}
