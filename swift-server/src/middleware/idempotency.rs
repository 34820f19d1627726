//! `Idempotency-Key` on every mutating call (docs/API.md "Idempotency-Key"), over
//! `swift_core::idempotency`.
//!
//! A POST, PATCH or DELETE carrying the header is scoped to its caller (the signed-in user,
//! else the guest cart's token) and fingerprinted (method, path and query, body). The first
//! request claims the key and runs; a 2xx answer is saved (status, the headers that matter,
//! body) and replayed to the same request with `Idempotent-Replayed: true`; any other
//! answer releases the key, so a retry runs again. The same key with another request is 409
//! `idempotency_conflict`; a malformed key is 400. A duplicate that arrives while the first
//! runs waits for its answer.
//!
//! The claim reaches handlers as a request extension: checkout saves its answer inside its
//! own transaction with it, so an order and the answer that reports it commit together.
//!
//! Calls without a caller (sign-in, registration, password reset requests) have no scope to
//! keep a key in and run as if it were absent; and the calls that answer with session
//! tokens are never saved, since a replay would hand out a session and tokens are not kept.

use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};
use swift_core::idempotency::{self, Begin, Claimed, IdempotencyKey, Saved, Scope};

use crate::AppState;
use crate::problem::{ApiError, ProblemCode};

pub const KEY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Operations whose answers carry secrets: session tokens, a TOTP secret, recovery codes.
pub const NEVER_SAVED: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/second-factor",
    "/api/v1/auth/two-factor",
    "/api/v1/auth/two-factor/confirm",
    "/api/v1/auth/two-factor/recovery-codes",
    "/api/v1/auth/register",
    "/api/v1/auth/google",
    "/api/v1/auth/exchange",
    "/api/v1/auth/token/refresh",
];

/// The response headers a replay repeats.
const KEPT_HEADERS: &[&str] = &["content-type", "location", "etag"];

/// How often a waiting duplicate looks for the first request's answer.
const POLL: Duration = Duration::from_millis(20);

pub async fn idempotent<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    );
    let Some(raw) = req.headers().get(KEY_HEADER).filter(|_| mutating) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let key = IdempotencyKey::parse(raw.as_bytes()).map_err(ApiError::from)?;
    if NEVER_SAVED.contains(&req.uri().path()) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let state: AppState = req
        .data::<AppState>()
        .expect("AppState is attached to every request")
        .clone();
    let Some(scope) = scope(&req, &state).await else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let body = req.take_body().into_bytes().await?;
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_default();
    let fingerprint =
        idempotency::fingerprint(&[req.method().as_str().as_bytes(), target.as_bytes(), &body]);
    req.set_body(Body::from_bytes(body));
    let ttl = state.config.lifetimes.idempotency_hours;
    let claimed = loop {
        match idempotency::begin(&state.pool, &scope, &key, &fingerprint, ttl)
            .await
            .map_err(ApiError::from)?
        {
            Begin::Proceed(claimed) => break claimed,
            Begin::Replay(saved) => return Ok(replay(saved)),
            Begin::Conflict => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ProblemCode::IdempotencyConflict,
                    "this Idempotency-Key was used with a different request",
                )
                .into());
            }
            Begin::InProgress => tokio::time::sleep(POLL).await,
        }
    };
    req.extensions_mut().insert(claimed.clone());
    let outcome = next.call(req).await.map(IntoResponse::into_response);
    match outcome {
        Ok(response) if response.status().is_success() => save(&state, &claimed, response).await,
        other => {
            release(&state, &claimed).await;
            other
        }
    }
}

/// The caller a key belongs to; `None` for a call with neither a valid session nor a cart
/// token (the handler then answers as it would without a key).
async fn scope(req: &Request, state: &AppState) -> Option<Scope> {
    if let Ok(Some((user, _))) = crate::auth::authenticated(req).await {
        return Some(Scope::user(user.id));
    }
    match crate::shopper::cart_token(req, state) {
        Ok(Some(token)) => Some(Scope::guest(&token.hash())),
        _ => None,
    }
}

/// Saves a successful answer and sends it. An answer that cannot be kept (not text) is
/// sent and its key released.
async fn save(state: &AppState, claimed: &Claimed, mut response: Response) -> Result<Response> {
    let body = response.take_body().into_bytes().await?;
    let Ok(text) = std::str::from_utf8(&body) else {
        release(state, claimed).await;
        response.set_body(body);
        return Ok(response);
    };
    let saved = Saved {
        status: response.status().as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = response.headers().get(*name)?.to_str().ok()?;
                Some(((*name).to_owned(), value.to_owned()))
            })
            .collect(),
        body: text.to_owned(),
    };
    idempotency::complete(&state.pool, claimed, &saved)
        .await
        .map_err(ApiError::from)?;
    response.set_body(body);
    Ok(response)
}

async fn release(state: &AppState, claimed: &Claimed) {
    let released = match state.pool.acquire().await {
        Ok(mut conn) => idempotency::release(&mut conn, claimed).await,
        Err(e) => Err(e),
    };
    if let Err(e) = released {
        // The claim's lease runs out instead; a retry then takes the key over.
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}

fn replay(saved: Saved) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK))
        .header(REPLAYED_HEADER, HeaderValue::from_static("true"));
    for (name, value) in &saved.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(saved.body)
}
