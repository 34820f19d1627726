//! Live stock reads, batched.
//!
//! A product page shows each variant's stock as it is when the page is asked for, never
//! from a cache: a sale changes no cached answer. That is one small query per page view,
//! and while the shop sells, thousands of them a second, each costing PostgreSQL a round
//! trip and a statement for a few index lookups. So the reads that arrive together share
//! one query: the first read starts a drain task, reads arriving while its query runs wait
//! for the next one, and each query reads every variant the waiting reads asked for.
//!
//! Still live: a read is answered by a query that started after it arrived, so it sees
//! every change committed before it was asked (a waiting read is never answered by a query
//! already running). The query runs in a task of its own, so a page view that is dropped
//! midway (its client gone) leaves the others' answers to come.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::repository;

/// Each variant's stock, for the reads one query answered (`None`: the query failed).
type Answer = Option<Arc<HashMap<Uuid, i32>>>;

pub struct LiveStock {
    pool: PgPool,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(Vec<Uuid>, oneshot::Sender<Answer>)>,
    /// A drain task is running; it takes whatever waits before it stops.
    draining: bool,
}

impl LiveStock {
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            queue: Mutex::default(),
        })
    }

    /// Each of `variants`' stock now (variants without a stock row left out).
    pub async fn levels(self: &Arc<Self>, variants: &[Uuid]) -> sqlx::Result<Vec<(Uuid, i32)>> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().expect("stock read queue poisoned");
            queue.waiting.push((variants.to_vec(), answer));
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            tokio::spawn(Arc::clone(self).drain());
        }
        match answered.await {
            Ok(Some(levels)) => Ok(variants
                .iter()
                .filter_map(|id| levels.get(id).map(|stock| (*id, *stock)))
                .collect()),
            // The shared query failed (or its task was lost): ask alone, which reports why.
            Ok(None) | Err(_) => repository::levels(&self.pool, variants).await,
        }
    }

    /// Answers the waiting reads, a query at a time, until none waits.
    async fn drain(self: Arc<Self>) {
        loop {
            let batch = {
                let mut queue = self.queue.lock().expect("stock read queue poisoned");
                if queue.waiting.is_empty() {
                    queue.draining = false;
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            let mut ids: Vec<Uuid> = batch.iter().flat_map(|(ids, _)| ids.clone()).collect();
            ids.sort_unstable();
            ids.dedup();
            metrics::histogram!("swift_stock_reads_per_query").record(batch.len() as f64);
            let levels = repository::levels(&self.pool, &ids)
                .await
                .ok()
                .map(|rows| Arc::new(rows.into_iter().collect::<HashMap<_, _>>()));
            for (_, answer) in batch {
                let _ = answer.send(levels.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    async fn variants_with_stock(pool: &PgPool, stocks: &[i32]) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for (n, stock) in stocks.iter().enumerate() {
            let id = Uuid::now_v7();
            sqlx::query("INSERT INTO products (id, slug, name) VALUES ($1, $2, 'P')")
                .bind(id)
                .bind(format!("p-{n}"))
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO product_variants (id, product_id, sku, price) VALUES ($1, $1, $2, 1)",
            )
            .bind(id)
            .bind(format!("SKU-{n}"))
            .execute(pool)
            .await
            .unwrap();
            sqlx::query("INSERT INTO stock_levels (variant_id, on_hand) VALUES ($1, $2)")
                .bind(id)
                .bind(stock)
                .execute(pool)
                .await
                .unwrap();
            ids.push(id);
        }
        ids
    }

    /// Many reads at once, each for its own variants: each gets exactly its own.
    #[tokio::test]
    async fn reads_at_once_each_get_their_own_variants() {
        let db = TestDb::new().await;
        let stocks: Vec<i32> = (0..40).collect();
        let ids = variants_with_stock(&db.pool, &stocks).await;
        let live = LiveStock::new(db.pool.clone());
        let reads: Vec<_> = (0..40)
            .map(|n| {
                let live = Arc::clone(&live);
                // Variant n alone, or n with its neighbour, or one nobody has.
                let asked: Vec<Uuid> = match n % 3 {
                    0 => vec![ids[n]],
                    1 => vec![ids[n], ids[(n + 1) % 40]],
                    _ => vec![ids[n], Uuid::nil()],
                };
                tokio::spawn(async move { (asked.clone(), live.levels(&asked).await.unwrap()) })
            })
            .collect();
        for read in reads {
            let (asked, got) = read.await.unwrap();
            let expected: Vec<(Uuid, i32)> = asked
                .iter()
                .filter_map(|id| {
                    let n = ids.iter().position(|v| v == id)?;
                    Some((*id, stocks[n]))
                })
                .collect();
            assert_eq!(got, expected);
        }
    }

    /// A read after a committed change sees it; a failed query reports its error.
    #[tokio::test]
    async fn a_read_sees_what_was_committed_before_it_and_errors_surface() {
        let db = TestDb::new().await;
        let ids = variants_with_stock(&db.pool, &[5]).await;
        let live = LiveStock::new(db.pool.clone());
        assert_eq!(live.levels(&ids).await.unwrap(), [(ids[0], 5)]);
        sqlx::query("UPDATE stock_levels SET on_hand = 4 WHERE variant_id = $1")
            .bind(ids[0])
            .execute(&db.pool)
            .await
            .unwrap();
        assert_eq!(live.levels(&ids).await.unwrap(), [(ids[0], 4)]);
        db.pool.close().await;
        assert!(live.levels(&ids).await.is_err());
    }
}
