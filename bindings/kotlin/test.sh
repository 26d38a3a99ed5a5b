#!/usr/bin/env bash
# The Kotlin binding end to end, and the Swift sources' freshness:
#   1. builds libwflo (debug, into $CARGO_TARGET_DIR like the Makefile);
#   2. regenerates the UniFFI Kotlin and Swift sources and fails if the committed ones differ;
#   3. puts libwflo.so into the jar's resources (linux-x86-64/, where JNA looks on the classpath);
#   4. `mvn package`: compiles, runs the JUnit tests (vectors, quick tour, bad input,
#      concurrency, workflow, requests, the struct layout, the parity replay), packages the jar
#      and its runtime dependencies (target/lib). WFLO_PARITY_DIR, when set, reaches the tests
#      (Maven and Surefire's forked JVM inherit the environment): ParityTest writes
#      $WFLO_PARITY_DIR/kotlin.json there for tests/parity/compare.py;
#   5. runs the quick tour with plain `java -cp` from the packaged jar, with no library path
#      set, and checks that JNA loaded libwflo from inside the jar.
#
# Maven's downloads are cached in $WFLO_CACHE/m2 (default ~/.cache/wflo/m2), outside the
# checkout: every version is pinned, so once the cache is filled the build needs no network
# (WFLO_MAVEN_OFFLINE=1 makes Maven refuse to use it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cache=${WFLO_CACHE:-$HOME/.cache/wflo}
target=${CARGO_TARGET_DIR:-target}
[ "${target#/}" != "$target" ] || target=$root/$target
export CARGO_TARGET_DIR=$target

# The jar's version is the workspace's (Maven Central's metadata — url, scm, licences,
# developers — is in the pom too; an artifact without it is refused there).
workspace_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
pom_version=$(sed -n '0,/<version>/s/.*<version>\(.*\)<\/version>.*/\1/p' bindings/kotlin/pom.xml)
[ -n "$workspace_version" ] && [ "$pom_version" = "$workspace_version" ] || {
    echo "bindings/kotlin/pom.xml is version '$pom_version', the workspace '$workspace_version'" >&2; exit 1; }
for tag in '<url>' '<scm>' '<licenses>' '<developers>'; do
    grep -q "$tag" bindings/kotlin/pom.xml || { echo "pom.xml lacks $tag (Maven Central needs it)" >&2; exit 1; }
done

cargo build -q -p wflo-ffi
lib=$target/debug/libwflo.so
bindings/kotlin/generate.sh --check "$lib"

# The debug library without its debug info: a 70 MB file in the jar instead of 150 MB.
res=bindings/kotlin/src/main/resources/linux-x86-64
mkdir -p "$res"
strip --strip-debug -o "$res/libwflo.so.tmp" "$lib"
mv "$res/libwflo.so.tmp" "$res/libwflo.so"

cd bindings/kotlin
mvn_flags=(-q -B -ntp "-Dmaven.repo.local=$cache/m2")
if [ "${WFLO_MAVEN_OFFLINE:-0}" = 1 ]; then mvn_flags+=(-o); fi
rm -rf target/surefire-reports target/lib
# (Debian's Maven 3.8 prints colour resets even in batch mode: filtered out.)
mvn "${mvn_flags[@]}" package 2>&1 | sed -u 's/\x1b\[0m//g'

# Surefire is quiet under -q: count its reports, and fail on a run that ran nothing.
python3 - <<'EOF'
import glob, sys, xml.etree.ElementTree as ET
t = f = s = 0
for path in glob.glob("target/surefire-reports/TEST-*.xml"):
    r = ET.parse(path).getroot()
    t += int(r.get("tests")); f += int(r.get("failures")) + int(r.get("errors")); s += int(r.get("skipped"))
print(f"kotlin: {t - f - s} passed, {f} failed, {s} skipped")
sys.exit(1 if f or t == 0 else 0)
EOF

# The quick tour from the packaged jar: no java.library.path, no jna.library.path, no
# LD_LIBRARY_PATH. JNA's debug log names where it found the library: inside the jar.
jar=target/wflo-0.1.0.jar
log=$(mktemp)
trap 'rm -f "$log"' EXIT
env -u LD_LIBRARY_PATH java -Djna.debug_load=true -cp "$jar:target/test-classes:target/lib/*" \
    dev.wflo.examples.QuickTourKt 2>"$log"
if ! grep -q "wflo-0.1.0.jar!/linux-x86-64/libwflo.so" "$log"; then
    echo "test.sh: libwflo was not loaded from the jar:" >&2
    cat "$log" >&2
    exit 1
fi
echo "quick tour ran from $jar (libwflo loaded from the jar)"
