#!/usr/bin/env bash
# Sign-in latency with the real argon2id parameters: builds the release server, starts it on
# a scratch database, registers one user and times N sequential logins over loopback.
# Usage: bench/login-latency.sh [N]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
port=18080
db=swift_bench_login
target_dir=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p swift-server
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" LISTEN_ADDR="127.0.0.1:$port" \
  RATE_LIMITS=off EMAIL_BACKEND=log RUST_LOG=warn "$target_dir/release/swift-server" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS '$db' WITH (FORCE)" >/dev/null' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
body='{"email":"bench@example.com","password":"plum-Orbit-cactus-42"}'
curl -fs -o /dev/null -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$port/api/v1/auth/register"
for _ in $(seq 1 "$n"); do
  curl -s -o /dev/null -w '%{time_total}\n' -H 'content-type: application/json' -d "$body" \
    "http://127.0.0.1:$port/api/v1/auth/login"
done | sort -n | awk '{ t[NR] = $1 * 1000 } END {
  printf "logins: %d sequential\n", NR
  printf "p50: %.1f ms  p90: %.1f ms  p99: %.1f ms  max: %.1f ms\n", t[int(NR*0.5)], t[int(NR*0.9)], t[int(NR*0.99)], t[NR]
}'
