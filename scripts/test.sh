#!/usr/bin/env bash
# Builds attnscope and runs the whole test suite: C++ (GoogleTest), Python (pytest) and browser
# (headless chromium) tests, all through ctest. In CI (CI=true) the C++ tests also run under
# AddressSanitizer + UndefinedBehaviorSanitizer first, and every fuzz target runs 10 s (preset
# fuzz). The release pass includes the pip-install test (label "install"; it compiles the
# package from a clean copy: ATTNSCOPE_SKIP_INSTALL=1 leaves it out). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

if [ "${CI:-}" = "true" ] || [ "${ATTNSCOPE_ASAN:-}" = "1" ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j"$jobs"
  # The asan test preset sets the sanitizers' options: leaks checked, tests/lsan.supp (fontconfig's
  # permanent cache) suppressed, and no suppression statistics on stderr, which CLI tests read.
  ctest --preset asan -j"$jobs" --output-on-failure
fi

if [ "${CI:-}" = "true" ] || [ "${ATTNSCOPE_FUZZ_SMOKE:-}" = "1" ]; then
  # The fuzz targets (clang-14, libFuzzer + ASan/UBSan): keep them building and running, 10 s each.
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j"$jobs"
  ctest --preset fuzz --output-on-failure
fi

cmake --preset release -DATTNSCOPE_WERROR=ON >/dev/null
cmake --build --preset release -j"$jobs"
if [ "${ATTNSCOPE_SKIP_INSTALL:-}" = "1" ]; then
  ctest --preset release -j"$jobs" --output-on-failure -LE install
else
  ctest --preset release -j"$jobs" --output-on-failure
fi
