#!/usr/bin/env bash
# Fuzzes every target for a bounded time (libFuzzer through cargo fuzz, on nightly):
#   fuzz/run.sh SECONDS [TARGET...]     SECONDS per target; all targets by default
# The corpus grows in $WFLO_CACHE/fuzz/corpus and outlives a clone; fuzz/regressions/<target>
# is read as corpus too. A crash input is written to $WFLO_CACHE/fuzz/artifacts/<target>/ and
# the run fails at the end. Once the bug is fixed, commit the input to fuzz/regressions/<target>/:
# ffi/tests/fuzz_regressions.rs replays every one under `cargo test`, no nightly needed.
set -euo pipefail

SECS=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${WFLO_CACHE:-$HOME/.cache/wflo}
# Instrumented builds apart from the main target directory (the Makefile exports its own).
export CARGO_TARGET_DIR=$CACHE/fuzz-target
export PATH=$CACHE/tools/bin:$PATH

if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked --root "$CACHE/tools"
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz/run.sh: cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi

TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(usage_json usage_stream prices checkpoint_state c_abi)
CORPUS=$CACHE/fuzz/corpus
python3 "$HERE/seeds.py" "$CORPUS"

cd "$HERE"
# Optimised, with debug assertions and overflow checks: an arithmetic overflow is a crash.
FLAGS=(--release --debug-assertions)
cargo +nightly fuzz build "${FLAGS[@]}"
failed=()
for t in "${TARGETS[@]}"; do
    case $t in
        checkpoint_state) max_len=65536 ;;  # large states take the compressed path
        *) max_len=8192 ;;
    esac
    dict=()
    [ "$t" = c_abi ] || dict=(-dict="$HERE/json.dict")
    mkdir -p "$CORPUS/$t" "$HERE/regressions/$t" "$CACHE/fuzz/artifacts/$t"
    log=$CACHE/fuzz/$t.log
    echo "== fuzz $t for ${SECS}s (log: $log)"
    if cargo +nightly fuzz run "${FLAGS[@]}" "$t" "$CORPUS/$t" "$HERE/regressions/$t" -- \
        -max_total_time="$SECS" -max_len="$max_len" -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="$CACHE/fuzz/artifacts/$t/" -print_final_stats=1 "${dict[@]}" \
        >"$log" 2>&1; then
        grep -E '^Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
        echo "   corpus: $(ls "$CORPUS/$t" | wc -l) inputs"
    else
        failed+=("$t")
        tail -n 60 "$log"
        echo "!! $t crashed: input in $CACHE/fuzz/artifacts/$t/" >&2
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz/run.sh: crashes in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz/run.sh: ${#TARGETS[@]} targets, ${SECS}s each, no crash"
