#!/usr/bin/env bash
# A catalog that stays fast while the shop sells (issue #14): seeds 100,000 products, then
# browses 1,000 distinct storefront URLs with wrk (100 pages of the default list; 40
# categories x 4 orderings x 3 pages; 220 price ranges, some in stock only; 200 one- and
# two-word searches) in three conditions, one table:
#   - cold: a freshly started server, nothing cached, no writes;
#   - selling: customers place about ORDERS_PER_SECOND orders a second on products shown on
#     the first pages and staff change a price every PRICE_EVERY seconds
#     (swift-server/examples/selling_load.rs) while the same URLs are browsed;
#   - detail while selling: 1,000 distinct product pages instead of listings.
# Then PostgreSQL's own rate for the default page + its count (pgbench, same client count),
# and the server's peak memory.
#
# Usage: bench/selling.sh [connections] [seconds]     (defaults: 64 20)
# Environment: ORDERS_PER_SECOND (4), PRICE_EVERY (3), CUSTOMERS (4), PRODUCTS (100000),
# SERVER_BIN and CLI_BIN (another build's swift-server and swift-cli, to compare them).
# Needs: PostgreSQL on 127.0.0.1:5432 or its socket (user postgres, trust; bench/pg.sh), wrk (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/pg.sh
conns=${1:-64}
secs=${2:-20}
rate=${ORDERS_PER_SECOND:-4}
price_every=${PRICE_EVERY:-3}
customers=${CUSTOMERS:-4}
products=${PRODUCTS:-100000}
port=18083
db=swift_bench_selling
target_dir=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
psql_db() { psql -qAt -d "$db" "$@"; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p swift-server -p swift-cli --bins --example selling_load
server_bin=${SERVER_BIN:-$target_dir/release/swift-server}
cli_bin=${CLI_BIN:-$target_dir/release/swift-cli}

psql -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
export DATABASE_URL=$(database_url "$db")
"$cli_bin" migrate run >/dev/null
seed_out=$("$cli_bin" seed --products "$products" --categories 40 --users "$customers")
staff_password=$(echo "$seed_out" | awk '/^staff:/ {print $NF}')
customer_password=$(echo "$seed_out" | awk '/^customer:/ {print $NF; exit}')

server=
start_server() {
  [ -n "$server" ] && { kill "$server"; wait "$server" 2>/dev/null || true; }
  env LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off RUST_LOG=warn "$server_bin" >> "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
}
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The 1,000 browse URLs.
urls="$work/urls"
for page in $(seq 1 100); do echo "/api/v1/products?page=$page"; done > "$urls"
psql_db -c "SELECT slug FROM categories ORDER BY slug LIMIT 40" > "$work/categories"
while read -r c; do
  for o in price -price name -created_at; do
    for page in 1 2 3; do echo "/api/v1/products?category=$c&ordering=$o&page=$page"; done
  done
done < "$work/categories" >> "$urls"
for low in $(seq 0 10 100); do
  for width in 5 10 25 50 100; do
    for extra in "" "&in_stock=true" "&ordering=price" "&in_stock=true&ordering=-price"; do
      echo "/api/v1/products?min_price=$low.00&max_price=$((low + width)).00$extra"
    done
  done
done >> "$urls"
# Searches: every word of the product names, then prefixes as a shopper types them
# ("kett"), to 100; and 100 two-word queries.
psql_db -c "SELECT DISTINCT lower(w) FROM products, regexp_split_to_table(name, ' ') w" > "$work/words"
{ cat "$work/words"; awk 'length($0) > 4 { print substr($0, 1, 3 + NR % 3) }' "$work/words"; } \
  | awk '!seen[$0]++' | head -100 | sed 's|^|/api/v1/products?q=|' >> "$urls"
psql_db -c "SELECT q FROM (SELECT DISTINCT lower(split_part(name, ' ', 2) || '+' || split_part(name, ' ', 3)) AS q FROM products) s ORDER BY md5(q) LIMIT 100" \
  | sed 's|^|/api/v1/products?q=|' >> "$urls"
psql_db -c "SELECT '/api/v1/products/' || id FROM products WHERE is_active ORDER BY md5(id::text) LIMIT 1000" > "$work/details"

# wrk: each connection walks the list from its own random start; p50/p99 and errors out.
lua() {  # $1 = file of paths
  cat <<LUA
local paths = {}
for line in io.lines("$1") do paths[#paths + 1] = line end
local counter = 0
local n = 0
setup = function(thread) n = n + 1; thread:set("seed", n) end
init = function() math.randomseed(os.time() * 1000 + (seed or 0)); counter = math.random(#paths) end
request = function()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout, summary.requests))
end
LUA
}
lua "$urls" > "$work/browse.lua"
lua "$work/details" > "$work/details.lua"
echo "$(wc -l < "$urls") browse URLs, $(sort -u "$urls" | wc -l) distinct; $(wc -l < "$work/details") product pages"

base="http://127.0.0.1:$port"
row() {  # $1 label, $2 script, $3 orders placed
  local line
  line=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 5s -s "$2" "$base" | grep '^RESULT')
  read -r _ rps p50 p99 errors _ <<<"$line"
  printf "| %-36s | %7s | %7s | %8s | %6s | %6s |\n" "$1" "$rps" "$p50" "$p99" "$errors" "$3"
}
selling() {  # runs the writes for the length of one wrk run, in the background
  "$target_dir/release/examples/selling_load" "$base" "$staff_password" "$customer_password" \
    "$customers" "$secs" "$rate" "$price_every" > "$work/selling.out" &
  load=$!
  # wrk starts measuring once the driver is set up (logins, product lookups, restocks).
  for _ in $(seq 1 600); do grep -q '^READY' "$work/selling.out" 2>/dev/null && break; sleep 0.1; done
}
orders() { awk '/^RESULT/ { split($2, a, "="); print a[2] }' "$work/selling.out"; }

echo
echo "wrk -t2 -c$conns -d${secs}s over loopback; latency in ms; writes: $customers customers, about $rate orders/s, a price change every ${price_every}s"
echo "| condition | req/s | p50 | p99 | errors | orders |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
start_server
row "listings, cold start, no writes" "$work/browse.lua" 0
selling
row "listings while selling" "$work/browse.lua" "-"
wait "$load"
listing_orders=$(orders)
selling
row "product detail while selling" "$work/details.lua" "-"
wait "$load"
echo "orders placed while browsing listings: $listing_orders; while browsing details: $(orders) ($(grep -o 'refused=[0-9]*' "$work/selling.out"), $(grep -o 'price_edits=[0-9]*' "$work/selling.out"))"
echo "server peak memory (VmHWM): $(grep VmHWM /proc/$server/status | awk '{print $2, $3}'); server warnings and errors: $(grep -c . "$work/server.log" || true)"

# PostgreSQL alone: the default page and its count, as the first round's listing asked.
cols="p.id, p.slug, p.name, p.description, p.price_min, p.price_max, EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = p.id AND v.is_active AND v.in_stock) AS in_stock, p.images, p.is_active, p.created_at, p.updated_at, c.id AS category_id, c.slug AS category_slug, c.name AS category_name FROM products p LEFT JOIN categories c ON c.id = p.category_id"
listed="p.is_active AND p.price_min IS NOT NULL"
# A build from before variants kept in_stock (SERVER_BIN/CLI_BIN): its query probed stock rows.
if [ -z "$(psql_db -c "SELECT 1 FROM information_schema.columns WHERE table_name = 'product_variants' AND column_name = 'in_stock'")" ]; then
  cols=${cols/"v WHERE v.product_id = p.id AND v.is_active AND v.in_stock"/"v JOIN stock_levels s ON s.variant_id = v.id WHERE v.product_id = p.id AND v.is_active AND s.on_hand > 0"}
fi
cat > "$work/list.sql" <<SQL
SELECT $cols WHERE $listed ORDER BY p.created_at DESC, p.id DESC LIMIT 20 OFFSET 0;
SELECT count(*) FROM products p WHERE $listed;
SQL
tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T 10 -f "$work/list.sql" "$db" 2>/dev/null | awk '/^tps/ {print int($3)}')
echo "PostgreSQL alone, default page + count(*) (pgbench -c $conns): $tps tps"
