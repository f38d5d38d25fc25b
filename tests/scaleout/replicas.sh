#!/usr/bin/env bash
# Three `berth serve` replicas on one PostgreSQL and one S3 server (radosgw) behind Debian's
# nginx, round robin, no stickiness, access control on: the shape of "Outgrow one machine".
#
#   - podman logs in through the balancer; the token one replica signed works on every replica
#     (they share auth.signing_key), and skopeo, buildah and containerd push and pull with it;
#   - every image pushed through the balancer is pulled from each replica directly, byte for
#     byte;
#   - one upload, its chunks sent to different replicas, survives kill -9 of the replica that
#     took a chunk and of one cut in the middle of a PATCH: the client asks where the upload
#     stands, sends the rest to another replica, and the digest is verified without the bytes
#     being read back (the hash state is in PostgreSQL);
#   - garbage collection and retention on one replica while another pushes lose nothing.
#
#   bash tests/scaleout/replicas.sh PATH/TO/berth
#
# S3: the radosgw of the ctest fixture (BERTH_TEST_S3_ENDPOINT_FILE) or one started here.
# PostgreSQL: one started here (scripts/postgres.sh). Needs root, as the client tests do.
# shellcheck source=../clients/lib.sh
source "$(dirname "$0")/../clients/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ $REGISTRY_KIND == berth ]] || fail "$TEST_NAME tests Berth's replicas"
command -v nginx >/dev/null || fail "needs nginx (scripts/deps.sh test installs it)"

# Stopped after the replicas (lib.sh stops _pids first, then runs these).
_at_exit+=("$ROOT/scripts/postgres.sh stop $T/pg")

# --- PostgreSQL and S3 -------------------------------------------------------------------------
PG_URL=$("$ROOT/scripts/postgres.sh" start "$T/pg" | tail -n 1)
log "PostgreSQL at $PG_URL"
if [[ -n ${BERTH_TEST_S3_ENDPOINT_FILE:-} && -s ${BERTH_TEST_S3_ENDPOINT_FILE} ]]; then
  S3_ENDPOINT=$(tr -d '[:space:]' <"$BERTH_TEST_S3_ENDPOINT_FILE")
else
  _at_exit+=("$ROOT/scripts/radosgw.sh stop $T/rgw")
  S3_ENDPOINT=$("$ROOT/scripts/radosgw.sh" start "$T/rgw" | tail -n 1)
fi
log "S3 at $S3_ENDPOINT"

secret() { echo "$1-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; }
ADMIN_PW=$(secret admin)
WENDY_PW=$(secret wendy)
SECRETS=("$ADMIN_PW" "$WENDY_PW")
REPLICA_ENV=(
  "BERTH_STORAGE_DRIVER=s3" "BERTH_STORAGE_S3_ENDPOINT=$S3_ENDPOINT"
  "BERTH_STORAGE_S3_BUCKET=berth-replicas-$$-$RANDOM" "BERTH_STORAGE_S3_PATH_STYLE=true"
  "AWS_ACCESS_KEY_ID=berth-test-access" "AWS_SECRET_ACCESS_KEY=berth-test-secret"
  "BERTH_METADATA_DRIVER=postgres" "BERTH_METADATA_POSTGRES_URL=$PG_URL"
  "BERTH_ADMIN_PASSWORD=$ADMIN_PW" "BERTH_AUTH_SIGNING_KEY=$T/shared/token-signing.pem"
  "BERTH_LOG_ACCESS=false"
  # Short enough that this test's orphan blob is collected, long enough that a push under way
  # (blobs first, the manifest naming them seconds later) never loses one.
  "BERTH_GC_BLOB_GRACE=10s")
mkdir -p "$T/shared"

# --- replicas and the balancer -------------------------------------------------------------------
declare -A REPLICA_PID REPLICA_PORT
# start_replica N [PORT]: berth serve in $T/rN (its own data directory: nothing shared there).
start_replica() {
  local n=$1 listen=127.0.0.1:${2:-0} pid port
  rm -f "$T/r$n.port"
  env "${REPLICA_ENV[@]}" "$BERTH_BIN" serve --listen "$listen" --data "$T/r$n" \
    --port-file "$T/r$n.port" >>"$T/r$n.log" 2>&1 &
  pid=$!
  _pids+=("$pid")
  _server_pid=$pid
  port=$(_wait_port_file "$T/r$n.port")
  REG=127.0.0.1:$port
  _wait_for_v2 "$pid" || fail "replica $n on $REG did not answer GET /v2/"
  REPLICA_PID[$n]=$pid
  REPLICA_PORT[$n]=$port
  log "replica $n: pid $pid on 127.0.0.1:$port"
}
# The first one migrates the database, creates the administrator and the signing key; the
# others find them.
start_replica 1
start_replica 2
start_replica 3
_server_pid=""
[[ -s $T/shared/token-signing.pem ]] || fail "no shared signing key was written"

start_nginx() {
  local port i
  mkdir -p "$T/nginx"
  for ((i = 0; i < 20; i++)); do
    port=$(_pick_port)
    cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log $T/nginx/access.log;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  upstream berth {
    server 127.0.0.1:${REPLICA_PORT[1]} max_fails=1 fail_timeout=5s;
    server 127.0.0.1:${REPLICA_PORT[2]} max_fails=1 fail_timeout=5s;
    server 127.0.0.1:${REPLICA_PORT[3]} max_fails=1 fail_timeout=5s;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 0;
    location / {
      proxy_pass http://berth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
    }
  }
}
EOF
    nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >"$T/nginx/stderr.log" 2>&1 &
    local pid=$!
    for ((w = 0; w < 50; w++)); do
      curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/v2/" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      _pids+=("$pid")
      LB=127.0.0.1:$port
      log "nginx balancing on $LB"
      return
    fi
    grep -q "Address already in use" "$T/nginx/error.log" "$T/nginx/stderr.log" 2>/dev/null ||
      fail "nginx did not start: $(cat "$T/nginx/stderr.log" "$T/nginx/error.log" 2>/dev/null)"
  done
  fail "nginx found no free port in 20 tries"
}
start_nginx
REG=$LB
ADMIN=(-u "admin:$ADMIN_PW")

# api METHOD PATH [JSON]: an administrator's /api/v1 call through the balancer; fails on >= 300.
api() {
  local code
  code=$(curl -sS -o "$T/api.out" -w '%{http_code}' -X "$1" "${ADMIN[@]}" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "http://$LB/api/v1/$2")
  ((code < 300)) || fail "$1 /api/v1/$2 answered $code: $(cat "$T/api.out")"
  cat "$T/api.out"
}
api POST projects '{"name": "team"}' >/dev/null
api POST users "{\"name\": \"wendy\", \"password\": \"$WENDY_PW\"}" >/dev/null
api PUT projects/team/members/wendy '{"role": "writer"}' >/dev/null

# --- tokens from any replica work on all -------------------------------------------------------
# bearer_token REPLICA SCOPE: a token for wendy issued by that replica.
bearer_token() {
  curl -sS -u "wendy:$WENDY_PW" \
    "http://127.0.0.1:${REPLICA_PORT[$1]}/token?service=berth&scope=$2" | jq -r .token
}
for n in 1 2 3; do
  token=$(bearer_token "$n" "repository:team/probe:pull")
  [[ -n $token && $token != null ]] || fail "replica $n issued no token"
  for m in 1 2 3; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
      "http://127.0.0.1:${REPLICA_PORT[$m]}/v2/team/probe/tags/list")
    assert_eq 404 "$code" "a token of replica $n on replica $m (an unknown repository: 404, not 401)"
  done
done

# --- real clients through the balancer -----------------------------------------------------------
use_container_storage
run podman login --tls-verify=false -u wendy --password-stdin "$LB" <<<"$WENDY_PW"

SRC="$T/src"
make_random_file "$T/small.bin" 2048
make_random_file "$T/medium.bin" $((3 * 1024 * 1024))
make_random_file "$T/large.bin" $((24 * 1024 * 1024))
umoci_image "$SRC" base
umoci_add "$SRC" base "$T/small.bin" /data/small.bin
umoci_add "$SRC" base "$T/medium.bin" /data/medium.bin
umoci_add "$SRC" base "$T/large.bin" /data/large.bin
BASE=$(layout_tag_digest "$SRC" base)

run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false "oci:$SRC:base" \
  "docker://$LB/team/app:1"

# pull_from_each IMAGE DIGEST: skopeo copies IMAGE from every replica (directly) and the result
# is the source's closure, byte for byte.
pull_from_each() {
  local image=$1 digest=$2 n out
  for n in 1 2 3; do
    out="$T/pulled-$n-$RANDOM"
    run "${SKOPEO[@]}" copy --preserve-digests --src-tls-verify=false \
      --src-creds "wendy:$WENDY_PW" "docker://127.0.0.1:${REPLICA_PORT[$n]}/$image" "oci:$out:x"
    assert_eq "$digest" "$(layout_tag_digest "$out" x)" "$image from replica $n"
    assert_layout_copy "$SRC" "$out" "$digest" "$image from replica $n"
  done
}
pull_from_each team/app:1 "$BASE"

# buildah builds and pushes through the balancer; containerd pulls it through the balancer.
ctr_id=$(capture buildah from scratch)
run buildah copy "$ctr_id" "$T/small.bin" /data/extra.bin
run buildah copy "$ctr_id" "$T/medium.bin" /data/medium.bin
run buildah commit --rm "$ctr_id" localhost/scaleout/built:1
run buildah push --tls-verify=false localhost/scaleout/built:1 "docker://$LB/team/built:1"
start_containerd
run "${CTR[@]}" images pull --plain-http --user "wendy:$WENDY_PW" "$LB/team/built:1"
got=$(capture "${CTR[@]}" images ls -q | grep -c "team/built:1" || true)
assert_eq 1 "$got" "containerd has team/built:1"

# --- one upload across replicas, with two of them killed ----------------------------------------
# Five 2 MiB chunks: POST on replica 1, chunk 1 on 2, which is killed; chunk 2 on 3; chunk 3 to
# replica 1 is cut in the middle (replica 1 killed); the client asks replica 3 where the upload
# stands and sends the rest there, closes it on replica 2 (restarted) with the digest.
make_random_file "$T/upload.bin" $((10 * 1024 * 1024))
UPLOAD_DIGEST="sha256:$(sha256sum "$T/upload.bin" | cut -d' ' -f1)"
CHUNK=$((2 * 1024 * 1024))
split -b "$CHUNK" -d -a 1 "$T/upload.bin" "$T/chunk."

TOKEN=$(bearer_token 1 "repository:team/upload:pull,push")
AUTH=(-H "Authorization: Bearer $TOKEN")
replica_url() { echo "http://127.0.0.1:${REPLICA_PORT[$1]}"; }
curl -sS -D "$T/post.h" -o /dev/null -X POST "${AUTH[@]}" "$(replica_url 1)/v2/team/upload/blobs/uploads/"
LOCATION=$(header_value "$T/post.h" Location)
[[ $LOCATION == /v2/team/upload/blobs/uploads/* ]] || fail "POST gave Location '$LOCATION'"

# patch REPLICA FILE FIRST: one chunk; prints the status.
patch() {
  local size last
  size=$(stat -c %s "$2")
  last=$(($3 + size - 1))
  curl -sS -o "$T/patch.out" -w '%{http_code}' -X PATCH "${AUTH[@]}" \
    -H "Content-Type: application/octet-stream" -H "Content-Range: $3-$last" \
    --data-binary "@$2" "$(replica_url "$1")$LOCATION"
}
assert_eq 202 "$(patch 2 "$T/chunk.0" 0)" "chunk 1 on replica 2"
kill -KILL "${REPLICA_PID[2]}"
log "killed replica 2 (pid ${REPLICA_PID[2]}) after it acknowledged chunk 1"
assert_eq 202 "$(patch 3 "$T/chunk.1" "$CHUNK")" "chunk 2 on replica 3"
# Chunk 3 trickles into replica 1, which is killed while it arrives.
curl -sS -o /dev/null --limit-rate 256k -X PATCH "${AUTH[@]}" \
  -H "Content-Type: application/octet-stream" -H "Content-Range: $((2 * CHUNK))-$((3 * CHUNK - 1))" \
  --data-binary "@$T/chunk.2" "$(replica_url 1)$LOCATION" >"$T/cut-patch.log" 2>&1 &
cut_patch=$!
sleep 2
kill -KILL "${REPLICA_PID[1]}"
log "killed replica 1 (pid ${REPLICA_PID[1]}) in the middle of a PATCH"
wait "$cut_patch" && fail "the PATCH to the killed replica 1 succeeded"
# Where does the upload stand? Only what was acknowledged counts.
curl -sS -D "$T/status.h" -o /dev/null "${AUTH[@]}" "$(replica_url 3)$LOCATION"
range=$(header_value "$T/status.h" Range)
assert_eq "0-$((2 * CHUNK - 1))" "$range" "Range of the upload after the cut PATCH"
assert_eq 202 "$(patch 3 "$T/chunk.2" $((2 * CHUNK)))" "chunk 3 again, on replica 3"
assert_eq 202 "$(patch 3 "$T/chunk.3" $((3 * CHUNK)))" "chunk 4 on replica 3"
start_replica 2 "${REPLICA_PORT[2]}"
start_replica 1 "${REPLICA_PORT[1]}"
_server_pid=""
separator='?'
[[ $LOCATION == *\?* ]] && separator='&'
code=$(curl -sS -o "$T/put.out" -w '%{http_code}' -X PUT "${AUTH[@]}" \
  -H "Content-Type: application/octet-stream" -H "Content-Range: $((4 * CHUNK))-$((5 * CHUNK - 1))" \
  --data-binary "@$T/chunk.4" "$(replica_url 2)$LOCATION${separator}digest=$UPLOAD_DIGEST")
assert_eq 201 "$code" "closing PUT on replica 2 ($(cat "$T/put.out"))"
UPLOADED_AT=$SECONDS
for n in 1 2 3; do
  curl -sS -o "$T/pulled.bin" "${AUTH[@]}" "$(replica_url "$n")/v2/team/upload/blobs/$UPLOAD_DIGEST"
  cmp -s "$T/upload.bin" "$T/pulled.bin" || fail "the blob from replica $n differs from what was sent"
done
# The closing PUT went to a replica that had never seen the upload: it took the hash state
# from PostgreSQL. (Replica 3, which took the chunks after the cut PATCH, may have read back
# what the killed replica 1 stored of it: that is not acknowledged, so it is not in the state.)
if grep -h "read back" "$T/r2.log"; then
  fail "replica 2 read the upload back to finish its hash"
fi

# --- GC and retention on one replica while another pushes ----------------------------------------
# The blob uploaded above is linked to team/upload, but no manifest names it: once it is older
# than the grace, garbage collection takes it. Collections run back to back on replica 1, and
# retention on replica 2, while skopeo pushes a new image through replica 3.
make_random_file "$T/gc.bin" $((8 * 1024 * 1024))
umoci_image "$SRC" second
umoci_add "$SRC" second "$T/gc.bin" /data/gc.bin
SECOND=$(layout_tag_digest "$SRC" second)
# Retention keeps the 10 newest tags per repository: it runs, and has nothing to delete.
api PUT projects/team/settings \
  '{"retention": {"enabled": false, "rules": {"keep_last": 10}}}' >/dev/null
while ((SECONDS < UPLOADED_AT + 11)); do sleep 0.5; done
"${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  --dest-creds "wendy:$WENDY_PW" "oci:$SRC:second" \
  "docker://127.0.0.1:${REPLICA_PORT[3]}/team/second:1" >"$T/second-push.log" 2>&1 &
pusher=$!
runs=0 removed=0
while ((runs < 2)) || kill -0 "$pusher" 2>/dev/null; do
  code=$(curl -sS -o "$T/gc.out" -w '%{http_code}' -X POST "${ADMIN[@]}" \
    -H 'Content-Type: application/json' -d '{}' "$(replica_url 1)/api/v1/gc")
  assert_eq 200 "$code" "GC on replica 1 ($(cat "$T/gc.out"))"
  removed=$((removed + $(jq .blobs_removed "$T/gc.out")))
  code=$(curl -sS -o "$T/retention.out" -w '%{http_code}' -X POST "${ADMIN[@]}" \
    "$(replica_url 2)/api/v1/projects/team/retention/run")
  assert_eq 200 "$code" "retention run on replica 2 ($(cat "$T/retention.out"))"
  runs=$((runs + 1))
done
wait "$pusher" || fail "the push beside GC failed: $(tail -n 5 "$T/second-push.log")"
log "$runs collections beside the push removed $removed blobs"
((removed >= 1)) || fail "GC removed nothing: the orphan blob of team/upload should have gone"
code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" \
  "$(replica_url 3)/v2/team/upload/blobs/$UPLOAD_DIGEST")
assert_eq 404 "$code" "the collected orphan blob"
pull_from_each team/second:1 "$SECOND"
pull_from_each team/app:1 "$BASE"

# --- nothing secret in any log ----------------------------------------------------------------------
for f in "$T"/r?.log "$T/nginx/error.log"; do
  for s in "${SECRETS[@]}" berth-test-secret; do
    grep -qF "$s" "$f" && fail "a secret appears in $f"
  done
done
log "three replicas behind nginx: clients, tokens, killed replicas, GC beside pushes all held"
