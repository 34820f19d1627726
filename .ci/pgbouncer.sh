#!/usr/bin/env bash
# SWIFT behind PgBouncer (#14), run rather than only documented: PgBouncer pools a scratch
# database, the server reaches PostgreSQL only through it (LISTEN/NOTIFY goes direct, as
# docs/deploy.md says), and real clients drive it: the TypeScript storefront example
# (registration, two-factor sign-in, guest cart, checkout, Stripe payment through the local
# fake Stripe, a guest order) and the checkout benchmark's buyers racing for one variant.
# Passes when both succeed, nothing is oversold, and PgBouncer's own statistics show the
# traffic went through it.
#
# sqlx names every prepared statement (sqlx_s_1, …) whatever DB_STATEMENT_CACHE_CAPACITY
# says, so transaction mode needs PgBouncer 1.21's max_prepared_statements. Two runs:
#   1. Debian's packaged pgbouncer in the best mode it can do for sqlx. Debian 12 ships
#      1.18, where transaction mode fails at once with 'prepared statement "sqlx_s_1"
#      already exists' (docs/deploy.md), so session mode there.
#   2. Transaction mode with max_prepared_statements. When the package is older than 1.21,
#      Debian 13's own pgbouncer source (1.24.1, checksum pinned below) is built here, into
#      target/ (about 10 s; cached across runs).
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
packaged=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

version_of() { "$1" --version | awk '/PgBouncer/ {print $2; exit}'; }
# Whether version $1 is at least 1.21.0 (1.21.0 sorts first).
pools_transactions() { [ "$(printf '1.21.0\n%s\n' "$1" | sort -V | head -n1)" = 1.21.0 ]; }

# Debian 13 (trixie)'s pgbouncer source, built when the packaged one cannot pool
# transactions for sqlx.
debian13_version=1.24.1
debian13_sha256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
build_debian13() {
  local prefix=$PWD/target/pgbouncer-$debian13_version
  if [ ! -x "$prefix/bin/pgbouncer" ]; then
    dpkg -s libevent-dev >/dev/null 2>&1 || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libevent-dev libssl-dev pkg-config >/dev/null
    }
    local src
    src=$(mktemp -d)
    curl -fsSL -o "$src/src.tar.gz" \
      "http://deb.debian.org/debian/pool/main/p/pgbouncer/pgbouncer_$debian13_version.orig.tar.gz"
    echo "$debian13_sha256  $src/src.tar.gz" | sha256sum -c --quiet
    tar xzf "$src/src.tar.gz" -C "$src"
    (cd "$src/pgbouncer-$debian13_version" \
      && ./configure -q --prefix="$prefix" --without-cares --without-pam --without-systemd >/dev/null \
      && make -s -j2 >/dev/null 2>&1 && make -s install >/dev/null)
    rm -rf "$src"
  fi
  echo "$prefix/bin/pgbouncer"
}

cargo build -q -p swift-server -p swift-cli -p fake-stripe --bins --example checkout_bench
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
# Migrations take a session advisory lock: they run against PostgreSQL directly.
DATABASE_URL=$direct target/debug/swift-cli migrate run >/dev/null
seed=$(DATABASE_URL=$direct target/debug/swift-cli seed --products 40 --categories 5 --users 16 --seed 11)
staff_password=$(echo "$seed" | awk '/^staff:/ {print $NF}')
customer_password=$(echo "$seed" | awk '/^customer:/ {print $NF; exit}')

target/debug/fake-stripe --listen "127.0.0.1:$stripe_port" --secret-key sk_test_pgbouncer \
  --webhook-secret whsec_pgbouncer --webhook-url "$base/api/v1/payments/stripe/webhook" >/dev/null &
pids+=($!)
(cd clients/typescript && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npx tsc -p .)

# One run through the PgBouncer binary $1 in pool mode $2.
through() {
  local bouncer=$1 mode=$2 prepared="" version
  version=$(version_of "$bouncer")
  [ "$mode" = transaction ] && prepared="max_prepared_statements = 200"
  echo "=== PgBouncer $version: $mode pooling"
  rm -f "$work/pgbouncer.log" "$work/server.log"
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
  local bouncer_pid=$!
  pids+=("$bouncer_pid")
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p "$bouncer_port" -U postgres -d "$db" -q && break; sleep 0.1; done

  env DATABASE_URL="$pooled" DATABASE_LISTEN_URL="$direct" \
    MIGRATE_ON_START=false LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off RUST_LOG=warn \
    EMAIL_BACKEND=file EMAIL_FILE_DIR="$work/mail" \
    STRIPE_SECRET_KEY=sk_test_pgbouncer STRIPE_WEBHOOK_SECRET=whsec_pgbouncer \
    STRIPE_API_BASE="http://127.0.0.1:$stripe_port" \
    target/debug/swift-server > "$work/server.log" 2>&1 &
  local server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done
  curl -fs "$base/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

  echo "--- the storefront example through PgBouncer ($mode pooling)"
  (cd clients/typescript && BASE_URL="$base" STRIPE_API_BASE="http://127.0.0.1:$stripe_port" \
    node dist/examples/storefront.js)

  echo "--- 16 buyers racing for one variant through PgBouncer"
  local result oversold transactions
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
  kill "$server_pid" "$bouncer_pid"
  wait "$server_pid" "$bouncer_pid" 2>/dev/null || true
  echo "PgBouncer $version ($mode pooling) passed"
}

packaged_version=$(version_of "$packaged")
if pools_transactions "$packaged_version"; then
  through "$packaged" transaction
else
  through "$packaged" session
  through "$(build_debian13)" transaction
fi
