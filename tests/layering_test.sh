#!/usr/bin/env bash
# Checks the layer arrows of DESIGN.md: every #include "layer/..." in src/<folder>/ must name a
# layer that folder may use. Tests (*_test.cpp) may also include testing/.
set -euo pipefail
src="$(cd "$(dirname "$0")/../src" && pwd)"

declare -A allowed=(
  [util]="util"
  [core]="core util"
  [storage]="storage http core util"
  [meta]="meta core util"
  [registry]="registry storage meta core util"
  [events]="events registry http meta core util"
  [lifecycle]="lifecycle registry storage meta core util"
  [http]="http metrics util"
  [config]="config core util"
  [client]="client http core util"
  [proxy]="proxy client registry http storage meta core util"
  [api]="api audit metrics ui auth lifecycle proxy registry http storage meta core util"
  [metrics]="metrics util"
  [server]="server audit events metrics api ui auth lifecycle proxy client registry http storage meta config core util"
  [cli]="cli audit server auth lifecycle storage meta config core util"
  [auth]="auth meta core util"
  [audit]="audit meta core util"
  [ui]="ui http util"
  [testing]="testing storage meta http core util"
)

status=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  if [[ -z "${allowed[$layer]+x}" ]]; then
    echo "layer '$layer' is not in the layering table of tests/layering_test.sh"
    status=1
    continue
  fi
  while IFS= read -r line; do
    file=${line%%:*}
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$line")
    ok=0
    for a in ${allowed[$layer]}; do
      [[ "$target" == "$a" ]] && ok=1
    done
    if [[ "$file" == *_test.cpp && "$target" == "testing" ]]; then
      ok=1
    fi
    if ((ok == 0)); then
      echo "$file: layer '$layer' may not include '$target/' (${line#*:})"
      status=1
    fi
  done < <(grep -H -E '^#include "[a-z_]+/' "$dir"*.hpp "$dir"*.cpp 2>/dev/null || true)
done
if ((status == 0)); then
  echo "layering ok"
fi
exit $status
