#!/usr/bin/env bash
# install_test.sh BUILD_DIR CONSUMER_SOURCE SCRATCH_DIR
# Installs the build tree into SCRATCH_DIR/prefix and fails (non-zero) when
#   - the installed headers are not exactly the public API: the headers named
#     in BUILD_DIR/myriad_public_headers.txt and the first-party headers they
#     include, transitively (recomputed here from the source tree), with no
#     internal folder (native/, detail/, mpi/, nccl/, cuda/) among them;
#   - an installed header does not compile on its own, included twice, with
#     only the install prefix and the package's dependencies (the consumer's
#     target installed_headers_alone);
#   - the package cannot be found, built against or run: the consumer does a
#     store round trip and validates a checkpoint State through the
#     installed libraries.
set -euo pipefail
build=$1 consumer=$2 scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
prefix="$scratch/prefix"
include="$prefix/include/myriad"
source=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")

cmake --install "$build" --prefix "$prefix" > "$scratch/install.log" 2>&1 \
  || { cat "$scratch/install.log"; exit 1; }
test -x "$prefix/bin/myriad" || { echo "install did not place bin/myriad"; exit 1; }
"$prefix/bin/myriad" --help > /dev/null

# The closure of the public headers, followed through the source tree: an
# include names a first-party header when the source root holds it.
declare -A reached=()
pending=()
while read -r root; do
  [ -n "$root" ] && pending+=("$root")
done < "$build/myriad_public_headers.txt"
[ "${#pending[@]}" -gt 0 ] || { echo "no public headers named in $build/myriad_public_headers.txt"; exit 1; }
while [ "${#pending[@]}" -gt 0 ]; do
  header=${pending[0]}
  pending=("${pending[@]:1}")
  [ -n "${reached[$header]:-}" ] && continue
  reached[$header]=1
  while read -r included; do
    [ -f "$source/$included" ] && pending+=("$included")
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/p' "$source/$header")
done
expected=$(printf '%s\n' "${!reached[@]}" | sort)
installed=$(cd "$include" && find . -type f | sed 's|^\./||' | sort)
if [ "$installed" != "$expected" ]; then
  echo "the installed headers are not the public API and what it includes:"
  diff <(echo "$expected") <(echo "$installed") | sed -n 's/^</  missing: /p; s/^>/  not public: /p'
  exit 1
fi
if grep -E '(^|/)(native|detail|mpi|nccl|cuda)/' <<< "$installed"; then
  echo "internal headers are installed (above)"
  exit 1
fi
echo "installed headers: $(wc -l <<< "$installed") (the public API and what it includes)"

cmake -S "$consumer" -B "$scratch/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/consumer.log" 2>&1 \
  || { cat "$scratch/consumer.log"; exit 1; }
cmake --build "$scratch/consumer" || exit 1
output=$("$scratch/consumer/consumer")
echo "$output"
[ "$output" = "consumer: store round trip 42, dtype bf16 is 2 bytes, checkpoint state of 1 tensor valid" ] \
  || { echo "unexpected consumer output"; exit 1; }
