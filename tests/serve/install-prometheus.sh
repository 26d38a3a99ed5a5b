#!/usr/bin/env bash
# Installs Debian's Prometheus server when it is missing (the test starts its own instance;
# the package's service is not started). Needs root and access to the Debian package archive.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-prometheus: prometheus is missing and we are not root; install it with" >&2
    echo "  apt-get install -y --no-install-recommends prometheus" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends prometheus
command -v prometheus >/dev/null
