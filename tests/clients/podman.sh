#!/usr/bin/env bash
# podman: an image built here (podman build, FROM scratch: busybox-static, a text file, a 40 MiB
# random file) is pushed, removed locally and pulled back. podman push recompresses layers, so what
# must survive is the uncompressed content: the image ID (config digest), the diff_ids and every
# file's bytes. The layers are compressed while they stream, so their size is unknown and the PATCH
# goes out with chunked transfer encoding: the 40 MiB layer exercises that path.
# Then a two-entry manifest list made with `podman manifest` goes up with --all.
# No container is ever run (no runtime is needed).
#
#   bash tests/clients/podman.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

start_registry
use_container_storage

log "building an image with podman build"
mkdir -p "$T/ctx"
cp /bin/busybox "$T/ctx/busybox"
printf 'Hello from podman for Berth %s\n' "$RANDOM" >"$T/ctx/hello.txt"
make_random_file "$T/ctx/big.bin" $((40 * 1024 * 1024))
cat >"$T/ctx/Containerfile" <<EOF
FROM scratch
COPY busybox /bin/busybox
COPY busybox /bin/sh
COPY hello.txt /etc/hello.txt
COPY big.bin /data/big.bin
LABEL berth.test=podman-$RANDOM
CMD ["/bin/sh"]
EOF
run podman build --layers --format oci -t localhost/clients/podman:built "$T/ctx"

# image_facts REF OUT: the image ID, its diff_ids, and the sha256 of each file we put in it.
image_facts() {
  local ref=$1 out=$2 mnt f
  capture podman image inspect --format '{{.Id}} {{json .RootFS.Layers}}' "$ref" >"$out"
  mnt=$(capture podman image mount "$ref")
  [[ -d $mnt ]] || fail "podman image mount $ref gave '$mnt', not a directory"
  for f in bin/busybox bin/sh etc/hello.txt data/big.bin; do
    [[ -f $mnt/$f ]] || fail "/$f is missing from the root filesystem of $ref"
    echo "$f $(sha256_of "$mnt/$f")" >>"$out"
  done
  run podman image unmount "$ref"
}

image_facts localhost/clients/podman:built "$T/before.txt"
nlayers=$(head -n 1 "$T/before.txt" | cut -d' ' -f2- | jq length)
((nlayers >= 4)) ||
  fail "expected at least 4 layers in the built image, got $nlayers: $(cat "$T/before.txt")"
(
  cd "$T/ctx"
  for f in busybox:bin/busybox busybox:bin/sh hello.txt:etc/hello.txt big.bin:data/big.bin; do
    grep -qx "${f#*:} $(sha256_of "${f%%:*}")" "$T/before.txt" ||
      fail "the built image does not hold $f as given: $(cat "$T/before.txt")"
  done
)

REPO=clients/podman/img
run podman push --tls-verify=false --digestfile "$T/pushed.digest" \
  localhost/clients/podman:built "docker://$REG/$REPO:1.0"
PUSHED=$(cat "$T/pushed.digest")
got=$(fetch_manifest "$REPO" 1.0 "$T/manifest.json")
assert_eq "$PUSHED" "$got" "digest of $REPO:1.0 vs podman push --digestfile"
assert_eq application/vnd.oci.image.manifest.v1+json \
  "$(header_value "$T/manifest.json.headers" Content-Type)" "Content-Type of $REPO:1.0"
big_layer=$(jq -r '[.layers[] | select(.size > 33554432)][0].digest // empty' "$T/manifest.json")
[[ -n $big_layer ]] || fail "no layer over 32 MiB in the pushed manifest: $(cat "$T/manifest.json")"
fetch_blob "$REPO" "$big_layer" "$T/big-layer"

run podman rmi --all --force
got=$(capture podman images --quiet | wc -l)
assert_eq 0 "$got" "number of local images after podman rmi --all"

run podman pull --tls-verify=false "$REG/$REPO:1.0"
image_facts "$REG/$REPO:1.0" "$T/after-tag.txt"
if ! diff -u "$T/before.txt" "$T/after-tag.txt" >&2; then
  fail "the image pulled back by tag differs from the one pushed" \
    "(image ID, diff_ids or files; diff above)"
fi
run podman rmi --all --force
run podman pull --tls-verify=false "$REG/$REPO@$PUSHED"
image_facts "$REG/$REPO@$PUSHED" "$T/after-digest.txt"
if ! diff -u "$T/before.txt" "$T/after-digest.txt" >&2; then
  fail "the image pulled back by digest differs from the one pushed (diff above)"
fi
log "image ID, $nlayers diff_ids and all files identical after push and pull"

# A manifest list: the image above for amd64 plus a small arm64 image built here (COPY needs no
# emulation), pushed with --all; podman must then pick each entry out of it by architecture.
log "manifest list with podman manifest"
cat >"$T/ctx/Containerfile.arm64" <<EOF
FROM scratch
COPY hello.txt /etc/hello-arm64.txt
LABEL berth.test=podman-arm64-$RANDOM
EOF
run podman build --layers --format oci --arch arm64 -f "$T/ctx/Containerfile.arm64" \
  -t localhost/clients/podman:arm64 "$T/ctx"
ARM_ID=$(capture podman image inspect --format '{{.Id}}' localhost/clients/podman:arm64)
run podman tag "$REG/$REPO@$PUSHED" localhost/clients/podman:amd64
run podman manifest create localhost/clients/podman:list
for arch in amd64 arm64; do
  run podman manifest add localhost/clients/podman:list \
    "containers-storage:localhost/clients/podman:$arch"
done
run podman manifest push --all --tls-verify=false --digestfile "$T/list.digest" \
  localhost/clients/podman:list "docker://$REG/$REPO:list"
LIST=$(cat "$T/list.digest")
got=$(fetch_manifest "$REPO" list "$T/list.json")
assert_eq "$LIST" "$got" "digest of $REPO:list vs podman manifest push --digestfile"
assert_eq "$(jq -r .mediaType "$T/list.json")" \
  "$(header_value "$T/list.json.headers" Content-Type)" "Content-Type vs mediaType of the list"
assert_eq '["amd64","arm64"]' \
  "$(jq -c '[.manifests[].platform.architecture] | sort' "$T/list.json")" \
  "architectures in the pushed manifest list"
for child in $(jq -r '.manifests[].digest' "$T/list.json"); do
  got=$(fetch_manifest "$REPO" "$child" "$T/child.json")
  assert_eq "$child" "$got" "digest of child manifest $child"
done
run podman rmi --all --force
run podman pull --tls-verify=false --arch arm64 "$REG/$REPO:list"
got=$(capture podman image inspect --format '{{.Id}}' "$REG/$REPO:list")
assert_eq "$ARM_ID" "$got" "image ID of the arm64 entry pulled from the list"
run podman rmi --all --force
run podman pull --tls-verify=false --arch amd64 "$REG/$REPO:list"
got=$(capture podman image inspect --format '{{.Id}}' "$REG/$REPO:list")
assert_eq "$(head -n 1 "$T/before.txt" | cut -d' ' -f1)" "$got" \
  "image ID of the amd64 entry pulled from the list"
