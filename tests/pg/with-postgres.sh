#!/usr/bin/env bash
# Runs a command with a real, throw-away PostgreSQL server:
#   tests/pg/with-postgres.sh COMMAND [ARGS...]
# initdb into a temporary directory, start on a free loopback port with TLS on (a certificate
# for `localhost` only, signed by a CA generated here with openssl), export
# WFLO_TEST_POSTGRES_URL (and WFLO_TEST_PG_BIN, WFLO_TEST_PGDATA for fault tests;
# WFLO_TEST_POSTGRES_CA, the CA's certificate, and WFLO_TEST_POSTGRES_WRONG_CA, an unrelated
# one, for the TLS tests), run the command, then stop the server and delete the directory
# whatever the command's outcome.
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

# TLS: a throw-away CA, an unrelated one, and a server certificate for the name localhost
# (no IP address: verify-full by 127.0.0.1 must fail). In postgresql.conf, not on the command
# line, so a test can turn TLS off with ALTER SYSTEM and a reload.
command -v openssl >/dev/null || { echo "with-postgres: openssl is needed (apt-get install openssl)" >&2; exit 1; }
ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$1" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$DIR/$2.key" -out "$DIR/$2.crt" 2>/dev/null
}
ca "wflo test CA" ca
ca "unrelated CA" wrong-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$DIR/server.ext"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial -days 2 \
    -extfile "$DIR/server.ext" -out "$DIR/server.crt" 2>/dev/null
chmod 600 "$DIR/server.key"
if [ "$(id -u)" = 0 ]; then
    chown postgres "$DIR/server.key" "$DIR/server.crt"
fi
printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$DIR/server.crt" "$DIR/server.key" \
    | as_pg tee -a "$DIR/data/postgresql.conf" >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$DIR/server.log" >&2; exit 1; }
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U wflo wflo

export WFLO_TEST_POSTGRES_URL="postgres://wflo@127.0.0.1:$PORT/wflo"
export WFLO_TEST_PG_BIN="$PG_BIN"
export WFLO_TEST_PGDATA="$DIR/data"
export WFLO_TEST_POSTGRES_CA="$DIR/ca.crt"
export WFLO_TEST_POSTGRES_WRONG_CA="$DIR/wrong-ca.crt"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
status=$?
set -e
exit $status
