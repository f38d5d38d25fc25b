#!/usr/bin/env bash
# Proxy projects with real clients, transparently: an upstream Distribution holds an image that
# skopeo pushed; berth caches it in a proxy project marked as the mirror. containerd pulls the
# upstream's name through a hosts.toml mirror (so berth sees ?ns=HOST:PORT) and podman through a
# registries.conf mirror (berth's /<project> prefix); both get the image byte for byte, and
# podman's pull, after containerd's, is served from the cache without fetching a blob again.
# Then podman pulls a second image through a mirror without a prefix: the requests docker's
# `registry-mirrors` sends (the upstream's names, no ?ns=), which berth maps onto the mirror.
#
#   bash tests/clients/proxy_mirror.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $REGISTRY_KIND == berth ]] ||
  fail "$TEST_NAME tests Berth's proxy projects: run it with BERTH_TEST_REGISTRY=berth"

# --- the upstream: Distribution, holding one image ------------------------------------------------
_start_distribution
UP=$REG
log "upstream Distribution on $UP"
SRC="$T/src"
mkdir -p "$T/files"
make_random_file "$T/files/a.bin" $((3 * 1024 * 1024))
printf 'proxy mirror test %s\n' "$RANDOM" >"$T/files/c.txt"
umoci_image "$SRC" base
umoci_add "$SRC" base "$T/files/a.bin" /a.bin
umoci_add "$SRC" base "$T/files/c.txt" /etc/c.txt
BASE=$(layout_tag_digest "$SRC" base)
REPO=clients/proxy/app
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:base" "docker://$UP/$REPO:1.0"
umoci_image "$SRC" other
make_random_file "$T/files/b.bin" $((2 * 1024 * 1024))
umoci_add "$SRC" other "$T/files/b.bin" /b.bin
OTHER=$(layout_tag_digest "$SRC" other)
REPO2=clients/proxy/other
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:other" "docker://$UP/$REPO2:2.0"

# --- berth caching it as project "mirror" ---------------------------------------------------------
printf '%s\n' "proxies:" "  - project: mirror" "    upstream: http://$UP" "    mirror: true" \
  >"$T/berth.yaml"
_start_berth --config "$T/berth.yaml"
log "berth on $REG caching $UP as project 'mirror'"

# --- containerd through a hosts.toml mirror -------------------------------------------------------
start_containerd
mkdir -p "$T/hosts/$UP"
printf '%s\n' "server = \"http://$UP\"" "" "[host.\"http://$REG\"]" \
  '  capabilities = ["pull", "resolve"]' >"$T/hosts/$UP/hosts.toml"
run "${CTR[@]}" images pull --hosts-dir "$T/hosts" --snapshotter native "$UP/$REPO:1.0"
got=$(capture "${CTR[@]}" images ls | awk -v r="$UP/$REPO:1.0" '$1 == r { print $3 }')
assert_eq "$BASE" "$got" "digest of $REPO:1.0 pulled by containerd through the mirror"
for d in $(closure "$SRC" "$BASE" | sort -u); do
  capture "${CTR[@]}" content get "$d" >"$T/content"
  assert_same_file "$(blob_path "$SRC" "$d")" "$T/content" "containerd's copy of $d"
done
# The access log shows the target as sent: the ':' of ns= percent-encoded.
grep -q "ns=${UP/:/%3A}" "$T/server.log" || fail "berth saw no mirror request with ?ns=$UP"
grep -q "proxy project 'mirror': cached manifest" "$T/server.log" ||
  fail "berth did not cache the manifest (server log: $T/server.log)"
log "containerd pulled $REPO:1.0 through berth's mirror"

# --- podman through a registries.conf mirror ------------------------------------------------------
use_container_storage
printf '%s\n' "[[registry]]" "location = \"$UP\"" "insecure = true" "[[registry.mirror]]" \
  "location = \"$REG/mirror\"" "insecure = true" >"$CONTAINERS_REGISTRIES_CONF"
fetches_before=$(grep -c "proxy project 'mirror': fetching" "$T/server.log" || true)
run podman pull "$UP/$REPO:1.0"
got=$(capture podman image inspect --format '{{.Digest}}' "$UP/$REPO:1.0")
assert_eq "$BASE" "$got" "digest of $REPO:1.0 pulled by podman through the mirror"
grep -q "/v2/mirror/$REPO/manifests/" "$T/server.log" ||
  fail "podman did not go through berth's mirror"
fetches_after=$(grep -c "proxy project 'mirror': fetching" "$T/server.log" || true)
assert_eq "$fetches_before" "$fetches_after" "upstream blob fetches for podman's pull (all cached)"
log "podman pulled $REPO:1.0 through berth's mirror, every blob from the cache"

# --- podman through a mirror without a prefix (docker's registry-mirrors) -------------------------
printf '%s\n' "[[registry]]" "location = \"$UP\"" "insecure = true" "[[registry.mirror]]" \
  "location = \"$REG\"" "insecure = true" >"$CONTAINERS_REGISTRIES_CONF"
run podman pull "$UP/$REPO2:2.0"
got=$(capture podman image inspect --format '{{.Digest}}' "$UP/$REPO2:2.0")
assert_eq "$OTHER" "$got" "digest of $REPO2:2.0 pulled by podman through the unprefixed mirror"
grep -q "/v2/$REPO2/manifests/" "$T/server.log" ||
  fail "podman did not ask berth for /v2/$REPO2 (server log: $T/server.log)"
grep -q "proxy project 'mirror': cached manifest $REPO2" "$T/server.log" ||
  fail "berth did not serve the unprefixed name from the mirror's cache (server log: $T/server.log)"
log "podman pulled $REPO2:2.0 through berth as a registry-mirrors mirror"
