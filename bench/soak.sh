#!/usr/bin/env bash
# Soak: a few minutes of mixed browse / cart / checkout traffic against the release server,
# with PostgreSQL restarted in the middle. Afterwards: the server serves again, /readyz
# reported the outage, no 5xx leaked internals, and every order answered 201 exists.
#
# Usage: bench/soak.sh [seconds] [customers]     (defaults: 120 16)
# Restarts the local PostgreSQL cluster (pg_ctlcluster): run it on a machine of your own.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
customers=${2:-16}
port=18083
db=swift_soak
target_dir=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p swift-server -p swift-cli --bins --example soak
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
"$target_dir/release/swift-cli" migrate run >/dev/null
seed=$("$target_dir/release/swift-cli" seed --products 5000 --categories 20 --users "$customers")
password=$(echo "$seed" | awk '/^customer:/ {print $NF; exit}')
psql -h 127.0.0.1 -U postgres -d "$db" -qc "UPDATE stock_levels SET on_hand = 1000000" >/dev/null
LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off RUST_LOG=warn DB_MAX_CONNECTIONS=16 "$target_dir/release/swift-server" > "$target_dir/soak-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS '$db' WITH (FORCE)" >/dev/null 2>&1' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

ids=$(mktemp)
"$target_dir/release/examples/soak" "http://127.0.0.1:$port" "$password" "$customers" "$secs" "$ids" &
driver=$!
cluster=$(ls /etc/postgresql | sort -V | tail -n 1)
sleep $((secs / 3))
echo "restarting PostgreSQL ($cluster/main) at t=$((secs / 3))s"
pg_ctlcluster --skip-systemctl-redirect "$cluster" main stop -m fast
sleep 5
pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
wait $driver

echo "after the run: /readyz $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz"), products $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/products")"
answered=$(grep -c . "$ids" || true)
found=$(psql -h 127.0.0.1 -U postgres -d "$db" -qAt <<SQL | tail -n 1
CREATE TEMP TABLE soak_ids (id uuid);
\copy soak_ids FROM '$ids'
SELECT count(*) FROM soak_ids s JOIN orders o ON o.id = s.id;
SQL
)
echo "orders answered 201: $answered; of those in the database: $found"
echo "server peak memory: $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
rm -f "$ids"
[ "$answered" = "$found" ]
