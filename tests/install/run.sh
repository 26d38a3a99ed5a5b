#!/usr/bin/env bash
# `make install` as a user would run it, checked from the outside:
#   1. Libs.private in ffi/wflo.pc.in is what rustc says the static library needs;
#   2. `make install PREFIX=$tmp/prefix` (the release build; `make test-install` passes
#      INSTALL_PROFILE=debug to reuse the debug build the other suites made) installs libwflo.so, libwflo.a,
#      wflo.h and wflo.pc; DESTDIR stages without changing what wflo.pc says;
#   3. the Go quick tour, as its own module requiring a COPY of bindings/go (nothing outside
#      the copied module reachable), builds with PKG_CONFIG_PATH alone (no CGO_* flags) and
#      runs without LD_LIBRARY_PATH (the rpath wflo.pc carries);
#   4. a C program built with `pkg-config --cflags --libs wflo` (dynamic) and with
#      `pkg-config --static` (libwflo.a) prints wflo_version(), the workspace version.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/wflo/target}
tmp=$(mktemp -d /tmp/wflo-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset CGO_CFLAGS CGO_CPPFLAGS CGO_LDFLAGS LD_LIBRARY_PATH PKG_CONFIG_PATH GOFLAGS
fail() { echo "FAIL: $*" >&2; exit 1; }
pc() { pkg-config "$@" | sed 's/ *$//'; } # pkg-config ends some lines with a space
version=$(sed -n '/^\[workspace\.package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
[ -n "$version" ] || fail "no workspace version in Cargo.toml"

echo "== Libs.private is what the static library needs"
# The same query as tests/c/run.sh (debug build: the native libraries do not depend on the profile).
native=$(cargo rustc -q -p wflo-ffi --lib --crate-type staticlib -- --print native-static-libs 2>&1 |
    sed -n 's/.*native-static-libs: //p' | tail -n 1)
[ -n "$native" ] || fail "rustc printed no native-static-libs"
want=$(printf '%s\n' $native | grep -vx -- -lc | sort -u | tr '\n' ' ')
have=$(sed -n 's/^Libs\.private: *//p' ffi/wflo.pc.in | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')
[ "$want" = "$have" ] || fail "ffi/wflo.pc.in Libs.private is '$have', rustc needs '$want' (less -lc)"

echo "== make install PREFIX=$tmp/prefix"
prefix=$tmp/prefix
make -s install PREFIX="$prefix" INSTALL_PROFILE="${INSTALL_PROFILE:-release}"
for f in lib/libwflo.so lib/libwflo.a include/wflo.h lib/pkgconfig/wflo.pc; do
    [ -s "$prefix/$f" ] || fail "$f not installed"
done
cmp -s "$prefix/include/wflo.h" ffi/include/wflo.h || fail "installed wflo.h is not ffi/include/wflo.h"
if readelf -S "$prefix/lib/libwflo.so" | grep -q '\.debug_'; then fail "libwflo.so not stripped"; fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pc --modversion wflo)" = "$version" ] || fail "pkg-config --modversion: $(pc --modversion wflo)"
pkg-config --validate wflo || fail "wflo.pc does not validate"
[ "$(pc --variable=libdir wflo)" = "$prefix/lib" ] || fail "libdir: $(pc --variable=libdir wflo)"
[ "$(pc --cflags wflo)" = "-I$prefix/include" ] || fail "cflags: $(pc --cflags wflo)"
[ "$(pc --libs wflo)" = "-L$prefix/lib -Wl,-rpath,$prefix/lib -lwflo" ] || fail "libs: $(pc --libs wflo)"
ls -l "$prefix/lib/libwflo.so" "$prefix/lib/libwflo.a" |
    awk '{printf "   %s: %d bytes (%.1f MB), stripped\n", $NF, $5, $5 / 1e6}'

echo "== make install DESTDIR=$tmp/stage PREFIX=/opt/wflo"
make -s install DESTDIR="$tmp/stage" PREFIX=/opt/wflo WFLO_STRIP=0 INSTALL_PROFILE="${INSTALL_PROFILE:-release}" >/dev/null
grep -qx 'prefix=/opt/wflo' "$tmp/stage/opt/wflo/lib/pkgconfig/wflo.pc" || fail "staged wflo.pc prefix"
grep -q "$tmp" "$tmp/stage/opt/wflo/lib/pkgconfig/wflo.pc" && fail "staged wflo.pc names DESTDIR"
cmp -s "$tmp/stage/opt/wflo/lib/libwflo.so" "$CARGO_TARGET_DIR/${INSTALL_PROFILE:-release}/libwflo.so" || fail "WFLO_STRIP=0 changed libwflo.so"
for f in lib/libwflo.so lib/libwflo.a include/wflo.h; do
    [ -s "$tmp/stage/opt/wflo/$f" ] || fail "staged $f missing"
done

# The Go quick tour as a user's module: the package comes from a copy of bindings/go in the
# temporary directory, so only what the module itself carries (its include/wflo.h) and what
# pkg-config says can be used. Its dependencies come from the module cache or the proxy.
echo "== Go: examples/go/quick_tour against a copy of bindings/go, PKG_CONFIG_PATH only"
mkdir -p "$tmp/go/tour"
cp -R bindings/go "$tmp/go/wflo-go"
cp examples/go/quick_tour/main.go "$tmp/go/tour/main.go"
cat > "$tmp/go/tour/go.mod" <<MOD
module example.com/tour

go $(sed -n 's/^go //p' bindings/go/go.mod)

require github.com/wflo-dev/wflo/bindings/go v0.0.0

replace github.com/wflo-dev/wflo/bindings/go => ../wflo-go
MOD
(cd "$tmp/go/tour" && GOWORK=off GOFLAGS=-mod=mod go build -o "$tmp/tour-go" .)
readelf -d "$tmp/tour-go" | grep -q 'NEEDED.*\[libwflo\.so\]' || fail "Go tour does not link libwflo.so"
readelf -d "$tmp/tour-go" | grep -q "R*PATH.*\[$prefix/lib\]" || fail "Go tour has no rpath to $prefix/lib"
"$tmp/tour-go" > "$tmp/tour-go.out"
cat "$tmp/tour-go.out"
grep -qx 'call cost \$0\.00011085' "$tmp/tour-go.out" || fail "Go tour: call cost"
grep -q '^refused: needs up to \$' "$tmp/tour-go.out" || fail "Go tour: no refusal"
grep -qx 'finished: completed' "$tmp/tour-go.out" || fail "Go tour: not completed"
# The module fetched alone has no ffi/include/wflo.h beside it: its header test skips, and
# the linked library is the header's version.
(cd "$tmp/go/wflo-go" && GOWORK=off GOFLAGS=-mod=mod go test -count=1 -run 'Header|HeadersVersion' -v . |
    tee "$tmp/go-test.out" | grep -E '^(--- |ok|FAIL)')
grep -q -- '--- SKIP: TestVendoredHeaderEqualsTheGeneratedOne' "$tmp/go-test.out" || fail "header test did not skip"
grep -q -- '--- PASS: TestLinkedLibraryIsTheHeadersVersion' "$tmp/go-test.out" || fail "version test"

echo "== C: pkg-config --cflags --libs wflo (dynamic), then --static (libwflo.a)"
cat > "$tmp/version.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <wflo.h>

int main(void) {
    /* A real call into the engine as well: open and close an in-memory engine. */
    wflo_engine *engine = NULL;
    if (wflo_engine_open("memory://", strlen("memory://"), &engine) != WFLO_STATUS_OK) {
        fprintf(stderr, "open: %s\n", wflo_last_error_message());
        return 1;
    }
    wflo_engine_free(engine);
    printf("%s %u %d\n", wflo_version(), wflo_version_number(), WFLO_VERSION_NUMBER);
    return 0;
}
C
IFS=. read -r major minor patch <<< "$version"
want="$version $((major * 10000 + minor * 100 + patch)) $((major * 10000 + minor * 100 + patch))"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
cc -std=c11 -Wall -Werror "$tmp/version.c" $(pkg-config --cflags --libs wflo) -o "$tmp/version-dynamic"
readelf -d "$tmp/version-dynamic" | grep -q 'NEEDED.*\[libwflo\.so\]' || fail "C dynamic: no libwflo.so"
[ "$("$tmp/version-dynamic")" = "$want" ] || fail "C dynamic printed '$("$tmp/version-dynamic")', want '$want'"
echo "   dynamic: $("$tmp/version-dynamic")"
# Static: the same flags with --static (Libs.private), libwflo named as the archive.
static_libs=$(pkg-config --static --libs wflo | sed 's/-lwflo\b/-l:libwflo.a/')
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror "$tmp/version.c" $(pkg-config --cflags wflo) $static_libs -o "$tmp/version-static"
if readelf -d "$tmp/version-static" | grep -q 'libwflo'; then fail "C static still needs libwflo.so"; fi
[ "$("$tmp/version-static")" = "$want" ] || fail "C static printed '$("$tmp/version-static")', want '$want'"
echo "   static:  $("$tmp/version-static")"
# The C quick tour, both ways.
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror examples/c/quick_tour.c $(pkg-config --cflags --libs wflo) -o "$tmp/tour-c-dynamic"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror examples/c/quick_tour.c $(pkg-config --cflags wflo) $static_libs -o "$tmp/tour-c-static"
for how in dynamic static; do
    "$tmp/tour-c-$how" > "$tmp/tour-c-$how.out"
    grep -q '"calls":1,"refused_calls":1,' "$tmp/tour-c-$how.out" || fail "C tour ($how): breakdown"
    grep -q '"total_nanos":110850,' "$tmp/tour-c-$how.out" || fail "C tour ($how): total"
done
echo "   the C quick tour, dynamic and static: 1 call (\$0.00011085), 1 refused"
echo "install tests: all passed (libwflo $version under $prefix; Go and C through pkg-config)"
