//! What every response gets on its way out: `X-Content-Type-Options: nosniff`, a
//! `Cache-Control: no-store` unless the handler chose its own (tokens and personal data must
//! never sit in a browser's or proxy's cache; the public catalog opts in to caching), and
//! gzip or brotli compression when the client asks for it.
//!
//! Compression is done here rather than with poem's `Compression` middleware because that
//! one also inflates *request* bodies (a small gzip bomb would get past a size check that
//! counts compressed bytes) and brings zstd's C build; ours compresses responses only, with
//! the two codings browsers send, in memory (our bodies are JSON pages of at most ~100 KiB).

use std::io::Write;

use poem::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use poem::http::{HeaderMap, HeaderValue, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};

/// Bodies smaller than this gain little and cost a compressor setup.
const MIN_COMPRESS_BYTES: usize = 1024;

/// A content coding we produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to answer in, from `Accept-Encoding`: brotli when acceptable (smaller), else
/// gzip, else none. A coding listed with `q=0` is refused, as RFC 9110 says.
pub fn preferred_coding(headers: &HeaderMap) -> Option<Coding> {
    let accepted = |wanted: &str| {
        headers
            .get_all(ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let name = parts.next().unwrap_or_default();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                name.eq_ignore_ascii_case(wanted) && !refused
            })
    };
    [Coding::Brotli, Coding::Gzip]
        .into_iter()
        .find(|c| accepted(c.token()))
}

fn compressible(resp: &Response) -> bool {
    let status = resp.status();
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational()
        || resp.headers().contains_key(CONTENT_ENCODING)
    {
        return false;
    }
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("text/") || ct.contains("json") || ct.contains("javascript")
        })
}

/// Compresses `bytes` at a fast level: the CPU goes to serving requests, not to the last
/// few percent of ratio.
pub fn compress(coding: Coding, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(4));
            out.write_all(bytes)?;
            out.finish()
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(bytes.len() / 4);
            {
                // quality 4, window 2^20: fast, and a bounded few MiB of state per call.
                let mut writer = brotli::CompressorWriter::new(&mut out, 16 * 1024, 4, 20);
                writer.write_all(bytes)?;
                writer.flush()?;
            }
            Ok(out)
        }
    }
}

pub async fn finish<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let coding = preferred_coding(req.headers());
    let mut resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    let headers = resp.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !compressible(&resp) {
        return Ok(resp);
    }
    // Whether or not this answer is compressed, its bytes depend on Accept-Encoding: a
    // shared cache (the catalog is `public`) must keep the variants apart.
    resp.headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    match coding {
        Some(coding) => compressed(resp, coding).await,
        None => Ok(resp),
    }
}

async fn compressed(mut resp: Response, coding: Coding) -> Result<Response> {
    let body = resp.take_body().into_bytes().await?;
    if body.len() < MIN_COMPRESS_BYTES {
        resp.set_body(body);
        return Ok(resp);
    }
    let packed = match compress(coding, &body) {
        Ok(packed) => packed,
        Err(e) => {
            tracing::warn!(error = %e, "compression failed; answering uncompressed");
            resp.set_body(body);
            return Ok(resp);
        }
    };
    let headers = resp.headers_mut();
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    // A strong ETag names exact bytes; the compressed bytes differ, so the tag becomes weak
    // (as nginx does). If-None-Match compares weakly, so revalidation still works.
    if let Some(tag) = headers.get(ETAG).and_then(|t| t.to_str().ok())
        && !tag.starts_with("W/")
        && let Ok(weak) = HeaderValue::from_str(&format!("W/{tag}"))
    {
        headers.insert(ETAG, weak);
    }
    resp.set_body(Body::from_vec(packed));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        preferred_coding(&headers)
    }

    #[test]
    fn accept_encoding_picks_brotli_then_gzip_and_honours_q_zero() {
        assert_eq!(accept("gzip, deflate, br, zstd"), Some(Coding::Brotli));
        assert_eq!(accept("gzip"), Some(Coding::Gzip));
        assert_eq!(accept("GZIP;q=0.5"), Some(Coding::Gzip));
        assert_eq!(accept("br;q=0, gzip"), Some(Coding::Gzip));
        assert_eq!(accept("br;q=0, gzip;q=0"), None);
        assert_eq!(accept("identity"), None);
        assert_eq!(preferred_coding(&HeaderMap::new()), None);
    }

    #[test]
    fn both_codings_round_trip() {
        let text = "{\"items\":[".to_owned() + &"{\"name\":\"mug\"},".repeat(500) + "]}";
        let gz = compress(Coding::Gzip, text.as_bytes()).unwrap();
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back)
            .unwrap();
        assert_eq!(back, text);
        let br = compress(Coding::Brotli, text.as_bytes()).unwrap();
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
        assert_eq!(back, text.as_bytes());
        assert!(br.len() < text.len() / 10 && gz.len() < text.len() / 10);
    }
}
