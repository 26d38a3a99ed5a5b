#!/usr/bin/env bash
# Prints a CGO_CPPFLAGS value naming a libwflo.a and its modification time and size:
#   CGO_CPPFLAGS="$(ffi/cgo-stamp.sh PATH/TO/libwflo.a)" PKG_CONFIG_PATH=… go build …
#
# Why: Go's build cache keys a cgo package by its CGO_* flags and sources, not by what
# pkg-config answers nor by the library that answer names. A package compiled once against
# another wflo.pc (make bench's, naming the release library) is reused under the debug one and
# links the release library, or fails when it is gone; and a rebuilt libwflo.a at the same path
# does not relink a test binary built before. The define, which no code reads, makes each
# library and each build of it a cache entry of its own. (The installed-library test builds with
# no CGO_* flags at all, as a user would: a fresh copy of the module, nothing cached.)
set -euo pipefail
lib=${1:?usage: cgo-stamp.sh PATH/TO/libwflo.a}
[ -f "$lib" ] || { echo "cgo-stamp.sh: no $lib" >&2; exit 1; }
# The path as a hash: a space in it would split the flag.
path=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
echo "-DWFLO_LIB_STAMP=$(printf %s "$path" | sha256sum | cut -c1-16).$(stat -c %Y.%s "$lib")"
