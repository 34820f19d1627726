#!/usr/bin/env bash
# The whole benchmark in one run: catalog reads (with PostgreSQL's own rate for the same
# queries and the ratio), checkouts, sign-in latency, and, with --soak, the soak test that
# restarts PostgreSQL. Each part prints its table; see the individual scripts for details.
#
# Usage: bench/all.sh [--soak]
set -euo pipefail
cd "$(dirname "$0")"
echo "## catalog reads"; bash catalog.sh 64 10
echo; echo "## checkouts"; bash checkout.sh 32 10
echo; echo "## sign-in latency"; bash login-latency.sh 200
if [ "${1:-}" = "--soak" ]; then
  echo; echo "## soak with a PostgreSQL restart"; bash soak.sh 120 16
fi
