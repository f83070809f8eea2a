#!/usr/bin/env bash
# Configures and builds one configuration into build/<config>:
#   release  optimized with debug info, warnings are errors (the default)
#   asan     AddressSanitizer + UndefinedBehaviorSanitizer, for the unit tests
# Re-running is incremental; ccache makes a fresh build tree cheap.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${1:-release}
case "$config" in
  release) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # CUDA code is compiled (and its tests skip) in the release build; the
  # sanitizer build leaves it out, as nvcc's host pass is the slowest step.
  # The PyTorch extension too: it cannot be loaded into an uninstrumented
  # Python, and the sanitizer build runs the C++ unit tests only.
  asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DMYRIAD_SANITIZE=address -DMYRIAD_BUILD_BENCHMARKS=OFF
               -DMYRIAD_WITH_CUDA=OFF -DMYRIAD_WITH_TORCH=OFF) ;;
  *) echo "build.sh: unknown configuration '$config': accepted values are release, asan" >&2; exit 2 ;;
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
cmake --build "$build" -j "$(nproc)"
