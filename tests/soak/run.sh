#!/usr/bin/env bash
# The load soak (`make soak`; not part of `make test`): core/examples/soak on SQLite, then on a
# throw-away PostgreSQL (tests/pg/with-postgres.sh) — several processes on one shared budget
# scope for a bounded time each. Exits non-zero if either run finds an overspend, a lost or
# unbalanced record, an unexpected error, or memory that keeps growing.
#
#   WFLO_SOAK_SECONDS    per store (default 600)
#   WFLO_SOAK_PROCESSES  worker processes (default 4)
#   WFLO_SOAK_THREADS    steady threads per process, plus one racer (default 2)
#   WFLO_SOAK_STORES     "sqlite postgres" (default: both)
#
# Each run's summary and JSON line also go to $WFLO_CACHE/soak/<store>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=${WFLO_CACHE:-$HOME/.cache/wflo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
SECONDS_PER_STORE=${WFLO_SOAK_SECONDS:-600}
PROCESSES=${WFLO_SOAK_PROCESSES:-4}
THREADS=${WFLO_SOAK_THREADS:-2}
STORES=${WFLO_SOAK_STORES:-sqlite postgres}

${CARGO:-cargo} build --release -q -p wflo-core --example soak
SOAK=$CARGO_TARGET_DIR/release/examples/soak
mkdir -p "$CACHE/soak"
WORK=$(mktemp -d /tmp/wflo-soak.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

status=0
for store in $STORES; do
    log=$CACHE/soak/$store.log
    case $store in
        sqlite)
            "$SOAK" "$WORK/soak.db" "$PROCESSES" "$THREADS" "$SECONDS_PER_STORE" 2>&1 | tee "$log" || status=1 ;;
        postgres)
            SOAK=$SOAK PROCESSES=$PROCESSES THREADS=$THREADS SECS=$SECONDS_PER_STORE \
                tests/pg/with-postgres.sh sh -c \
                '"$SOAK" "$WFLO_TEST_POSTGRES_URL" "$PROCESSES" "$THREADS" "$SECS"' 2>&1 | tee "$log" || status=1 ;;
        *)
            echo "soak: unknown store '$store' (sqlite, postgres)" >&2; exit 2 ;;
    esac
done
exit $status
