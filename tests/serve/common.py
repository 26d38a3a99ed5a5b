"""What the `wflo serve` scripts share: the binaries, a store filled by the engine, a running
`wflo serve`, checks that print as they go, and stopping what was started (by process id).
Python 3 standard library only."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
WFLO = os.environ.get("WFLO_BIN") or str(TARGET / "debug" / "wflo")
FEED = str(TARGET / "debug" / "examples" / "serve_feed")

results = []  # (ok, message)
started = []  # Popen objects, stopped in reverse order by stop_all()


def check(ok, message):
    results.append((bool(ok), message))
    print(("  PASS  " if ok else "  FAIL  ") + message, flush=True)
    return ok


def summary():
    failed = [m for ok, m in results if not ok]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        print("FAIL")
        for m in failed:
            print("  - " + m)
        return 1
    print("PASS")
    return 0


def need(path, hint):
    if not os.access(path, os.X_OK):
        print(f"FAIL: {path} is missing ({hint})")
        sys.exit(1)


def env():
    """The environment for wflo processes: no store or price file from the caller's."""
    e = dict(os.environ)
    for k in ("WFLO_DATABASE_URL", "DATABASE_URL", "WFLO_PRICES", "WFLO_SERVE_TOKEN"):
        e.pop(k, None)
    return e


def run(args, **kw):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, env=env(), **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{args} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def spawn(args, **kw):
    """Starts a process that stop_all() ends."""
    proc = subprocess.Popen([str(a) for a in args], env=env(), **kw)
    started.append(proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_all():
    while started:
        stop(started.pop())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db, *extra):
    """Starts `wflo serve --port 0` over `db`; returns (process, base URL)."""
    proc = spawn([WFLO, "serve", "--db", db, "--port", "0", *extra], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    prefix = "wflo serve listening on "
    if not line.startswith(prefix):
        raise RuntimeError(f"wflo serve did not start: {line!r}")
    return proc, line[len(prefix):].strip()


def feed(db, *args):
    """Starts the slow agent (cli/examples/serve_feed.rs); returns (process, execution id) once
    its execution is in the store."""
    proc = spawn([FEED, "--db", db, *args], stdout=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline())
    return proc, first["execution_id"]


def get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def get_json(url, headers=None):
    return json.loads(get(url, headers))


def wait_for(what, probe, timeout=30, every=0.2):
    """Calls probe() until it returns something truthy; that value, or None after timeout."""
    until = time.monotonic() + timeout
    last = None
    while time.monotonic() < until:
        try:
            last = probe()
        except Exception:  # noqa: BLE001 — a probe may fail while things start
            last = None
        if last:
            return last
        time.sleep(every)
    print(f"  (gave up waiting for {what})", flush=True)
    return None
