#!/usr/bin/env bash
# Server memory under hostile bursts (issue #12): RSS after 600 failed sign-ins at
# concurrency 8 (argon2id holds 19 MiB per hash), then after 3,000 distinct catalog listing
# URLs with page_size=100 (the catalog cache must stay bounded in bytes).
# Usage: bench/memory.sh [debug|release]   (default release)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
port=18081
db=swift_bench_memory
target_dir=${CARGO_TARGET_DIR:-target}
flag=$([ "$profile" = release ] && echo --release || true)
cargo build -q $flag -p swift-server -p swift-cli
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
"$target_dir/$profile/swift-cli" seed --products 20000 --categories 40 --users 1 >/dev/null
LISTEN_ADDR="127.0.0.1:$port" RATE_LIMITS=off EMAIL_BACKEND=log RUST_LOG=warn \
  "$target_dir/$profile/swift-server" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS '$db' WITH (FORCE)" >/dev/null' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }
hwm() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }
printf '%-44s %10s %10s\n' "phase" "RSS MiB" "peak MiB"
printf '%-44s %10s %10s\n' "started" "$(rss)" "$(hwm)"

seq 1 600 | xargs -P8 -I{} curl -s -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"nobody{}@example.com","password":"wrong-password-{}"}' "$base/api/v1/auth/login"
printf '%-44s %10s %10s\n' "after 600 failed logins (concurrency 8)" "$(rss)" "$(hwm)"
sleep 2
printf '%-44s %10s %10s\n' "  2 s later" "$(rss)" "$(hwm)"

orderings=(price -price name -name created_at -created_at)
for page in $(seq 1 100); do
  for o in "${orderings[@]}"; do
    for stock in true false; do
      for min in 0.00 5.00 10.00 20.00 40.00; do
        echo "$base/api/v1/products?page_size=100&page=$page&ordering=$o&in_stock=$stock&min_price=$min"
      done
    done
  done
done | head -3000 | xargs -P8 -n 1 curl -s -o /dev/null || true
printf '%-44s %10s %10s\n' "after 3,000 distinct listing URLs" "$(rss)" "$(hwm)"
