//! `swift-server`: runs the HTTP API, or prints its OpenAPI document.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use poem::listener::{Listener, TcpListener};
use swift_core::Config;
use swift_server::AppState;

#[derive(Parser)]
#[command(version, about = "The SWIFT shop backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default): creates the database and applies migrations first
    /// unless MIGRATE_ON_START=false.
    Serve,
    /// Print the OpenAPI document (the committed openapi.json) and exit; needs no database.
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi { output }) = cli.command {
        let spec = swift_server::openapi_json() + "\n";
        return match output {
            Some(path) => match std::fs::write(&path, spec) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cannot write {}: {e}", path.display());
                    ExitCode::FAILURE
                }
            },
            None => {
                print!("{spec}");
                ExitCode::SUCCESS
            }
        };
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            config_error(&e);
            return ExitCode::from(2);
        }
    };
    swift_server::logging::init(&config).expect("the first logger of this process");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let pool = match swift_core::db::lazy_pool(&config) {
            Ok(pool) => pool,
            Err(e) => {
                eprintln!("configuration error: DATABASE_URL: {e}");
                return ExitCode::from(2);
            }
        };
        let state = match AppState::new(pool, config) {
            Ok(state) => state,
            Err(e) => {
                config_error(&e);
                return ExitCode::from(2);
            }
        };
        report(run(state).await)
    })
}

/// The log is on standard error already, so a failure is said there once.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(state: AppState) -> anyhow::Result<()> {
    let config = &state.config;
    if config.migrate_on_start {
        let prepared = match swift_core::db::ensure_database(&config.database_url).await {
            Ok(()) => swift_core::db::migrate(&state.pool).await,
            Err(e) => Err(e),
        };
        match prepared {
            Ok(()) => tracing::info!("migrations applied"),
            Err(e) if e.is_unreachable() => {
                anyhow::bail!(swift_core::db::unreachable_hint(&config.database_url, &e))
            }
            Err(e) => return Err(e).context("creating or migrating the database (DATABASE_URL)"),
        }
    }
    let acceptor = TcpListener::bind(config.listen_addr)
        .into_acceptor()
        .await
        .with_context(|| format!("cannot listen on {} (LISTEN_ADDR)", config.listen_addr))?;
    swift_server::server::serve(acceptor, state, swift_server::server::shutdown_signal()).await?;
    Ok(())
}

/// A configuration error, said before logging is set up: as one JSON line when
/// `LOG_FORMAT=json` (a collector would drop plain text), as plain text otherwise.
fn config_error(e: &swift_core::config::ConfigError) {
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f.trim() == "json") {
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "ERROR",
            "target": "swift_server::config",
            "fields": { "message": "configuration error", "variable": e.name, "reason": e.reason },
        });
        eprintln!("{line}");
    } else {
        eprintln!("{e}");
    }
}
