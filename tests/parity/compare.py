#!/usr/bin/env python3
"""The parity check: every face's ledger of tests/vectors/scenarios.json, written canonically
(keys sorted, no spaces, UTF-8), must equal Rust's byte for byte. A face named on the command
line whose ledger is missing fails too — a face that stopped replaying must not pass quietly.

    compare.py DIR FACE...      (DIR holds <face>.json; rust.json is the reference)
"""
import json
import sys
from pathlib import Path


# The fields of a call record that a ledger compares (timestamps, latency and the execution's
# id differ from run to run).
CALL_FIELDS = ("seq", "step", "provider", "requested_model", "model", "usage", "cost_nanos", "reserved_nanos",
               "overrun_nanos", "estimated", "usage_missing", "stream", "status", "error")


def comparable(ledger):
    """The ledger with each call record cut to CALL_FIELDS (a face may write whole records)."""
    for scenario in ledger.get("scenarios", []):
        scenario["calls"] = [{k: call.get(k) for k in CALL_FIELDS} for call in scenario.get("calls", [])]
    return ledger


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def first_difference(ref, got, path="$"):
    """Where two ledgers part, for a readable failure."""
    if type(ref) is not type(got):
        return f"{path}: {canonical(ref)[:200]} != {canonical(got)[:200]}"
    if isinstance(ref, dict):
        for key in sorted(set(ref) | set(got)):
            if key not in ref or key not in got:
                return f"{path}.{key}: only in {'rust' if key in ref else 'this face'}"
            d = first_difference(ref[key], got[key], f"{path}.{key}")
            if d:
                return d
        return None
    if isinstance(ref, list):
        for i, (a, b) in enumerate(zip(ref, got)):
            d = first_difference(a, b, f"{path}[{i}]")
            if d:
                return d
        if len(ref) != len(got):
            return f"{path}: {len(ref)} items in rust, {len(got)} here"
        return None
    return None if ref == got else f"{path}: rust {canonical(ref)[:200]} != {canonical(got)[:200]}"


def main() -> int:
    folder, faces = Path(sys.argv[1]), sys.argv[2:]
    ref_path = folder / "rust.json"
    if not ref_path.exists():
        print(f"parity: no reference ledger {ref_path} (make test-rust writes it)")
        return 1
    ref = comparable(json.loads(ref_path.read_text()))
    ref.pop("face", None)
    ref_text = canonical(ref)
    scenarios = len(ref["scenarios"])
    passed = failed = 0
    for face in faces:
        path = folder / f"{face}.json"
        if not path.exists():
            print(f"FAIL {face}: no ledger at {path}")
            failed += 1
            continue
        got = comparable(json.loads(path.read_text()))
        if got.pop("face", None) != face:
            print(f"FAIL {face}: the ledger does not name its face")
            failed += 1
            continue
        if canonical(got) == ref_text:
            print(f"ok   {face}: {scenarios} scenarios, ledger identical to rust's")
            passed += 1
        else:
            print(f"FAIL {face}: {first_difference(ref, got)}")
            failed += 1
    print(f"parity: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
