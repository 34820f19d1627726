//! Catalog reads on a real streaming replica (#14): a primary and a replica started by the
//! test (`common::cluster`), instances configured with `DATABASE_REPLICA_URLS`.
//!
//! To see where a read went, the test pauses the replica's replay (`pg_wal_replay_pause`)
//! and renames products on the primary with the catalog triggers off (so no instance hears
//! of it): the replica still has the old name, the primary the new one.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::cluster::Replicated;
use common::{TestApp, variant_path, within};
use poem::Route;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use swift_core::testing::TestDb;

/// An instance reading from the replica; `max_lag_ms` as `REPLICA_MAX_LAG_MS`.
async fn instance(
    cluster: &Replicated,
    db: &Arc<TestDb>,
    max_lag_ms: &str,
    cache: &str,
) -> TestApp {
    let replica = cluster.replica_url(&db.url);
    let vars = [
        ("DATABASE_REPLICA_URLS", replica.as_str()),
        ("REPLICA_MAX_LAG_MS", max_lag_ms),
        ("CATALOG_CACHE", cache),
    ];
    TestApp::spawn_on(Arc::clone(db), &vars, Route::new()).await
}

/// A lag no test reaches: the replica counts as fresh however long its replay is paused.
const PATIENT: &str = "3600000";

async fn name_on(app: &TestApp, path: &str) -> String {
    let page: Value = app.get_json(path, None).await;
    page["name"].as_str().unwrap().to_owned()
}

async fn listed_price(app: &TestApp) -> String {
    let page: Value = app.get_json("/api/v1/products", None).await;
    page["items"][0]["price_min"].as_str().unwrap().to_owned()
}

/// A rename on the primary that no instance hears of (the triggers are off).
async fn rename_silently(db: &TestDb, name: &str) {
    let mut conn = db.pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE products SET name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn set_replay(replica: &mut PgConnection, paused: bool) {
    let sql = if paused {
        "SELECT pg_wal_replay_pause()::text"
    } else {
        "SELECT pg_wal_replay_resume()::text"
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *replica)
        .await
        .unwrap();
}

#[tokio::test]
async fn catalog_reads_use_a_fresh_replica_and_never_show_what_it_has_not_replayed() {
    let cluster = Replicated::start();
    let db = Arc::new(TestDb::new_on(&cluster.primary_admin_url()).await);
    let mut replica = cluster.replica_connection(&db.url).await;

    // A writes and reads uncached, so every read shows where it went; B caches (and hears of
    // A's writes); C allows only 100 ms of lag.
    let a = instance(&cluster, &db, PATIENT, "false").await;
    let b = instance(&cluster, &db, PATIENT, "true").await;
    let c = instance(&cluster, &db, "100", "false").await;
    let staff = a.staff_token("staff@shop.example").await;
    let tea = a.create_product(&staff, "TEA-1", "3.00", 5).await;
    let path = format!("/api/v1/products/{}", tea["id"].as_str().unwrap());
    for app in [&a, &b, &c] {
        within(Duration::from_secs(10), || async {
            app.ctx.reads.usable() == 1
        })
        .await;
    }
    assert_eq!(listed_price(&b).await, "3.00");

    // The replica answers while it is within the allowed lag.
    set_replay(&mut replica, true).await;
    rename_silently(&db, "Renamed tea").await;
    // (Polled, not asserted once: a monitor answer slowed by a busy machine leaves the
    // replica out for one round; the replica's old name can come only from the replica.)
    within(Duration::from_secs(5), || async {
        name_on(&a, &path).await == "Product TEA-1"
    })
    .await;
    // C allows 100 ms: the primary has written since the replay paused, so C soon leaves
    // the replica out and reads the primary.
    within(Duration::from_secs(5), || async {
        c.ctx.reads.usable() == 0
    })
    .await;
    assert_eq!(name_on(&c, &path).await, "Renamed tea");

    // A staff edit: the instance that made it reads it at once (the primary; the replica
    // has not replayed it), and B, which cached the old price from the replica, shows the
    // new one within a second instead of refilling its cache from the paused replica.
    let resp = a
        .send_json(
            Method::PATCH,
            &variant_path(&tea),
            Some(&staff),
            json!({"price": "4.50"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let detail: Value = a.get_json(&path, None).await;
    assert_eq!(
        (detail["price_min"].as_str(), detail["name"].as_str()),
        (Some("4.50"), Some("Renamed tea"))
    );
    within(Duration::from_secs(1), || async {
        listed_price(&b).await == "4.50"
    })
    .await;
    // Still read from the primary a while later: the replica is still paused before the edit.
    assert_eq!(a.ctx.reads.usable(), 0);
    assert_eq!(b.ctx.reads.usable(), 0);

    // Replay resumes: once the replica has the edit, A reads from it again (a second silent
    // rename, made while replay is paused again, is not seen).
    set_replay(&mut replica, false).await;
    within(Duration::from_secs(10), || async {
        a.ctx.reads.usable() == 1
    })
    .await;
    set_replay(&mut replica, true).await;
    rename_silently(&db, "Renamed again").await;
    within(Duration::from_secs(5), || async {
        name_on(&a, &path).await == "Renamed tea"
    })
    .await;

    // The replica goes down: every read is still answered, from the primary.
    replica.close().await.ok();
    cluster.stop_replica();
    for _ in 0..20 {
        assert_eq!(name_on(&a, &path).await, "Renamed again");
    }
    let page: Value = a.get_json("/api/v1/products", None).await;
    assert_eq!(page["total"], 1);
    within(Duration::from_secs(5), || async {
        a.ctx.reads.usable() == 0
    })
    .await;
}
