#!/usr/bin/env bash
# Runs the web UI's browser tests against a berth binary:
#   bash ui/tests/run.sh PATH/TO/berth [SCREENSHOT_DIR]
# Each test file starts its own berth (port 0, a temporary data directory) and drives Debian's
# chromium (/usr/bin/chromium, or $BERTH_UI_CHROMIUM) through playwright-core. Screenshots of
# every page in both themes, and page-views.json (requests and milliseconds per page view), go
# to SCREENSHOT_DIR. BERTH_UI_KEEP=1 keeps the servers' data directories and logs.
set -euo pipefail
ui=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -lt 1 || ! -x $1 ]]; then
  echo "usage: $0 PATH/TO/berth [SCREENSHOT_DIR]" >&2
  exit 2
fi
BERTH_BINARY=$(realpath "$1")
BERTH_UI_SCREENSHOTS=$(realpath -m "${2:-$ui/../build/ui-screenshots}")
export BERTH_BINARY BERTH_UI_SCREENSHOTS
rm -rf "$BERTH_UI_SCREENSHOTS"
mkdir -p "$BERTH_UI_SCREENSHOTS"
cd "$ui"
# The test tools are dev dependencies pinned in package-lock.json (the build installs them).
if [[ ! -f node_modules/playwright-core/package.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
exec node --test tests/signed_in.test.mjs tests/open.test.mjs
