//! Cached catalog reads (rendered bodies, listing counts) that stay correct across server
//! instances.
//!
//! A listing's count (and, for searches, its ranking) costs far more than the page itself,
//! and the storefront asks the same few questions over and over. Each instance keeps
//! recent answers in memory and drops them all when the catalog changes:
//!
//! - its own writes invalidate at once (read-your-writes on this instance);
//! - a trigger on `products` and `categories` sends `NOTIFY catalog_changed` at commit, and
//!   every instance's listener invalidates on it (other instances' writes, SQL by hand);
//! - a generation counter makes a query that started before an invalidation unable to
//!   store its (possibly stale) answer after it;
//! - while the listener is not connected, nothing is cached or served from cache.
//!
//! The entries live in moka caches bounded in *bytes* (`CATALOG_CACHE_MAX_BYTES`), not in
//! entries: anonymous clients choose the URLs, and 3,000 distinct `page_size=100` listings
//! once grew a 10,000-entry map to 200 MB. moka's TinyLFU admission also keeps a flood of
//! one-off URLs from evicting the pages everybody asks for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// Requests being computed at once are few; past this many keys the idle ones are dropped.
const MAX_INFLIGHT: usize = 10_000;

/// Default byte budget of the whole cache (`CATALOG_CACHE_MAX_BYTES`).
pub const DEFAULT_MAX_BYTES: u64 = 24 * 1024 * 1024;

/// Bookkeeping per entry beyond its key and value bytes (moka's node, the Arc, hashes).
const ENTRY_OVERHEAD: usize = 128;

/// The notification channel the catalog triggers use.
pub const CHANNEL: &str = "catalog_changed";

/// A response body ready to send, with its entity tag: cached so that a hot product or
/// listing is not even serialised again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub body: String,
    pub etag: String,
}

/// Rendered bodies and listing counts by query.
pub struct ListCache {
    generation: AtomicU64,
    enabled: AtomicBool,
    rendered: Cache<String, Arc<Rendered>>,
    counts: Cache<String, i64>,
    /// One computation per key at a time: after an invalidation, 64 clients asking for the
    /// home page cost one query, not 64.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for ListCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

fn weight(key: &str, value_bytes: usize) -> u32 {
    u32::try_from(key.len() + value_bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

impl ListCache {
    /// A cache holding at most about `max_bytes` of keys and bodies (counts get a 16th).
    pub fn new(max_bytes: u64) -> Self {
        let counts_bytes = (max_bytes / 16).max(64 * 1024);
        Self {
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(false),
            rendered: Cache::builder()
                .max_capacity(max_bytes.saturating_sub(counts_bytes))
                .weigher(|k: &String, v: &Arc<Rendered>| {
                    weight(k, v.body.capacity() + v.etag.capacity())
                })
                .build(),
            counts: Cache::builder()
                .max_capacity(counts_bytes)
                .weigher(|k: &String, _: &i64| weight(k, 8))
                .build(),
            inflight: Mutex::default(),
        }
    }

    /// Read before computing an answer; pass to the `put_*` calls.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn rendered(&self, key: &str) -> Option<Arc<Rendered>> {
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        self.rendered.get(key)
    }

    pub fn put_rendered(&self, key: String, generation: u64, value: Arc<Rendered>) {
        if self.storable(generation) {
            self.rendered.insert(key, value);
            // An invalidation may have slipped in between the check and the insert.
            if !self.storable(generation) {
                self.rendered.invalidate_all();
            }
        }
    }

    pub fn count(&self, key: &str) -> Option<i64> {
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        self.counts.get(key)
    }

    pub fn put_count(&self, key: String, generation: u64, count: i64) {
        if self.storable(generation) {
            self.counts.insert(key, count);
            if !self.storable(generation) {
                self.counts.invalidate_all();
            }
        }
    }

    fn storable(&self, generation: u64) -> bool {
        self.enabled.load(Ordering::SeqCst) && self.generation() == generation
    }

    /// Bytes held by cached entries as the weigher counts them (after pending
    /// maintenance), for tests and metrics.
    pub fn weighted_bytes(&self) -> u64 {
        self.rendered.run_pending_tasks();
        self.counts.run_pending_tasks();
        self.rendered.weighted_size() + self.counts.weighted_size()
    }

    /// Waits until no other request computes `key`; hold the guard while computing it, then
    /// check the cache again before querying.
    pub async fn single_flight(&self, key: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if !self.is_listening() {
            return None;
        }
        let lock = {
            let mut inflight = self.inflight.lock().expect("cache lock");
            if inflight.len() >= MAX_INFLIGHT {
                inflight.retain(|_, l| Arc::strong_count(l) > 1);
            }
            Arc::clone(inflight.entry(key.to_owned()).or_default())
        };
        Some(lock.lock_owned().await)
    }

    /// Drops everything; answers computed before this call are not stored afterwards.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.counts.invalidate_all();
        self.rendered.invalidate_all();
    }

    /// Whether the change listener is connected (and so the cache in use).
    pub fn is_listening(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    fn set_enabled(&self, on: bool) {
        self.invalidate();
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// Listens for catalog changes for as long as the process runs, reconnecting after
    /// database outages (the cache is off meanwhile). Without a running listener nothing
    /// is cached, which is also how `CATALOG_CACHE=off` works.
    /// `listen_url` is a direct (session) connection when the pool goes through a pooler in
    /// transaction mode.
    pub fn spawn_listener(
        self: &Arc<Self>,
        pool: PgPool,
        listen_url: Option<String>,
    ) -> tokio::task::JoinHandle<()> {
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match listen(&pool, listen_url.as_deref()).await {
                    Ok(mut listener) => {
                        cache.set_enabled(true);
                        // Ok(None): the connection dropped; notifications may be lost.
                        while let Ok(Some(_)) = listener.try_recv().await {
                            cache.invalidate();
                        }
                        cache.set_enabled(false);
                        tracing::warn!(
                            "catalog change listener disconnected; cache off until it is back"
                        );
                    }
                    Err(e) => {
                        cache.set_enabled(false);
                        tracing::debug!(error = %e, "catalog change listener cannot connect");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }
}

async fn listen(pool: &PgPool, url: Option<&str>) -> Result<PgListener, sqlx::Error> {
    let mut listener = match url {
        Some(url) => PgListener::connect(url).await?,
        None => PgListener::connect_with(pool).await?,
    };
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Arc<Rendered> {
        Arc::new(Rendered {
            body: "{}".into(),
            etag: "\"e\"".into(),
        })
    }

    #[test]
    fn stale_answers_are_not_stored_after_an_invalidation() {
        let cache = ListCache::default();
        cache.enabled.store(true, Ordering::SeqCst);
        let before = cache.generation();
        cache.invalidate();
        cache.put_rendered("k".into(), before, body());
        assert!(cache.rendered("k").is_none());
        cache.put_rendered("k".into(), cache.generation(), body());
        assert!(cache.rendered("k").is_some());
    }

    /// Thousands of distinct large pages (anonymous clients pick the URLs) stay within the
    /// byte budget.
    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let budget = 2 * 1024 * 1024;
        let cache = ListCache::new(budget);
        cache.enabled.store(true, Ordering::SeqCst);
        let page = "x".repeat(64 * 1024);
        for i in 0..3_000 {
            let body = Arc::new(Rendered {
                body: page.clone(),
                etag: format!("\"{i}\""),
            });
            cache.put_rendered(format!("/products?page={i}"), cache.generation(), body);
            cache.put_count(format!("count {i}"), cache.generation(), i);
        }
        let held = cache.weighted_bytes();
        assert!(held <= budget, "{held} bytes held, budget {budget}");
        assert!(held > budget / 4, "the budget is used: {held}");
    }

    #[test]
    fn nothing_is_cached_while_disabled() {
        let cache = ListCache::default();
        cache.put_count("k".into(), cache.generation(), 3);
        assert_eq!(cache.count("k"), None);
    }
}
