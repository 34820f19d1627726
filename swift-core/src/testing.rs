//! Per-test databases on the real PostgreSQL, for the integration tests of every crate.
//!
//! Each test gets its own database, cloned from a migrated template. The template is built
//! once per set of migrations (its name carries their checksum), so a test pays for a
//! `CREATE DATABASE ... TEMPLATE`, not for running every migration again.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::db::{MIGRATOR, quote_ident};

/// The server that hosts test databases; `SWIFT_TEST_DATABASE_URL` points elsewhere.
pub fn admin_url() -> String {
    std::env::var("SWIFT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, migrated database that is dropped when the value is dropped.
pub struct TestDb {
    /// A pool on the test database.
    pub pool: PgPool,
    /// The URL of the test database, for code under test that opens its own connections.
    pub url: String,
    name: String,
    /// The server's maintenance database, where it is created and dropped.
    admin: String,
}

impl TestDb {
    /// Creates a migrated database for one test.
    pub async fn new() -> Self {
        Self::new_on(&admin_url()).await
    }

    /// Creates a migrated database on another server (one a test started itself), given
    /// the URL of that server's maintenance database.
    pub async fn new_on(admin: &str) -> Self {
        let name = format!("swift_test_{}", uuid::Uuid::new_v4().simple());
        Self::create(admin, &name, true).await
    }

    /// Creates an empty database (no migrations), for tests of migrating itself.
    pub async fn empty() -> Self {
        let name = format!("swift_test_{}", uuid::Uuid::new_v4().simple());
        Self::create(&admin_url(), &name, false).await
    }

    /// A database name that does not exist yet (for code that must create it); a pool that
    /// connects lazily, and the same clean-up on drop.
    pub fn absent() -> Self {
        let name = format!("swift_test_{}", uuid::Uuid::new_v4().simple());
        let admin_options: PgConnectOptions = admin_url().parse().expect("SWIFT_TEST_DATABASE_URL");
        let options = admin_options.database(&name);
        Self {
            pool: PgPoolOptions::new().connect_lazy_with(options.clone()),
            url: options.to_url_lossy().to_string(),
            name,
            admin: admin_url(),
        }
    }

    async fn create(admin_url: &str, name: &str, migrated: bool) -> Self {
        let admin_options: PgConnectOptions = admin_url.parse().expect("SWIFT_TEST_DATABASE_URL");
        let mut admin = admin_options
            .connect()
            .await
            .expect("PostgreSQL must answer at SWIFT_TEST_DATABASE_URL (see README)");
        let sql = if migrated {
            let template = ensure_template(&mut admin, &admin_options).await;
            format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quote_ident(name),
                quote_ident(&template)
            )
        } else {
            format!("CREATE DATABASE {}", quote_ident(name))
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let options = admin_options.database(name);
        let pool = crate::db::pool_options(20)
            .connect_with(options.clone())
            .await
            .expect("connect to test database");
        Self {
            pool,
            url: options.to_url_lossy().to_string(),
            name: name.to_owned(),
            admin: admin_url.to_owned(),
        }
    }
}

/// The template's name changes whenever a migration does, so stale templates never serve.
fn template_name() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for m in MIGRATOR.iter() {
        for byte in m.version.to_le_bytes().iter().chain(m.checksum.iter()) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("swift_tpl_{hash:016x}")
}

async fn ensure_template(admin: &mut PgConnection, options: &PgConnectOptions) -> String {
    let name = template_name();
    // Test processes run in parallel; one builds the template while the others wait.
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut *admin)
        .await
        .expect("lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut *admin)
            .await
            .expect("query pg_database");
    if !exists {
        // Build under a temporary name and rename at the end: a crash half-way never leaves
        // a half-migrated template behind under the real name.
        let building = format!("{name}_building");
        for sql in [
            format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&building)
            ),
            format!("CREATE DATABASE {}", quote_ident(&building)),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *admin)
                .await
                .expect("prepare template");
        }
        let mut conn = options
            .clone()
            .database(&building)
            .connect()
            .await
            .expect("connect template");
        MIGRATOR.run(&mut conn).await.expect("migrate template");
        conn.close().await.ok();
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&building),
            quote_ident(&name)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *admin)
            .await
            .expect("rename template");
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut *admin)
        .await
        .expect("unlock");
    name
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (name, admin) = (self.name.clone(), self.admin.clone());
        // Drop runs inside the test's runtime, which cannot be awaited here; a helper thread
        // with its own runtime removes the database. FORCE ends the pool's open sessions.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let options: PgConnectOptions = admin.parse().expect("admin url");
                if let Ok(mut admin) = options.connect().await {
                    let sql = format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(&name)
                    );
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join()
        .ok();
    }
}
