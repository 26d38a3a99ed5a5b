#!/usr/bin/env python3
"""Checks docs/concepts.md against the code: every `name @ path` cell names an item that the
file still defines (the name as a whole word on a line that declares it), so the map of
concepts across faces cannot drift; and the types a user holds (rows whose concept is in
EXPORTED) are public from each face's package entry point. Prints 'N passed, N failed'."""
import ast
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


# The objects a user holds: each face must make them public where its package is imported.
EXPORTED = ("engine", "execution", "step scope", "reservation", "stream")


def python_public():
    """The Python package's public names: `_HOMES` (name -> module, each loaded on first use)
    and `_SUBMODULES` in wflo/__init__.py, or a literal `__all__`."""
    tree = ast.parse((ROOT / FACES["Python"] / "__init__.py").read_text())
    public = set()
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in ("_HOMES", "_SUBMODULES", "__all__")):
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:  # a computed __all__: the literals it is made from are read instead
            continue
        for names in (value.values() if isinstance(value, dict) else [value]):
            public.update(names)
    return public


def exported(face, name, file):
    """Whether `name` is public from the face's entry point (None: nothing to check)."""
    if face.startswith("Node"):
        entry = (ROOT / FACES["Node"] / "index.cjs").read_text()
        # Every export is listed, by name in quotes, in index.cjs's exportsInOrder.
        block = entry[entry.index("const exportsInOrder"):entry.index("module.exports")]
        return re.search(rf"'{re.escape(name)}'", block) is not None
    if face.startswith("Python"):
        return name in python_public()
    if face.startswith("Kotlin"):
        decl = re.compile(rf"\b(class|interface|object)\s+{re.escape(name)}\b")
        lines = [l for l in file.read_text().splitlines() if decl.search(l)]
        return bool(lines) and not any(re.search(r"\b(internal|private)\b", l.split(name)[0]) for l in lines)
    if face.startswith("Go"):
        return name[:1].isupper()
    return None


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
        if not any(re.search(DECLARES, l) for l in lines):
            print(f"FAIL {concept} / {face}: {name} is not declared in {path}")
            failed += 1
            continue
        if concept.startswith(EXPORTED) and exported(face, name, file) is False:
            print(f"FAIL {concept} / {face}: {name} is not public from the {face} package")
            failed += 1
            continue
        passed += 1
    print(f"concepts: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
