//! Conditional GETs for public catalog reads: a strong `ETag` over the exact body bytes,
//! `If-None-Match` answered with 304, and a `Cache-Control` for shared caches; and this
//! instance's caches of catalog answers (swift-core's [`ScopedCache`]s, dropped by what
//! each change touched).

use std::marker::PhantomData;
use std::sync::Arc;

use poem::{IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use sha2::{Digest, Sha256};
use swift_core::Context;
use swift_core::catalog::cache::ScopedCache;
use swift_core::catalog::service::ListingKey;

use super::catalog::ProductBody;

/// A response body ready to send, with its entity tag: cached so that a hot listing is not
/// even serialised again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub body: String,
    pub etag: String,
}

/// The share of the HTTP caches' budget that product pages get (a quarter); listing pages
/// take the rest.
const PRODUCTS_SHARE: u64 = 4;

/// This instance's caches of catalog answers: rendered listing pages, and product pages
/// without their stock (read live on every request, so that a sale changes nothing cached).
pub struct CatalogReads {
    pub pages: Arc<ScopedCache<ListingKey, Arc<Rendered>>>,
    pub products: Arc<ScopedCache<String, Arc<ProductBody>>>,
}

impl CatalogReads {
    /// Subscribed to `ctx`'s catalog changes, within `CATALOG_CACHE_MAX_BYTES` with the
    /// listing counts.
    pub fn new(ctx: &Context) -> Self {
        let total = ctx.config.catalog_cache_max_bytes;
        let ours = total - total / swift_core::context::COUNTS_SHARE;
        Self {
            pages: ScopedCache::new("pages", &ctx.catalog_changes, ours - ours / PRODUCTS_SHARE),
            products: ScopedCache::new("products", &ctx.catalog_changes, ours / PRODUCTS_SHARE),
        }
    }
}

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

/// The tag of a body made of a rendered part (tagged `part_etag`) and `rest`.
pub fn combined_etag(part_etag: &str, rest: &str) -> String {
    let digest = Sha256::new()
        .chain_update(part_etag.as_bytes())
        .chain_update(rest.as_bytes())
        .finalize();
    format!("\"{}\"", hex(&digest[..16]))
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
