# shellcheck shell=bash
# Shared harness for the real-client tests: source it first from every script in this folder.
#
# A script here is run as `bash tests/clients/NAME.sh PATH/TO/berth`. Sourcing this file:
#
#   1. re-executes the script inside a private mount namespace (`unshare -m`), so that every mount
#      the clients make (overlay layers, containerd snapshots, the bind mounts below) disappears
#      with the test, and nothing it mounts is seen by other tests running at the same time;
#   2. makes a work directory $T (mktemp) that is deleted on exit (BERTH_CLIENTS_KEEP=1 keeps it);
#   3. bind-mounts an empty directory over /var/lib/containers, which hides the host's image store
#      and, above all, the blob-info cache in /var/lib/containers/cache: with that cache skopeo,
#      podman and buildah remember blobs pushed in earlier runs and cross-repository mount them
#      instead of uploading, and then the upload paths would go untested;
#      It also mounts a private /dev/shm (podman's lock table lives there) and covers
#      /etc/containers/policy.json with a permissive signature policy;
#   4. points podman, buildah and skopeo at private configuration (storage under $T, overlay falling
#      back to vfs, no search registries, file events, cgroupfs).
#
# start_registry then starts the server under test on 127.0.0.1 and a free port, sets $REG to
# HOST:PORT, and the exit trap stops it (SIGTERM; a berth that then exits non-zero fails the test).
# BERTH_TEST_REGISTRY=distribution starts Debian's docker-registry (CNCF Distribution, the
# reference implementation) instead of berth, so the same scripts validate against it; then the
# berth path argument may be omitted.
#
# Conventions: helpers print what they do to stderr with a timestamp; `fail MSG` stops the test
# with "FAIL: MSG"; `run CMD...` runs a client with a timeout and shows its output only if it fails;
# every comparison says what differed (digests, sizes, the first differing byte).

set -euo pipefail
shopt -s inherit_errexit

TEST_NAME=$(basename "$0" .sh)

if [[ -z ${BERTH_CLIENTS_IN_NAMESPACE:-} ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "FAIL: the client tests must run as root (they need a private mount namespace)" >&2
    exit 1
  fi
  export BERTH_CLIENTS_IN_NAMESPACE=1
  exec unshare --mount --propagation private -- bash "$0" "$@"
fi

REGISTRY_KIND=${BERTH_TEST_REGISTRY:-berth}
BERTH_BIN=${1:-}
if [[ $REGISTRY_KIND == berth ]]; then
  if [[ -z $BERTH_BIN || ! -x $BERTH_BIN ]]; then
    echo "FAIL: usage: $0 PATH/TO/berth (or BERTH_TEST_REGISTRY=distribution $0)," \
      "got '$BERTH_BIN'" >&2
    exit 1
  fi
  BERTH_BIN=$(realpath "$BERTH_BIN")
fi

# Each client command gets this many seconds before it is killed as hung.
CLIENT_TIMEOUT=${BERTH_CLIENTS_TIMEOUT:-180}

T=$(mktemp -d "${TMPDIR:-/tmp}/berth-$TEST_NAME.XXXXXX")
mkdir -p "$T/logs"
SECONDS=0
_pids=()       # background processes to stop on exit, in start order
_server_pid=""
_extra_dirs=() # directories outside $T to delete on exit
_at_exit=()    # commands (word-split, no quoting) run on exit after the processes are stopped

log() { printf '[%s %3ds] %s\n' "$TEST_NAME" "$SECONDS" "$*" >&2; }

fail() {
  printf '[%s %3ds] FAIL: %s\n' "$TEST_NAME" "$SECONDS" "$*" >&2
  exit 1
}

# _stop_pid PID: SIGTERM, up to 20 s to exit, then SIGKILL. Sets _stop_status to its exit status.
# (Not in a subshell: only the shell that started PID can wait for it.)
_stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "process $pid did not stop within 20 s of SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  _stop_status=0
  wait "$pid" 2>/dev/null || _stop_status=$?
}

_cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  local i pid
  for ((i = ${#_pids[@]} - 1; i >= 0; i--)); do
    pid=${_pids[i]}
    _stop_pid "$pid"
    if [[ $pid == "$_server_pid" && $REGISTRY_KIND == berth && $_stop_status != 0 ]]; then
      log "FAIL: berth exited with status $_stop_status after SIGTERM (expected 0)"
      ((rc == 0)) && rc=1
    fi
  done
  # Then what the test registered to run last (stopping services the processes above used).
  local hook
  for hook in "${_at_exit[@]}"; do
    $hook >/dev/null 2>&1
  done
  # Unmount whatever the clients left mounted under $T, deepest first. The namespace is private,
  # so this is only tidiness before rm -rf (which cannot remove busy mount points).
  local mounts dir m
  for dir in "$T" "${_extra_dirs[@]}"; do
    mounts=$(awk -v t="$dir/" 'index($5 "/", t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    for m in $mounts; do
      umount -l "$m" 2>/dev/null
    done
  done
  if ((rc != 0)); then
    if [[ -s $T/server.log ]]; then
      log "last lines of the registry log ($REGISTRY_KIND):"
      tail -n 40 "$T/server.log" >&2
    fi
    log "FAILED after ${SECONDS}s"
  else
    log "passed in ${SECONDS}s"
  fi
  if [[ -n ${BERTH_CLIENTS_KEEP:-} ]]; then
    log "kept work directory $T"
  else
    rm -rf "$T" "${_extra_dirs[@]}"
  fi
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

_last_line() { grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c1-400; }

# run CMD...: runs a client command with a timeout; its output goes to a log shown only on failure.
run() {
  local out status=0
  out=$(mktemp "$T/logs/run.XXXXXX")
  log "\$ $*"
  timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@" >"$out" 2>&1 || status=$?
  if ((status != 0)); then
    ((status == 124)) && log "timed out after ${CLIENT_TIMEOUT}s"
    log "command failed with status $status: $*"
    tail -n 60 "$out" >&2
    fail "$1 failed (status $status): $(_last_line "$out")"
  fi
}

# capture CMD...: like run, but the command's stdout is this function's stdout.
capture() {
  local err status=0
  err=$(mktemp "$T/logs/capture.XXXXXX")
  log "\$ $*"
  timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@" 2>"$err" || status=$?
  if ((status != 0)); then
    log "command failed with status $status: $*"
    tail -n 60 "$err" >&2
    fail "$1 failed (status $status): $(_last_line "$err")"
  fi
}

# expect_fail CMD...: the command must fail (used for "this is gone now" checks).
expect_fail() {
  log "\$ $* (must fail)"
  if timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@" >"$T/logs/expect_fail.log" 2>&1; then
    fail "expected failure but succeeded: $*"
  fi
}

# ---------------------------------------------------------------------------------------------
# Comparisons

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

assert_eq() { # EXPECTED ACTUAL WHAT
  if [[ $1 != "$2" ]]; then
    fail "$3 differs: expected '$1', got '$2'"
  fi
}

# assert_same_file EXPECTED ACTUAL WHAT: byte-for-byte equality, with a readable difference.
assert_same_file() {
  local a=$1 b=$2 what=$3
  [[ -f $a ]] || fail "$what: expected file $a is missing"
  [[ -f $b ]] || fail "$what: file $b is missing (expected a copy of $a)"
  if ! cmp -s "$a" "$b"; then
    fail "$what: bytes differ:" \
      "expected $(stat -c %s "$a") bytes sha256:$(sha256_of "$a")," \
      "got $(stat -c %s "$b") bytes sha256:$(sha256_of "$b"); $(cmp "$a" "$b" 2>&1 | head -n 1)"
  fi
}

# assert_digest FILE DIGEST WHAT: FILE's bytes hash to DIGEST (sha256:HEX).
assert_digest() {
  local got
  got="sha256:$(sha256_of "$1")"
  [[ $got == "$2" ]] || fail "$3: content of $1 hashes to $got, expected $2"
}

# ---------------------------------------------------------------------------------------------
# OCI image layouts (as written by umoci and by `skopeo copy ... oci:DIR:TAG`)

blob_path() { echo "$1/blobs/${2%%:*}/${2#*:}"; } # LAYOUT DIGEST

layout_tag_digest() { # LAYOUT TAG
  local d
  d=$(jq -r --arg t "$2" '[.manifests[]
      | select(.annotations["org.opencontainers.image.ref.name"] == $t)][0].digest // empty' \
    "$1/index.json")
  [[ -n $d ]] || fail "tag $2 not found in $1/index.json: $(cat "$1/index.json")"
  echo "$d"
}

# closure LAYOUT DIGEST: DIGEST and every digest reachable from it (index → manifests → config,
# layers), one a line, for OCI and Docker media types alike.
closure() {
  local layout=$1 digest=$2 file child
  file=$(blob_path "$layout" "$digest")
  [[ -f $file ]] || fail "blob $digest is missing from layout $layout"
  echo "$digest"
  if jq -e 'has("manifests")' "$file" >/dev/null 2>&1; then
    for child in $(jq -r '.manifests[].digest' "$file"); do
      closure "$layout" "$child"
    done
  elif jq -e 'has("layers") or has("config")' "$file" >/dev/null 2>&1; then
    jq -r '.config.digest // empty, (.layers // [])[].digest' "$file"
  fi
}

# assert_layout_copy SRC DST DIGEST WHAT: DIGEST and every blob it reaches are in DST, each the
# same bytes as in SRC, each hashing to its name.
assert_layout_copy() {
  local src=$1 dst=$2 digest=$3 what=$4 d n=0 all
  all=$(closure "$src" "$digest" | sort -u)
  for d in $all; do
    assert_digest "$(blob_path "$src" "$d")" "$d" "$what: source blob"
    assert_same_file "$(blob_path "$src" "$d")" "$(blob_path "$dst" "$d")" "$what: blob $d"
    n=$((n + 1))
  done
  log "$what: $n blobs identical (sha256 over bytes)"
}

# make_random_file PATH BYTES
make_random_file() { head -c "$2" /dev/urandom >"$1"; }

# ---------------------------------------------------------------------------------------------
# The registry under test

_pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

_wait_for_v2() { # PID: until GET /v2/ answers 200 (or 401) or PID dies; 60 s at most
  local pid=$1 i code
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$REG/v2/" || true)
    [[ $code == 200 || $code == 401 ]] && return 0
    sleep 0.1
  done
  return 1
}

# _wait_port_file FILE: prints the port berth wrote to FILE (60 s at most).
_wait_port_file() {
  local file=$1 i port
  for ((i = 0; i < 600; i++)); do
    [[ -s $file ]] && break
    kill -0 "$_server_pid" 2>/dev/null || fail "berth exited before writing $file"
    sleep 0.1
  done
  [[ -s $file ]] || fail "berth did not write its port to $file within 60 s"
  port=$(tr -d '[:space:]' <"$file")
  [[ $port =~ ^[0-9]+$ ]] || fail "berth wrote '$port' to $file, not a port number"
  echo "$port"
}

# _start_berth [SERVE-FLAGS...]: berth serve on 127.0.0.1 (plain HTTP), with the environment
# assignments in _berth_env (start_registry_tls sets them) and any extra flags given.
_berth_env=()
_start_berth() {
  env "${_berth_env[@]}" "$BERTH_BIN" serve --listen 127.0.0.1:0 --data "$T/registry" \
    --port-file "$T/registry.port" "$@" >"$T/server.log" 2>&1 &
  _server_pid=$!
  _pids+=("$_server_pid")
  PORT=$(_wait_port_file "$T/registry.port")
  REG=127.0.0.1:$PORT
  _wait_for_v2 "$_server_pid" || fail "berth on $REG did not answer GET /v2/"
}

_start_distribution() {
  command -v docker-registry >/dev/null ||
    fail "BERTH_TEST_REGISTRY=distribution needs Debian's docker-registry package"
  cat >"$T/distribution.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $T/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
EOF
  local attempt
  for attempt in 1 2 3 4 5; do
    PORT=$(_pick_port)
    REG=127.0.0.1:$PORT
    # Every REGISTRY_* variable is a Distribution setting, REGISTRY_AUTH_FILE (for podman) too.
    env -u REGISTRY_AUTH_FILE REGISTRY_HTTP_ADDR="$REG" \
      docker-registry serve "$T/distribution.yml" >"$T/server.log" 2>&1 &
    _server_pid=$!
    if _wait_for_v2 "$_server_pid"; then
      _pids+=("$_server_pid")
      return 0
    fi
    kill -KILL "$_server_pid" 2>/dev/null || true
    wait "$_server_pid" 2>/dev/null || true
    log "docker-registry did not come up on $REG (attempt $attempt); retrying"
  done
  fail "could not start docker-registry"
}

start_registry() {
  case $REGISTRY_KIND in
    berth) _start_berth ;;
    distribution) _start_distribution ;;
    *) fail "BERTH_TEST_REGISTRY must be berth or distribution, not '$REGISTRY_KIND'" ;;
  esac
  REGISTRY_URL=http://$REG
  log "registry ($REGISTRY_KIND) listening on $REG"
}

# start_background NAME CMD...: a helper daemon stopped by the exit trap (before the registry).
start_background() {
  local name=$1
  shift
  "$@" >"$T/$name.log" 2>&1 &
  _pids+=("$!")
}

# ---------------------------------------------------------------------------------------------
# TLS and access control

# make_test_pki: a throwaway CA and a server certificate signed by it for IP 127.0.0.1 and DNS
# localhost, made with openssl under $T/pki. Sets CA_PEM, SERVER_CERT, SERVER_KEY, and CERT_DIR: a
# directory holding only ca.crt, the layout that podman/skopeo/buildah take as --cert-dir (and that
# certs.d/HOST:PORT/ uses).
make_test_pki() {
  local d="$T/pki"
  mkdir -p "$d/certs"
  run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=Berth client-test CA $TEST_NAME" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  run openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$d/server.key" -out "$d/server.csr"
  printf '%s\n' "subjectAltName = IP:127.0.0.1, DNS:localhost" \
    "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = serverAuth" >"$d/server.ext"
  run openssl x509 -req -days 2 -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -CAcreateserial -extfile "$d/server.ext" -out "$d/server.pem"
  run openssl verify -CAfile "$d/ca.pem" "$d/server.pem"
  cp "$d/ca.pem" "$d/certs/ca.crt"
  CA_PEM="$d/ca.pem"
  # shellcheck disable=SC2034  # used by the scripts that source this file
  CERT_DIR="$d/certs"
  SERVER_CERT="$d/server.pem"
  SERVER_KEY="$d/server.key"
  log "test CA and server certificate for 127.0.0.1 and localhost in $d"
}

# start_registry_tls ADMIN_PASSWORD: berth with access control on (BERTH_ADMIN_PASSWORD) and a
# TLS listener on 127.0.0.1 serving the certificate from make_test_pki (made here if not yet).
# Sets REG to the TLS listener's HOST:PORT, PLAIN_REG to the plain HTTP one, ADMIN_PASSWORD, and
# points registry_get, fetch_manifest and fetch_blob at https://$REG with the test CA and the
# administrator's Basic credentials (which Berth takes on /v2/ as well as on /token).
start_registry_tls() {
  [[ $REGISTRY_KIND == berth ]] ||
    fail "$TEST_NAME tests Berth's access control and TLS: run it with BERTH_TEST_REGISTRY=berth"
  ADMIN_PASSWORD=$1
  [[ -n ${SERVER_CERT:-} ]] || make_test_pki
  _berth_env=("BERTH_ADMIN_PASSWORD=$ADMIN_PASSWORD" "BERTH_TLS_CERTIFICATE=$SERVER_CERT"
    "BERTH_TLS_KEY=$SERVER_KEY" "BERTH_TLS_LISTEN=127.0.0.1:0")
  _start_berth --tls-port-file "$T/registry.tls-port"
  PLAIN_REG=$REG
  TLS_PORT=$(_wait_port_file "$T/registry.tls-port")
  REG=127.0.0.1:$TLS_PORT
  REGISTRY_URL=https://$REG
  REGISTRY_CURL=(--cacert "$CA_PEM" -u "admin:$ADMIN_PASSWORD")
  local code
  code=$(curl -sS --max-time 10 --cacert "$CA_PEM" -o /dev/null -w '%{http_code}' \
    "https://$REG/v2/") || fail "GET https://$REG/v2/ with the test CA failed (TLS handshake?)"
  [[ $code == 401 ]] ||
    fail "anonymous GET https://$REG/v2/ answered $code, expected 401 (access control is on)"
  log "berth with access control: https://$REG (test CA), plain http://$PLAIN_REG"
}

# berth_cli ARGS...: a berth account command (user, project, robot) on the running server's data
# directory; its stdout is this function's stdout, stdin is passed on (--password-stdin).
berth_cli() {
  capture "$BERTH_BIN" "$@" --data "$T/registry"
}

# expect_refusal PATTERN WHAT CMD...: CMD must fail, and its output must match the extended
# regular expression PATTERN (case-insensitive): a refusal for the reason the test means, not any
# failure.
expect_refusal() {
  local pattern=$1 what=$2 out
  shift 2
  out=$(mktemp "$T/logs/refusal.XXXXXX")
  log "\$ $* (must be refused: $what)"
  if timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@" >"$out" 2>&1; then
    tail -n 20 "$out" >&2
    fail "$what: expected a refusal but the command succeeded: $*"
  fi
  if ! grep -Eiq -- "$pattern" "$out"; then
    tail -n 30 "$out" >&2
    fail "$what: the command failed, but not with /$pattern/: $(_last_line "$out")"
  fi
  log "refused as expected: $(grep -Eio -- ".{0,60}($pattern).{0,60}" "$out" | tail -n 1)"
}

# expect_refusal_within SECONDS PATTERN WHAT CMD...: as expect_refusal, for a change another
# process made (a `berth` command beside the server): the server sees it within auth.cache_sync,
# so CMD may still succeed until then; it is run again every half second until it is refused,
# and fails the test if it still succeeds after SECONDS.
expect_refusal_within() {
  local seconds=$1 pattern=$2 what=$3 deadline
  shift 3
  deadline=$((SECONDS + seconds))
  while timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "$what: still accepted ${seconds}s after the change: $*"
    fi
    log "accepted still (the server syncs within auth.cache_sync); again in 0.5s: $what"
    sleep 0.5
  done
  expect_refusal "$pattern" "$what" "$@"
}

# registry_status PATH: the HTTP status of GET $REGISTRY_URL/PATH (as the administrator).
registry_status() {
  registry_get "$1" "$T/logs/status.body" || fail "GET $1 got no HTTP response from $REG"
}

# assert_absent REPO TAG WHAT: the tag does not exist in REPO (GET manifest answers 404), nor is it
# in the repository's tag list.
assert_absent() {
  local repo=$1 tag=$2 code
  code=$(registry_status "v2/$repo/manifests/$tag")
  [[ $code == 404 ]] || fail "$3: GET /v2/$repo/manifests/$tag answered $code, expected 404"
  code=$(registry_get "v2/$repo/tags/list" "$T/logs/tags.json") ||
    fail "GET /v2/$repo/tags/list got no HTTP response"
  if [[ $code == 200 ]]; then
    if jq -e --arg t "$tag" '(.tags // []) | index($t)' "$T/logs/tags.json" >/dev/null; then
      fail "$3: tag $tag is listed in /v2/$repo/tags/list: $(cat "$T/logs/tags.json")"
    fi
  elif [[ $code != 404 ]]; then
    fail "$3: GET /v2/$repo/tags/list answered $code"
  fi
}

# server_log_lines: how many lines the registry's log has now; assert_logged SINCE REGEX WHAT: a
# line written after line SINCE matches REGEX (the access log has method, target, status, user).
# A request's access line is written once its response has gone out, so it may come a moment
# after the client is done: wait up to 5 s for it.
server_log_lines() { wc -l <"$T/server.log"; }
assert_logged() {
  local i
  for ((i = 0; i < 50; i++)); do
    tail -n "+$(($1 + 1))" "$T/server.log" | grep -Eq -- "$2" && return 0
    sleep 0.1
  done
  tail -n "+$(($1 + 1))" "$T/server.log" | grep ' access ' | tail -n 15 >&2
  fail "$3: no line in the registry's access log matches /$2/ (last lines above)"
}

# start_containerd: a private containerd in $T/containerd (see CLIENTS.md). Sets CTR to
# (ctr -a SOCKET -n berth-test).
start_containerd() {
  local c="$T/containerd" sock i
  mkdir -p "$c"
  sock="$c/c.sock"
  if ((${#sock} > 90)); then # unix socket paths stop at 107 bytes
    sock="$(mktemp -d /tmp/bcd.XXXXXX)/c.sock"
    _extra_dirs+=("${sock%/*}")
  fi
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$c/debug.sock"
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
EOF
  start_background containerd containerd --config "$c/config.toml"
  for ((i = 0; i < 300; i++)); do
    ctr -a "$sock" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctr -a "$sock" version >/dev/null 2>&1 || {
    tail -n 30 "$T/containerd.log" >&2
    fail "private containerd did not answer on $sock within 30 s"
  }
  # shellcheck disable=SC2034  # used by the scripts that source this file
  CTR=(ctr -a "$sock" -n berth-test)
  log "containerd running on $sock"
}

# How registry_get, fetch_manifest and fetch_blob reach the registry: the base URL, and extra curl
# arguments (start_registry_tls sets https, the test CA and the administrator's credentials).
REGISTRY_URL=""
REGISTRY_CURL=()

MANIFEST_TYPES="application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES+=", application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES+=", application/vnd.docker.distribution.manifest.v2+json"

# registry_get PATH OUT [ACCEPT]: GET $REGISTRY_URL/PATH into OUT, headers into OUT.headers.
# Prints the HTTP status.
registry_get() {
  local accept=${3:-$MANIFEST_TYPES}
  curl "${REGISTRY_CURL[@]}" -sS --max-time 60 -H "Accept: $accept" -D "$2.headers" -o "$2" \
    -w '%{http_code}' "$REGISTRY_URL/$1"
}

# header_value FILE NAME: the value of header NAME in a curl -D dump (last response wins).
header_value() {
  tr -d '\r' <"$1" | awk -v n="$(tr '[:upper:]' '[:lower:]' <<<"$2")" '
    BEGIN { FS = ": " }
    tolower($1) == n { v = substr($0, length($1) + 3) }
    END { print v }'
}

# fetch_manifest REPO REF OUT: GETs a manifest, checks 200 and that Docker-Content-Digest is the
# sha256 of the bytes received. Prints the digest.
fetch_manifest() {
  local repo=$1 ref=$2 out=$3 code dcd
  code=$(registry_get "v2/$repo/manifests/$ref" "$out") ||
    fail "GET /v2/$repo/manifests/$ref got no HTTP response from $REG"
  [[ $code == 200 ]] || fail "GET /v2/$repo/manifests/$ref answered $code: $(head -c 300 "$out")"
  dcd=$(header_value "$out.headers" Docker-Content-Digest)
  [[ -n $dcd ]] || fail "GET /v2/$repo/manifests/$ref has no Docker-Content-Digest header"
  assert_digest "$out" "$dcd" "manifest $repo:$ref vs its Docker-Content-Digest"
  echo "$dcd"
}

# fetch_blob REPO DIGEST OUT: GETs a blob (following redirects) and checks its bytes hash to DIGEST.
fetch_blob() {
  local code
  code=$(curl "${REGISTRY_CURL[@]}" -sS -L --max-time 120 -o "$3" -w '%{http_code}' \
    "$REGISTRY_URL/v2/$1/blobs/$2") ||
    fail "GET /v2/$1/blobs/$2 got no complete HTTP response from $REG"
  [[ $code == 200 ]] || fail "GET /v2/$1/blobs/$2 answered $code"
  assert_digest "$3" "$2" "blob $2 fetched from $1"
}

# ---------------------------------------------------------------------------------------------
# Private configuration for skopeo, podman and buildah

mkdir -p "$T/varlib-containers" /var/lib/containers
mount --bind "$T/varlib-containers" /var/lib/containers
# podman keeps its lock table in /dev/shm/libpod_lock, shared by every podman on the machine.
mount -t tmpfs -o mode=1777,size=64m berth-test-shm /dev/shm

# podman's --runroot (here the storage.conf runroot) must stay under 50 characters.
_runroot="$T/run"
if ((${#_runroot} >= 50)); then
  _runroot=$(mktemp -d /tmp/bcr.XXXXXX)
  _extra_dirs+=("$_runroot")
fi
mkdir -p "$_runroot" "$T/storage" "$T/tmp"

cat >"$T/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
cat >"$T/policy.json" <<'EOF'
{ "default": [{ "type": "insecureAcceptAnything" }] }
EOF
cat >"$T/containers.conf" <<EOF
[containers]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
tmp_dir = "$T/tmp"
[network]
EOF
_write_storage_conf() {
  cat >"$T/storage.conf" <<EOF
[storage]
driver = "$1"
graphroot = "$T/storage"
runroot = "$_runroot"
EOF
}
# There is no variable for the signature policy: cover the system's in this namespace.
if [[ -f /etc/containers/policy.json ]]; then
  mount --bind "$T/policy.json" /etc/containers/policy.json
fi
export CONTAINERS_REGISTRIES_CONF="$T/registries.conf"
export CONTAINERS_CONF="$T/containers.conf"
export CONTAINERS_STORAGE_CONF="$T/storage.conf"
export REGISTRY_AUTH_FILE="$T/auth.json"
export TMPDIR="$T/tmp"
echo '{}' >"$REGISTRY_AUTH_FILE"

STORAGE_DRIVER=""
# use_container_storage: picks overlay when the kernel and filesystem allow it, else vfs
# (BERTH_CLIENTS_STORAGE_DRIVER=vfs forces vfs).
use_container_storage() {
  STORAGE_DRIVER=${BERTH_CLIENTS_STORAGE_DRIVER:-overlay}
  if [[ $STORAGE_DRIVER == overlay ]]; then
    _write_storage_conf overlay
    if ! podman info >"$T/logs/podman-info-overlay.log" 2>&1 ||
      ! grep -q 'graphDriverName: overlay' "$T/logs/podman-info-overlay.log"; then
      log "overlay storage unavailable here" \
        "($(_last_line "$T/logs/podman-info-overlay.log")); using vfs"
      rm -rf "${T:?}/storage" "${_runroot:?}"
      mkdir -p "$T/storage" "$_runroot"
      STORAGE_DRIVER=vfs
    fi
  fi
  _write_storage_conf "$STORAGE_DRIVER"
  log "container storage: $STORAGE_DRIVER in $T/storage"
}

# shellcheck disable=SC2034  # used by the scripts that source this file
SKOPEO=(skopeo --insecure-policy)

# ---------------------------------------------------------------------------------------------
# Building images without a network

# umoci_image LAYOUT TAG: a new, empty image (creating the layout if needed) for this machine's
# architecture, with a command and a label so that its config is not the same in every test.
umoci_image() {
  [[ -f $1/index.json ]] || run umoci init --layout "$1"
  run umoci new --image "$1:$2"
  run umoci config --image "$1:$2" --config.cmd /bin/sh \
    --config.label "berth.test=$TEST_NAME-$RANDOM"
}

# umoci_add LAYOUT TAG SRC DEST: one new layer holding SRC (file or directory) at DEST.
umoci_add() { run umoci insert --image "$1:$2" "$3" "$4"; }

# make_index LAYOUT INDEX_TAG TAG=OS/ARCH...: writes an OCI image index over the tagged manifests,
# each with its platform, and tags it INDEX_TAG in the layout.
make_index() {
  local layout=$1 tag=$2 spec t plat d size list='[]' tmp="$T/index.$RANDOM.json" hex
  shift 2
  for spec in "$@"; do
    t=${spec%%=*}
    plat=${spec#*=}
    d=$(layout_tag_digest "$layout" "$t")
    size=$(stat -c %s "$(blob_path "$layout" "$d")")
    list=$(jq -c --arg d "$d" --argjson s "$size" --arg os "${plat%%/*}" --arg arch "${plat#*/}" \
      '. + [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
             platform: {architecture: $arch, os: $os}}]' <<<"$list")
  done
  jq -cn --argjson m "$list" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: $m}' \
    >"$tmp"
  hex=$(sha256_of "$tmp")
  size=$(stat -c %s "$tmp")
  mv "$tmp" "$layout/blobs/sha256/$hex"
  jq --arg d "sha256:$hex" --argjson s "$size" --arg t "$tag" \
    '.manifests |= (map(select(.annotations["org.opencontainers.image.ref.name"] != $t)) +
       [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
         annotations: {"org.opencontainers.image.ref.name": $t}}])' \
    "$layout/index.json" >"$tmp"
  mv "$tmp" "$layout/index.json"
  log "index $tag in $layout: sha256:$hex over $*"
}
