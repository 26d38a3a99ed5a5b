#!/usr/bin/env bash
# Installs wflo as users do and runs what they would run:
#   1. builds the wheel with maturin (libwflo inside, the UniFFI module generated from it) for
#      manylinux2014 (glibc 2.17), zig compiling and linking, and checks it with auditwheel;
#   2. creates a FRESH virtual environment, installs the wheel and the SDKs the examples use,
#      and runs the quick tour and the seed's documented examples (tests/seed) against
#      `wflo mock-llm`;
#   3. installs the same wheel into the test environments (main and CrewAI) for pytest.
# Usage: install_test.sh WHEEL_DIR   (the wheel is left there for the pytest runs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:?usage: install_test.sh WHEEL_DIR}
bin=${WFLO_BIN:-$root/target/debug/wflo}
main_venv=$("$root/tests/tools/venv.sh" python "$here/requirements.txt")
crewai_venv=$("$root/tests/tools/venv.sh" crewai "$here/requirements-crewai.txt")

echo "== building the wheel (manylinux2014)"
rm -rf "$out" && mkdir -p "$out"
# zig (pinned in requirements.txt) compiles the C of the dependencies (bundled SQLite, ring)
# and links against glibc 2.17 symbols, so the wheel loads on Amazon Linux 2, Debian 11,
# Ubuntu 20.04 and the like. maturin always hands cargo a --target with zig, a build of its own
# with zig as the linker: it gets its own target directory, or it and the Node addon's build
# (same target, the system linker) would rebuild each other's dependencies on every run.
# `--auditwheel check` fails the build rather than graft a library into the wheel.
# No --strip: zig's linker then drops the symbol table, the UniFFI metadata with it, and
# uniffi-bindgen finds nothing to generate the module from ("No UniFFI metadata found").
zig=$("$main_venv/bin/python" -c 'import pathlib, ziglang; print(pathlib.Path(ziglang.__file__).with_name("zig"))')
(cd "$root/bindings/python" && CARGO_ZIGBUILD_ZIG_PATH="$zig" "$main_venv/bin/maturin" build --quiet \
    --zig --compatibility manylinux2014 --auditwheel check \
    --target-dir "${CARGO_TARGET_DIR:-$root/target}/manylinux2014" --out "$out" 2>&1 | grep -v "^\s*$" | tail -2)
wheel=$(ls "$out"/wflo-*.whl)
arch=$(uname -m)
case $(basename "$wheel") in
    wflo-*-py3-none-manylinux2014_$arch.manylinux_2_17_$arch.whl) ;;
    *) echo "the wheel is not tagged manylinux2014 / manylinux_2_17: $(basename "$wheel")"; exit 1 ;;
esac
# auditwheel reads the symbol versions the library needs from glibc and the libraries it links.
audit=$("$main_venv/bin/auditwheel" show "$wheel" | tr -s '[:space:]' ' ')
case $audit in
    *"consistent with the following platform tag: \"manylinux_2_17_$arch\""*) ;;
    *) echo "auditwheel does not find the wheel manylinux_2_17: $audit"; exit 1 ;;
esac
echo "$(basename "$wheel"): auditwheel finds it consistent with manylinux_2_17_$arch"
# What PyPI shows and type checkers read: the typing marker and the project's metadata.
python3 - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert "wflo/py.typed" in names, "the wheel has no wflo/py.typed"
meta = zipfile.ZipFile(sys.argv[1]).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
for field in ("License-Expression: Apache-2.0", "Project-URL: Repository, https://github.com/wflo-dev/wflo",
              "Classifier: Typing :: Typed", "Requires-Dist: openai>=2.54 ; extra == 'openai'"):
    assert field in meta, f"METADATA lacks {field!r}"
PY

work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== a fresh virtual environment"
python3 -m venv "$work/venv"
pin() { grep -E "^$1==" "$here/requirements.txt"; }
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" "$(pin openai)" "$(pin langgraph)" \
    "$(pin langchain-core)" "$(pin langchain-openai)" "$(pin langgraph-checkpoint)"
"$work/venv/bin/python" -c "import wflo, sys; assert wflo.__file__.startswith(sys.prefix), wflo.__file__"

"$bin" mock-llm --port 0 > "$work/mock.out" &
mock_pid=$!
for _ in $(seq 50); do [ -s "$work/mock.out" ] && break; sleep 0.1; done
url=$(head -1 "$work/mock.out" | awk '{print $NF}')
case "$url" in http://127.0.0.1:*) ;; *) echo "mock did not start: $(cat "$work/mock.out")"; exit 1 ;; esac

run() { # run PYTHON SCRIPT [DIRECTIVES]
    local py=$1 script=$2 directives=${3:-}
    local base=$url${directives:+/mock/$directives}
    echo "-- $(basename "$script")"
    (cd "$work" && OPENAI_BASE_URL="$base/v1" ANTHROPIC_BASE_URL="$base" OPENAI_API_KEY=mock \
        ANTHROPIC_API_KEY=mock WFLO_DATABASE_URL="sqlite://$work/$(basename "$script" .py).db" \
        "$py" "$script")
}
run "$work/venv/bin/python" "$root/examples/python/quick_tour.py"
run "$work/venv/bin/python" "$here/seed/budget_enforcement.py" reply=4000
for example in track_llm checkpointing execution_tracking langgraph_example openai_direct; do
    run "$work/venv/bin/python" "$here/seed/$example.py"
done

echo "== the wheel in the test environments"
for venv in "$main_venv" "$crewai_venv"; do
    rm -f "$venv"/lib/python3*/site-packages/wflo-dev.pth
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"
done
# CrewAI offline: no telemetry, tracing or version check (each stalls on the network), and a
# private home for its storage.
mkdir -p "$work/home"
CREWAI_DISABLE_TELEMETRY=true OTEL_SDK_DISABLED=true CREWAI_TRACING_ENABLED=false \
    CREWAI_DISABLE_VERSION_CHECK=true HOME="$work/home" CREWAI_STORAGE_DIR="$work/home/crewai" \
    run "$crewai_venv/bin/python" "$here/seed/crewai_example.py" < /dev/null
echo "install test: ok"
