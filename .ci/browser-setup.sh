#!/usr/bin/env bash
# Install a headless Chromium for the HTML report's browser test (tests/reporters/test_browser.py),
# from Debian's packages. Needs root and apt-get (CI has both); anywhere else it says so and the
# browser test skips with that reason. Safe to run again: it does nothing when Chromium is present.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "browser-setup: chromium already installed"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser-setup: not root or no apt-get; the HTML browser test will be skipped"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
  echo "browser-setup: installed $(chromium --version 2>/dev/null)"
else
  echo "browser-setup: could not install chromium; the HTML browser test will be skipped"
fi
exit 0
