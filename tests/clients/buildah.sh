#!/usr/bin/env bash
# buildah: an image built from scratch (busybox-static, a text file, a random file) is pushed with
# `buildah push --digestfile`, in OCI and in Docker schema 2 format. The manifest fetched with curl
# by that digest must hash to it, every blob it names must come back with its own digest, and every
# layer must decompress to the diff_id the config records.
#
#   bash tests/clients/buildah.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

start_registry
use_container_storage

log "building an image from scratch with buildah"
make_random_file "$T/random.bin" $((2 * 1024 * 1024))
printf 'Built by buildah for Berth %s\n' "$RANDOM" >"$T/hello.txt"
# One commit per layer: busybox as /bin/busybox and /bin/sh, then the text file, then the random
# file.
ctr=$(capture buildah from scratch)
run buildah copy "$ctr" /bin/busybox /bin/busybox
run buildah copy "$ctr" /bin/busybox /bin/sh
run buildah config --cmd /bin/sh --label "berth.test=buildah-$RANDOM" "$ctr"
run buildah commit --rm "$ctr" localhost/clients/buildah:step1
ctr=$(capture buildah from localhost/clients/buildah:step1)
run buildah copy "$ctr" "$T/hello.txt" /etc/hello.txt
run buildah commit --rm "$ctr" localhost/clients/buildah:step2
ctr=$(capture buildah from localhost/clients/buildah:step2)
run buildah copy "$ctr" "$T/random.bin" /data/random.bin
run buildah commit --rm "$ctr" localhost/clients/buildah:built
run buildah rmi localhost/clients/buildah:step1 localhost/clients/buildah:step2

# check_pushed REPO TAG DIGEST_FILE MEDIA_TYPE: the registry holds, under TAG and under the digest
# buildah wrote, the same manifest bytes; its blobs are intact; layers match the config's diff_ids.
check_pushed() {
  local repo=$1 tag=$2 digest want_type=$4 got i n layer diff_id
  digest=$(cat "$3")
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || fail "buildah wrote '$digest' to $3, not a digest"
  got=$(fetch_manifest "$repo" "$digest" "$T/by-digest.json")
  assert_eq "$digest" "$got" "Docker-Content-Digest of $repo@$digest"
  assert_digest "$T/by-digest.json" "$digest" "manifest fetched by the digest buildah reported"
  assert_eq "$want_type" "$(header_value "$T/by-digest.json.headers" Content-Type)" \
    "Content-Type of $repo@$digest"
  assert_eq "$want_type" "$(jq -r .mediaType "$T/by-digest.json")" "mediaType in the manifest"
  got=$(fetch_manifest "$repo" "$tag" "$T/by-tag.json")
  assert_eq "$digest" "$got" "digest of $repo:$tag"
  assert_same_file "$T/by-digest.json" "$T/by-tag.json" "manifest by tag vs by digest"

  fetch_blob "$repo" "$(jq -r .config.digest "$T/by-digest.json")" "$T/config.json"
  n=$(jq '.layers | length' "$T/by-digest.json")
  assert_eq "$(jq '.rootfs.diff_ids | length' "$T/config.json")" "$n" "layers vs diff_ids"
  for ((i = 0; i < n; i++)); do
    layer=$(jq -r ".layers[$i].digest" "$T/by-digest.json")
    fetch_blob "$repo" "$layer" "$T/layer"
    assert_eq "$(jq -r ".layers[$i].size" "$T/by-digest.json")" "$(stat -c %s "$T/layer")" \
      "size of layer $layer"
    diff_id=$(jq -r ".rootfs.diff_ids[$i]" "$T/config.json")
    assert_eq "$diff_id" "sha256:$(gzip -dc "$T/layer" | sha256sum | cut -d' ' -f1)" \
      "uncompressed digest of layer $i ($layer)"
  done
  # The files themselves, from the last layer's tar.
  mkdir -p "$T/extract-$tag"
  for ((i = 0; i < n; i++)); do
    fetch_blob "$repo" "$(jq -r ".layers[$i].digest" "$T/by-digest.json")" "$T/layer"
    tar -xzf "$T/layer" -C "$T/extract-$tag"
  done
  assert_same_file /bin/busybox "$T/extract-$tag/bin/busybox" "busybox in $repo:$tag"
  assert_same_file /bin/busybox "$T/extract-$tag/bin/sh" "/bin/sh in $repo:$tag"
  assert_same_file "$T/hello.txt" "$T/extract-$tag/etc/hello.txt" "text file in $repo:$tag"
  assert_same_file "$T/random.bin" "$T/extract-$tag/data/random.bin" "random file in $repo:$tag"
  assert_eq 3 "$n" "number of layers in $repo:$tag"
  log "$repo:$tag: manifest $digest, $n layers verified"
}

REPO=clients/buildah/img
run buildah push --tls-verify=false --format oci --digestfile "$T/oci.digest" \
  localhost/clients/buildah:built "docker://$REG/$REPO:oci"
check_pushed "$REPO" oci "$T/oci.digest" application/vnd.oci.image.manifest.v1+json

run buildah push --tls-verify=false --format v2s2 --digestfile "$T/v2s2.digest" \
  localhost/clients/buildah:built "docker://$REG/$REPO:v2s2"
check_pushed "$REPO" v2s2 "$T/v2s2.digest" application/vnd.docker.distribution.manifest.v2+json

# buildah pulls it back into its store (after removing the local image) with the same image ID.
id_before=$(capture buildah images --no-trunc --format '{{.ID}}' localhost/clients/buildah:built)
run buildah rmi localhost/clients/buildah:built
run buildah pull --tls-verify=false "$REG/$REPO:oci"
id_after=$(capture buildah images --no-trunc --format '{{.ID}}' "$REG/$REPO:oci")
assert_eq "$id_before" "$id_after" "image ID (config digest) after buildah pull"
