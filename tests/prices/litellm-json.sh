#!/usr/bin/env bash
# Prints the path of LiteLLM's model_prices_and_context_window.json exactly as the `litellm`
# wheel on PyPI ships it (the release pricing/prices.json was built from), for the price-file
# tests. The wheel is downloaded once into $WFLO_CACHE/litellm (pip's cache makes a fresh
# cache dir cheap too); only the JSON inside is read.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['source']['version'])" "$root/pricing/prices.json")
dir=${WFLO_CACHE:-$HOME/.cache/wflo}/litellm/$version
out=$dir/model_prices_and_context_window.json
if [ ! -s "$out" ]; then
    mkdir -p "$dir"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.11 -d "$dir" "litellm==$version" >&2
    python3 - "$dir" "$out" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/litellm-*.whl")[0]
data = zipfile.ZipFile(wheel).read("litellm/model_prices_and_context_window_backup.json")
open(sys.argv[2] + ".tmp", "wb").write(data)
PY
    mv "$out.tmp" "$out"
    rm -f "$dir"/litellm-*.whl
fi
echo "$out"
