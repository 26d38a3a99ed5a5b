#!/usr/bin/env bash
# One tracked call (reserve + settle + record) from Kotlin, on the release libwflo: prints the
# nanoseconds per call (dev.wflo.bench.TrackedCall, the same loop as bench/c/tracked_call.c).
# bench/tracked_call.sh runs it beside Rust, C and Go.
#
#   bindings/kotlin/bench.sh [N] [layer|generated]   build, then run once
#   bindings/kotlin/bench.sh --build                 only build (release libwflo, jar, classes)
#   bindings/kotlin/bench.sh --run [N] [mode]        only run (after --build)
#
# `layer` (default) is the dev.wflo API, whose hot path is the C ABI through JNA direct
# mapping; `generated` calls the UniFFI-generated objects directly (JNA Structures per call).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=${CARGO_TARGET_DIR:-target}
[ "${target#/}" != "$target" ] || target=$root/$target
export CARGO_TARGET_DIR=$target
step=all
case "${1:-}" in --build) step=build; shift ;; --run) step=run; shift ;; esac

if [ "$step" != run ]; then
    cargo build -q --release -p wflo-ffi
    (cd bindings/kotlin && mvn -q -B -ntp "-Dmaven.repo.local=${WFLO_CACHE:-$HOME/.cache/wflo}/m2" \
        package -DskipTests 2>&1 | sed -u 's/\x1b\[0m//g')
fi
if [ "$step" != build ]; then
    cd bindings/kotlin
    # jna.library.path is searched before the classpath: the release library, not the jar's.
    exec java -Djna.library.path="$target/release" -cp "target/wflo-0.1.0.jar:target/test-classes:target/lib/*" \
        dev.wflo.bench.TrackedCallKt "${1:-200000}" "${2:-layer}"
fi
