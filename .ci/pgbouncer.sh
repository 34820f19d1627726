#!/usr/bin/env bash
# SWIFT behind PgBouncer (#14), run rather than only documented: Debian's pgbouncer
# (installed when missing) pools a scratch database, the server reaches PostgreSQL only
# through it (LISTEN/NOTIFY goes direct, as docs/deploy.md says), and real clients drive it:
# the TypeScript storefront example (registration, two-factor sign-in, guest cart, checkout,
# Stripe payment through the local fake Stripe, a guest order) and the checkout benchmark's
# buyers racing for one variant. Passes when both succeed, nothing is oversold, and
# PgBouncer's own statistics show the traffic went through it.
#
# The mode is the best this PgBouncer can do for sqlx, which names every prepared statement
# (sqlx_s_1, …) whatever DB_STATEMENT_CACHE_CAPACITY says: transaction mode with
# max_prepared_statements from PgBouncer 1.21; session mode before that. Debian 12 ships
# 1.18, where transaction mode fails at once with 'prepared statement "sqlx_s_1" already
# exists' (docs/deploy.md).
# Called by .ci/run after .ci/e2e.sh (whose builds it reuses when present).
set -euo pipefail
cd "$(dirname "$0")/.."

port=18110
bouncer_port=16432
stripe_port=12112
db=swift_ci_pgbouncer
base="http://127.0.0.1:$port"
direct="postgres://postgres@127.0.0.1:5432/$db"
pooled="postgres://postgres@127.0.0.1:$bouncer_port/$db"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi
bouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

cargo build -q -p swift-server -p swift-cli -p fake-stripe --bins --example checkout_bench
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
# Migrations take a session advisory lock: they run against PostgreSQL directly.
DATABASE_URL=$direct target/debug/swift-cli migrate run >/dev/null
seed=$(DATABASE_URL=$direct target/debug/swift-cli seed --products 40 --categories 5 --users 16 --seed 11)
staff_password=$(echo "$seed" | awk '/^staff:/ {print $NF}')
customer_password=$(echo "$seed" | awk '/^customer:/ {print $NF; exit}')

version=$("$bouncer" --version | awk '/PgBouncer/ {print $2; exit}')
# 1.21.0 sorting first means this version is at least 1.21.0.
if [ "$(printf '1.21.0\n%s\n' "$version" | sort -V | head -n1)" = 1.21.0 ]; then
  mode=transaction
  prepared="max_prepared_statements = 200"
else
  mode=session
  prepared=""
fi
echo "PgBouncer $version: $mode pooling"
cat > "$work/pgbouncer.ini" <<INI
[databases]
$db = host=127.0.0.1 port=5432 dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
pool_mode = $mode
$prepared
auth_type = trust
auth_file = $work/userlist.txt
admin_users = postgres
default_pool_size = 20
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
unix_socket_dir =
INI
echo '"postgres" ""' > "$work/userlist.txt"
chown -R postgres "$work"
# PgBouncer will not run as root; -u drops to the postgres user.
"$bouncer" -u postgres "$work/pgbouncer.ini" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p "$bouncer_port" -U postgres -d "$db" -q && break; sleep 0.1; done

target/debug/fake-stripe --listen "127.0.0.1:$stripe_port" --secret-key sk_test_pgbouncer \
  --webhook-secret whsec_pgbouncer --webhook-url "$base/api/v1/payments/stripe/webhook" >/dev/null &
pids+=($!)
env DATABASE_URL="$pooled" DATABASE_LISTEN_URL="$direct" \
  MIGRATE_ON_START=false LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off RUST_LOG=warn \
  EMAIL_BACKEND=file EMAIL_FILE_DIR="$work/mail" \
  STRIPE_SECRET_KEY=sk_test_pgbouncer STRIPE_WEBHOOK_SECRET=whsec_pgbouncer \
  STRIPE_API_BASE="http://127.0.0.1:$stripe_port" \
  target/debug/swift-server > "$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "$base/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

echo "--- the storefront example through PgBouncer ($mode pooling)"
(
  cd clients/typescript
  [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
  npx tsc -p .
  BASE_URL="$base" STRIPE_API_BASE="http://127.0.0.1:$stripe_port" node dist/examples/storefront.js
)

echo "--- 16 buyers racing for one variant through PgBouncer"
result=$(target/debug/examples/checkout_bench "$base" "$staff_password" "$customer_password" 16 5 hot)
echo "$result"
echo "$result" | grep -q 'failures=0' || { echo "checkouts failed through PgBouncer" >&2; exit 1; }
oversold=$(psql -h 127.0.0.1 -U postgres -d "$db" -qAt -c "SELECT count(*) FROM stock_levels WHERE on_hand < 0")
[ "$oversold" = 0 ] || { echo "stock below zero through PgBouncer" >&2; exit 1; }

# The traffic went through the pooler: its own count of transactions for this database.
transactions=$(psql -h 127.0.0.1 -p "$bouncer_port" -U postgres -d pgbouncer -qAt -F ' ' -c 'SHOW STATS' \
  | awk -v db="$db" '$1 == db {print $2}')
echo "PgBouncer pooled $transactions transactions for $db"
[ "${transactions:-0}" -gt 100 ] || { echo "the server did not go through PgBouncer" >&2; exit 1; }
if grep -qiE 'prepared statement|ERROR' "$work/server.log"; then
  echo "the server logged errors through PgBouncer:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
echo "pgbouncer ($mode pooling) passed"
