//! Storefront catalog reads on PostgreSQL streaming replicas (`DATABASE_REPLICA_URLS`).
//!
//! Browsing is most of a shop's traffic, and every page of it is a read. Replicas take that
//! load off the primary, which keeps its connections for what must be there: carts,
//! checkouts, stock, accounts. Only the storefront's catalog reads (listings, counts,
//! product pages, categories) go to a replica; stock shown on product pages, staff reads and
//! every write stay on the primary.
//!
//! A replica replays the primary's WAL a little later than the primary commits, so a read
//! from it may predate a change. Two rules keep that from ever showing:
//!
//! - **Fresh.** A replica answers only while it has replayed everything the primary had
//!   written `REPLICA_MAX_LAG_MS` ago. The monitor compares WAL positions every
//!   [`MONITOR_EVERY`], not clocks: an idle primary writes nothing, and a replica with
//!   nothing to replay is not behind.
//! - **Caught up with every change this instance knows of.** After a catalog change (this
//!   instance's own write, or one it heard of from another instance), reads go to the primary
//!   until a replica has replayed past it. That gives read-your-writes (staff see their edit
//!   at once), and it keeps the caches right: a cache emptied by a change must not be refilled
//!   from a replica that has not seen the change, or it would stay stale until the next one.
//!   The rule rides on the changes feed's generation: reads use a replica only while the WAL
//!   position the follower recorded covers the current generation.
//!
//! A replica that does not answer (stopped, unreachable, or no longer a replica) is left out
//! until it answers again, and a read that fails on one is retried on the primary, so a
//! replica going down costs no request.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::Notify;

use crate::catalog::changes::CatalogChanges;
use crate::db::DbError;

/// How often the monitor compares each replica's replayed WAL position with the primary's.
pub const MONITOR_EVERY: Duration = Duration::from_millis(100);

/// How long the monitor waits for a replica's answer before counting it down.
const ANSWER_WITHIN: Duration = Duration::from_millis(500);

/// The primary and its replicas, and which of them may answer a catalog read now.
pub struct ReadPools {
    primary: PgPool,
    replicas: Vec<Replica>,
    changes: Arc<CatalogChanges>,
    max_lag: Duration,
    /// The primary's WAL position after every change of generation `covered` or before.
    must_have: AtomicU64,
    covered: AtomicU64,
    /// Woken by every change, so the follower records the WAL position that covers it.
    changed: Arc<Notify>,
    next: AtomicUsize,
}

struct Replica {
    pool: PgPool,
    /// For logs and metrics: the URL without its password.
    name: String,
    /// The WAL position it had replayed when last asked.
    replayed: AtomicU64,
    /// Whether it answered the monitor and was within the allowed lag.
    fresh: AtomicBool,
}

impl Replica {
    fn set_fresh(&self, fresh: bool, why: &str) {
        if self.fresh.swap(fresh, Ordering::SeqCst) != fresh {
            if fresh {
                tracing::info!(replica = %self.name, "replica serves catalog reads");
            } else {
                tracing::warn!(replica = %self.name, why, "replica left out of catalog reads");
            }
        }
        metrics::gauge!("swift_db_replica_usable", "replica" => self.name.clone()).set(if fresh {
            1.0
        } else {
            0.0
        });
    }
}

/// An error a read on a replica can end with that says nothing about the read itself: the
/// replica (or the way to it) failed, so the primary should be asked instead.
pub trait ConnectionFailure {
    fn is_connection_failure(&self) -> bool;
}

impl ConnectionFailure for sqlx::Error {
    fn is_connection_failure(&self) -> bool {
        match self {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // Class 08: connection exception; class 57: operator intervention (the server
            // shutting down, or a replica cancelling a query that conflicts with recovery).
            sqlx::Error::Database(e) => e
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
            _ => false,
        }
    }
}

impl ReadPools {
    /// The pools for `replica_urls` connect on first use, like the primary's.
    pub fn new(
        primary: PgPool,
        replica_urls: &[String],
        max_connections: u32,
        max_lag: Duration,
        changes: Arc<CatalogChanges>,
    ) -> Result<Self, DbError> {
        let replicas = replica_urls
            .iter()
            .map(|url| {
                let options = url.parse::<PgConnectOptions>().map_err(DbError::BadUrl)?;
                Ok(Replica {
                    // A replica that does not answer is asked again by the monitor; a read
                    // should not wait long for it, the primary is there.
                    pool: crate::db::pool_options(max_connections)
                        .acquire_timeout(Duration::from_secs(1))
                        .connect_lazy_with(options),
                    name: crate::db::redact_password(url),
                    replayed: AtomicU64::new(0),
                    fresh: AtomicBool::new(false),
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        let changed = Arc::new(Notify::new());
        if !replicas.is_empty() {
            let wake = Arc::clone(&changed);
            changes.subscribe(move |_| wake.notify_one());
        }
        Ok(Self {
            primary,
            replicas,
            changes,
            max_lag,
            must_have: AtomicU64::new(u64::MAX),
            covered: AtomicU64::new(0),
            changed,
            next: AtomicUsize::new(0),
        })
    }

    /// How many replicas may answer a read right now.
    pub fn usable(&self) -> usize {
        (0..self.replicas.len())
            .filter(|&i| self.may_answer(i))
            .count()
    }

    fn may_answer(&self, i: usize) -> bool {
        let replica = &self.replicas[i];
        // Generation first: a change applied after this load raises it, and the position
        // loaded next is then at least the one recorded for the generation loaded here.
        let generation = self.changes.generation();
        self.covered.load(Ordering::SeqCst) >= generation
            && replica.fresh.load(Ordering::SeqCst)
            && replica.replayed.load(Ordering::SeqCst) >= self.must_have.load(Ordering::SeqCst)
    }

    /// A replica that may answer now, taken in turn.
    fn pick(&self) -> Option<&Replica> {
        let n = self.replicas.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| self.may_answer(i))
            .map(|i| &self.replicas[i])
    }

    /// Runs a catalog read on a replica that may answer it, or on the primary. A read that
    /// fails because the replica failed is run again on the primary.
    pub async fn run<T, E, F, Fut>(&self, read: F) -> Result<T, E>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: ConnectionFailure,
    {
        if let Some(replica) = self.pick() {
            match read(replica.pool.clone()).await {
                Err(e) if e.is_connection_failure() => {
                    replica.set_fresh(false, "a read failed");
                }
                answer => {
                    metrics::counter!("swift_catalog_reads_total", "on" => "replica").increment(1);
                    return answer;
                }
            }
        }
        metrics::counter!("swift_catalog_reads_total", "on" => "primary").increment(1);
        read(self.primary.clone()).await
    }

    /// Starts the two tasks that keep the rules (none without replicas): the monitor, and
    /// the follower that records the WAL position covering each change.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        if self.replicas.is_empty() {
            return Vec::new();
        }
        let (monitor, follower) = (Arc::clone(self), Arc::clone(self));
        vec![
            tokio::spawn(async move { monitor.monitor().await }),
            tokio::spawn(async move { follower.follow_changes().await }),
        ]
    }

    /// Records, after each change, a WAL position of the primary's that covers it. Changes
    /// reach this instance after their commit, so the primary's position read afterwards is
    /// past the commit.
    async fn follow_changes(&self) {
        // Generation 0 (start-up) is covered by the position the primary has now.
        self.changed.notify_one();
        loop {
            self.changed.notified().await;
            let generation = self.changes.generation();
            match primary_position(&self.primary).await {
                Ok(position) => {
                    // The first position replaces the start-up value (which lets no replica
                    // answer); later ones only raise it.
                    let _ =
                        self.must_have
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |was| {
                                Some(if was == u64::MAX {
                                    position
                                } else {
                                    was.max(position)
                                })
                            });
                    self.covered.fetch_max(generation, Ordering::SeqCst);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the primary's WAL position");
                    tokio::time::sleep(MONITOR_EVERY).await;
                    self.changed.notify_one();
                }
            }
        }
    }

    /// Every [`MONITOR_EVERY`]: the primary's WAL position, then each replica's replayed
    /// position, compared with what the primary had written `max_lag` ago.
    async fn monitor(&self) {
        let mut written: VecDeque<(Instant, u64)> = VecDeque::new();
        let mut every = tokio::time::interval(MONITOR_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = Instant::now();
            if let Ok(position) = primary_position(&self.primary).await {
                written.push_back((now, position));
            }
            let Some(required) = written_before(&mut written, now, self.max_lag) else {
                continue;
            };
            for replica in &self.replicas {
                match tokio::time::timeout(ANSWER_WITHIN, replayed_position(&replica.pool)).await {
                    Ok(Ok(Some(replayed))) => {
                        replica.replayed.store(replayed, Ordering::SeqCst);
                        metrics::gauge!("swift_db_replica_behind_bytes", "replica" => replica.name.clone())
                            .set(written.back().map_or(0, |(_, p)| p.saturating_sub(replayed)) as f64);
                        replica.set_fresh(replayed >= required, "lagging");
                    }
                    Ok(Ok(None)) => replica.set_fresh(false, "not in recovery: not a replica"),
                    Ok(Err(_)) => replica.set_fresh(false, "does not answer"),
                    Err(_) => replica.set_fresh(false, "answers too slowly"),
                }
            }
        }
    }
}

/// What the primary had written `max_lag` before `now`, from its samples (oldest first): the
/// newest sample at least that old. Until one is (just after start), the oldest serves:
/// stricter, never looser. Samples older than the one used are dropped.
fn written_before(
    samples: &mut VecDeque<(Instant, u64)>,
    now: Instant,
    max_lag: Duration,
) -> Option<u64> {
    while samples
        .get(1)
        .is_some_and(|(at, _)| now.duration_since(*at) >= max_lag)
    {
        samples.pop_front();
    }
    samples.front().map(|&(_, position)| position)
}

/// The primary's current WAL write position, as a byte offset.
async fn primary_position(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let position: i64 = sqlx::query_scalar("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8")
        .fetch_one(pool)
        .await?;
    Ok(position as u64)
}

/// How far a replica has replayed the primary's WAL; `None` on a server not in recovery.
async fn replayed_position(pool: &PgPool) -> Result<Option<u64>, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8")
            .fetch_one(pool)
            .await?;
    Ok(position.map(|p| p as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_must_have_what_the_primary_wrote_max_lag_ago() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let lag = Duration::from_millis(1000);
        let mut samples = VecDeque::new();
        assert_eq!(written_before(&mut samples, at(0), lag), None);

        // Just after start nothing is a second old: the oldest sample serves.
        samples.push_back((at(0), 100));
        samples.push_back((at(100), 150));
        samples.push_back((at(200), 300));
        assert_eq!(written_before(&mut samples, at(200), lag), Some(100));

        // Samples keep coming; what was written a second ago is the requirement.
        for (ms, position) in [(900, 400), (1000, 420), (1150, 500), (1300, 520)] {
            samples.push_back((at(ms), position));
        }
        assert_eq!(written_before(&mut samples, at(1150), lag), Some(150));
        assert_eq!(written_before(&mut samples, at(1300), lag), Some(300));
        // Exactly max_lag old counts as old enough.
        assert_eq!(written_before(&mut samples, at(2000), lag), Some(420));
        // Dropped: everything before the one used, which stays for the next round.
        assert_eq!(samples.front(), Some(&(at(1000), 420)));
        assert_eq!(samples.len(), 3);

        // An idle primary writes nothing new: the requirement stops at its last position.
        assert_eq!(written_before(&mut samples, at(9000), lag), Some(520));
        assert_eq!(samples.len(), 1);
    }

    #[test]
    fn only_failures_of_the_replica_itself_send_a_read_to_the_primary() {
        assert!(sqlx::Error::PoolTimedOut.is_connection_failure());
        assert!(
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
                .is_connection_failure()
        );
        assert!(!sqlx::Error::RowNotFound.is_connection_failure());
        assert!(!sqlx::Error::ColumnNotFound("x".into()).is_connection_failure());
    }
}
