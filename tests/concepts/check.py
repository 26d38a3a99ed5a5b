#!/usr/bin/env python3
"""Checks docs/concepts.md against the code: every `name @ path` cell names an item that the
file still defines (the name as a whole word on a line that declares it), so the map of
concepts across faces cannot drift. Prints 'N passed, N failed'."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FACES = {
    "Go": "bindings/go",
    "Node": "bindings/node",
    "Python": "bindings/python/python/wflo",
    "Kotlin": "bindings/kotlin/src/main/kotlin/dev/wflo",
}
# A line that declares the name, in any of the languages.
DECLARES = (r"\b(fn|struct|enum|type|mod|func|function|class|def|fun|object|val|const|let|var|"
            r"interface|typedef|async|get|pub)\b|^\s*[A-Za-z_]+\s*\(|=>|:\s*\(|=\s*\(|\(\)\s*\{|#\[")


def cells(text):
    rows = [l for l in text.splitlines() if l.startswith("| ") and "@" in l]
    header = next(l for l in text.splitlines() if l.startswith("| concept"))
    faces = [c.strip() for c in header.strip("|").split("|")][1:]
    for row in rows:
        parts = [c.strip() for c in row.strip("|").split("|")]
        concept, values = parts[0], parts[1:]
        for face, cell in zip(faces, values):
            m = re.fullmatch(r"`([^`]+)` @ (\S+)", cell)
            if m:
                yield concept, face, m.group(1), m.group(2)
            elif cell != "—":
                yield concept, face, None, cell


def main() -> int:
    text = (ROOT / "docs/concepts.md").read_text()
    passed = failed = 0
    for concept, face, name, path in cells(text):
        if name is None:
            print(f"FAIL {concept} / {face}: cell '{path}' is not `name @ path`")
            failed += 1
            continue
        face_dir = next((d for f, d in FACES.items() if face.startswith(f)), None)
        if path.startswith("…/"):
            path = f"{face_dir}/{path[2:]}"
        file = ROOT / path
        if not file.exists():
            print(f"FAIL {concept} / {face}: {path} does not exist")
            failed += 1
            continue
        word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
        lines = [l for l in file.read_text().splitlines() if word.search(l)]
        if any(re.search(DECLARES, l) for l in lines):
            passed += 1
        else:
            print(f"FAIL {concept} / {face}: {name} is not declared in {path}")
            failed += 1
    print(f"concepts: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
