#!/usr/bin/env bash
# Installs what is missing, builds everything with AddressSanitizer and UndefinedBehaviorSanitizer,
# runs every test (unit, API against the built binary, real clients, crash safety), then builds
# the libFuzzer targets with clang and runs each one briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

jobs=$(nproc)
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON >/dev/null
ninja -C build/test -j"$jobs"
ctest --test-dir build/test --output-on-failure -j"$jobs" --timeout 900

# The README's first command builds a Release binary: make sure it builds and serves.
scripts/smoke.sh

CC=clang-16 CXX=clang++-16 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF >/dev/null
ninja -C build/fuzz -j"$jobs"
ctest --test-dir build/fuzz --output-on-failure --timeout 300
echo "All tests passed."
