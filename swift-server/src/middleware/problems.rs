//! Turns every error (and the framework's plain-text 404/405) into problem+json.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};

use super::body_schema::BodySchemas;
use super::{AllowedMethods, MAX_BODY_BYTES};
use crate::problem::{ApiError, PROBLEM_JSON, ProblemCode};

fn is_problem(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()))
}

async fn convert<E: Endpoint>(
    next: E,
    req: Request,
    polish: impl FnOnce(&mut ApiError),
) -> Response {
    match next.call(req).await {
        Ok(resp) => {
            let resp = resp.into_response();
            if resp.status().is_success()
                || resp.status().is_redirection()
                || resp.status().is_informational()
                || is_problem(&resp)
            {
                resp
            } else {
                ApiError::from_poem(poem::Error::from_status(resp.status())).into_response()
            }
        }
        Err(err) => {
            let mut error = ApiError::from_poem(err);
            polish(&mut error);
            error.into_response()
        }
    }
}

/// For errors raised outside the routes (CORS refusals).
pub async fn to_problem_json<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    Ok(convert(next, req, |_| {}).await)
}

/// Whether the body is declared JSON. Media types are case-insensitive (RFC 9110 §8.3.1):
/// `APPLICATION/JSON; Charset=UTF-8` is JSON too, and must not skip the schema check.
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Around the routes: checks JSON bodies against the operation's schema (400 naming the
/// fields), converts errors to problem+json, and names the allowed methods on a 405.
pub async fn checked_routes<E: Endpoint>(
    next: E,
    mut req: Request,
    allowed: &AllowedMethods,
    schemas: &BodySchemas,
) -> Result<Response> {
    let path = req.uri().path().to_owned();
    if is_json(&req) {
        let bytes = match req.take_body().into_bytes_limit(MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return Ok(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ProblemCode::PayloadTooLarge,
                    "the request body exceeds the 1 MiB limit",
                )
                .into_response());
            }
        };
        let errors = schemas.check(req.method(), &path, &bytes);
        if !errors.is_empty() {
            return Ok(ApiError::validation(errors).into_response());
        }
        req.set_body(Body::from_bytes(bytes));
    }
    let mut resp = convert(next, req, |error| {
        error.rename_fields(|field| {
            let index = field.strip_prefix("param")?.parse().ok()?;
            allowed.path_parameter(&path, index).map(str::to_owned)
        })
    })
    .await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(methods) = allowed.for_path(&path)
        && let Ok(value) = HeaderValue::from_str(&methods)
    {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    Ok(resp)
}
