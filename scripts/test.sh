#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the release build: every test (unit, multi-process, launcher, install)
#   2. the AddressSanitizer + UBSan build: the C++ unit tests (label `unit`) and
#      the multi-process tests labelled `*-asan`
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)

"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
"$root/scripts/build.sh" asan

echo "== release build: all tests"
ctest --test-dir "$root/build/release" -j "$jobs" --output-on-failure --timeout 300

echo "== asan build: unit tests and the *-asan subset"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build/asan" -L "^unit$|-asan$" -j "$jobs" --output-on-failure --timeout 300
