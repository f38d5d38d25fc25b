#!/usr/bin/env bash
# First pull through a proxy project vs a cached pull vs the same pull straight from the
# upstream, for one big blob. The upstream is Debian's docker-registry on 127.0.0.1 (no auth);
# berth caches it as project "cache". Each figure is curl's own time for one GET of the blob.
#   bench/proxy_pull.sh path/to/berth [size-MiB]
# The first pull and the direct pull read the same upstream; the cached pull reads berth's disk.
# BENCH_PAUSE=SECONDS pauses before the first pull and prints berth's pid (for perf record -p).
set -euo pipefail
berth=$(realpath "$1")
size_mib=${2:-100}
work=$(mktemp -d /tmp/berth-proxy-bench-XXXXXX)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

up_port=$(port)
cat >"$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/upstream
http:
  addr: 127.0.0.1:$up_port
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
echo $! >"$work/registry.pid"
until curl -sf "http://127.0.0.1:$up_port/v2/" >/dev/null; do sleep 0.1; done

head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/blob"
digest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"
location=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:$up_port/v2/bench/big/blobs/uploads/" |
  tr -d '\r' | sed -n 's/^Location: //Ip')
sep='?'
[[ "$location" == *\?* ]] && sep='&'
curl -sf -X PUT --data-binary @"$work/blob" -H 'Content-Type: application/octet-stream' \
  "$location${sep}digest=$digest" >/dev/null

cat >"$work/berth.yaml" <<YAML
proxies:
  - project: cache
    upstream: http://127.0.0.1:$up_port
YAML
"$berth" serve --config "$work/berth.yaml" --listen 127.0.0.1:0 --data "$work/berth" \
  --port-file "$work/berth.port" >"$work/berth.log" 2>&1 &
echo $! >"$work/berth.pid"
until [[ -s "$work/berth.port" ]]; do sleep 0.1; done
berth_port=$(cat "$work/berth.port")

get() {
  curl -sf -o "$work/out" -w '%{time_total} %{speed_download}' "$1"
  if ! cmp -s "$work/out" "$work/blob"; then echo "MISMATCH for $1" >&2; exit 1; fi
}
report() { awk -v what="$1" -v mib="$size_mib" '{printf "%-28s %7.3f s  %8.1f MiB/s\n", what, $1, $2/1048576}'; }
get "http://127.0.0.1:$up_port/v2/bench/big/blobs/$digest" | report "direct from upstream"
[[ -n "${BENCH_PAUSE:-}" ]] && { echo "berth pid $(cat "$work/berth.pid") port $berth_port digest $digest"; sleep "$BENCH_PAUSE"; }
get "http://127.0.0.1:$berth_port/v2/cache/bench/big/blobs/$digest" | report "first pull (miss)"
get "http://127.0.0.1:$berth_port/v2/cache/bench/big/blobs/$digest" | report "cached pull (hit)"
get "http://127.0.0.1:$up_port/v2/bench/big/blobs/$digest" | report "direct from upstream again"
get "http://127.0.0.1:$berth_port/v2/cache/bench/big/blobs/$digest" | report "cached pull again"
echo "($size_mib MiB blob, $(basename "$berth") at $berth)"
