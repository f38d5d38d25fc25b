#!/usr/bin/env bash
# Installs what is missing, builds everything with AddressSanitizer and UndefinedBehaviorSanitizer,
# runs every test (unit, API against the built binary, real clients, crash safety), then builds
# the libFuzzer targets with clang and runs each one briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/logs

# On a fresh machine most of the packages are the clients and servers the tests drive (Ceph,
# PostgreSQL, podman, Chromium, ...): they download and unpack while the tests compile, which
# only needs the compilers and GoogleTest. Nothing runs a test before they are in.
scripts/deps.sh test-build
scripts/deps.sh test >build/logs/deps.log 2>&1 &
deps=$!

jobs=$(nproc)
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON >/dev/null
ninja -C build/test -j"$jobs"

if ! wait "$deps"; then
  cat build/logs/deps.log
  echo "Installing the test packages failed (log above)." >&2
  exit 1
fi

# Many tests spend their time waiting (on servers, real clients, killed processes), so the
# Release build of the smoke test and the fuzz build compile meanwhile, at idle priority so that
# they only take what the tests leave. Their output goes to a log shown if they fail.
# The fuzz build has no server, so no web UI either (BERTH_UI=OFF: no npm run there). The Release
# build embeds the UI like the test build: both run scripts/build_ui.sh, which takes turns on
# ui/node_modules.
CC=clang-16 CXX=clang++-16 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF -DBERTH_UI=OFF >/dev/null
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
(nice -n 19 ninja -C build/release -j"$jobs" berth && nice -n 19 ninja -C build/fuzz -j"$jobs") \
  >build/logs/background-builds.log 2>&1 &
background=$!
# If a test fails, stop the background builds too (ninja stops its compilers on SIGTERM).
trap 'pkill -TERM -P "$background" 2>/dev/null || true; kill "$background" 2>/dev/null || true' EXIT

ctest --test-dir build/test --output-on-failure -j"$jobs" --timeout 900

if ! wait "$background"; then
  cat build/logs/background-builds.log
  echo "The Release or fuzz build failed (log above)." >&2
  exit 1
fi
trap - EXIT

# The README's first command builds a Release binary: make sure it builds and serves.
scripts/smoke.sh
# ...and that its Debian package installs what it should.
scripts/package.sh build/release >/dev/null

ninja -C build/fuzz -j"$jobs"
ctest --test-dir build/fuzz --output-on-failure -j"$jobs" --timeout 300
echo "All tests passed."
