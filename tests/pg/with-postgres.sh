#!/usr/bin/env bash
# Runs a command with a real, throw-away PostgreSQL server:
#   tests/pg/with-postgres.sh COMMAND [ARGS...]
# initdb into a temporary directory, start on a free loopback port, export
# WFLO_TEST_POSTGRES_URL (and WFLO_TEST_PG_BIN, WFLO_TEST_PGDATA for fault tests), run the
# command, then stop the server and delete the directory whatever the command's outcome.
set -euo pipefail

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "with-postgres: no PostgreSQL server under /usr/lib/postgresql/*/bin" >&2
    echo "with-postgres: install it (Debian: apt-get install postgresql) and retry" >&2
    exit 1
fi

DIR=$(mktemp -d /tmp/wflo-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# initdb refuses to run as root: run the server as the unprivileged postgres user then.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
if [ "$(id -u)" = 0 ]; then
    chown postgres "$DIR"
fi

stop() {
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap stop EXIT

as_pg "$PG_BIN/initdb" -D "$DIR/data" -U wflo --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$DIR/server.log" >&2; exit 1; }
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U wflo wflo

export WFLO_TEST_POSTGRES_URL="postgres://wflo@127.0.0.1:$PORT/wflo"
export WFLO_TEST_PG_BIN="$PG_BIN"
export WFLO_TEST_PGDATA="$DIR/data"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
status=$?
set -e
exit $status
