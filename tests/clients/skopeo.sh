#!/usr/bin/env bash
# skopeo against the registry: OCI image, two-platform OCI index, Docker schema 2, tags, inspect,
# cross-repository mount, delete, registry-to-registry copy. Every image is built here with umoci;
# every comparison is over bytes.
#
#   bash tests/clients/skopeo.sh PATH/TO/berth
#
# skopeo streams each layer in one PATCH with a Content-Length, then PUTs ?digest=; the 34 MiB
# layer makes that a long streaming body.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

start_registry
SRC="$T/src"

log "building images with umoci"
mkdir -p "$T/files/etc"
make_random_file "$T/files/small.bin" 1024
make_random_file "$T/files/medium.bin" $((1024 * 1024))
make_random_file "$T/files/large.bin" $((5 * 1024 * 1024))
make_random_file "$T/files/huge.bin" $((34 * 1024 * 1024))
make_random_file "$T/files/arm.bin" 4096
printf 'Berth client test %s\nline two\n' "$RANDOM" >"$T/files/etc/motd"
umoci_image "$SRC" base
umoci_add "$SRC" base "$T/files/small.bin" /data/small.bin
umoci_add "$SRC" base "$T/files/medium.bin" /data/medium.bin
umoci_add "$SRC" base "$T/files/large.bin" /data/large.bin
umoci_add "$SRC" base "$T/files/huge.bin" /data/huge.bin
# One layer the long way: unpack, edit the tree, repack.
run umoci unpack --image "$SRC:base" "$T/bundle"
cp -r "$T/files/etc" "$T/bundle/rootfs/"
run umoci repack --image "$SRC:base" "$T/bundle"
# An arm64 sibling sharing the layers above plus one of its own.
run umoci config --image "$SRC:base" --architecture arm64 --tag arm64
umoci_add "$SRC" arm64 "$T/files/arm.bin" /data/arm.bin
make_index "$SRC" multi base=linux/amd64 arm64=linux/arm64

BASE=$(layout_tag_digest "$SRC" base)
ARM=$(layout_tag_digest "$SRC" arm64)
MULTI=$(layout_tag_digest "$SRC" multi)
nlayers=$(jq '.layers | length' "$(blob_path "$SRC" "$BASE")")
assert_eq 5 "$nlayers" "number of layers in the source image"

# --- 1. OCI image: push, inspect, list tags, pull back ---------------------------------------
APP=clients/skopeo/app
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false --digestfile "$T/pushed.digest" \
  "oci:$SRC:base" "docker://$REG/$APP:1.0"
assert_eq "$BASE" "$(cat "$T/pushed.digest")" "digest skopeo reports for the pushed image"
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:base" "docker://$REG/$APP:latest"

got=$(capture "${SKOPEO[@]}" list-tags --tls-verify=false "docker://$REG/$APP" |
  jq -c '.Tags | sort')
assert_eq '["1.0","latest"]' "$got" "tags of $APP (skopeo list-tags)"

capture "${SKOPEO[@]}" inspect --raw --tls-verify=false "docker://$REG/$APP:1.0" >"$T/raw.json"
assert_same_file "$(blob_path "$SRC" "$BASE")" "$T/raw.json" "manifest from skopeo inspect --raw"
got=$(capture "${SKOPEO[@]}" inspect --tls-verify=false "docker://$REG/$APP:latest" | jq -r .Digest)
assert_eq "$BASE" "$got" "digest from skopeo inspect"

got=$(fetch_manifest "$APP" 1.0 "$T/curl-manifest.json")
assert_eq "$BASE" "$got" "Docker-Content-Digest of $APP:1.0"
assert_eq application/vnd.oci.image.manifest.v1+json \
  "$(header_value "$T/curl-manifest.json.headers" Content-Type)" "Content-Type of $APP:1.0"
assert_same_file "$(blob_path "$SRC" "$BASE")" "$T/curl-manifest.json" "manifest fetched with curl"
got=$(fetch_manifest "$APP" "$BASE" "$T/curl-manifest-by-digest.json")
assert_eq "$BASE" "$got" "Docker-Content-Digest of $APP@$BASE"

run "${SKOPEO[@]}" copy --src-tls-verify=false "docker://$REG/$APP:1.0" "oci:$T/out-app:1.0"
assert_eq "$BASE" "$(layout_tag_digest "$T/out-app" 1.0)" "manifest digest pulled back"
assert_layout_copy "$SRC" "$T/out-app" "$BASE" "image pulled back"

# --- 2. Two-platform OCI index with --all -----------------------------------------------------
MULTIREPO=clients/skopeo/multi
run "${SKOPEO[@]}" copy --all --preserve-digests --dest-tls-verify=false \
  --digestfile "$T/multi.digest" "oci:$SRC:multi" "docker://$REG/$MULTIREPO:1.0"
assert_eq "$MULTI" "$(cat "$T/multi.digest")" "digest skopeo reports for the pushed index"
got=$(fetch_manifest "$MULTIREPO" 1.0 "$T/curl-index.json")
assert_eq "$MULTI" "$got" "Docker-Content-Digest of $MULTIREPO:1.0"
assert_eq application/vnd.oci.image.index.v1+json \
  "$(header_value "$T/curl-index.json.headers" Content-Type)" "Content-Type of the index"
for child in "$BASE" "$ARM"; do
  got=$(fetch_manifest "$MULTIREPO" "$child" "$T/child.json")
  assert_eq "$child" "$got" "Docker-Content-Digest of child $child"
done
capture "${SKOPEO[@]}" inspect --raw --tls-verify=false "docker://$REG/$MULTIREPO@$ARM" \
  >"$T/arm.json"
assert_same_file "$(blob_path "$SRC" "$ARM")" "$T/arm.json" "arm64 child from skopeo inspect --raw"

run "${SKOPEO[@]}" copy --all --preserve-digests --src-tls-verify=false \
  "docker://$REG/$MULTIREPO:1.0" "oci:$T/out-multi:1.0"
assert_eq "$MULTI" "$(layout_tag_digest "$T/out-multi" 1.0)" "index digest pulled back"
assert_layout_copy "$SRC" "$T/out-multi" "$MULTI" "index pulled back with --all"

# Without --all, skopeo picks one platform out of the index.
run "${SKOPEO[@]}" copy --src-tls-verify=false --override-arch arm64 \
  "docker://$REG/$MULTIREPO:1.0" "oci:$T/out-arm:1.0"
assert_eq "$ARM" "$(layout_tag_digest "$T/out-arm" 1.0)" "manifest picked for arm64 from the index"
assert_layout_copy "$SRC" "$T/out-arm" "$ARM" "arm64 image picked from the index"

# --- 3. Docker schema 2 -------------------------------------------------------------------------
DOCKER=clients/skopeo/docker
run "${SKOPEO[@]}" copy --format v2s2 --dest-tls-verify=false --digestfile "$T/v2s2.digest" \
  "oci:$SRC:base" "docker://$REG/$DOCKER:1.0"
V2S2=$(cat "$T/v2s2.digest")
got=$(fetch_manifest "$DOCKER" 1.0 "$T/v2s2.json")
assert_eq "$V2S2" "$got" "Docker-Content-Digest of the schema 2 manifest"
assert_eq application/vnd.docker.distribution.manifest.v2+json \
  "$(header_value "$T/v2s2.json.headers" Content-Type)" "Content-Type of the schema 2 manifest"
assert_eq application/vnd.docker.distribution.manifest.v2+json \
  "$(jq -r .mediaType "$T/v2s2.json")" "mediaType inside the schema 2 manifest"
# Same config and layer bytes as the OCI image, only the media types change.
assert_eq "$(jq -c '[.config.digest, .layers[].digest]' "$(blob_path "$SRC" "$BASE")")" \
  "$(jq -c '[.config.digest, .layers[].digest]' "$T/v2s2.json")" \
  "blobs named by the schema 2 manifest"
run "${SKOPEO[@]}" copy --src-tls-verify=false "docker://$REG/$DOCKER:1.0" "dir:$T/out-v2s2"
assert_same_file "$T/v2s2.json" "$T/out-v2s2/manifest.json" "schema 2 manifest pulled back (dir:)"
for d in $(jq -r '.config.digest, .layers[].digest' "$T/v2s2.json"); do
  assert_same_file "$(blob_path "$SRC" "$d")" "$T/out-v2s2/${d#sha256:}" \
    "schema 2 blob $d pulled back"
done
for d in $(jq -r '.layers[].digest' "$T/v2s2.json"); do
  fetch_blob "$DOCKER" "$d" "$T/blob"
done
log "schema 2: manifest and $(jq '.layers | length' "$T/v2s2.json") layers identical"

# --- 4. Same image into another repository: skopeo's blob-info cache now knows every blob was
#        pushed to $APP and asks for cross-repository mounts (POST ?mount=&from=).
MOUNTED=clients/skopeo/mounted
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:base" "docker://$REG/$MOUNTED:1.0"
run "${SKOPEO[@]}" copy --src-tls-verify=false "docker://$REG/$MOUNTED:1.0" "oci:$T/out-mounted:1.0"
assert_eq "$BASE" "$(layout_tag_digest "$T/out-mounted" 1.0)" \
  "manifest digest in the second repository"
assert_layout_copy "$SRC" "$T/out-mounted" "$BASE" "image in the second repository"

# --- 5. skopeo delete: the manifest goes from that repository only ------------------------------
run "${SKOPEO[@]}" delete --tls-verify=false "docker://$REG/$MOUNTED:1.0"
expect_fail "${SKOPEO[@]}" inspect --raw --tls-verify=false "docker://$REG/$MOUNTED:1.0"
code=$(registry_get "v2/$MOUNTED/manifests/$BASE" "$T/deleted.json")
assert_eq 404 "$code" "status of GET $MOUNTED@$BASE after skopeo delete"
code=$(registry_get "v2/$MOUNTED/tags/list" "$T/tags.json" application/json)
if [[ $code == 200 ]]; then
  got=$(jq -c '[(.tags // [])[] | select(. == "1.0")]' "$T/tags.json")
  assert_eq '[]' "$got" "tag 1.0 of $MOUNTED after skopeo delete"
else
  assert_eq 404 "$code" "status of the tag list of $MOUNTED after skopeo delete"
fi
got=$(fetch_manifest "$APP" 1.0 "$T/still-there.json")
assert_eq "$BASE" "$got" "$APP:1.0 (same manifest) after deleting it from $MOUNTED"

# --- 6. Registry-to-registry copy between repositories -------------------------------------------
run "${SKOPEO[@]}" copy --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
  "docker://$REG/$MULTIREPO:1.0" "docker://$REG/clients/skopeo/copied:2.0"
got=$(fetch_manifest clients/skopeo/copied 2.0 "$T/copied.json")
assert_eq "$MULTI" "$got" "index digest after a registry-to-registry copy"
