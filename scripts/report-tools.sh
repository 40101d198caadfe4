#!/usr/bin/env bash
# Install what the report checks use, from Debian's packages and the npm registry:
#   - chromium: the browser test renders report.html headless and screenshots it;
#   - allure-commandline (into tools/allure): `sopdrill report` renders the Allure HTML
#     offline when it and Java are present. Optional: a failure here is said, not fatal.
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

if [ ! -x tools/allure/node_modules/.bin/allure ]; then
  if command -v npm >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
    say "installing allure-commandline into tools/allure"
    npm install --prefix tools/allure --no-audit --no-fund --silent allure-commandline >&2 \
      || say "allure-commandline did not install; the Allure HTML step will be skipped"
  else
    say "npm or java missing: the Allure HTML step will be skipped"
  fi
fi
