//! The transactional outbox: what must reach people is written in the same transaction as
//! the change it reports, and delivered afterwards by a worker. A crash between the commit
//! and the send loses nothing: the row waits until a worker, on this instance or another,
//! delivers it.
//!
//! Modelled on "Zero To Production in Rust" (`issue_delivery_worker.rs`): a worker claims due
//! rows with `FOR UPDATE SKIP LOCKED` inside a transaction, sends them, and marks them
//! delivered in that same transaction, so two instances never take the same row at once.
//! Delivery is at least once: if the process dies after the send but before the commit, the
//! row is sent again. A failed send is retried with exponential backoff (2 s, 4 s, … capped
//! at 2,048 s, about half an hour).

use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgExecutor, PgPool};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::mail::{Mail, Mailer};

/// What happened, for the record and for operators reading the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "outbox_event", rename_all = "snake_case")]
pub enum Event {
    AccountVerification,
    PasswordReset,
    OrderPlaced,
    OrderPaid,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    OrderRefunded,
    /// A change to how an account signs in (second factor, recovery code, Google).
    SecurityNotice,
}

/// Writes `mail` to the outbox as part of the caller's transaction.
pub async fn enqueue(ex: impl PgExecutor<'_>, event: Event, mail: &Mail) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO outbox (id, event, payload) VALUES ($1, $2, $3)")
        .bind(Uuid::now_v7())
        .bind(event)
        .bind(sqlx::types::Json(mail))
        .execute(ex)
        .await?;
    Ok(())
}

/// The same, written only when `when` holds: one statement either way, so a caller that must
/// take the same time whether or not it mails (password resets) does the same work.
pub async fn enqueue_if(
    ex: impl PgExecutor<'_>,
    when: bool,
    event: Event,
    mail: &Mail,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO outbox (id, event, payload) SELECT $1, $2, $3 WHERE $4")
        .bind(Uuid::now_v7())
        .bind(event)
        .bind(sqlx::types::Json(mail))
        .bind(when)
        .execute(ex)
        .await?;
    Ok(())
}

/// Wakes this instance's worker after a commit that enqueued something, so mail goes out at
/// once rather than at the next poll.
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    pub fn now(&self) {
        self.0.notify_one();
    }
}

#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    payload: sqlx::types::Json<Mail>,
    attempts: i32,
}

/// Seconds before retry number `attempts` (1, 2, …): 2, 4, 8, … capped at 2,048.
pub fn backoff_seconds(attempts: i32) -> i64 {
    1_i64 << attempts.clamp(1, 11) as u32
}

/// Delivers up to `batch` due rows in one transaction, and marks those sent in one statement;
/// how many were delivered.
pub async fn deliver_due(pool: &PgPool, mailer: &Mailer, batch: i64) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let due: Vec<Due> = sqlx::query_as(
        "SELECT id, payload, attempts FROM outbox \
         WHERE delivered_at IS NULL AND next_attempt_at <= now() \
         ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    let mut delivered = Vec::with_capacity(due.len());
    for row in due {
        match mailer.send(&row.payload.0).await {
            Ok(()) => delivered.push(row.id),
            Err(e) => {
                let attempts = row.attempts + 1;
                tracing::warn!(error = %e, id = %row.id, attempts, "delivering mail failed; will retry");
                metrics::counter!("swift_outbox_failures_total").increment(1);
                sqlx::query(
                    "UPDATE outbox SET attempts = $2, last_error = $3, \
                     next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1",
                )
                .bind(row.id)
                .bind(attempts)
                .bind(e.to_string())
                .bind(backoff_seconds(attempts) as f64)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    // The whole batch's deliveries in one statement.
    if !delivered.is_empty() {
        sqlx::query(
            "UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
        )
        .bind(&delivered)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("swift_outbox_delivered_total").increment(delivered.len() as u64);
    Ok(delivered.len())
}

/// Undelivered rows and the age in seconds of the oldest (0 when none): how far behind
/// delivery is.
pub async fn backlog(pool: &PgPool) -> sqlx::Result<(i64, f64)> {
    sqlx::query_as(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0) \
         FROM outbox WHERE delivered_at IS NULL",
    )
    .fetch_one(pool)
    .await
}

/// How long delivered rows are kept (for operators asking "was it sent?"), then pruned:
/// they hold addresses and links.
pub const KEEP_DELIVERED_DAYS: i32 = 7;

/// Deletes rows delivered more than [`KEEP_DELIVERED_DAYS`] ago.
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM outbox WHERE delivered_at < now() - make_interval(days => $1)")
            .bind(KEEP_DELIVERED_DAYS)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// How long a woken worker waits for more mail before delivering. During a sale every
/// order wakes it, and a batch costs the same four round trips (begin, claim, mark, commit)
/// on the database every buyer is waiting for, whether it carries one mail or twenty; so it
/// gathers, as PostgreSQL's own `commit_delay` does for commits. At 400 orders/s one batch
/// carries about eight. A confirmation 20 ms later is not one anybody can tell apart.
const GATHER: Duration = Duration::from_millis(20);

/// Delivers what is due whenever woken, and at least every `poll` (rows of other instances,
/// retries coming due), until aborted.
pub fn spawn_worker(
    pool: PgPool,
    mailer: Mailer,
    wake: Arc<Wake>,
    poll: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                match deliver_due(&pool, &mailer, 20).await {
                    // A full batch: there may be more.
                    Ok(20) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox worker: database error");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = wake.0.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially() {
        assert_eq!(backoff_seconds(1), 2);
        assert_eq!(backoff_seconds(2), 4);
        assert_eq!(backoff_seconds(5), 32);
        assert_eq!(backoff_seconds(11), 2048);
        assert_eq!(backoff_seconds(50), 2048, "capped");
        assert_eq!(backoff_seconds(0), 2);
    }
}
