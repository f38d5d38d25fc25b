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
# The test tools are dev dependencies pinned in package-lock.json, installed by the build
# (scripts/build_ui.sh). A build in another directory may run `npm ci` meanwhile (scripts/test.sh
# builds the Release binary while the tests run), which empties node_modules: a shared lock on
# the file that build_ui.sh locks exclusively keeps it out until the tests are done.
exec 9<package-lock.json
flock -s 9
if [[ ! -f node_modules/playwright-core/package.json ]]; then
  echo "ui/node_modules lacks playwright-core: build berth with BERTH_UI=ON first (it runs npm ci)" >&2
  exit 2
fi
node --test tests/signed_in.test.mjs tests/open.test.mjs
