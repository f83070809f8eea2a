#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   0. the include graph against the link graph of the release build
#      (scripts/check_includes.py: a file includes only what its target
#      links, never a layer above; every link is used): a few seconds;
#      the layout of every source against .clang-format (seconds); the
#      store's frame parser under libFuzzer (scripts/fuzz.sh: 60 s);
#      then clang-tidy over every first-party source (scripts/tidy.sh, .clang-tidy: ~20-35
#      minutes cold on two cores; its result cache makes a re-run of
#      unchanged files one preprocessor pass each)
#   1. the release build: every test (unit, multi-process, launcher, install)
#   2. the AddressSanitizer + UBSan build: the C++ unit tests (label `unit`) and
#      the multi-process tests labelled `*-asan`
#   3. the ThreadSanitizer build: the transport, progress-thread, async and
#      store tests (labelled `*-tsan`)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)

"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
"$root/scripts/build.sh" asan
"$root/scripts/build.sh" tsan

echo "== include graph against link graph (build/release)"
python3 "$root/scripts/check_includes.py" "$root/build/release"

echo "== clang-format layout (.clang-format)"
git -C "$root" ls-files '*.cc' '*.h' '*.cu' '*.cuh' | (cd "$root" && xargs clang-format --dry-run --Werror)

echo "== fuzz: the store's frame parser (libFuzzer, ${MYRIAD_FUZZ_SECONDS:-60} s)"
"$root/scripts/fuzz.sh" "${MYRIAD_FUZZ_SECONDS:-60}"

echo "== clang-tidy (build/release)"
"$root/scripts/tidy.sh" "$root/build/release"

echo "== release build: all tests"
ctest --test-dir "$root/build/release" -j "$jobs" --output-on-failure --timeout 300

echo "== asan build: unit tests and the *-asan subset"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build/asan" -L "^unit(-tsan)?$|-asan$" -j "$jobs" --output-on-failure --timeout 300

# halt_on_error: a race fails the process that saw it (a forked rank exits
# non-zero, so its test fails) instead of scrolling past in the log. The
# async soak (5,000 random operations on 4 ranks) is left to the release
# build: under ThreadSanitizer each layout takes ~5 minutes on two cores and
# reaches the world timeout; the other async tests drive the same threads.
echo "== tsan build: the *-tsan subset"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir "$root/build/tsan" -L "tsan$" -E "AsyncOps\.SoakOf" -j "$jobs" --output-on-failure --timeout 600
