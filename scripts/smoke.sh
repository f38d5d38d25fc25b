#!/usr/bin/env bash
# Smoke test of the README's first command: builds Berth the way scripts/serve.sh does
# (Release, no tests), starts it with its embedded defaults in a scratch directory, pushes and
# pulls one blob and one manifest with curl, and stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
ninja -C build/release berth
berth="$PWD/build/release/berth"

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
"$berth" serve --listen 127.0.0.1:0 --port-file port >server.log 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s port ]] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat port)"

fail() { echo "smoke: $*"; cat server.log; exit 1; }
curl -fsS "$url/v2/" >/dev/null || fail "GET /v2/ failed"
curl -fsS "$url/" | grep -q 'name="berth-base"' || fail "GET / did not serve the web UI"
printf 'hello berth' >blob
blob_digest="sha256:$(sha256sum blob | cut -d' ' -f1)"
curl -fsS -X POST --data-binary @blob -H 'Content-Type: application/octet-stream' \
  "$url/v2/smoke/app/blobs/uploads/?digest=$blob_digest" >/dev/null || fail "blob push failed"
printf '{"architecture":"amd64","os":"linux"}' >config
config_digest="sha256:$(sha256sum config | cut -d' ' -f1)"
curl -fsS -X POST --data-binary @config "$url/v2/smoke/app/blobs/uploads/?digest=$config_digest" \
  >/dev/null || fail "config push failed"
cat >manifest <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config_digest","size":$(stat -c%s config)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$blob_digest","size":$(stat -c%s blob)}]}
JSON
curl -fsS -X PUT --data-binary @manifest -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  "$url/v2/smoke/app/manifests/v1" >/dev/null || fail "manifest push failed"
curl -fsS "$url/v2/smoke/app/manifests/v1" | cmp - manifest || fail "manifest pulled back differs"
curl -fsS "$url/v2/smoke/app/blobs/$blob_digest" | cmp - blob || fail "blob pulled back differs"
[[ -f data/berth.db ]] || fail "the default data directory ./data was not used"
kill -TERM "$pid"
wait "$pid" || fail "berth did not exit cleanly on SIGTERM"
echo "smoke: release build pushes and pulls with its defaults"
