#!/usr/bin/env bash
# On demand, not in CI: a blob above 5 GiB through berth serve on S3 (tests/s3/s3_big_blob_test.cpp).
#   scripts/big_blob.sh [BUILD_DIR] [BYTES]
# BUILD_DIR defaults to build/test (scripts/test.sh builds it); BYTES to 5.5 GiB + 7. Starts a
# radosgw of its own whose memory store holds twice the blob (the upload's pieces and the
# assembled object exist together for a moment), so it needs about 2 × BYTES of free memory and
# takes a few minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/test}
bytes=${2:-$((5 * 1024 * 1024 * 1024 + 512 * 1024 * 1024 + 7))}
dir=$(mktemp -d /tmp/berth-big-blob-XXXXXX)
trap 'bash "$here/scripts/radosgw.sh" stop "$dir" || true; rm -rf "$dir"' EXIT
RADOSGW_MEMSTORE_BYTES=$((2 * bytes + 1024 * 1024 * 1024)) \
  bash "$here/scripts/radosgw.sh" start "$dir" >/dev/null
BERTH_TEST_S3_ENDPOINT=$(cat "$dir/endpoint") BERTH_BINARY="$build/berth" \
  BERTH_BIG_BLOB_BYTES=$bytes "$build/tests/s3/berth_s3_big_blob_test"
