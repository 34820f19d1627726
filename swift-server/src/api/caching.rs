//! Conditional GETs for public catalog reads: a strong `ETag` over the exact body bytes,
//! `If-None-Match` answered with 304, and a `Cache-Control` for shared caches.

use std::marker::PhantomData;

use poem::{IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use sha2::{Digest, Sha256};

/// Public catalog answers may be reused by browsers and CDNs for a short while, and
/// revalidated cheaply with the ETag afterwards.
pub const CATALOG_CACHE_CONTROL: &str = "public, max-age=30, stale-while-revalidate=60";

/// A JSON body serialised once (to hash it), documented with `T`'s schema.
pub struct JsonBytes<T> {
    body: String,
    _schema: PhantomData<fn() -> T>,
}

impl<T: Type> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::content_type())
            .body(self.body)
    }
}

impl<T> JsonBytes<T> {
    fn content_type() -> &'static str {
        "application/json; charset=utf-8"
    }
}

/// 200 with the body, or 304 when the client already has it.
#[derive(ApiResponse)]
pub enum Conditional<T: Type + Send + Sync + 'static> {
    /// The resource.
    #[oai(status = 200)]
    Ok(
        JsonBytes<T>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// Unchanged since the ETag in `If-None-Match`.
    #[oai(status = 304)]
    NotModified(
        #[oai(header = "ETag")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// Serialises `value`, tags it, and answers 304 when `If-None-Match` names the tag.
pub fn conditional<T: ToJSON + Type + Send + Sync + 'static>(
    req: &Request,
    value: &T,
) -> Conditional<T> {
    let body = value.to_json_string();
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", hex(&digest[..16]));
    let cache_control = CATALOG_CACHE_CONTROL.to_owned();
    let matches = req.header("if-none-match").is_some_and(|h| {
        h.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
    });
    if matches {
        Conditional::NotModified(etag, cache_control)
    } else {
        Conditional::Ok(
            JsonBytes {
                body,
                _schema: PhantomData,
            },
            etag,
            cache_control,
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
