#!/usr/bin/env bash
# Install a headless Chromium for the HTML report's browser test (tests/reporters/test_browser.py).
# Debian's package; needs root (CI runs as root). Safe to run again: it does nothing when present.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || chromium-browser --version)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
chromium --version
