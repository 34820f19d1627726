#!/usr/bin/env bash
# Checkout throughput: seeds a shop, starts the release server, and runs the checkout driver
# (swift-server/examples/checkout_bench.rs) with N customers looping "add to cart, check out"
# on one hot variant and spread over 100 variants (one per product), against the server
# with its default pool (DB_MAX_CONNECTIONS=10; set it to try another). Prints checkouts/s and p50/p99.
#
# Usage: bench/checkout.sh [customers] [seconds]     (defaults: 32 10)
# SERVER_BIN and CLI_BIN run another build's swift-server and swift-cli (schema included), to
# compare two builds back to back. BENCH_PGHOST: how everything reaches PostgreSQL (bench/pg.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-32}
secs=${2:-10}
port=18082
db=swift_bench_checkout
target_dir=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p swift-server -p swift-cli --bins --example checkout_bench
. bench/pg.sh
export DATABASE_URL=$(database_url "$db")
psql -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
server_bin=${SERVER_BIN:-$target_dir/release/swift-server}
cli_bin=${CLI_BIN:-$target_dir/release/swift-cli}
"$cli_bin" migrate run >/dev/null
seed_out=$("$cli_bin" seed --products 2000 --categories 20 --users "$customers")
staff_password=$(echo "$seed_out" | awk '/^staff:/ {print $NF}')
customer_password=$(echo "$seed_out" | awk '/^customer:/ {print $NF; exit}')
# The server's own default pool (10 connections, .env.example): the buyers queue in the
# server for a connection instead of 32 backends fighting over two cores, which on this box
# took p99 from 270 ms (a pool of 32) to about 40 ms at a higher rate.
pool=${DB_MAX_CONNECTIONS:-10}
LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off RUST_LOG=warn DB_MAX_CONNECTIONS=$pool "$server_bin" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql -qc "DROP DATABASE IF EXISTS '$db' WITH (FORCE)" >/dev/null' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
# Each run starts from vacuumed tables with fresh statistics, as autovacuum keeps them in
# production; PostgreSQL may run with autovacuum off on a test box (this one does), and
# the dead cart rows of one run would otherwise slow the next.
vacuum() {
  echo "autovacuum: $(psql -qAt -c 'SHOW autovacuum'); VACUUM (ANALYZE) before the run" >&2
  psql -d "$db" -qc "VACUUM (ANALYZE)"
}
# A shop that sells already has orders. The first orders of an empty table would be planned
# against it (foreign-key checks scanning `orders` whole, kept for each connection's life),
# which autovacuum's analyze corrects in production after 50 orders; this box may run without
# it. So a short unmeasured run comes first, and the VACUUM (ANALYZE) after it replans.
"$target_dir/release/examples/checkout_bench" "http://127.0.0.1:$port" "$staff_password" "$customer_password" "$customers" 2 hot >/dev/null
for mode in hot spread; do
  vacuum
  "$target_dir/release/examples/checkout_bench" "http://127.0.0.1:$port" "$staff_password" "$customer_password" "$customers" "$secs" "$mode"
done

# The server's outbox worker delivers the confirmations in batches (one UPDATE marks a batch,
# so every mail of a batch has the same delivered_at): the mean batch, which the ceiling
# script's worker share follows.
batch=$(psql -d "$db" -qAt -c "SELECT greatest(1, round(count(*)::numeric / \
  greatest(count(DISTINCT delivered_at), 1))) FROM outbox WHERE delivered_at IS NOT NULL")
echo "outbox: mean batch of mail delivered: $batch"

# PostgreSQL's own rate for the same statements (bench/checkout-ceiling.sql) and for the
# least a sale can be (bench/checkout-minimal.sql): with as many clients as buyers, and with
# as many as the server's pool.
psql -d "$db" -q <<SQL
CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY email) AS n, u.id,
  (SELECT s.id FROM auth_sessions s WHERE s.user_id = u.id LIMIT 1) AS sid
  FROM users u WHERE email LIKE 'customer%';
CREATE TABLE bench_variants AS SELECT row_number() OVER (ORDER BY p.price_min, p.id) AS n, v.id
  FROM products p JOIN LATERAL (SELECT id FROM product_variants WHERE product_id = p.id ORDER BY position, id LIMIT 1) v ON true
  WHERE p.is_active ORDER BY p.price_min, p.id LIMIT 100;
UPDATE stock_levels SET on_hand = on_hand + 10000000 WHERE variant_id IN (SELECT id FROM bench_variants);
DELETE FROM cart_items;
SQL
for clients in "$customers" "$pool"; do
  for mode in hot spread; do
    variants=1
    [ "$mode" = spread ] && variants=100
    for script in ceiling minimal; do
      vacuum 2>/dev/null
      report=$(pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -D variants="$variants" -D batch="$batch" \
        -r -f "bench/checkout-$script.sql" "$db" 2>/dev/null)
      tps=$(echo "$report" | awk '/^tps/ {print int($3)}')
      latency=$(echo "$report" | awk '/^latency average/ {print $4}')
      what="same statements as the server"
      [ "$script" = minimal ] && what="minimal sale: order + conditional decrement"
      echo "pgbench $mode ($what, $clients clients): $tps transactions/s, mean latency $latency ms"
    done
  done
done
orders=$(psql -d "$db" -qAt -c "SELECT count(*) FROM orders")
# Every unit ordered is one the ledger took from the shelf (the minimal script writes neither).
untracked=$(psql -d "$db" -qAt -c "SELECT (SELECT coalesce(sum(quantity), 0) FROM order_items) \
  + (SELECT coalesce(sum(delta), 0) FROM inventory_movements WHERE reason = 'order_placed')")
echo "orders in the database: $orders; units ordered minus units the ledger took: $untracked"
echo "server peak memory (VmHWM): $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
