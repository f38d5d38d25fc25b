#!/usr/bin/env bash
# Berth against CNCF Distribution, side by side (issues 3, 11 and 14). From a fresh clone:
#
#   bench/run.sh                    # --scale small, filesystem and SQLite
#   bench/run.sh --scale full --report bench-full.md
#   bench/run.sh --scale tiny --only manifest,catalog
#   bench/run.sh --scale small --only auth          # access control on: htpasswd for Distribution
#   bench/run.sh --shape s3 --scale small --report bench-s3.md   # S3 + PostgreSQL, 1 and 3 replicas
#   bench/run.sh --shape s3 --scale tiny                          # its smoke run (~7 min on a loaded 2-core machine)
#
# Installs what is missing (the build packages, Debian's docker-registry, nginx and htpasswd; for
# the S3 shape radosgw, Ceph and PostgreSQL too), builds berth and berth-bench in Release (-O2, no
# sanitizers) in build/bench, then runs `berth-bench run` (or `berth-bench s3` with --shape s3)
# with the other arguments given (see `build/bench/bench/berth-bench run --help`). Data
# directories, logs and the nginx/dd scratch files go to build/bench/work (same filesystem for
# both registries); it needs about 20 GB free at full scale.
#
# --shape s3 starts the project's own fixtures, scripts/radosgw.sh and scripts/postgres.sh, in a
# temporary directory (stopped on exit), with the radosgw memstore sized for the scale
# (RADOSGW_MEMSTORE_BYTES: 10 GiB of memory at small), makes databases berth_one and
# berth_three and Distribution's bucket, and runs the three deployments on them.
set -euo pipefail
cd "$(dirname "$0")/.."

shape=filesystem
scale=small
args=()
while (($# > 0)); do
  case "$1" in
    --shape) shape=$2; shift 2 ;;
    --shape=*) shape=${1#--shape=}; shift ;;
    --scale) scale=$2; args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ $shape == filesystem || $shape == s3 ]] || { echo "--shape filesystem|s3" >&2; exit 2; }

scripts/deps.sh build
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v nginx >/dev/null || need+=(nginx-light)  # any nginx will do; this is the smallest
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v htpasswd >/dev/null || need+=(apache2-utils)  # Distribution's htpasswd (auth-*)
if [[ $shape == s3 ]]; then
  command -v radosgw >/dev/null || need+=(radosgw ceph-mon ceph-osd ceph-common)
  [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]] || need+=(postgresql)
fi
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
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG -Wno-mismatched-new-delete -Wno-error=maybe-uninitialized" \
  -DBERTH_TESTS=OFF -DBERTH_SANITIZE=OFF -DBERTH_BENCH=ON "${launcher[@]}" >/dev/null
ninja -C build/bench -j"$jobs" berth berth-bench

if [[ $shape == filesystem ]]; then
  exec build/bench/bench/berth-bench run --work build/bench/work "${args[@]}"
fi

# ---- S3 + PostgreSQL
fixtures=$(mktemp -d /tmp/berth-bench-s3.XXXXXX)
stop_fixtures() {
  scripts/radosgw.sh stop "$fixtures/rgw" || true
  scripts/postgres.sh stop "$fixtures/pg" || true
}
trap stop_fixtures EXIT
case $scale in
  tiny) export RADOSGW_MEMSTORE_BYTES=${RADOSGW_MEMSTORE_BYTES:-$((2 << 30))} ;;
  *) export RADOSGW_MEMSTORE_BYTES=${RADOSGW_MEMSTORE_BYTES:-$((10 << 30))} ;;
esac
s3=$(scripts/radosgw.sh start "$fixtures/rgw" | tail -n 1)
pg=$(scripts/postgres.sh start "$fixtures/pg" | tail -n 1)
pg_port=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$pg")
for db in berth_one berth_three; do
  runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -h "$fixtures/pg" -p "$pg_port" \
    -U postgres -d postgres -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE $db" >/dev/null
done
# Berth creates its buckets; Distribution 2.8 expects its own to exist.
curl -sSf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user berth-test-access:berth-test-secret \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$s3/distribution" >/dev/null
rm -rf build/bench/work-s3
build/bench/bench/berth-bench s3 --work build/bench/work-s3 --s3-endpoint "$s3" \
  --postgres-url-one "${pg%/berth}/berth_one" --postgres-url-three "${pg%/berth}/berth_three" \
  --ceph-dir "$fixtures/rgw" --postgres-dir "$fixtures/pg" "${args[@]}"
