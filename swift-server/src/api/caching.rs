//! Conditional GETs for public catalog reads: a strong `ETag` over the exact body bytes,
//! `If-None-Match` answered with 304, and a `Cache-Control` for shared caches.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use poem::{IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use sha2::{Digest, Sha256};
use swift_core::catalog::cache::{ListCache, Rendered};

use crate::problem::ApiResult;

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
    /// Wraps an already serialised body (e.g. a replayed checkout answer).
    pub fn new(body: String) -> Self {
        Self {
            body,
            _schema: PhantomData,
        }
    }

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

/// Serialises `value` and tags it with a hash of the exact bytes.
pub fn render<T: ToJSON>(value: &T) -> Rendered {
    let body = value.to_json_string();
    let digest = Sha256::digest(body.as_bytes());
    Rendered {
        etag: format!("\"{}\"", hex(&digest[..16])),
        body,
    }
}

/// Answers a rendered body, or 304 when `If-None-Match` names its tag.
pub fn respond<T: Type + Send + Sync + 'static>(
    req: &Request,
    rendered: &Rendered,
) -> Conditional<T> {
    let cache_control = CATALOG_CACHE_CONTROL.to_owned();
    let etag = rendered.etag.clone();
    let matches = req.header("if-none-match").is_some_and(|h| {
        h.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
    });
    if matches {
        Conditional::NotModified(etag, cache_control)
    } else {
        Conditional::Ok(
            JsonBytes {
                body: rendered.body.clone(),
                _schema: PhantomData,
            },
            etag,
            cache_control,
        )
    }
}

/// Serves `key` from the rendered-body cache, or builds, renders and caches it (one build
/// per key at a time). With the cache off this is just build + render.
pub async fn cached<T, F, Fut>(
    req: &Request,
    cache: &ListCache,
    key: String,
    build: F,
) -> ApiResult<Conditional<T>>
where
    T: ToJSON + Type + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<T>>,
{
    if let Some(hit) = cache.rendered(&key) {
        return Ok(respond(req, &hit));
    }
    let _building = cache.single_flight(&key).await;
    if let Some(hit) = cache.rendered(&key) {
        return Ok(respond(req, &hit));
    }
    let generation = cache.generation();
    let rendered = Arc::new(render(&build().await?));
    cache.put_rendered(key, generation, Arc::clone(&rendered));
    Ok(respond(req, &rendered))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
