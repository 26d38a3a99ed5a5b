#!/usr/bin/env python3
"""Builds the two ~5 MB benchmark corpora from text that ships on this machine.

  prose.txt  licence texts and /usr/share/doc copyright/README/changelog/NEWS files
  code.txt   about half Python standard library, half C headers from /usr/include

Deterministic for a given machine: sorted paths, duplicates (by content) dropped.
Usage: python3 bench/corpus.py OUT_DIR
"""
import glob
import gzip
import hashlib
import os
import sys

TARGET = 5_000_000


def read_text(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None


def collect(paths, target, seen):
    parts, size = [], 0
    for path in paths:
        if size >= target:
            break
        if not os.path.isfile(path):
            continue
        text = read_text(path)
        if not text or "\x00" in text:
            continue
        digest = hashlib.sha1(text.encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        parts.append(text if text.endswith("\n") else text + "\n")
        size += len(parts[-1].encode())
    return parts


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/wflo-corpus"
    os.makedirs(out, exist_ok=True)
    seen = set()
    prose_paths = sorted(glob.glob("/usr/share/common-licenses/*"))
    docs = sorted(glob.glob("/usr/share/doc/**/*", recursive=True))
    keep = ("copyright", "readme", "changelog", "news")
    prose_paths += [p for p in docs if os.path.basename(p).lower().startswith(keep)]
    prose = "".join(collect(prose_paths, TARGET, seen))
    python = sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True))
    headers = sorted(glob.glob("/usr/include/**/*.h", recursive=True))
    code = "".join(collect(python, TARGET // 2, seen)) + "".join(collect(headers, TARGET // 2, seen))
    for name, text in (("prose", prose), ("code", code)):
        data = text.encode("utf-8")
        with open(os.path.join(out, f"{name}.txt"), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes -> {out}/{name}.txt")


if __name__ == "__main__":
    main()
