#!/usr/bin/env bash
# Formats every tracked C++ file with the repository's .clang-format (120 columns), except generated
# data tables. --check lists the files that would change and fails if there are any.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v -e '^src/viz/colormap_data.cpp$')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
