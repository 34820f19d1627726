//! Refuses request bodies over [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES) with 413.
//!
//! poem's own `SizeLimit` demands a `Content-Length` (411 otherwise), which would break
//! chunked uploads and bodiless GETs, so the limit is applied here to both kinds of body.

use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};

use super::MAX_BODY_BYTES;
use crate::problem::{ApiError, ProblemCode};

fn too_large() -> poem::Error {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ProblemCode::PayloadTooLarge,
        "the request body exceeds the 1 MiB limit",
    )
    .into()
}

pub async fn limit_body<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => return Err(too_large()),
        Some(_) => {}
        None if req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING) =>
        {
            // Unknown length: read at most the limit (+1 byte to notice an overflow).
            let bytes = req
                .take_body()
                .into_bytes_limit(MAX_BODY_BYTES)
                .await
                .map_err(|_| too_large())?;
            req.set_body(Body::from_bytes(bytes));
        }
        None => {}
    }
    next.call(req).await.map(IntoResponse::into_response)
}
