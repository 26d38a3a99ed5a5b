"""Fills a tiktoken cache directory from the vocabularies already on this machine, so Python
tiktoken runs without the network (it would download them at first use).

The bpe-openai crate, which wflo builds on, ships OpenAI's o200k_base and cl100k_base files
verbatim (gzipped); tiktoken looks a file up in TIKTOKEN_CACHE_DIR under the SHA-1 of its URL
and checks its SHA-256, so a wrong or altered file is refused, never used.

Usage: python3 bench/python/tiktoken_cache.py CACHE_DIR   (run from the repository)
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys

BASE = "https://openaipublic.blob.core.windows.net/encodings/"
SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}


def bpe_openai_data() -> str:
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked"],
                                     capture_output=True, text=True, check=True).stdout)
    for package in meta["packages"]:
        if package["name"] == "bpe-openai":
            return os.path.join(os.path.dirname(package["manifest_path"]), "data")
    raise SystemExit("tiktoken_cache: bpe-openai is not in the workspace's dependencies")


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    data = None
    for name, want in SHA256.items():
        dest = os.path.join(out, hashlib.sha1(f"{BASE}{name}.tiktoken".encode()).hexdigest())
        if os.path.exists(dest):
            continue
        data = data or bpe_openai_data()
        with gzip.open(os.path.join(data, f"{name}.tiktoken.gz")) as f:
            body = f.read()
        if hashlib.sha256(body).hexdigest() != want:
            raise SystemExit(f"tiktoken_cache: {name} differs from OpenAI's file")
        with open(dest + ".tmp", "wb") as f:
            f.write(body)
        os.replace(dest + ".tmp", dest)
    print(f"tiktoken vocabularies in {out}")


if __name__ == "__main__":
    main()
