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
  asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DMYRIAD_SANITIZE=address -DMYRIAD_BUILD_BENCHMARKS=OFF) ;;
  *) echo "build.sh: unknown configuration '$config': accepted values are release, asan" >&2; exit 2 ;;
esac

build="$root/build/$config"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DMYRIAD_WERROR=ON \
    -DMYRIAD_VENV="${MYRIAD_VENV:-/opt/myriad/venv}" "${flags[@]}"
fi
cmake --build "$build" -j "$(nproc)"
