#!/usr/bin/env bash
# Catalog read benchmark: seeds 100,000 products, starts the release server and measures
# requests per second and latency with wrk over loopback for the storefront's hot reads,
# then PostgreSQL's own ceiling for the product-detail query with pgbench (same SQL, same
# client count). Also times seeding 1,000,000 variants (`swift-cli seed --products 350000`:
# a third of the products have 2 to 12 variants) on a scratch database.
#
# Usage: bench/catalog.sh [connections] [seconds]     (defaults: 64 10; SKIP_MILLION=1 skips the 1M-variant seed)
# Needs: PostgreSQL on 127.0.0.1:5432 or its socket (user postgres, trust; bench/pg.sh), wrk (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/pg.sh
conns=${1:-64}
secs=${2:-10}
port=18081
db=swift_bench
target_dir=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
psql_admin() { psql -qAt "$@"; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p swift-server -p swift-cli
server_bin="$target_dir/release/swift-server"
cli_bin="$target_dir/release/swift-cli"

if [ -z "${SKIP_MILLION:-}" ]; then
  echo "== seed --products 350000: about 1,000,000 variants (scratch database)"
  psql_admin -c "DROP DATABASE IF EXISTS ${db}_million WITH (FORCE)" >/dev/null
  export DATABASE_URL=$(database_url "${db}_million")
  "$cli_bin" migrate run >/dev/null
  /usr/bin/time -f "seed of about 1,000,000 variants: %e s wall" "$cli_bin" seed --products 350000 --categories 60 --users 5 2>&1 \
    | grep -E "seeded in|wall"
  psql_admin -c "DROP DATABASE IF EXISTS ${db}_million WITH (FORCE)" >/dev/null
fi

echo "== seed --products 100000"
psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
export DATABASE_URL=$(database_url "$db")
"$cli_bin" migrate run >/dev/null
"$cli_bin" seed --products 100000 --categories 60 --users 5 | grep "seeded in"

server=
start_server() {  # extra environment as arguments, e.g. CATALOG_CACHE=false
  [ -n "$server" ] && { kill "$server"; wait "$server" 2>/dev/null || true; }
  env LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off RUST_LOG=warn DB_MAX_CONNECTIONS=16 "$@" "$server_bin" &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
}
start_server
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A top-level category with subcategories, and 1,000 random product ids.
category=$(psql_admin -d "$db" -c "SELECT c.slug FROM categories c WHERE parent_id IS NULL AND EXISTS (SELECT 1 FROM categories s WHERE s.parent_id = c.id) ORDER BY slug LIMIT 1")
psql_admin -d "$db" -c "SELECT id FROM products ORDER BY md5(id::text) LIMIT 1000" > "$work/ids"
psql_admin -d "$db" -c "SELECT lower(split_part(name, ' ', 2)) || '+' || lower(split_part(name, ' ', 3)) FROM products ORDER BY md5(slug) LIMIT 500" > "$work/queries"

# wrk scripts: rotate over ids / queries; report p50 and p99.
lua_list() {  # $1 = file of values, $2 = path prefix
  cat <<LUA
local values = {}
for line in io.lines("$1") do values[#values + 1] = line end
request = function()
  return wrk.format("GET", "$2" .. values[math.random(#values)])
end
LUA
}
lua_report='
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end'
run() {  # $1 = label, $2 = url, $3 = optional script
  local script="$work/$RANDOM.lua"
  { [ -n "${3:-}" ] && cat "$3"; echo "$lua_report"; } > "$script"
  wrk -t2 -c"$conns" -d3s -s "$script" "$2" >/dev/null  # warm-up
  local line
  line=$(wrk -t2 -c"$conns" -d"${secs}s" -s "$script" "$2" | grep '^RESULT')
  read -r _ rps p50 p99 errors <<<"$line"
  printf "| %-44s | %9s | %8s | %8s | %6s |\n" "$1" "$rps" "$p50" "$p99" "$errors"
  echo "$rps" > "$work/last_rps"
}

base="http://127.0.0.1:$port/api/v1"
lua_list "$work/ids" "/api/v1/products/" > "$work/detail.lua"
lua_list "$work/queries" "/api/v1/products?q=" > "$work/search.lua"
seq 1 200 > "$work/pages"
lua_list "$work/pages" "/api/v1/products?ordering=price&category=$category&page=" > "$work/pages.lua"

echo
echo "wrk -t2 -c$conns -d${secs}s on loopback; latency in ms; catalog cache on (the default)"
echo "| request | req/s | p50 | p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: |"
run "default list (/products)" "$base/products"
run "category $category by price" "$base/products?category=$category&ordering=price"
run "text search (q=walnut mug)" "$base/products?q=walnut%20mug"
run "text search, 500 different queries" "$base/products" "$work/search.lua"
run "category by price, 200 different pages" "$base/products" "$work/pages.lua"
run "product detail by id (1,000 ids)" "$base/products" "$work/detail.lua"
api_detail=$(cat "$work/last_rps")

echo
echo "The same with CATALOG_CACHE=false: every request goes to PostgreSQL"
start_server CATALOG_CACHE=false
echo "| request | req/s | p50 | p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: |"
run "default list (/products), no cache" "$base/products"
run "category $category by price, no cache" "$base/products?category=$category&ordering=price"
run "text search (q=walnut mug), no cache" "$base/products?q=walnut%20mug"
run "product detail by id, no cache" "$base/products" "$work/detail.lua"
api_detail_uncached=$(cat "$work/last_rps")

# PostgreSQL's ceiling for the same list queries (the uncached path: page + count).
# (swift-core/src/catalog/repository.rs: PRODUCT_SELECT, push_from_where, list_products)
cols="p.id, p.slug, p.name, p.description, p.price_min, p.price_max, EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = p.id AND v.is_active AND v.in_stock) AS in_stock, p.images, p.is_active, p.created_at, p.updated_at, c.id AS category_id, c.slug AS category_slug, c.name AS category_name FROM products p LEFT JOIN categories c ON c.id = p.category_id"
listed="p.is_active AND p.price_min IS NOT NULL"
cat > "$work/list.sql" <<SQL
SELECT $cols WHERE $listed ORDER BY p.created_at DESC, p.id DESC LIMIT 20 OFFSET 0;
SELECT count(*) FROM products p WHERE $listed;
SQL
tree="WITH RECURSIVE tree AS (SELECT id FROM categories WHERE slug = '$category' UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id)"
cat > "$work/category.sql" <<SQL
$tree SELECT $cols WHERE $listed AND p.category_id IN (SELECT id FROM tree) ORDER BY p.price_min, p.id LIMIT 20 OFFSET 0;
$tree SELECT count(*) FROM products p WHERE $listed AND p.category_id IN (SELECT id FROM tree);
SQL
exact="p.id = ANY (ARRAY(SELECT product_id FROM product_variants WHERE lower(sku) = lower('walnut mug')))"
match="(p.search @@ websearch_to_tsquery('english', 'walnut mug') OR $exact)"
cat > "$work/search.sql" <<SQL
SELECT $cols WHERE $listed AND $match ORDER BY ($exact) DESC, ts_rank(p.search, websearch_to_tsquery('english', 'walnut mug')) DESC, p.created_at DESC, p.id DESC LIMIT 20 OFFSET 0;
SELECT count(*) FROM products p WHERE $listed AND $match;
SQL
echo
echo "PostgreSQL's own rate for the list queries (pgbench -M prepared -c $conns -j 2 -T $secs, page + count per transaction):"
for q in list category search; do
  tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -f "$work/$q.sql" "$db" 2>/dev/null | awk '/^tps/ {print int($3)}')
  echo "  $q: $tps tps"
done

# PostgreSQL's ceiling for the same detail query: one pgbench script per id (100, pgbench's
# limit is 128), picked at random.
mkdir -p "$work/pgb"
n=0
while read -r id && [ $n -lt 100 ]; do
  cat > "$work/pgb/$n.sql" <<SQL
SELECT $cols WHERE p.id = '$id';
SELECT name, choices FROM product_options WHERE product_id = '$id' ORDER BY position;
SELECT v.id, v.product_id, v.sku, v.option_values, v.price, v.compare_at_price, v.images, v.is_active, s.on_hand
  FROM product_variants v JOIN stock_levels s ON s.variant_id = v.id WHERE v.product_id = '$id' ORDER BY v.position, v.id;
SQL
  n=$((n + 1))
done < "$work/ids"
args=()
for f in "$work"/pgb/*.sql; do args+=(-f "$f"); done
pg_tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" "${args[@]}" "$db" 2>/dev/null \
  | awk '/^tps/ {print int($3)}')
echo
echo "pgbench -M prepared -c $conns -j 2 -T $secs, same detail SQL: $pg_tps tps"
echo "server peak memory (VmHWM): $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
awk -v a="$api_detail" -v u="$api_detail_uncached" -v p="$pg_tps" 'BEGIN {
  printf "product detail through the API: %.0f%% of PostgreSQL'"'"'s ceiling with the cache, %.0f%% without\n", 100 * a / p, 100 * u / p }'
