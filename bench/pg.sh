# Sourced by the bench scripts: how the server, the CLI, psql and pgbench reach PostgreSQL,
# all the same way. Through its Unix socket when it has one here, as a server on the
# database's own host should connect (docs/deploy.md): loopback TCP costs every round trip a
# pass through the kernel's TCP stack on both sides, which on this 2-core box was a quarter
# to a third of the machine's CPU per checkout. BENCH_PGHOST chooses: a socket directory, or
# 127.0.0.1 for TCP.
pg_host=${BENCH_PGHOST:-}
if [ -z "$pg_host" ]; then
  pg_host=127.0.0.1
  [ -S /var/run/postgresql/.s.PGSQL.5432 ] && pg_host=/var/run/postgresql
fi
export PGHOST=$pg_host PGPORT=5432 PGUSER=postgres
echo "PostgreSQL reached at $pg_host (server, CLI, psql and pgbench alike)" >&2

# database_url DB: the URL of database DB for the server and the CLI.
database_url() {
  case $pg_host in
    /*) echo "postgres://postgres@localhost:5432/$1?host=$pg_host" ;;
    *) echo "postgres://postgres@$pg_host:5432/$1" ;;
  esac
}
