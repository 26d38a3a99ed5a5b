#!/usr/bin/env python3
"""Checks that every README snippet (the repository's and the packages') equals the tested
file it comes from.

A snippet in README.md is a fenced code block right after a marker line
    <!-- snippet: examples/rust/quick_tour.rs -->
and must equal the lines between `tour:start` and `tour:end` in that file (comment markers in
any language), with their common indentation removed. Exit status 1 lists every mismatch;
`--fix` rewrites the README from the files instead.
"""
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- snippet: (?P<path>\S+) -->\s*$")


def is_marker(line: str, word: str) -> bool:
    return re.fullmatch(rf"\s*(//|#|--)\s*tour:{word}\s*", line) is not None


def region(path: pathlib.Path) -> str:
    lines = path.read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if is_marker(l, "start"))
    end = next(i for i, l in enumerate(lines) if is_marker(l, "end"))
    return textwrap.dedent("\n".join(lines[start + 1 : end])).strip("\n")


# The repository's README and the package READMEs the registries show.
READMES = ("README.md", "bindings/node/README.md", "bindings/python/README.md")


def main() -> int:
    return max(check(ROOT / name, "--fix" in sys.argv) for name in READMES)


def check(readme: pathlib.Path, fix: bool) -> int:
    name = readme.relative_to(ROOT)
    lines = readme.read_text().splitlines()
    out, problems, i, found = [], [], 0, 0
    while i < len(lines):
        out.append(lines[i])
        m = MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        found += 1
        fence = lines[i + 1]
        assert fence.startswith("```"), f"README line {i + 2}: a code fence must follow the snippet marker"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        current = "\n".join(lines[i + 2 : end])
        wanted = region(ROOT / m["path"])
        if current != wanted:
            problems.append(m["path"])
        out.extend([fence, *wanted.splitlines(), lines[end]])
        i = end + 1
    if fix:
        readme.write_text("\n".join(out) + "\n")
        print(f"{name}: {found} snippet(s) written")
        return 0
    if problems:
        print(f"{name}: snippets differ from their files (run tests/readme_snippets.py --fix):")
        for p in problems:
            print("  " + p)
        return 1
    print(f"{name}: {found} snippet(s) match their files")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
