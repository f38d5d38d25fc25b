#!/usr/bin/env bash
# Berth against CNCF Distribution, side by side (issue 3). From a fresh clone:
#
#   bench/run.sh                    # --scale small
#   bench/run.sh --scale full --report bench-full.md
#   bench/run.sh --scale tiny --only manifest,catalog
#
# Installs what is missing (the build packages, Debian's docker-registry and nginx), builds
# berth and berth-bench in Release (-O2, no sanitizers) in build/bench, then runs
# `berth-bench run` with the arguments given (see `build/bench/bench/berth-bench run --help`).
# Data directories, logs and the nginx/dd scratch files go to build/bench/work (same filesystem
# for both registries); it needs about 20 GB free at full scale.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v nginx >/dev/null || need+=(nginx-light)  # any nginx will do; this is the smallest
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]} > 0)); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

jobs=$(($(nproc) < 2 ? $(nproc) : 2))
# GCC 12 at -O2 raises two false positives in src/ (mismatched-new-delete on Asio's coroutine
# frames, maybe-uninitialized in std::optional<std::expected>) that the Debug test build never
# sees; they stay warnings here so that the bench builds.
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG -Wno-mismatched-new-delete -Wno-error=maybe-uninitialized" \
  -DBERTH_TESTS=OFF -DBERTH_SANITIZE=OFF -DBERTH_BENCH=ON >/dev/null
ninja -C build/bench -j"$jobs" berth berth-bench

exec build/bench/bench/berth-bench run --work build/bench/work "$@"
