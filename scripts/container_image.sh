#!/usr/bin/env bash
# Builds Berth's container image with buildah, from scratch (no base image to download, no Docker
# daemon): the berth binary, the shared libraries it loads, CA certificates, a configuration and
# an unprivileged user. Commits it to buildah's local storage and prints the image's name.
#   scripts/container_image.sh [BERTH_BINARY] [IMAGE]    defaults: a Release build, localhost/berth:VERSION
# Push it with: buildah push IMAGE docker://HOST/berth/berth:TAG
# Run it with:  podman run -p 5000:5000 -v berth-data:/var/lib/berth -e BERTH_ADMIN_PASSWORD=... IMAGE
set -euo pipefail
cd "$(dirname "$0")/.."
berth=${1:-}
if [[ -z $berth ]]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
  ninja -C build/release berth >/dev/null
  berth=build/release/berth
fi
version=$("$berth" version | awk '{print $2}')
image=${2:-localhost/berth:$version}
# The user the server runs as: not root, and no name on the host that it could be confused with.
uid=65532

root=$(mktemp -d)
chmod 0755 "$root"  # the image's /, not mktemp's private 0700
ctr=""
cleanup() {
  [[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1
  rm -rf "$root"
}
trap cleanup EXIT

# The binary and what the dynamic loader needs for it, at the same paths as here.
install -D -m 0755 "$berth" "$root/usr/bin/berth"
ldd "$berth" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | sort -u | while read -r lib; do
  file=$(readlink -f "$lib")
  install -D -m "$(stat -c %a "$file")" "$file" "$root$lib"  # the loader must stay executable
done
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$root/etc/berth" "$root/tmp" "$root/var/lib" "$root/.data/berth"
chmod 0700 "$root/.data/berth"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/nonexistent\nberth:x:%d:%d:Berth:/var/lib/berth:/nonexistent\n' \
  "$uid" "$uid" >"$root/etc/passwd"
printf 'root:x:0:\nberth:x:%d:\n' "$uid" >"$root/etc/group"
cat >"$root/etc/berth/berth.yaml" <<YAML
# Berth in a container: every key also comes from the environment (BERTH_...; berth config keys).
listen: "0.0.0.0:5000"
data: /var/lib/berth
YAML

ctr=$(buildah from scratch)
# buildah copy gives root what it copies unless told, and only a directory's contents take
# --chown: the data directory is copied as the content of a staging directory.
buildah copy --quiet "$ctr" "$root/var" /var >/dev/null
buildah copy --quiet --chown "$uid:$uid" "$ctr" "$root/.data" /var/lib >/dev/null
rm -rf "$root/.data"
buildah copy --quiet "$ctr" "$root" / >/dev/null
buildah config \
  --user "$uid:$uid" \
  --entrypoint '["/usr/bin/berth"]' \
  --cmd '["serve", "--config", "/etc/berth/berth.yaml"]' \
  --port 5000/tcp \
  --volume /var/lib/berth \
  --workingdir /var/lib/berth \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --label org.opencontainers.image.title=berth \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
ctr=""
echo "$image"
