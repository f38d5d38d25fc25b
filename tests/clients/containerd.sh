#!/usr/bin/env bash
# containerd: a private containerd pulls, with ctr, an image and a two-platform index that skopeo
# pushed (built here with umoci), and `ctr content get` must give back every blob byte for byte.
# Then ctr pushes an image it imported from an OCI archive: containerd uploads each blob with POST
# then one PUT ?digest= carrying the whole body, a different path from skopeo's PATCH; its 36 MiB
# layer makes that a long streaming PUT.
#
#   bash tests/clients/containerd.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

start_registry

# --- a private containerd ------------------------------------------------------------------------
C="$T/containerd"
mkdir -p "$C"
SOCK="$C/c.sock"
if ((${#SOCK} > 90)); then # unix socket paths stop at 107 bytes
  SOCK="$(mktemp -d /tmp/bcd.XXXXXX)/c.sock"
  _extra_dirs+=("${SOCK%/*}")
fi
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$C/debug.sock"
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
EOF
start_background containerd containerd --config "$C/config.toml"
for ((i = 0; i < 300; i++)); do
  ctr -a "$SOCK" version >/dev/null 2>&1 && break
  sleep 0.1
done
ctr -a "$SOCK" version >/dev/null 2>&1 || {
  tail -n 30 "$T/containerd.log" >&2
  fail "private containerd did not answer on $SOCK within 30 s"
}
log "containerd running on $SOCK"
# The native snapshotter works on any filesystem; unpacking is not what is under test.
CTR=(ctr -a "$SOCK" -n berth-test)
PULL=("${CTR[@]}" images pull --plain-http --snapshotter native)

# assert_content LAYOUT DIGEST WHAT: every blob reachable from DIGEST, as containerd stored it,
# has the layout's bytes.
assert_content() {
  local layout=$1 digest=$2 what=$3 d n=0 all
  all=$(closure "$layout" "$digest" | sort -u)
  for d in $all; do
    capture "${CTR[@]}" content get "$d" >"$T/content"
    assert_same_file "$(blob_path "$layout" "$d")" "$T/content" "$what: ctr content get $d"
    n=$((n + 1))
  done
  log "$what: $n blobs identical in containerd's content store"
}

# --- images pushed by skopeo, pulled by containerd -----------------------------------------------
SRC="$T/src"
mkdir -p "$T/files"
make_random_file "$T/files/a.bin" 1024
make_random_file "$T/files/b.bin" $((2 * 1024 * 1024))
printf 'containerd test %s\n' "$RANDOM" >"$T/files/c.txt"
umoci_image "$SRC" base
umoci_add "$SRC" base "$T/files/a.bin" /a.bin
umoci_add "$SRC" base "$T/files/b.bin" /b.bin
umoci_add "$SRC" base "$T/files/c.txt" /etc/c.txt
run umoci config --image "$SRC:base" --architecture arm64 --tag arm64
umoci_add "$SRC" arm64 "$T/files/c.txt" /etc/arm64.txt
make_index "$SRC" multi base=linux/amd64 arm64=linux/arm64
BASE=$(layout_tag_digest "$SRC" base)
MULTI=$(layout_tag_digest "$SRC" multi)

REPO=clients/containerd/app
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:base" "docker://$REG/$REPO:1.0"
run "${SKOPEO[@]}" copy --all --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:multi" "docker://$REG/$REPO:multi"

run "${PULL[@]}" "$REG/$REPO:1.0"
got=$(capture "${CTR[@]}" images ls | awk -v r="$REG/$REPO:1.0" '$1 == r { print $3 }')
assert_eq "$BASE" "$got" "digest of $REPO:1.0 as containerd recorded it"
assert_content "$SRC" "$BASE" "image pulled by containerd"

run "${PULL[@]}" --all-platforms "$REG/$REPO:multi"
got=$(capture "${CTR[@]}" images ls | awk -v r="$REG/$REPO:multi" '$1 == r { print $3 }')
assert_eq "$MULTI" "$got" "digest of $REPO:multi as containerd recorded it"
assert_content "$SRC" "$MULTI" "index pulled by containerd with --all-platforms"

# Pull by digest too.
run "${PULL[@]}" "$REG/$REPO@$BASE"

# --- containerd pushes --------------------------------------------------------------------------
PUSH="$T/push-src"
make_random_file "$T/files/big.bin" $((36 * 1024 * 1024))
umoci_image "$PUSH" pushed
umoci_add "$PUSH" pushed "$T/files/c.txt" /etc/c.txt
umoci_add "$PUSH" pushed "$T/files/big.bin" /data/big.bin
run umoci gc --layout "$PUSH"
PUSHED=$(layout_tag_digest "$PUSH" pushed)
tar -C "$PUSH" -cf "$T/archive.tar" oci-layout index.json blobs
PUSHREPO=clients/containerd/pushed
run "${CTR[@]}" images import --no-unpack --base-name "$REG/$PUSHREPO" "$T/archive.tar"
got=$(capture "${CTR[@]}" images ls | awk -v r="$REG/$PUSHREPO:pushed" '$1 == r { print $3 }')
assert_eq "$PUSHED" "$got" "digest of the image imported from the OCI archive"
run "${CTR[@]}" images push --plain-http "$REG/$PUSHREPO:pushed"

got=$(fetch_manifest "$PUSHREPO" pushed "$T/pushed.json")
assert_eq "$PUSHED" "$got" "digest of $PUSHREPO:pushed after ctr push"
assert_same_file "$(blob_path "$PUSH" "$PUSHED")" "$T/pushed.json" "manifest pushed by containerd"
all=$(jq -r '.config.digest, .layers[].digest' "$T/pushed.json")
for d in $all; do
  fetch_blob "$PUSHREPO" "$d" "$T/blob"
  assert_same_file "$(blob_path "$PUSH" "$d")" "$T/blob" "blob $d pushed by containerd"
done
log "containerd push: manifest and $(wc -w <<<"$all") blobs identical"

# And skopeo sees the same bytes.
run "${SKOPEO[@]}" copy --src-tls-verify=false "docker://$REG/$PUSHREPO:pushed" "oci:$T/out:pushed"
assert_layout_copy "$PUSH" "$T/out" "$PUSHED" "image pushed by containerd, pulled by skopeo"
