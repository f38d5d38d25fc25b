#!/usr/bin/env bash
# Berth's own container image (scripts/container_image.sh): built from scratch with buildah,
# pushed into a running Berth, and inspected there: it runs as an unprivileged user, starts
# `berth serve` with its configuration, and carries everything the binary loads (the image's
# berth runs inside the unpacked image with nothing from the host).
#
#   bash tests/clients/container_image.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
start_registry
use_container_storage

log "building the image"
image=$(capture "$repo_root/scripts/container_image.sh" "$BERTH_BIN" localhost/berth:under-test)
assert_eq "localhost/berth:under-test" "$image" "the image name the script printed"
run buildah push --tls-verify=false --digestfile "$T/pushed.digest" "$image" \
  "docker://$REG/berth/berth:test"

log "inspecting what Berth holds"
skopeo inspect --tls-verify=false --config "docker://$REG/berth/berth:test" >"$T/config.json" ||
  fail "skopeo inspect --config of $REG/berth/berth:test failed"
user=$(jq -r .config.User "$T/config.json")
assert_eq "65532:65532" "$user" "the image's user"
[[ $user != 0* && $user != root* ]] || fail "the image runs as root: $user"
assert_eq '["/usr/bin/berth"]' "$(jq -c .config.Entrypoint "$T/config.json")" "the entrypoint"
assert_eq '["serve","--config","/etc/berth/berth.yaml"]' "$(jq -c .config.Cmd "$T/config.json")" \
  "the command"
assert_eq '{"5000/tcp":{}}' "$(jq -c .config.ExposedPorts "$T/config.json")" "the exposed port"
assert_eq '{"/var/lib/berth":{}}' "$(jq -c .config.Volumes "$T/config.json")" "the volume"

log "running the pushed image's berth in its own root"
run podman pull --tls-verify=false "$REG/berth/berth:test"
rootfs=$(capture podman image mount "$REG/berth/berth:test")
[[ -x $rootfs/usr/bin/berth ]] || fail "no /usr/bin/berth in the pulled image"
assert_eq "65532" "$(stat -c %u "$rootfs/var/lib/berth")" "the owner of the data directory"
assert_eq "0" "$(stat -c %u "$rootfs/var/lib")" "the owner of /var/lib"
# A copy with /proc (the sanitizers of a test build read /proc/self/maps); this namespace's
# mounts go with the test.
cp -a "$rootfs" "$T/rootfs"
run podman image unmount "$REG/berth/berth:test"
mkdir -p "$T/rootfs/proc"
mount -t proc proc "$T/rootfs/proc"
version=$(chroot --userspec=65532:65532 "$T/rootfs" /usr/bin/berth version) ||
  fail "the image's berth does not run in the image alone"
[[ $version == "berth "* ]] || fail "berth version in the image printed '$version'"
chroot --userspec=65532:65532 "$T/rootfs" /usr/bin/berth config check /etc/berth/berth.yaml \
  >/dev/null || fail "the image's configuration does not pass berth config check"
umount "$T/rootfs/proc"
log "ok: image $(cat "$T/pushed.digest") runs as $user"
