#!/usr/bin/env bash
# What telemetry costs a tracked call (issue 15): the Rust hot loop (core/examples/hot_loop.rs)
# built at BASE_REV (before metrics, alerts and OpenTelemetry existed; default 976be7a) and at
# HEAD, run interleaved for ROUNDS rounds: HEAD with telemetry off (no OTEL_* variables: the
# in-process metrics and alert checks only) and HEAD exporting OTLP to a loopback receiver.
# Prints the median ns per call of each and the two figures the issue sets goals for:
# off ÷ base (goal ≤ 1.05) and OTLP-on − off (goal ≤ 2,000 ns).
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${BASE_REV:-976be7a}
rounds=${ROUNDS:-5}
calls=${CALLS:-200000}
target=${CARGO_TARGET_DIR:-$HOME/.cache/wflo/target}
base_target=${target}-base
base_tree=${WFLO_CACHE:-$HOME/.cache/wflo}/base-tree
git rev-parse --verify -q "$base_rev^{commit}" >/dev/null || { echo "no commit $base_rev here (a shallow clone?)" >&2; exit 1; }
if [ ! -d "$base_tree" ] || [ "$(git -C "$base_tree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$base_rev")" ]; then
    rm -rf "$base_tree"
    git worktree prune
    git worktree add -f --detach "$base_tree" "$base_rev" >/dev/null
fi
(cd "$base_tree" && CARGO_TARGET_DIR=$base_target cargo build -q --release -p wflo-core --example hot_loop)
CARGO_TARGET_DIR=$target cargo build -q --release -p wflo-core --example hot_loop

# A loopback OTLP receiver that takes everything (answers 200, keeps nothing).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
sink=$!
trap 'kill $sink 2>/dev/null' EXIT
sleep 0.3

ns() { sed -n 's/.*calls, \([0-9]*\) ns each.*/\1/p'; }
cpu() { sed -n 's/.*(\([0-9]*\) ns on the calling thread.*/\1/p'; }
base=() off=() on=() off_cpu=() on_cpu=()
for _ in $(seq "$rounds"); do
    base+=("$("$base_target/release/examples/hot_loop" "$calls" | ns)")
    out=$(env -u OTEL_EXPORTER_OTLP_ENDPOINT "$target/release/examples/hot_loop" "$calls")
    off+=("$(ns <<<"$out")") off_cpu+=("$(cpu <<<"$out")")
    out=$(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port OTEL_SERVICE_NAME=wflo-bench \
        "$target/release/examples/hot_loop" "$calls")
    on+=("$(ns <<<"$out")") on_cpu+=("$(cpu <<<"$out")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "${base[@]}") o=$(median "${off[@]}") t=$(median "${on[@]}")
oc=$(median "${off_cpu[@]}") tc=$(median "${on_cpu[@]}")
echo "tracked call, Rust, median of $rounds interleaved rounds of $calls calls:"
echo "  before telemetry ($base_rev): $b ns   (rounds: ${base[*]})"
echo "  telemetry off (HEAD):        $o ns   (rounds: ${off[*]})"
echo "  OTLP export on (HEAD):       $t ns   (rounds: ${on[*]})"
echo "  calling thread's CPU: off $oc ns, on $tc ns (the rest of 'on' is the exporter's thread"
echo "  encoding and sending, and the receiver, sharing this machine's cores)"
awk -v b="$b" -v o="$o" -v t="$t" -v oc="$oc" -v tc="$tc" 'BEGIN {
    printf "  off / before = %.3f (goal <= 1.05)\n", o / b
    printf "  on - off     = %d ns wall, %d ns of the calling thread (goal <= 2000 ns)\n", t - o, tc - oc }'
