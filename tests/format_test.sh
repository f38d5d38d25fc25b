#!/usr/bin/env bash
# Checks that every C++ source is formatted by the committed .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src tests fuzz -name '*.[ch]pp')
clang-format --dry-run --Werror "${files[@]}"
echo "formatting ok (${#files[@]} files)"
