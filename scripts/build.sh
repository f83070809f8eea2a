#!/usr/bin/env bash
# Configures and builds one configuration into build/<config>:
#   release  optimized with debug info, warnings are errors (the default)
#   asan     AddressSanitizer + UndefinedBehaviorSanitizer, for the unit tests
#   tsan     ThreadSanitizer: only the test programs that scripts/test.sh runs
#            under it (the tests labelled `*-tsan`)
# Re-running is incremental; ccache makes a fresh build tree cheap.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${1:-release}
targets=()  # empty: every target
case "$config" in
  release) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # CUDA code is compiled (and its tests skip) in the release build; the
  # sanitizer build leaves it out, as nvcc's host pass is the slowest step.
  # The PyTorch extension too: it cannot be loaded into an uninstrumented
  # Python, and the sanitizer build runs the C++ unit tests only.
  asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DMYRIAD_SANITIZE=address -DMYRIAD_BUILD_BENCHMARKS=OFF
               -DMYRIAD_WITH_CUDA=OFF -DMYRIAD_WITH_TORCH=OFF) ;;
  # Optimized: ThreadSanitizer slows a program 5-15x, and the transport tests
  # move megabytes between forked ranks. Only the programs that test.sh runs
  # are built: the rest of the tree would add minutes and be run by nobody.
  tsan) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMYRIAD_SANITIZE=thread -DMYRIAD_BUILD_BENCHMARKS=OFF
               -DMYRIAD_WITH_CUDA=OFF -DMYRIAD_WITH_TORCH=OFF)
        targets=(transport_test shm_transport_test tcp_transport_test transport_registry_test
                 progress_thread_test completion_executor_test async_test store_test tcp_store_test) ;;
  *) echo "build.sh: unknown configuration '$config': accepted values are release, asan, tsan" >&2; exit 2 ;;
esac

build="$root/build/$config"
# Compiler results are shared between clones of the repository (CI builds a
# fresh clone): paths under the root are hashed relative to it.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DMYRIAD_WERROR=ON \
    -DMYRIAD_VENV="${MYRIAD_VENV:-/opt/myriad/venv}" "${flags[@]}"
fi
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$build" -j "$(nproc)"
fi
