//! Request ids and the one access-log line per request.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::Instrument;

/// The id of the current request, as taken from `X-Request-Id` or generated; handlers read
/// it from the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const HEADER: &str = "x-request-id";

/// A client-supplied id is reused only when it is short and plain, so it cannot inject
/// anything into logs or headers.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn request_context<E: Endpoint>(
    next: E,
    mut req: Request,
    operations: crate::metrics::Operations,
) -> Result<Response> {
    let operation = operations
        .of(req.method().as_str(), req.uri().path())
        .to_owned();
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let started = Instant::now();
        let mut resp = match next.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status().as_u16();
        let elapsed = started.elapsed().as_secs_f64();
        crate::metrics::record_request(&operation, status, elapsed);
        let latency_ms = elapsed * 1000.0;
        // One line per request; a failure's hidden cause rides on it (problem.rs).
        match resp.extensions().get::<crate::problem::Cause>() {
            Some(cause) if status >= 500 => {
                tracing::error!(status, latency_ms, error = %cause.0, "request failed")
            }
            Some(cause) => tracing::warn!(status, latency_ms, error = %cause.0, "request refused"),
            None if status >= 500 => tracing::error!(status, latency_ms, "request failed"),
            None => tracing::info!(status, latency_ms, "request finished"),
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(HEADER, value);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_ids_are_reused() {
        assert!(super::acceptable("abc-123_x.y:z"));
        assert!(!super::acceptable(""));
        assert!(!super::acceptable("a b"));
        assert!(!super::acceptable("x\r\nSet-Cookie: a=b"));
        assert!(!super::acceptable(&"a".repeat(129)));
    }
}
