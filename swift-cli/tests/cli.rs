//! The built `swift-cli` binary against a real database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use swift_core::testing::TestDb;

fn cli(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_swift-cli"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("EMAIL_BACKEND", "log")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run swift-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn migrations_run_revert_and_run_again() {
    let db = TestDb::empty().await;
    let status = cli(&db, &["migrate", "status"], None);
    assert!(status.status.success(), "{}", stderr(&status));
    let lines: Vec<String> = stdout(&status).lines().map(str::to_owned).collect();
    assert!(
        lines.len() >= 2 && lines.iter().all(|l| l.starts_with("pending")),
        "{lines:?}"
    );

    let run = cli(&db, &["migrate", "run"], None);
    assert!(run.status.success(), "{}", stderr(&run));
    let status = stdout(&cli(&db, &["migrate", "status"], None));
    assert!(status.lines().all(|l| l.starts_with("applied")), "{status}");
    let users_exist = || async {
        sqlx::query_scalar::<_, bool>("SELECT to_regclass('users') IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    assert!(users_exist().await);

    // Revert everything, one migration at a time, then apply again.
    let count = status.lines().count();
    for _ in 0..count {
        let revert = cli(&db, &["migrate", "revert"], None);
        assert!(
            stdout(&revert).starts_with("reverted"),
            "{}",
            stderr(&revert)
        );
    }
    assert!(!users_exist().await);
    assert_eq!(
        stdout(&cli(&db, &["migrate", "revert"], None)).trim(),
        "nothing to revert"
    );
    let status = stdout(&cli(&db, &["migrate", "status"], None));
    assert!(status.lines().all(|l| l.starts_with("pending")), "{status}");
    assert!(cli(&db, &["migrate", "run"], None).status.success());
    assert!(users_exist().await);
}

#[tokio::test]
async fn user_commands_manage_accounts() {
    let db = TestDb::new().await;
    let password = "plum-Orbit-cactus-42\n";
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--staff",
            "--password-stdin",
        ],
        Some(password),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ops@example.com [staff]"));
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--email",
            "shopper@example.com",
            "--password-stdin",
        ],
        Some(password),
    );
    assert!(out.status.success());

    // Refusals: duplicate, weak password, bad email.
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ],
        Some(password),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--email",
            "weak@example.com",
            "--password-stdin",
        ],
        Some("12345678\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        &db,
        &["user", "create", "--email", "nope", "--password-stdin"],
        Some(password),
    );
    assert_eq!(out.status.code(), Some(2));

    sqlx::query(
        "INSERT INTO social_accounts (provider, subject, user_id, email) \
         SELECT 'google', 'sub-1', id, email FROM users WHERE email = 'shopper@example.com'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let table = stdout(&cli(&db, &["user", "list"], None));
    assert!(table.starts_with("EMAIL"), "{table}");
    assert!(table.contains("2 user(s)"), "{table}");
    let shopper = table.lines().find(|l| l.starts_with("shopper@")).unwrap();
    assert!(shopper.trim_end().ends_with("google"), "{shopper}");
    let all: serde_json::Value =
        serde_json::from_str(&stdout(&cli(&db, &["user", "list", "--json"], None))).unwrap();
    let shopper = all
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "shopper@example.com")
        .unwrap();
    assert_eq!(shopper["providers"], serde_json::json!(["google"]));
    let staff: serde_json::Value = serde_json::from_str(&stdout(&cli(
        &db,
        &["user", "list", "--staff", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(staff.as_array().unwrap().len(), 1);
    assert_eq!(staff[0]["email"], "ops@example.com");

    let flag = |email: &'static str, column: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(format!(
                "SELECT {column} FROM users WHERE email = $1"
            )))
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(
        cli(
            &db,
            &["user", "set-staff", "shopper@example.com", "--on"],
            None
        )
        .status
        .success()
    );
    assert!(flag("shopper@example.com", "is_staff").await);
    assert!(
        cli(
            &db,
            &["user", "set-staff", "shopper@example.com", "--off"],
            None
        )
        .status
        .success()
    );
    assert!(!flag("shopper@example.com", "is_staff").await);
    assert_eq!(
        cli(&db, &["user", "set-staff", "shopper@example.com"], None)
            .status
            .code(),
        Some(2)
    );

    assert!(
        cli(&db, &["user", "deactivate", "shopper@example.com"], None)
            .status
            .success()
    );
    assert!(!flag("shopper@example.com", "is_active").await);
    assert!(
        cli(&db, &["user", "activate", "shopper@example.com"], None)
            .status
            .success()
    );
    assert!(flag("shopper@example.com", "is_active").await);

    let before: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'shopper@example.com'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let out = cli(
        &db,
        &["user", "set-password", "shopper@example.com"],
        Some("violet-Tundra-harbor-77\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'shopper@example.com'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_ne!(before, after);
    assert!(swift_core::accounts::password::verify(
        "violet-Tundra-harbor-77",
        &after
    ));

    let out = cli(
        &db,
        &["user", "revoke-sessions", "shopper@example.com"],
        None,
    );
    assert!(
        stdout(&out).contains("0 session(s) revoked"),
        "{}",
        stdout(&out)
    );

    let out = cli(&db, &["user", "deactivate", "ghost@example.com"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no user with email ghost@example.com"));

    assert_eq!(
        cli(&db, &["user", "delete", "shopper@example.com"], None)
            .status
            .code(),
        Some(2)
    );
    assert!(
        cli(
            &db,
            &["user", "delete", "shopper@example.com", "--yes"],
            None
        )
        .status
        .success()
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
}
