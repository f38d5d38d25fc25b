#!/usr/bin/env bash
# The browse API on large listings (issue 12): a repository with 10,000 tags and a project with
# 10,000 repositories, filled with real pushes (one config and one layer, 10,000 manifests that
# differ by an annotation), then the first page of each listing timed. Not part of CI.
#   bench/browse.sh path/to/berth [tags] [repositories] [rounds]
# Each figure is the median (and the slowest) of `rounds` GETs over one keep-alive connection,
# measured by the client from sending the request to reading the whole body.
set -euo pipefail
berth=$(realpath "$1")
tags=${2:-10000}
repositories=${3:-10000}
rounds=${4:-50}
work=$(mktemp -d /tmp/berth-browse-bench-XXXXXX)
trap 'kill $(cat "$work/berth.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

"$berth" serve --data "$work/data" --listen 127.0.0.1:0 --port-file "$work/port" \
  >"$work/berth.log" 2>&1 &
echo $! >"$work/berth.pid"
until [[ -s "$work/port" ]]; do sleep 0.1; done
port=$(cat "$work/port")

python3 - "$port" "$tags" "$repositories" "$rounds" <<'PY'
import hashlib, http.client, json, statistics, sys, time

port, tags, repositories, rounds = (int(a) for a in sys.argv[1:])
conn = http.client.HTTPConnection("127.0.0.1", port)

def request(method, path, body=b"", headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:200]!r}")
    return data

def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()

config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"},
                     "config": {}}).encode()
layer = b"x" * 4096
for blob in (config, layer):
    request("POST", f"/v2/bench/big/blobs/uploads/?digest={digest(blob)}", blob,
            {"Content-Type": "application/octet-stream"})

def manifest(i):
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(layer), "size": len(layer)}],
        "annotations": {"n": str(i)}}).encode()

kind = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
start = time.monotonic()
for i in range(tags):
    request("PUT", f"/v2/bench/big/manifests/build-{i}", manifest(i), kind)
print(f"pushed {tags} tags in {time.monotonic() - start:.0f} s", flush=True)
start = time.monotonic()
for i in range(repositories):
    name = f"many/repo-{i:05d}"
    for blob in (config, layer):
        request("POST", f"/v2/{name}/blobs/uploads/?mount={digest(blob)}&from=bench/big")
    request("PUT", f"/v2/{name}/manifests/latest", manifest(i), kind)
print(f"pushed {repositories} repositories in {time.monotonic() - start:.0f} s", flush=True)

def timed(label, path):
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        body = request("GET", path)
        times.append((time.perf_counter() - begin) * 1000)
    page = json.loads(body)
    print(f"{label:48} median {statistics.median(times):6.1f} ms   max {max(times):6.1f} ms"
          f"   ({len(page['items'])} of {page['total']})")

timed("tags, first page by name (50)", "/api/v1/repositories/bench/big/-/tags")
timed("tags, first page by push time (50)", "/api/v1/repositories/bench/big/-/tags?sort=pushed")
timed("tags, first page by size (50)", "/api/v1/repositories/bench/big/-/tags?sort=size")
timed("tags, page 100 by name (50)", "/api/v1/repositories/bench/big/-/tags?offset=4950")
timed("tags, filtered 'build-99' (50)", "/api/v1/repositories/bench/big/-/tags?q=build-99")
timed("repositories, first page by name (50)", "/api/v1/projects/many/repositories")
timed("repositories, first page by last push (50)",
      "/api/v1/projects/many/repositories?sort=last_push")
PY
