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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// Entries kept before the cache starts over.
const MAX_ENTRIES: usize = 10_000;

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
#[derive(Default)]
pub struct ListCache {
    generation: AtomicU64,
    enabled: AtomicBool,
    rendered: Mutex<HashMap<String, Arc<Rendered>>>,
    counts: Mutex<HashMap<String, i64>>,
    /// One computation per key at a time: after an invalidation, 64 clients asking for the
    /// home page cost one query, not 64.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ListCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Read before computing an answer; pass to the `put_*` calls.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn rendered(&self, key: &str) -> Option<Arc<Rendered>> {
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        self.rendered.lock().expect("cache lock").get(key).cloned()
    }

    pub fn put_rendered(&self, key: String, generation: u64, value: Arc<Rendered>) {
        let mut rendered = self.rendered.lock().expect("cache lock");
        if self.enabled.load(Ordering::SeqCst) && self.generation() == generation {
            if rendered.len() >= MAX_ENTRIES {
                rendered.clear();
            }
            rendered.insert(key, value);
        }
    }

    pub fn count(&self, key: &str) -> Option<i64> {
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        self.counts.lock().expect("cache lock").get(key).copied()
    }

    pub fn put_count(&self, key: String, generation: u64, count: i64) {
        let mut counts = self.counts.lock().expect("cache lock");
        if self.enabled.load(Ordering::SeqCst) && self.generation() == generation {
            if counts.len() >= MAX_ENTRIES {
                counts.clear();
            }
            counts.insert(key, count);
        }
    }

    /// Waits until no other request computes `key`; hold the guard while computing it, then
    /// check the cache again before querying.
    pub async fn single_flight(&self, key: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if !self.is_listening() {
            return None;
        }
        let lock = {
            let mut inflight = self.inflight.lock().expect("cache lock");
            if inflight.len() >= MAX_ENTRIES {
                inflight.retain(|_, l| Arc::strong_count(l) > 1);
            }
            Arc::clone(inflight.entry(key.to_owned()).or_default())
        };
        Some(lock.lock_owned().await)
    }

    /// Drops everything; answers computed before this call are not stored afterwards.
    pub fn invalidate(&self) {
        let mut counts = self.counts.lock().expect("cache lock");
        let mut rendered = self.rendered.lock().expect("cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        counts.clear();
        rendered.clear();
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
        let cache = ListCache::new();
        cache.enabled.store(true, Ordering::SeqCst);
        let before = cache.generation();
        cache.invalidate();
        cache.put_rendered("k".into(), before, body());
        assert!(cache.rendered("k").is_none());
        cache.put_rendered("k".into(), cache.generation(), body());
        assert!(cache.rendered("k").is_some());
    }

    #[test]
    fn nothing_is_cached_while_disabled() {
        let cache = ListCache::new();
        cache.put_count("k".into(), cache.generation(), 3);
        assert_eq!(cache.count("k"), None);
    }
}
