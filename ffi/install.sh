#!/usr/bin/env bash
# Installs libwflo from a release build (`make install` builds it first, then calls this):
#
#   $DESTDIR$LIBDIR/libwflo.so, $DESTDIR$LIBDIR/libwflo.a,
#   $DESTDIR$INCLUDEDIR/wflo.h and $DESTDIR$LIBDIR/pkgconfig/wflo.pc
#
#   ffi/install.sh BUILD_DIR      (BUILD_DIR: $CARGO_TARGET_DIR/release)
#
# PREFIX (default /usr/local), LIBDIR (default $PREFIX/lib), INCLUDEDIR (default
# $PREFIX/include) are where the files will be used from, and what wflo.pc says; DESTDIR is
# a staging root prepended to every path written (packagers), never written into wflo.pc.
# The libraries are stripped of debug information (the release profile keeps line tables,
# ~2× the size); WFLO_STRIP=0 installs them as built. WFLO_RPATH: see ffi/wflo-pc.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR   (PREFIX, LIBDIR, INCLUDEDIR, DESTDIR, WFLO_STRIP from the environment)" >&2
    exit 2
fi
build=$1
prefix=${PREFIX:-/usr/local}
libdir=${LIBDIR:-$prefix/lib}
includedir=${INCLUDEDIR:-$prefix/include}
destdir=${DESTDIR:-}
for f in libwflo.so libwflo.a; do
    [ -f "$build/$f" ] || { echo "$0: $build/$f is missing: cargo build --release -p wflo-ffi" >&2; exit 1; }
done

# Rendered (and its version checked) before anything is written.
pc=$(mktemp)
trap 'rm -f "$pc"' EXIT
"$root/ffi/wflo-pc.sh" "$prefix" "$libdir" "$includedir" > "$pc"

install -d "$destdir$libdir" "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 755 "$build/libwflo.so" "$destdir$libdir/libwflo.so"
install -m 644 "$build/libwflo.a" "$destdir$libdir/libwflo.a"
if [ "${WFLO_STRIP:-1}" = 1 ]; then
    # The shared library keeps its dynamic symbols; the archive keeps the symbols it links by.
    strip --strip-unneeded "$destdir$libdir/libwflo.so"
    strip --strip-debug "$destdir$libdir/libwflo.a"
fi
install -m 644 "$root/ffi/include/wflo.h" "$destdir$includedir/wflo.h"
install -m 644 "$pc" "$destdir$libdir/pkgconfig/wflo.pc"

for f in "$libdir/libwflo.so" "$libdir/libwflo.a" "$includedir/wflo.h" "$libdir/pkgconfig/wflo.pc"; do
    echo "installed $destdir$f"
done
if [ -z "$destdir" ]; then
    echo "pkg-config finds it with: export PKG_CONFIG_PATH=$libdir/pkgconfig" \
        "(not needed where pkg-config already looks, e.g. /usr/local/lib/pkgconfig)"
fi
