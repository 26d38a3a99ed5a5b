#!/usr/bin/env python3
"""Writes seed inputs for every fuzz target into CORPUS_ROOT/<target>/, from the shared test
vectors (tests/vectors/usage.json) and the price table, so the fuzzer starts from real
provider payloads instead of discovering JSON keys byte by byte.

    fuzz/seeds.py CORPUS_ROOT
"""
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Byte 0 of a usage_json input picks the format, in fuzz/src/usage_json.rs's order.
FORMATS = ["auto", "openai_chat", "openai_responses", "anthropic", "gemini", "wflo",
           "langchain", "ai_sdk"]
STREAM_FORMATS = ["openai_chat", "openai_responses", "anthropic", "gemini"]


def write(corpus: pathlib.Path, target: str, data: bytes) -> None:
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


def compact(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def main(corpus: pathlib.Path) -> None:
    cases = json.loads((ROOT / "tests/vectors/usage.json").read_text())["cases"]
    for case in cases:
        fmt = case["format"]
        if "events" in case:
            base = fmt.removesuffix("_stream")
            if base in STREAM_FORMATS:
                events = "\n".join(compact(e) for e in case["events"])
                write(corpus, "usage_stream", bytes([STREAM_FORMATS.index(base)]) + events.encode())
            continue
        payload = case["payload_text"] if "payload_text" in case else compact(case["payload"])
        if fmt in FORMATS:
            for i in {FORMATS.index(fmt), 0}:
                write(corpus, "usage_json", bytes([i]) + payload.encode())
            write(corpus, "checkpoint_state", b"\0" + payload.encode())
            write(corpus, "checkpoint_state", b"\1\0" + payload.encode())
            write(corpus, "checkpoint_state", b"\3" + payload.encode())

    # Price overrides: entries shaped like the built-in table's (tiers, cache prices).
    models = json.loads((ROOT / "pricing/prices.json").read_text())["models"]
    keep = ("name", "provider", "mode", "input", "output", "cache_read", "cache_write_5m",
            "cache_write_1h", "reasoning", "tiers", "max_input", "max_output")
    picked = [m for m in models if m.get("tiers")][:20] + models[:10]
    for m in picked:
        entry = {k: v for k, v in m.items() if k in keep}
        write(corpus, "prices", json.dumps({"models": [entry]}).encode())
        entry = dict(entry, name="custom-" + m["name"])
        write(corpus, "prices", json.dumps({"models": [entry]}).encode())
    write(corpus, "prices", b'{"models":[{"name":"m","input":5,"output":7,"tiers":[{"above":100,"input":9}]}]}')


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
