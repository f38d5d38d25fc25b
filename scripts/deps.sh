#!/usr/bin/env bash
# Installs the Debian 12 packages Berth needs (and Node.js with npm, for the web UI), skipping the
# apt round trip when all are present.
#   scripts/deps.sh build        what building and running berth needs
#   scripts/deps.sh test-build   that, plus what compiling the tests needs
#   scripts/deps.sh test         that, plus the tools and the real clients the tests drive
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libcrypt-dev
)
test_build_packages=(
  libgtest-dev libgmock-dev googletest lld
)
test_packages=(
  clang-16 libclang-rt-16-dev
  clang-format curl ca-certificates openssl jq python3-yaml python3-prometheus-client
  skopeo podman buildah umoci containerd busybox-static uidmap fuse-overlayfs
  docker-registry
  radosgw ceph-mon ceph-osd ceph-common postgresql nginx
  chromium
)

packages=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test-build) packages+=("${test_build_packages[@]}") ;;
  test) packages+=("${test_build_packages[@]}" "${test_packages[@]}") ;;
  *)
    echo "usage: scripts/deps.sh build|test-build|test" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The web UI builds with node and npm (Debian 12's nodejs 18 and npm are enough). Checked by
# command rather than package: a Node.js from elsewhere (NodeSource bundles npm) serves as well,
# and Debian's npm package would conflict with it.
if ! command -v node >/dev/null; then
  missing+=(nodejs)
fi
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "Installing: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The downloaded .deb files (1.6 GB for the test packages) are of no use once installed, and the
# test build needs the disk: CI's once ran out while compiling.
$SUDO apt-get clean
