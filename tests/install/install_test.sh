#!/usr/bin/env bash
# install_test.sh BUILD_DIR CONSUMER_SOURCE SCRATCH_DIR
# Fails (non-zero) when the installed package cannot be found, built against
# or run: the consumer does a store round trip through the installed library.
set -euo pipefail
build=$1 consumer=$2 scratch=$3
rm -rf "$scratch"
prefix="$scratch/prefix"

cmake --install "$build" --prefix "$prefix" > "$scratch.install.log" 2>&1 \
  || { cat "$scratch.install.log"; exit 1; }
test -x "$prefix/bin/myriad" || { echo "install did not place bin/myriad"; exit 1; }
"$prefix/bin/myriad" --help > /dev/null
test -f "$prefix/include/myriad/runtime/store.h" || { echo "headers missing"; exit 1; }

cmake -S "$consumer" -B "$scratch/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$scratch/consumer"
output=$("$scratch/consumer/consumer")
echo "$output"
[ "$output" = "consumer: store round trip 42, dtype bf16 is 2 bytes" ] \
  || { echo "unexpected consumer output"; exit 1; }
