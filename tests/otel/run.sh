#!/usr/bin/env bash
# `make test-otel`: makes sure every face's build is there and current, then runs
# tests/otel/run.py (what it checks is written there). Reuses what the other suites built:
#   - Python: the newest wflo wheel of $WFLO_CACHE/wheels (make test-python's) or
#     $WFLO_CACHE/wheels-otel (this script's); when both are older than the sources the wheel
#     is built from, a new one is built into wheels-otel exactly as install_test.sh builds it.
#     It is installed into this test's own environment ($WFLO_CACHE/venvs/otel).
#   - Node: bindings/node's addon (make test-node's), rebuilt with scripts/build.cjs when
#     older than its sources; npm ci when the packages are missing.
#   - Go: tests/otel/go built against the debug libwflo.a through pkg-config (as make test-go).
# WFLO_OTEL_REUSE=1 takes the wheel and the addon as they are, even when older than their
# sources (built only when missing). Arguments go to run.py (e.g. --faces rust,go).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export WFLO_CACHE=${WFLO_CACHE:-$HOME/.cache/wflo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WFLO_CACHE/target}
export WFLO_BIN=${WFLO_BIN:-$CARGO_TARGET_DIR/debug/wflo}
cargo=${CARGO:-cargo}
started=$(date +%s)

# Is any file under the given paths newer than $1? (Build outputs and caches excluded.)
newer_than() {
    [ "${WFLO_OTEL_REUSE:-0}" = 1 ] && return 1
    local built=$1
    shift
    [ -n "$(find "$@" -newer "$built" -type f -not -path '*/__pycache__/*' -not -path '*/wflo/_ffi/*' \
        -not -path '*/node_modules/*' -not -name '*.node' -print -quit 2>/dev/null)" ]
}

[ -x "$WFLO_BIN" ] || $cargo build -q -p wflo-cli
venv=$(tests/tools/venv.sh otel tests/otel/requirements.txt)

echo "== Python: the wflo wheel"
py_sources=(bindings/python/python bindings/python/pyproject.toml ffi/src ffi/Cargo.toml core/src core/Cargo.toml
    Cargo.lock)
wheel=$(ls -t "$WFLO_CACHE"/wheels/wflo-*.whl "$WFLO_CACHE"/wheels-otel/wflo-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ] || newer_than "$wheel" "${py_sources[@]}"; then
    echo "building the wheel (${wheel:+older than its sources}${wheel:-none built yet}) into $WFLO_CACHE/wheels-otel"
    # As bindings/python/tests/install_test.sh builds it (manylinux2014, zig, its own target dir).
    py_venv=$(tests/tools/venv.sh python bindings/python/tests/requirements.txt)
    zig=$("$py_venv/bin/python" -c 'import pathlib, ziglang; print(pathlib.Path(ziglang.__file__).with_name("zig"))')
    rm -rf "$WFLO_CACHE/wheels-otel" && mkdir -p "$WFLO_CACHE/wheels-otel"
    (cd bindings/python && CARGO_ZIGBUILD_ZIG_PATH="$zig" "$py_venv/bin/maturin" build --quiet \
        --zig --compatibility manylinux2014 --auditwheel check \
        --target-dir "$CARGO_TARGET_DIR/manylinux2014" --out "$WFLO_CACHE/wheels-otel" 2>&1 | grep -v '^\s*$' | tail -2)
    wheel=$(ls "$WFLO_CACHE"/wheels-otel/wflo-*.whl)
fi
want=$(sha256sum "$wheel" | cut -d' ' -f1)
if [ "$(cat "$venv/.wflo-wheel.sha256" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"
    echo "$want" > "$venv/.wflo-wheel.sha256"
fi
echo "$(basename "$wheel") ($(dirname "$wheel"))"

echo "== Node: the addon"
node_sources=(bindings/node/src bindings/node/Cargo.toml bindings/node/build.rs core/src core/Cargo.toml Cargo.lock)
addon=$(ls -t bindings/node/wflo.*.node 2>/dev/null | head -1 || true)
if [ ! -d bindings/node/node_modules/openai ] || [ ! -d bindings/node/node_modules/@opentelemetry/sdk-trace-base ]; then
    (cd bindings/node && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi
if [ -z "$addon" ] || newer_than "$addon" "${node_sources[@]}"; then
    echo "building the addon (${addon:+older than its sources}${addon:-none built yet})"
    (cd bindings/node && node scripts/build.cjs)
    addon=$(ls -t bindings/node/wflo.*.node | head -1)
fi
echo "$addon"

echo "== Go: the workload against libwflo.a"
$cargo build -q -p wflo-ffi
pc_dir=$WFLO_CACHE/pkgconfig/debug
mkdir -p "$pc_dir" "$WFLO_CACHE/otel"
ffi/wflo-pc.sh --static "$CARGO_TARGET_DIR/debug" "$CARGO_TARGET_DIR/debug" "$root/ffi/include" > "$pc_dir/wflo.pc.tmp.$$"
mv "$pc_dir/wflo.pc.tmp.$$" "$pc_dir/wflo.pc"
test -z "$(gofmt -l tests/otel/go)" || { gofmt -l tests/otel/go; echo "gofmt would change these files"; exit 1; }
stamp=$(ffi/cgo-stamp.sh "$CARGO_TARGET_DIR/debug/libwflo.a")  # for Go's cache: see the script
(cd tests/otel/go && PKG_CONFIG_PATH=$pc_dir CGO_CPPFLAGS="$stamp" go build -mod=mod -o "$WFLO_CACHE/otel/otel-go" .)
echo "built in $(( $(date +%s) - started ))s"

"$venv/bin/python" tests/otel/run.py --python "$venv/bin/python" --node-dir bindings/node \
    --go-bin "$WFLO_CACHE/otel/otel-go" "$@"
echo "make test-otel: $(( $(date +%s) - started ))s in all"
