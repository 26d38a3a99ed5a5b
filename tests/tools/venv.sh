#!/usr/bin/env bash
# Creates (or reuses) a Python virtual environment with pinned packages and prints its path:
#   tests/tools/venv.sh NAME REQUIREMENTS_FILE
# The environment lives in $WFLO_CACHE/venvs/NAME (default ~/.cache/wflo) so fresh clones
# reuse it; it is rebuilt whenever the requirements file changes.
set -euo pipefail
name=$1
requirements=$2
cache=${WFLO_CACHE:-$HOME/.cache/wflo}
dir="$cache/venvs/$name"
stamp="$dir/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$dir/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$dir"
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    echo "$want" > "$stamp"
fi
echo "$dir"
