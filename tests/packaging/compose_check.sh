#!/usr/bin/env bash
# The compose files in deploy/ cannot run here (their images come from registries this machine
# cannot reach), so this checks what can drift: every BERTH_* variable they set is a key of this
# berth (`berth config keys`) or BERTH_ADMIN_PASSWORD, each file parses as YAML with the
# services it promises, and the berth image they run is the one scripts/container_image.sh
# builds.
#   bash tests/packaging/compose_check.sh PATH/TO/berth
set -euo pipefail
berth=$1
deploy="$(cd "$(dirname "$0")/../.." && pwd)/deploy"
fail() { echo "FAIL: $*" >&2; exit 1; }

known=$("$berth" config keys | awk '{print $2}')
for file in "$deploy"/compose.*.yaml; do
  for variable in $(grep -o 'BERTH_[A-Z0-9_]*' "$file" | sort -u); do
    [[ $variable == BERTH_ADMIN_PASSWORD ]] && continue
    grep -qx "$variable" <<<"$known" || fail "$(basename "$file") sets $variable, which berth does not know"
  done
  grep -q 'image: localhost/berth:latest' "$file" || fail "$(basename "$file") runs another berth image"
done

services() { python3 -c 'import sys, yaml; print(" ".join(sorted(yaml.safe_load(open(sys.argv[1]))["services"])))' "$1"; }
[[ $(services "$deploy/compose.embedded.yaml") == "berth" ]] ||
  fail "compose.embedded.yaml: services $(services "$deploy/compose.embedded.yaml")"
[[ $(services "$deploy/compose.scaled.yaml") == "balancer berth minio postgres" ]] ||
  fail "compose.scaled.yaml: services $(services "$deploy/compose.scaled.yaml")"
echo "compose files: every BERTH_* variable is a key of $("$berth" version)"
