//! Prometheus metrics on `/metrics` (#18), behind a bearer token (`METRICS_TOKEN`; without
//! one the path does not exist): anyone who could read it would learn the shop's order rate.
//!
//! Code everywhere records through the `metrics` facade (swift-core too: orders placed,
//! payments, refunds, the outbox, the catalog caches, the password-hash queue); this module
//! installs the Prometheus recorder, labels each request with its operationId (from the
//! OpenAPI document, so labels stay few whatever the URLs), and samples at scrape time what
//! is a level rather than an event: the pool, the outbox backlog, cache sizes.
//!
//! The pool's "waiting" is `swift_db_pool_acquire_seconds`, how long each query waited for
//! a connection. sqlx keeps no public count of waiters, but the histogram says more: its
//! `rate(..._sum)` is, by Little's law, the average number of queries waiting over the
//! window, and its buckets say how long they waited.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};

use crate::AppState;
use crate::api::caching::CatalogReads;
use crate::problem::{ApiError, ProblemCode};

/// Request latency buckets, in seconds: from a cached read (sub-millisecond) to a slow
/// checkout or a sign-in queued behind password hashing.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. The facade has one global recorder per
/// process, so every app a process builds (tests build several) records into it.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("swift_http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("buckets are not empty")
            .set_buckets_for_metric(
                Matcher::Full("swift_db_pool_acquire_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics stays empty");
        }
        let upkeep = handle.clone();
        // Histograms are kept in windows that need draining now and then.
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// The operationId of each path template and method, for the `operation` label.
#[derive(Debug, Clone, Default)]
pub struct Operations(Arc<Vec<(Vec<String>, String, String)>>);

impl Operations {
    pub fn from_spec(spec_json: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        let mut table = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if let Some(id) = op["operationId"].as_str() {
                    let segments = path.split('/').map(str::to_owned).collect();
                    table.push((segments, method.to_uppercase(), id.to_owned()));
                }
            }
        }
        // Literal segments before parameters (`/orders/claim` before `/orders/{id}`).
        table.sort();
        Self(Arc::new(table))
    }

    /// The operation a request is for; `other` for paths outside the API (`/docs`, 404s),
    /// so a scanner's made-up URLs cannot blow up the label set.
    pub fn of(&self, method: &str, path: &str) -> &str {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, m, _)| m == method && crate::middleware::fits(template, &parts))
            .map_or("other", |(_, _, id)| id.as_str())
    }
}

/// Counts a finished request and its latency under its operation and status.
pub fn record_request(operation: &str, status: u16, seconds: f64) {
    metrics::counter!(
        "swift_http_requests_total",
        "operation" => operation.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "swift_http_request_duration_seconds",
        "operation" => operation.to_owned()
    )
    .record(seconds);
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /metrics`: the Prometheus text exposition, for `Authorization: Bearer
/// <METRICS_TOKEN>`; 401 otherwise, and 404 when no token is configured.
#[handler]
pub async fn scrape(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(reads): Data<&Arc<CatalogReads>>,
) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return ApiError::not_found().into_response();
    };
    let given = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(given.as_bytes(), token.as_bytes()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            ProblemCode::NotAuthenticated,
            "metrics need Authorization: Bearer <METRICS_TOKEN>",
        )
        .into_response();
    }
    let pool = &state.pool;
    let idle = pool.num_idle() as f64;
    metrics::gauge!("swift_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("swift_db_pool_connections", "state" => "in_use")
        .set(pool.size() as f64 - idle);
    metrics::gauge!("swift_db_pool_max_connections")
        .set(f64::from(state.config.db_max_connections));
    match swift_core::outbox::backlog(pool).await {
        Ok((waiting, age)) => {
            metrics::gauge!("swift_outbox_backlog").set(waiting as f64);
            metrics::gauge!("swift_outbox_oldest_age_seconds").set(age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the outbox backlog failed"),
    }
    state.listing_counts.record_size().await;
    reads.pages.record_size().await;
    reads.products.record_size().await;
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(recorder().render())
}

/// Records sqlx's per-acquire event (see `swift_core::db::pool_options`) as
/// `swift_db_pool_acquire_seconds`. Installed by [`crate::logging::init`] with its own
/// filter, so the event is counted whatever `RUST_LOG` lets into the logs.
pub struct PoolWaits;

impl PoolWaits {
    /// The only events this layer wants.
    pub fn filter() -> tracing_subscriber::filter::Targets {
        tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::pool::acquire", tracing::Level::DEBUG)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PoolWaits {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct AcquiredAfter(Option<f64>);
        impl tracing::field::Visit for AcquiredAfter {
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                if field.name() == "acquired_after_secs" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut waited = AcquiredAfter(None);
        event.record(&mut waited);
        if let Some(seconds) = waited.0 {
            metrics::histogram!("swift_db_pool_acquire_seconds").record(seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_labelled_by_operation_never_by_url() {
        let ops = Operations::from_spec(&crate::openapi_json());
        assert_eq!(ops.of("GET", "/api/v1/products"), "listProducts");
        assert_eq!(ops.of("GET", "/api/v1/products/linen-shirt"), "getProduct");
        assert_eq!(ops.of("POST", "/api/v1/orders/claim"), "claimGuestOrders");
        assert_eq!(
            ops.of(
                "POST",
                "/api/v1/orders/0193b6a2-5c1e-7cc0-8a3e-2f1d4c5b6a70/cancel"
            ),
            "cancelOrder"
        );
        assert_eq!(ops.of("DELETE", "/api/v1/products"), "other");
        assert_eq!(ops.of("GET", "/wp-admin/setup.php"), "other");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
    }
}
