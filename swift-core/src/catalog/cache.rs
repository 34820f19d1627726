//! Caches of catalog reads that a change refreshes only where it affects them (see
//! [`super::changes`]).
//!
//! A listing's count, ranking and price aggregation cost far more than serving an answer
//! from memory, and a storefront asks the same questions over and over. Each cache keeps
//! answers with their [`Dependencies`]; a change marks stale the answers it affects, and
//! the rest stay, so a shop that sells all day keeps serving its pages from memory.
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
//!
//! A change marks the answers it affects stale instead of dropping them. The next request
//! for one computes its replacement, and while it does, the others asking for it get the
//! previous answer at once, for at most [`SERVE_STALE_FOR`] after the change. Dropping them
//! made every request for a page wait on the one recomputing it: a price edit touches about
//! a hundred listings, and with 64 connections browsing, each recomputation held up dozens
//! of requests (a sale's p99 was the recomputation's latency). A request that comes alone
//! after a change (a staff member looking at their edit) recomputes, so it sees the change.

use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::future::Cache;
use tokio::time::Instant;

use super::changes::{CatalogChanges, Change, Dependencies};

/// Default byte budget of all catalog caches together (`CATALOG_CACHE_MAX_BYTES`).
pub const DEFAULT_MAX_BYTES: u64 = 24 * 1024 * 1024;

/// Bookkeeping per entry beyond its value's bytes (the key, moka's node, the Arcs).
const ENTRY_OVERHEAD: usize = 256;

/// How long after a change an answer it affected may still be served while a request
/// computes its replacement. Changes reach other instances within milliseconds
/// (LISTEN/NOTIFY), so every instance shows a change within a second, as promised in
/// docs/API.md. Past this, requests wait for a fresh answer.
pub const SERVE_STALE_FOR: Duration = Duration::from_millis(500);

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
    /// When a change first affected it; unset while it is fresh.
    stale_since: OnceLock<Instant>,
    /// Whether a request is computing its replacement.
    refreshing: AtomicBool,
}

impl<V> Entry<V> {
    fn new(fresh: Fresh<V>) -> Arc<Self> {
        Arc::new(Entry {
            weight: u32::try_from(fresh.bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX),
            value: fresh.value,
            depends_on: fresh.depends_on,
            stale_since: OnceLock::new(),
            refreshing: AtomicBool::new(false),
        })
    }
}

/// What a request finds stored for its key.
enum Found<V> {
    Fresh(V),
    /// Stale, and another request is computing its replacement: the previous answer.
    BeingRefreshed(V),
    /// Stale, and this request computes the replacement.
    ToRefresh(Arc<Entry<V>>),
    /// Nothing usable: computed as a miss.
    Nothing,
}

/// Answers by key, each marked stale when a change affects it.
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

    /// Marks the answers `change` affects stale ([`Change::Everything`] drops them all: it
    /// comes from rare, sweeping changes such as a category's or an import).
    fn drop_affected(&self, change: &Change) {
        match change {
            Change::Everything => self.entries.invalidate_all(),
            Change::Products(_) => {
                let now = Instant::now();
                for (_, entry) in self.entries.iter() {
                    if entry.depends_on.affected_by(change) {
                        // The first change counts: the answer has been stale since then.
                        let _ = entry.stale_since.set(now);
                    }
                }
            }
        }
    }

    /// What is stored for `key`, and what this request should do about it.
    async fn find(&self, key: &K) -> Found<V> {
        let Some(entry) = self.entries.get(key).await else {
            return Found::Nothing;
        };
        match entry.stale_since.get() {
            None => Found::Fresh(entry.value.clone()),
            Some(since) if since.elapsed() < SERVE_STALE_FOR => {
                if entry.refreshing.swap(true, Ordering::AcqRel) {
                    Found::BeingRefreshed(entry.value.clone())
                } else {
                    Found::ToRefresh(entry)
                }
            }
            Some(_) => {
                // Too old to serve: whoever asks waits for a fresh answer.
                self.entries.invalidate(key).await;
                Found::Nothing
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
        let count = |outcome: &'static str| {
            metrics::counter!(outcome, "cache" => self.name).increment(1);
        };
        match self.find(&key).await {
            Found::Fresh(value) => {
                count("swift_cache_hits_total");
                return Ok(value);
            }
            Found::BeingRefreshed(value) => {
                count("swift_cache_stale_total");
                return Ok(value);
            }
            Found::ToRefresh(stale) => {
                count("swift_cache_misses_total");
                let fresh = match compute().await {
                    Ok(fresh) => Entry::new(fresh),
                    Err(e) => {
                        // The next request tries again.
                        stale.refreshing.store(false, Ordering::Release);
                        return Err(e);
                    }
                };
                self.entries.insert(key.clone(), Arc::clone(&fresh)).await;
                self.drop_if_changed_since(&key, generation, &fresh).await;
                return Ok(fresh.value.clone());
            }
            Found::Nothing => {}
        }
        let mut failed = None;
        let mut computed = false;
        let entry = self
            .entries
            .optionally_get_with(key.clone(), async {
                computed = true;
                match compute().await {
                    Ok(fresh) => Some(Entry::new(fresh)),
                    Err(e) => {
                        failed = Some(e);
                        None
                    }
                }
            })
            .await;
        count(if computed {
            "swift_cache_misses_total"
        } else {
            "swift_cache_hits_total"
        });
        match (entry, failed) {
            (Some(entry), _) => {
                // Only the request that computed the answer checks it against the changes
                // that landed meanwhile. Changes after it was stored mark it themselves, so
                // a request that merely found it stored has nothing to check.
                if computed {
                    self.drop_if_changed_since(&key, generation, &entry).await;
                }
                Ok(entry.value.clone())
            }
            (None, Some(e)) => Err(e),
            (None, None) => compute().await.map(|f| f.value),
        }
    }

    /// Drops the answer this request computed and stored when a change since `generation`
    /// (when the request began) affects it: that change may have landed before the answer
    /// was stored, and so not marked it.
    async fn drop_if_changed_since(&self, key: &K, generation: u64, stored: &Entry<V>) {
        if self.changes.affected_since(generation, &stored.depends_on) {
            self.entries.invalidate(key).await;
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

    /// A request recomputing [`stale_old`]'s answer, held inside its computation until
    /// `release` is notified (then it applies `during`, if any, and answers "new").
    struct Refreshing {
        cache: Arc<ScopedCache<u32, String>>,
        release: Arc<tokio::sync::Notify>,
        refresher: tokio::task::JoinHandle<String>,
    }

    /// A cache holding "old" for key 1, which shows product `a` (id 1), and a change to
    /// `a` since.
    async fn stale_old() -> (Arc<CatalogChanges>, Arc<ScopedCache<u32, String>>) {
        let changes = listening();
        let cache = ScopedCache::<u32, String>::new("test", &changes, 1 << 20);
        let a = Uuid::from_u128(1);
        cache
            .get_or_compute(1, || async { fresh("old", Dependencies::showing(vec![a])) })
            .await
            .unwrap();
        changes.apply(&Change::product(a, None, vec![], Facets::NONE));
        (changes, cache)
    }

    async fn refreshing(during: Option<Change>) -> Refreshing {
        let (changes, cache) = stale_old().await;
        let a = Uuid::from_u128(1);
        let (started, release) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let refresher = tokio::spawn({
            let (cache, changes) = (Arc::clone(&cache), Arc::clone(&changes));
            let (started, release) = (Arc::clone(&started), Arc::clone(&release));
            async move {
                cache
                    .get_or_compute(1, || async {
                        started.notify_one();
                        release.notified().await;
                        if let Some(change) = &during {
                            changes.apply(change);
                        }
                        fresh("new", Dependencies::showing(vec![a]))
                    })
                    .await
                    .unwrap()
            }
        });
        started.notified().await;
        Refreshing {
            cache,
            release,
            refresher,
        }
    }

    async fn ask(cache: &ScopedCache<u32, String>, computed: &str) -> String {
        cache
            .get_or_compute(1, || async { fresh(computed, Dependencies::default()) })
            .await
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn while_a_changed_answer_is_recomputed_others_get_the_previous_one_at_once() {
        let r = refreshing(None).await;
        assert_eq!(ask(&r.cache, "computed again").await, "old");
        r.release.notify_one();
        assert_eq!(r.refresher.await.unwrap(), "new");
        assert_eq!(ask(&r.cache, "computed again").await, "new");
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_answer_is_not_served_past_the_bound() {
        let r = refreshing(None).await;
        tokio::time::advance(SERVE_STALE_FOR).await;
        assert_eq!(ask(&r.cache, "waited for").await, "waited for");
        r.release.notify_one();
        r.refresher.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_recomputation_that_a_later_change_affects_is_not_kept() {
        let a = Uuid::from_u128(1);
        let r = refreshing(Some(Change::product(a, None, vec![], Facets::NONE))).await;
        r.release.notify_one();
        assert_eq!(
            r.refresher.await.unwrap(),
            "new",
            "the request itself gets it"
        );
        assert_eq!(ask(&r.cache, "after the change").await, "after the change");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_recomputation_leaves_the_next_request_to_try() {
        let (_changes, cache) = stale_old().await;
        let failed: Result<String, ()> = cache.get_or_compute(1, || async { Err(()) }).await;
        assert!(failed.is_err());
        assert_eq!(ask(&cache, "retried").await, "retried");
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
