#!/usr/bin/env bash
# A newcomer's first step, checked: `cp .env.example .env`, start the server, and it must
# become ready. Runs the server from a scratch folder holding only that .env, against a
# scratch database (DATABASE_URL and LISTEN_ADDR from the real environment win over .env,
# exactly as they would for an operator).
set -euo pipefail
cd "$(dirname "$0")/.."

db=swift_ci_env_example
port=18090
work=$(mktemp -d)
server=$PWD/target/debug/swift-server
pid=
cleanup() {
  # `|| true` on each: under `set -e` a failing last command of an && list would end the
  # trap, and the script, with the server's signal status (143) after a passing check.
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -q -p swift-server --bin swift-server
cp .env.example "$work/.env"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
(cd "$work" && exec env -u RUST_LOG DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
  LISTEN_ADDR="127.0.0.1:$port" "$server" > server.log 2>&1) &
pid=$!
for _ in $(seq 1 300); do
  if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; then
    echo ".env.example: /readyz answered 200"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
echo ".env.example: the server did not become ready; its output:" >&2
cat "$work/server.log" >&2
exit 1
