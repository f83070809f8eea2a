#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer and UBSan) into
# build/fuzz and runs each for a bounded time (default 60 s; FUZZ_SECONDS
# sets it), from a seed corpus of well-formed frames. A crash, a sanitizer
# report or a property violation fails the script and leaves the input
# that caused it in build/fuzz/.
#   scripts/fuzz.sh [seconds]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-${FUZZ_SECONDS:-60}}
out="$root/build/fuzz"
mkdir -p "$out/corpus"

flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root")
clang++ "${flags[@]}" "$root/tests/fuzz/store_frame_fuzz.cc" "$root/runtime/store_protocol.cc" \
  "$root/runtime/error.cc" -lfmt -o "$out/store_frame_fuzz"

# Seeds: one well-formed frame per request, and two frames back to back.
seed() { printf "$2" > "$out/corpus/$1"; }
seed auth 'MY\x01\x01\x08\x00\x00\x00\x04\x00\x00\x00toke'
seed set 'MY\x01\x02\x0a\x00\x00\x00\x01\x00\x00\x00k\x01\x00\x00\x00v'
seed get 'MY\x01\x03\x0d\x00\x00\x00\x01\x00\x00\x00k\xe8\x03\x00\x00\x00\x00\x00\x00'
seed wait 'MY\x01\x07\x16\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00a\x01\x00\x00\x00b\xff\xff\xff\xff\xff\xff\xff\xff'
seed two 'MY\x01\x09\x00\x00\x00\x00MY\x01\x0a\x05\x00\x00\x00\x01\x00\x00\x00g'

cd "$out"
./store_frame_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$out/corpus" 2>&1 | tail -n 15
