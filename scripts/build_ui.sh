#!/usr/bin/env bash
# Builds the web UI (ui/) into a directory outside the source tree, for CMake (src/ui/): installs
# its pinned packages with `npm ci` when ui/package-lock.json changed since the last install,
# type-checks, runs Vite and writes a .gz and .br beside each text file.
#   scripts/build_ui.sh <ui dir> <output dir>
#
# scripts/test.sh configures two build directories and builds them at once; both share
# ui/node_modules, and `npm ci` first deletes it. So the whole build holds a lock: an flock on
# ui/package-lock.json itself (a lock file of our own would be one more file in the source tree).
set -euo pipefail
ui=$(cd "$1" && pwd)
out=$2

exec 9<"$ui/package-lock.json"
flock 9

stamp="$ui/node_modules/.berth-package-lock.sha256"
want=$(sha256sum <"$ui/package-lock.json" | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "npm ci in $ui (package-lock.json changed)"
  (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

cd "$ui"
node node_modules/typescript/bin/tsc --noEmit -p .
node node_modules/vite/bin/vite.js build --logLevel warn --outDir "$out" --emptyOutDir
node scripts/compress.mjs "$out"
