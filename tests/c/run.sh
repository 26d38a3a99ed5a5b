#!/usr/bin/env bash
# Builds the C programs against ffi/include/wflo.h and runs each of them
#   1. linked dynamically (libwflo.so),
#   2. linked statically (libwflo.a + the native libraries rustc names),
#   3. with AddressSanitizer and UndefinedBehaviorSanitizer,
#   4. under valgrind, which must report no leaks and no errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
cargo build -q -p wflo-ffi
lib="$target/debug"
native=$(cargo rustc -q -p wflo-ffi --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
    | sed -n 's/.*native-static-libs: //p' | tail -n 1)
out=$(mktemp -d /tmp/wflo-c.XXXXXX)
trap 'rm -rf "$out"' EXIT
cflags="-std=c11 -Wall -Wextra -Werror -g -Iffi/include"

for src in examples/c/quick_tour.c tests/c/errors.c tests/c/telemetry.c tests/c/resilience.c tests/c/limits.c \
    tests/c/checkpoints.c; do
    name=$(basename "$src" .c)
    echo "== $name: dynamic"
    gcc $cflags "$src" -L"$lib" -lwflo -Wl,-rpath,"$lib" -o "$out/$name-dynamic"
    "$out/$name-dynamic" > "$out/$name.log"
    echo "== $name: static ($native)"
    gcc $cflags "$src" "$lib/libwflo.a" $native -o "$out/$name-static"
    "$out/$name-static" > /dev/null
    echo "== $name: AddressSanitizer + UBSan"
    gcc $cflags -fsanitize=address,undefined -fno-omit-frame-pointer "$src" "$lib/libwflo.a" $native -o "$out/$name-asan"
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$out/$name-asan" > /dev/null
    echo "== $name: valgrind"
    valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=3 \
        "$out/$name-dynamic" > /dev/null
done
# The parity replay reads and writes JSON with jansson (Debian's libjansson-dev).
if [ ! -f /usr/include/jansson.h ]; then
    echo "== installing libjansson-dev"
    (apt-get install -y -q libjansson-dev >/dev/null 2>&1) ||
        (apt-get update -q >/dev/null && apt-get install -y -q libjansson-dev >/dev/null)
fi
echo "== parity: dynamic, then AddressSanitizer + UBSan"
gcc $cflags tests/c/parity.c -L"$lib" -lwflo -Wl,-rpath,"$lib" -ljansson -o "$out/parity-dynamic"
parity_dir=${WFLO_PARITY_DIR:-$out}
mkdir -p "$parity_dir"
"$out/parity-dynamic" tests/vectors/scenarios.json "$parity_dir/c.json"
gcc $cflags -fsanitize=address,undefined -fno-omit-frame-pointer tests/c/parity.c "$lib/libwflo.a" $native -ljansson \
    -o "$out/parity-asan"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$out/parity-asan" tests/vectors/scenarios.json "$out/c-asan.json" > /dev/null
cat "$out/quick_tour.log"
echo "C tests: all passed (dynamic, static, ASan+UBSan, valgrind)"
