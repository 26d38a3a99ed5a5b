#!/usr/bin/env bash
# Generates the UniFFI Kotlin and Swift sources from a built libwflo.so and either writes them
# into the bindings (default) or, with --check, fails when the committed ones differ — the
# generated code must match the library it is shipped with, byte for byte.
#
#   bindings/kotlin/generate.sh [--check] [path/to/libwflo.so]
#
# The library defaults to $CARGO_TARGET_DIR/debug/libwflo.so (built by the caller).
set -euo pipefail
cd "$(dirname "$0")/../.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
lib=${1:-${CARGO_TARGET_DIR:-target}/debug/libwflo.so}
[ -f "$lib" ] || { echo "generate.sh: no $lib (cargo build -p wflo-ffi first)" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# --no-format: the output must not depend on whether ktlint or swiftformat is installed.
cargo run -q --bin uniffi-bindgen -- generate "$lib" -c bindings/kotlin/uniffi.toml \
    --language kotlin --language swift --no-format --out-dir "$out"

# generated file -> committed file. SwiftPM wants a system library's module map to be called
# module.modulemap; its content is the generated one, unchanged.
pairs=(
    "dev/wflo/ffi/wflo.kt" "bindings/kotlin/src/main/kotlin/dev/wflo/ffi/wflo.kt"
    "WfloNative.swift" "bindings/swift/Sources/WfloNative/WfloNative.swift"
    "wfloFFI.h" "bindings/swift/Sources/wfloFFI/wfloFFI.h"
    "wfloFFI.modulemap" "bindings/swift/Sources/wfloFFI/module.modulemap"
)
[ "$(find "$out" -type f | wc -l)" -eq $((${#pairs[@]} / 2)) ] || {
    echo "generate.sh: uniffi-bindgen wrote files this script does not know:" >&2
    (cd "$out" && find . -type f) >&2
    exit 1
}
stale=0
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
    from="$out/${pairs[i]}" to="${pairs[i + 1]}"
    if [ "$check" = 1 ]; then
        if ! cmp -s "$from" "$to"; then
            echo "generate.sh: $to is not what uniffi-bindgen generates from $lib" >&2
            diff -u "$to" "$from" | head -20 >&2 || true
            stale=1
        fi
    else
        mkdir -p "$(dirname "$to")"
        cp "$from" "$to"
    fi
done
if [ "$stale" = 1 ]; then
    echo "generate.sh: regenerate with bindings/kotlin/generate.sh and commit the result" >&2
    exit 1
fi
[ "$check" = 1 ] && echo "generated Kotlin and Swift bindings are up to date with libwflo" || true
