//! The PostgreSQL pool, database creation and migrations.
//!
//! Migrations are embedded in the binaries at compile time, so a deployed server or CLI
//! always carries exactly the schema it was built for.

use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::Config;

/// The migrations of `migrations/`, reversible up/down pairs.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The one translation of a violated constraint into the domain error it means: `meanings`
/// pairs constraint names (as the migrations name them) with errors; any other failure
/// stays the database error it was.
pub fn constraint_error<E: From<sqlx::Error>>(
    error: sqlx::Error,
    meanings: impl IntoIterator<Item = (&'static str, E)>,
) -> E {
    if let sqlx::Error::Database(db) = &error
        && let Some(violated) = db.constraint()
        && let Some((_, meaning)) = meanings.into_iter().find(|(name, _)| *name == violated)
    {
        return meaning;
    }
    E::from(error)
}

/// What can go wrong while reaching or shaping the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] MigrateError),
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(sqlx::Error),
}

impl DbError {
    /// Whether nothing answered at the configured address (no server, wrong host or port),
    /// as opposed to a server that answered and refused or failed.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            DbError::Sqlx(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
                | DbError::Migrate(MigrateError::Execute(
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut
                ))
        )
    }
}

/// One line for an operator whose database does not answer: where we looked (without the
/// password), why, and how to get one running.
pub fn unreachable_hint(database_url: &str, error: &DbError) -> String {
    let cause = match error {
        DbError::Sqlx(sqlx::Error::Io(io))
        | DbError::Migrate(MigrateError::Execute(sqlx::Error::Io(io))) => io.to_string(),
        _ => "no answer".to_owned(),
    };
    format!(
        "PostgreSQL does not answer at {} ({cause}). Start one with `docker compose up -d db`, \
         or point DATABASE_URL (environment or .env) at a running server.",
        redact_password(database_url)
    )
}

/// The URL with its password replaced by `***`, fit for logs and messages.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

fn connect_options(url: &str) -> Result<PgConnectOptions, DbError> {
    url.parse::<PgConnectOptions>().map_err(DbError::BadUrl)
}

/// Begins a transaction whose statements keep one plan each, made the first time.
///
/// PostgreSQL plans a prepared statement anew on every run while it estimates its generic
/// plan dearer than a plan for the values at hand. For a statement over an array of order
/// lines (`unnest($1)`) it always does: it assumes ten lines, and a cart has one or two. The
/// stock decrement was planned on every checkout that way (0.8 ms of CPU an order, on
/// `pg_stat_statements`). Checkout's statements all find rows by key, where the generic plan
/// is the right one, so its transaction says so: `SET LOCAL`, in the same message as
/// `BEGIN`, costs no round trip and ends with the transaction.
pub async fn begin_with_fixed_plans(
    pool: &PgPool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    pool.begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        .await
}

/// A pool that connects on first use: the server can start (and report `/readyz` 503)
/// while the database is still coming up.
pub fn lazy_pool(config: &Config) -> Result<PgPool, DbError> {
    let options = connect_options(&config.database_url)?
        .statement_cache_capacity(config.db_statement_cache_capacity);
    Ok(pool_options(config.db_max_connections).connect_lazy_with(options))
}

/// How every pool is set up, the tests' too.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // A request waiting longer than this for a connection is better answered with an
        // error than left hanging while the database is down.
        .acquire_timeout(Duration::from_secs(3))
        // sqlx reports how long each acquire waited as a DEBUG event (target
        // `sqlx::pool::acquire`); swift-server turns it into the pool's waiting metric. Log
        // filters keep it out of the logs unless asked for.
        .acquire_time_level(log::LevelFilter::Debug)
}

/// Creates the configured database when it does not exist yet, so a fresh machine needs no
/// manual `createdb`.
pub async fn ensure_database(database_url: &str) -> Result<(), DbError> {
    let options = connect_options(database_url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let sql = format!("CREATE DATABASE {}", quote_ident(&name));
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance starting at the same moment created it first.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    admin.close().await?;
    Ok(())
}

/// Quotes a PostgreSQL identifier (database names cannot be bound as parameters).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Applies every pending migration. Concurrent callers are serialised by sqlx's advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// One migration as `migrate status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// The embedded migrations, each marked applied or pending in this database.
pub async fn migration_status(pool: &PgPool) -> Result<Vec<MigrationState>, DbError> {
    let applied = applied_versions(pool).await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationState {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect())
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, DbError> {
    let table_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !table_exists {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}

/// Reverts the most recently applied migration; returns its version, or `None` when the
/// database had none applied.
pub async fn revert_last(pool: &PgPool) -> Result<Option<i64>, DbError> {
    let applied = applied_versions(pool).await?;
    let Some(&last) = applied.last() else {
        return Ok(None);
    };
    let target = applied.iter().rev().nth(1).copied().unwrap_or(0);
    MIGRATOR.undo(pool, target).await?;
    Ok(Some(last))
}

/// Why the service is not ready to take traffic.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("database unreachable")]
    Unreachable,
    #[error("{0} migration(s) pending")]
    PendingMigrations(usize),
}

/// Readiness: the database answers within a second and every embedded migration is applied.
pub async fn check_ready(pool: &PgPool) -> Result<(), NotReady> {
    let status = tokio::time::timeout(Duration::from_secs(2), migration_status(pool))
        .await
        .map_err(|_| NotReady::Unreachable)?
        .map_err(|_| NotReady::Unreachable)?;
    match status.iter().filter(|m| !m.applied).count() {
        0 => Ok(()),
        n => Err(NotReady::PendingMigrations(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_password("postgres://swift:s3cret@db:5432/swift?sslmode=require"),
            "postgres://swift:***@db:5432/swift?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1:5432/swift"),
            "postgres://postgres@127.0.0.1:5432/swift"
        );
        assert_eq!(redact_password("postgres://h/db"), "postgres://h/db");
    }

    /// The setting lasts as long as the transaction, committed or rolled back: the pooled
    /// connection is back to PostgreSQL's own choice for whatever runs on it next.
    #[tokio::test]
    async fn fixed_plans_last_one_transaction() {
        let db = crate::testing::TestDb::empty().await;
        // One connection, so that every query below runs where the transactions did.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .unwrap();
        let show = "SELECT current_setting('plan_cache_mode')";
        for commit in [true, false] {
            let mut tx = begin_with_fixed_plans(&pool).await.unwrap();
            let inside: String = sqlx::query_scalar(show).fetch_one(&mut *tx).await.unwrap();
            if commit {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
            let after: String = sqlx::query_scalar(show).fetch_one(&pool).await.unwrap();
            assert_eq!(
                (inside.as_str(), after.as_str()),
                ("force_generic_plan", "auto")
            );
        }
    }

    /// A server on PostgreSQL's own host may reach it through its Unix socket
    /// (docs/deploy.md): the URL's `host` parameter names the socket's directory, and the
    /// database is created, migrated and served as over TCP.
    #[tokio::test]
    async fn a_database_is_created_and_served_through_a_unix_socket() {
        let db = crate::testing::TestDb::absent();
        let name = db.url.parse::<PgConnectOptions>().unwrap();
        let name = name.get_database().unwrap();
        let admin: PgConnectOptions = crate::testing::admin_url().parse().unwrap();
        let mut tcp = admin.connect().await.unwrap();
        let dirs: String = sqlx::query_scalar("SHOW unix_socket_directories")
            .fetch_one(&mut tcp)
            .await
            .unwrap();
        let dir = dirs.split(',').next().unwrap_or_default().trim();
        assert!(dir.starts_with('/'), "no Unix socket: {dirs:?}");
        let url = format!(
            "postgres://{}@localhost:{}/{name}?host={dir}",
            admin.get_username(),
            admin.get_port()
        );

        ensure_database(&url).await.unwrap();
        let pool = pool_options(2).connect(&url).await.unwrap();
        migrate(&pool).await.unwrap();
        // `inet_server_addr()` is NULL exactly when the connection is not over TCP/IP.
        let (over_ip, pending): (Option<String>, i64) = sqlx::query_as(
            "SELECT inet_server_addr()::text, \
             (SELECT count(*) FROM _sqlx_migrations WHERE NOT success)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((over_ip, pending), (None, 0));
        assert!(check_ready(&pool).await.is_ok());
        pool.close().await;
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_as_unreachable_with_a_hint() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let url = "postgres://postgres:pw@127.0.0.1:1/swift";
        let err = ensure_database(url).await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        let hint = unreachable_hint(url, &err);
        assert!(hint.contains("127.0.0.1:1"), "{hint}");
        assert!(hint.contains("DATABASE_URL"), "{hint}");
        assert!(hint.contains("docker compose up -d db"), "{hint}");
        assert!(!hint.contains(":pw@"), "{hint}");
    }
}
