#!/usr/bin/env bash
# Installs Debian's Chromium (headless use only) when it is missing. Needs root and access to
# the Debian package archive; does nothing when /usr/bin/chromium already exists.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: /usr/bin/chromium is missing and we are not root; install it with" >&2
    echo "  apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
test -x /usr/bin/chromium
