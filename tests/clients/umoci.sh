#!/usr/bin/env bash
# umoci: an image built from a file tree (two layers, the second deleting, replacing and adding
# files) goes to the registry with skopeo, comes back with skopeo into a new OCI layout, and
# `umoci unpack --rootless` of what came back must give the same tree: paths, types, modes, symlink
# targets and the sha256 of every file.
#
#   bash tests/clients/umoci.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# tree_listing DIR: one line per entry below DIR: type, mode, path, symlink target or sha256.
tree_listing() {
  (
    cd "$1"
    find . -mindepth 1 -printf '%y %m %p\n' | LC_ALL=C sort -k3 | while read -r type mode path; do
      case $type in
        f) echo "$type $mode $path $(sha256sum <"$path" | cut -d' ' -f1)" ;;
        l) echo "$type $path -> $(readlink "$path")" ;; # symlink modes are not meaningful
        *) echo "$type $mode $path" ;;
      esac
    done
  )
}

start_registry
SRC="$T/src"

log "building a two-layer image from a file tree"
umoci_image "$SRC" tree
run umoci unpack --image "$SRC:tree" "$T/bundle"
R="$T/bundle/rootfs"
mkdir -p "$R/usr/bin" "$R/etc/app" "$R/var/lib/app/a/b/c" "$R/dir with spaces" "$R/empty-dir"
make_random_file "$R/usr/bin/tool" $((64 * 1024))
chmod 0755 "$R/usr/bin/tool"
printf 'name = berth\nsize = %s\n' "$RANDOM" >"$R/etc/app/config.toml"
make_random_file "$R/etc/app/secret.key" 32
chmod 0600 "$R/etc/app/secret.key"
make_random_file "$R/var/lib/app/a/b/c/deep.bin" $((3 * 1024 * 1024))
printf 'to be replaced\n' >"$R/var/lib/app/replaced.txt"
printf 'to be deleted\n' >"$R/var/lib/app/deleted.txt"
: >"$R/var/lib/app/empty"
printf 'spaces\n' >"$R/dir with spaces/file name.txt"
ln -s ../etc/app/config.toml "$R/usr/config-link"
ln -s /nonexistent/target "$R/dangling"
run umoci repack --refresh-bundle --image "$SRC:tree" "$T/bundle"

# Second layer: a whiteout, a replacement, a new file.
rm "$R/var/lib/app/deleted.txt"
printf 'replaced in layer two %s\n' "$RANDOM" >"$R/var/lib/app/replaced.txt"
make_random_file "$R/usr/bin/second" 5000
chmod 0750 "$R/usr/bin/second"
run umoci repack --image "$SRC:tree" "$T/bundle"
tree_listing "$R" >"$T/expected.txt"
TREE=$(layout_tag_digest "$SRC" tree)
assert_eq 2 "$(jq '.layers | length' "$(blob_path "$SRC" "$TREE")")" "number of layers built"

REPO=clients/umoci/tree
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
  "oci:$SRC:tree" "docker://$REG/$REPO:v1"
run "${SKOPEO[@]}" copy --src-tls-verify=false "docker://$REG/$REPO:v1" "oci:$T/pulled:v1"
assert_eq "$TREE" "$(layout_tag_digest "$T/pulled" v1)" "manifest digest pulled back"
assert_layout_copy "$SRC" "$T/pulled" "$TREE" "image pulled back"

run umoci unpack --rootless --image "$T/pulled:v1" "$T/unpacked"
tree_listing "$T/unpacked/rootfs" >"$T/actual.txt"
if ! diff -u "$T/expected.txt" "$T/actual.txt" >"$T/tree.diff"; then
  cat "$T/tree.diff" >&2
  fail "the tree unpacked from the pulled image differs from the one built (diff above)"
fi
[[ ! -e $T/unpacked/rootfs/var/lib/app/deleted.txt ]] || fail "the whiteout in layer two was lost"
log "unpacked tree identical: $(wc -l <"$T/actual.txt") entries"
