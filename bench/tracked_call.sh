#!/usr/bin/env bash
# One tracked call (reserve + settle + record) from Rust, C (the C ABI) and Go (cgo), in the
# same run, interleaved over several rounds; prints the median ns per call and the ratios.
# Kotlin (JNA) joins them where java and mvn are installed (bindings/kotlin/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
rounds=${ROUNDS:-5}
cargo build -q --release -p wflo-ffi
cargo build -q --release -p wflo-core --example hot_loop
native="-lm -ldl -lpthread -lrt -lutil -lgcc_s"
gcc -O2 -std=c11 -Iffi/include bench/c/tracked_call.c "$target/release/libwflo.a" $native -o "$target/tracked_call_c"
# go test -c runs in bindings/go: give it an absolute output path (the Makefile's target is).
out=$target
[ "${target#/}" = "$target" ] && out=$PWD/$target
# The Go package finds libwflo with pkg-config: a wflo.pc naming the static release library.
mkdir -p "$out/pkgconfig-bench"
ffi/wflo-pc.sh --static "$out/release" "$out/release" "$PWD/ffi/include" > "$out/pkgconfig-bench/wflo.pc"
export PKG_CONFIG_PATH=$out/pkgconfig-bench
export CGO_CPPFLAGS="$(ffi/cgo-stamp.sh "$out/release/libwflo.a")"  # for Go's cache: see the script
(cd bindings/go && go test -c -o "$out/wflo_go_bench.test" >/dev/null)
kotlin_on=0
if command -v java >/dev/null && command -v mvn >/dev/null; then
    bindings/kotlin/bench.sh --build
    kotlin_on=1
fi
rust=() c=() go=() kotlin=()
for _ in $(seq "$rounds"); do
    rust+=("$("$target/release/examples/hot_loop" 200000 | sed -n 's/.*calls, \([0-9]*\) ns each.*/\1/p')")
    c+=("$("$target/tracked_call_c" 200000)")
    go+=("$("$target/wflo_go_bench.test" -test.run '^$' -test.bench TrackedCall -test.benchtime 200000x \
        | awk '/BenchmarkTrackedCall/ {print int($3)}')")
    if [ "$kotlin_on" = 1 ]; then kotlin+=("$(bindings/kotlin/bench.sh --run 200000)"); fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=$(median "${rust[@]}"); cc=$(median "${c[@]}"); g=$(median "${go[@]}")
echo "tracked call, median of $rounds rounds × 200,000 calls (ns per call)"
echo "| face | ns/call | rounds | vs Rust |"
echo "| --- | --- | --- | --- |"
echo "| Rust | $r | ${rust[*]} | 1.00× |"
echo "| C ABI | $cc | ${c[*]} | $(awk "BEGIN {printf \"%.2f\", $cc/$r}")× |"
echo "| Go (cgo) | $g | ${go[*]} | $(awk "BEGIN {printf \"%.2f\", $g/$r}")× (C + $(awk "BEGIN {printf \"%.0f\", $g-$cc}") ns) |"
if [ "$kotlin_on" = 1 ]; then
    k=$(median "${kotlin[@]}")
    echo "| Kotlin (JNA) | $k | ${kotlin[*]} | $(awk "BEGIN {printf \"%.2f\", $k/$r}")× (C + $(awk "BEGIN {printf \"%.0f\", $k-$cc}") ns) |"
fi
