//! Serving the app on a socket until told to stop.

use std::future::Future;
use std::time::Duration;

use poem::Server;
use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};

use crate::{AppState, app};

/// In-flight requests get this long to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
/// and closes the pool.
pub async fn serve(
    acceptor: TcpAcceptor,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let pool = state.pool.clone();
    let background = Background::spawn(&state);
    if let Some(addr) = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
    {
        tracing::info!(%addr, "listening; Swagger UI at http://{addr}/docs");
    }
    let result = Server::new_with_acceptor(NoDelay(acceptor))
        .run_with_graceful_shutdown(app(state), shutdown, Some(SHUTDOWN_GRACE))
        .await;
    background.stop();
    pool.close().await;
    tracing::info!("shut down");
    result
}

/// Accepted connections with Nagle's algorithm off (`TCP_NODELAY`): poem leaves it on, and
/// then a small write can wait for the client's delayed acknowledgement of the previous one.
struct NoDelay(TcpAcceptor);

impl Acceptor for NoDelay {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        // A connection that keeps Nagle is slower, not broken: serve it anyway (poem drops
        // a connection whose accept fails).
        if let Err(e) = io.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        Ok((io, local, remote, scheme))
    }
}

/// What a server runs beside its requests: the pruner, the catalog-change listener (without
/// which the catalog cache stays off: `CATALOG_CACHE=false`), the replica monitor (with
/// `DATABASE_REPLICA_URLS`), the payments worker (with a payment provider) and the outbox
/// worker (`OUTBOX_WORKER`). Tests start the same set.
pub struct Background(Vec<tokio::task::JoinHandle<()>>);

/// How often the outbox worker looks for rows it was not woken for (other instances' rows,
/// retries coming due).
pub const OUTBOX_POLL: Duration = Duration::from_secs(2);

/// How often the payments worker expires unpaid orders and retries stalled refunds: an
/// order outlives `PAYMENT_TIMEOUT` by at most this.
pub const PAYMENTS_POLL: Duration = Duration::from_secs(30);

impl Background {
    pub fn spawn(state: &AppState) -> Self {
        let pool = state.pool.clone();
        let mut tasks = vec![tokio::spawn(prune_periodically(
            pool.clone(),
            state.config.lifetimes,
        ))];
        if state.config.catalog_cache {
            let url = state.config.database_listen_url.clone();
            tasks.push(state.catalog_changes.spawn_listener(pool.clone(), url));
        }
        // The replica monitor and change follower (nothing without DATABASE_REPLICA_URLS).
        tasks.extend(state.reads.spawn());
        if state.payments.is_some() && state.config.payments_worker {
            tasks.push(swift_core::payments::spawn_worker(
                state.clone(),
                PAYMENTS_POLL,
            ));
        }
        if state.config.outbox_worker {
            tasks.push(swift_core::outbox::spawn_worker(
                pool,
                state.mailer.clone(),
                state.outbox_wake.clone(),
                OUTBOX_POLL,
            ));
        }
        Self(tasks)
    }

    pub fn stop(self) {
        for task in self.0 {
            task.abort();
        }
    }
}

/// Removes expired sessions, tokens, rate-limit windows, carts and idempotency answers every
/// 15 minutes. Several instances doing this at once is harmless.
async fn prune_periodically(pool: sqlx::PgPool, lifetimes: swift_core::config::Lifetimes) {
    // The first run a period after start, not at once: a start (or a test's app) is not a
    // moment when anything has expired, and a prune racing a test's own would be a flake.
    let period = Duration::from_secs(15 * 60);
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        every.tick().await;
        match swift_core::maintenance::prune(&pool, &lifetimes).await {
            Ok(p) => tracing::debug!(?p, "pruned expired rows"),
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what Docker and Kubernetes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
