#!/usr/bin/env bash
# Installs what is missing, builds Berth (release) and starts it with the embedded defaults:
# port 5000, data in ./data. Extra arguments go to `berth serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
ninja -C build/release berth
exec build/release/berth serve "$@"
