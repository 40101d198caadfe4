#!/usr/bin/env bash
# Install what the report checks use, from Debian's packages and the npm registry:
#   - chromium: the browser test renders report.html headless and screenshots it;
#   - Allure 3 (into tools/allure): `sopdrill report` renders the Allure HTML offline
#     with Node alone. Optional: a failure here is said, not fatal.
# Idempotent. CI runs it; by hand: scripts/report-tools.sh
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "report-tools: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  say "installing chromium from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

# Allure 3 (npm's `allure`) renders the Allure HTML with Node alone; an older checkout's
# allure-commandline (Java) is replaced by it.
if [ ! -f tools/allure/node_modules/allure/package.json ]; then
  if command -v npm >/dev/null 2>&1; then
    say "installing Allure 3 (npm package allure@3) into tools/allure"
    rm -rf tools/allure
    npm install --prefix tools/allure --no-audit --no-fund --silent allure@3 >&2 \
      || say "allure did not install; the Allure HTML step will be skipped"
  else
    say "npm missing (apt install nodejs npm): the Allure HTML step will be skipped"
  fi
fi
