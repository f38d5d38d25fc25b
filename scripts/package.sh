#!/usr/bin/env bash
# Builds the Debian package from a Release build directory (default build/release) and checks
# it: the files it installs, its conffiles and dependencies, the unit's sandboxing, and that
# the packaged binary runs. Prints the .deb's path.
#   scripts/package.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
ninja -C "$build" berth >/dev/null
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/berth_*.deb | head -1)

fail() { echo "package: $*" >&2; exit 1; }
contents=$(dpkg-deb -c "$deb")
for file in ./usr/bin/berth ./usr/lib/systemd/system/berth.service ./usr/share/man/man1/berth.1 \
  ./usr/share/bash-completion/completions/berth ./etc/berth/berth.yaml ./etc/default/berth; do
  grep -q " $file\$" <<<"$contents" || fail "$deb lacks $file"
done
conffiles=$(dpkg-deb -I "$deb" conffiles)
[[ $conffiles == *"/etc/berth/berth.yaml"* ]] || fail "the example configuration is no conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for library in libsqlite3 libpq5 libssl3 libyaml-cpp; do
  [[ $depends == *"$library"* ]] || fail "Depends lacks $library: $depends"
done

unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
unit="$unpacked/usr/lib/systemd/system/berth.service"
for setting in DynamicUser=yes ProtectSystem=strict StateDirectory=berth NoNewPrivileges=yes \
  "ExecStart=/usr/bin/berth serve --config /etc/berth/berth.yaml"; do
  grep -qx "$setting" "$unit" || fail "the unit lacks $setting"
done
if command -v systemd-analyze >/dev/null && [[ -d /run/systemd/system ]]; then
  systemd-analyze verify "$unit" || fail "systemd-analyze rejects the unit"
fi
"$unpacked/usr/bin/berth" --version | grep -q "^berth " || fail "the packaged berth does not run"
"$unpacked/usr/bin/berth" config check "$unpacked/etc/berth/berth.yaml" >/dev/null ||
  fail "the packaged example configuration does not pass berth config check"
echo "$deb"
