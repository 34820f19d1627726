//! Caches of catalog reads that drop only what a change affects (see [`super::changes`]).
//!
//! A listing's count, ranking and price aggregation cost far more than serving an answer
//! from memory, and a storefront asks the same questions over and over. Each cache keeps
//! answers with their [`Dependencies`]; a change drops the answers it affects, and the
//! rest stay, so a shop that sells all day keeps serving its pages from memory.
//!
//! The entries live in moka caches bounded in *bytes* (`CATALOG_CACHE_MAX_BYTES`), not in
//! entries: anonymous clients choose the URLs, and 3,000 distinct `page_size=100` listings
//! once grew a 10,000-entry map to 200 MB. moka's TinyLFU admission also keeps a flood of
//! one-off URLs from evicting the pages everybody asks for, and its loader computes a
//! missing answer once however many requests ask for it at the same time.
//!
//! An answer computed while a change happened may predate it: the changes' generation is
//! read before computing, and after storing, an answer that a change since then affects
//! is dropped again (changes that do not affect it leave it be).

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use moka::future::Cache;

use super::changes::{CatalogChanges, Change, Dependencies};

/// Default byte budget of all catalog caches together (`CATALOG_CACHE_MAX_BYTES`).
pub const DEFAULT_MAX_BYTES: u64 = 24 * 1024 * 1024;

/// Bookkeeping per entry beyond its value's bytes (the key, moka's node, the Arcs).
const ENTRY_OVERHEAD: usize = 256;

/// A freshly computed answer: the value, what it depends on, and about how many bytes it
/// holds (for the budget).
pub struct Fresh<V> {
    pub value: V,
    pub depends_on: Dependencies,
    pub bytes: usize,
}

struct Entry<V> {
    value: V,
    depends_on: Dependencies,
    weight: u32,
}

/// Answers by key, each dropped when a change affects it.
pub struct ScopedCache<K, V> {
    entries: Cache<K, Arc<Entry<V>>>,
    changes: Arc<CatalogChanges>,
    /// The `cache` label of its metrics.
    name: &'static str,
}

impl<K, V> ScopedCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of about `max_bytes`, subscribed to `changes`; `name` labels its metrics
    /// (`swift_cache_hits_total{cache="…"}`, misses, evictions, bytes).
    pub fn new(name: &'static str, changes: &Arc<CatalogChanges>, max_bytes: u64) -> Arc<Self> {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &K, e: &Arc<Entry<V>>| e.weight)
            .eviction_listener(move |_, _, cause| {
                // Evicted for room; invalidations by catalog changes are not evictions.
                if cause.was_evicted() {
                    metrics::counter!("swift_cache_evictions_total", "cache" => name).increment(1);
                }
            })
            .support_invalidation_closures()
            .build();
        let cache = Arc::new(Self {
            entries,
            changes: Arc::clone(changes),
            name,
        });
        let weak = Arc::downgrade(&cache);
        changes.subscribe(move |change| {
            if let Some(cache) = weak.upgrade() {
                cache.drop_affected(change);
            }
        });
        cache
    }

    fn drop_affected(&self, change: &Change) {
        match change {
            Change::Everything => self.entries.invalidate_all(),
            Change::Products(_) => {
                let change = change.clone();
                // Lazily applied, but no read returns an entry the predicate matches.
                self.entries
                    .invalidate_entries_if(move |_, e| e.depends_on.affected_by(&change))
                    .expect("built with support_invalidation_closures");
            }
        }
    }

    /// The cached answer for `key`, or `compute`'s (kept unless a change happened while it
    /// ran). One computation per key at a time; an error is not kept, and a request that
    /// waited on another's failed computation computes for itself. Without a listener
    /// nothing is cached.
    pub async fn get_or_compute<E, F, Fut>(&self, key: K, compute: F) -> Result<V, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Fresh<V>, E>>,
    {
        if !self.changes.is_listening() {
            return compute().await.map(|f| f.value);
        }
        let generation = self.changes.generation();
        let mut failed = None;
        let mut computed = false;
        let entry = self
            .entries
            .optionally_get_with(key.clone(), async {
                computed = true;
                match compute().await {
                    Ok(fresh) => Some(Arc::new(Entry {
                        weight: u32::try_from(fresh.bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX),
                        value: fresh.value,
                        depends_on: fresh.depends_on,
                    })),
                    Err(e) => {
                        failed = Some(e);
                        None
                    }
                }
            })
            .await;
        let outcome = if computed {
            "swift_cache_misses_total"
        } else {
            "swift_cache_hits_total"
        };
        metrics::counter!(outcome, "cache" => self.name).increment(1);
        match (entry, failed) {
            (Some(entry), _) => {
                // Only the request that computed the answer checks it against the changes
                // that landed meanwhile. Changes after it was stored drop it themselves, so
                // a request that merely found it stored has nothing to check.
                if computed && self.changes.affected_since(generation, &entry.depends_on) {
                    self.entries.invalidate(&key).await;
                }
                Ok(entry.value.clone())
            }
            (None, Some(e)) => Err(e),
            (None, None) => compute().await.map(|f| f.value),
        }
    }

    /// Bytes held as the weigher counts them (after pending maintenance), for tests and
    /// metrics.
    pub async fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    /// Sets `swift_cache_bytes{cache}` to what it holds now (at scrape time).
    pub async fn record_size(&self) {
        let bytes = self.weighted_bytes().await;
        metrics::gauge!("swift_cache_bytes", "cache" => self.name).set(bytes as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::changes::{Facets, RECENT_CHANGES};
    use uuid::Uuid;

    fn listening() -> Arc<CatalogChanges> {
        let changes = Arc::new(CatalogChanges::default());
        changes.set_listening_for_tests(true);
        changes
    }

    fn fresh(value: &str, depends_on: Dependencies) -> Result<Fresh<String>, ()> {
        Ok(Fresh {
            value: value.to_owned(),
            bytes: value.len(),
            depends_on,
        })
    }

    #[tokio::test]
    async fn a_change_drops_the_answers_it_affects_and_keeps_the_others() {
        let changes = listening();
        let cache = ScopedCache::<u32, String>::new("test", &changes, 1 << 20);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        cache
            .get_or_compute(1, || async {
                fresh("shows a", Dependencies::showing(vec![a]))
            })
            .await
            .unwrap();
        cache
            .get_or_compute(2, || async {
                fresh("shows b", Dependencies::showing(vec![b]))
            })
            .await
            .unwrap();
        changes.apply(&Change::product(a, None, vec![], Facets::NONE));
        let one = cache
            .get_or_compute(1, || async { fresh("recomputed", Dependencies::default()) })
            .await
            .unwrap();
        let two = cache
            .get_or_compute(2, || async { fresh("recomputed", Dependencies::default()) })
            .await
            .unwrap();
        assert_eq!((one.as_str(), two.as_str()), ("recomputed", "shows b"));
    }

    /// Computes an answer depending on `depends_on` while `during` are applied, and says
    /// whether the cache kept it.
    async fn kept_after(during: Vec<Change>, depends_on: Dependencies) -> bool {
        let changes = listening();
        let cache = ScopedCache::<u32, String>::new("test", &changes, 1 << 20);
        let got = cache
            .get_or_compute(1, || async {
                during.iter().for_each(|change| changes.apply(change));
                fresh("computed", depends_on.clone())
            })
            .await
            .unwrap();
        assert_eq!(got, "computed", "the request itself gets its answer");
        let again = cache
            .get_or_compute(1, || async { fresh("recomputed", Dependencies::default()) })
            .await
            .unwrap();
        again == "computed"
    }

    #[tokio::test]
    async fn an_answer_computed_across_a_change_is_kept_unless_the_change_affects_it() {
        let (shown, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let changed = |id| Change::product(id, None, vec![], Facets::NONE);
        let shows = || Dependencies::showing(vec![shown]);
        assert!(!kept_after(vec![changed(shown)], shows()).await);
        assert!(!kept_after(vec![changed(other), Change::Everything], shows()).await);
        assert!(kept_after(vec![changed(other), changed(other)], shows()).await);
        assert!(kept_after(vec![], shows()).await);
        // Past what is remembered, any change may have affected it.
        let many = vec![changed(other); RECENT_CHANGES + 1];
        assert!(!kept_after(many, shows()).await);
    }

    #[tokio::test]
    async fn nothing_is_cached_without_a_listener_and_errors_are_not_kept() {
        let changes = Arc::new(CatalogChanges::default());
        let cache = ScopedCache::<u32, String>::new("test", &changes, 1 << 20);
        cache
            .get_or_compute(1, || async { fresh("first", Dependencies::default()) })
            .await
            .unwrap();
        let second = cache
            .get_or_compute(1, || async { fresh("second", Dependencies::default()) })
            .await
            .unwrap();
        assert_eq!(second, "second");

        let cache = ScopedCache::<u32, String>::new("test", &listening(), 1 << 20);
        let failed: Result<String, ()> = cache.get_or_compute(1, || async { Err(()) }).await;
        assert!(failed.is_err());
        let ok = cache
            .get_or_compute(1, || async { fresh("ok", Dependencies::default()) })
            .await
            .unwrap();
        assert_eq!(ok, "ok");
    }

    /// Thousands of distinct large pages (anonymous clients pick the URLs) stay within the
    /// byte budget.
    #[tokio::test]
    async fn the_cache_is_bounded_in_bytes() {
        let budget = 2 * 1024 * 1024;
        let cache = ScopedCache::<u32, String>::new("test", &listening(), budget);
        let page = "x".repeat(64 * 1024);
        for i in 0..3_000 {
            cache
                .get_or_compute(i, || async { fresh(&page, Dependencies::default()) })
                .await
                .unwrap();
        }
        let held = cache.weighted_bytes().await;
        assert!(held <= budget, "{held} bytes held, budget {budget}");
        assert!(held > budget / 4, "the budget is used: {held}");
    }
}
