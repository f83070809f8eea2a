#!/usr/bin/env bash
# check_includes_test.sh SCRIPT FIXTURE SCRATCH
# Runs scripts/check_includes.py on the fixture project (FIXTURE), configured
# once per case: the good case must pass, and each broken case must fail
# with exactly its finding, named by file and line or by CMakeLists.txt.
set -euo pipefail
script=$1 fixture=$2 scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
build="$scratch/build"
failures=0

# expect CASE STATUS FINDINGS [EXPECTED LINE...]: the script exits STATUS,
# prints FINDINGS findings, and prints each EXPECTED line as a line of its own.
expect() {
  local case=$1 status=$2 count=$3
  shift 3
  cmake -S "$fixture" -B "$build" -DFIXTURE_CASE="$case" > "$scratch/$case.configure.log" 2>&1 \
    || { cat "$scratch/$case.configure.log"; echo "FAIL $case: the fixture does not configure"; exit 1; }
  local output rc=0
  output=$(python3 "$script" "$build" 2>&1) || rc=$?
  local ok=1
  [ "$rc" = "$status" ] || { echo "FAIL $case: exit status $rc, expected $status"; ok=0; }
  if [ "$count" = 0 ]; then
    grep -q '^check_includes: OK ' <<< "$output" || { echo "FAIL $case: no OK summary"; ok=0; }
  else
    grep -q "^check_includes: FAILED, $count findings " <<< "$output" \
      || { echo "FAIL $case: expected $count findings"; ok=0; }
  fi
  local line
  for line in "$@"; do
    grep -qxF -- "$line" <<< "$output" || { echo "FAIL $case: missing the line: $line"; ok=0; }
  done
  if [ "$ok" = 1 ]; then
    echo "ok $case"
  else
    echo "--- output of the $case case:"
    echo "$output"
    failures=$((failures + 1))
  fi
}

expect good 0 0

expect missing_link 1 1 \
  'collectives/comm.cc:3: #include "kernels/reduce.h": kernels/reduce.h belongs to fx_kernels, which fx_collectives does not link (CMakeLists.txt links: fx_runtime)'

expect unused_link 1 1 \
  'CMakeLists.txt: fx_runtime links fx_kernels, but no file of fx_runtime includes a header of it (a link that no include needs)'

# A PRIVATE link hides fx_runtime from the test program, which includes it,
# while fx_collectives's own header needs it: two findings.
expect private_exposed 1 2 \
  'tests/comm_test.cc:4: #include "runtime/error.h": runtime/error.h belongs to fx_runtime, which fx_comm_test does not link (CMakeLists.txt links: fx_collectives)' \
  'CMakeLists.txt: fx_collectives links fx_runtime PRIVATE, but its header collectives/comm.h:3 includes a header of it (PUBLIC: its consumers need it)'

expect public_unexposed 1 1 \
  'CMakeLists.txt: fx_collectives links fx_kernels PUBLIC, but none of its headers includes a header of it (PRIVATE: its consumers do not need it)'

expect upward 1 1 \
  'runtime/upward.cc:1: #include "collectives/comm.h": collectives/comm.h belongs to fx_collectives, in collectives/, a layer above runtime/ (fx_runtime'"'"'s layer; DESIGN.md: launcher > elastic > checkpoint > collectives > runtime > kernels)'

# Not a build tree: status 2 and a message naming it.
rc=0
output=$(python3 "$script" "$scratch/nowhere" 2>&1) || rc=$?
if [ "$rc" = 2 ] && grep -qF "cannot read the build tree $scratch/nowhere" <<< "$output"; then
  echo "ok not_a_build_tree"
else
  echo "FAIL not_a_build_tree: exit status $rc: $output"
  failures=$((failures + 1))
fi

[ "$failures" = 0 ] || { echo "$failures cases failed"; exit 1; }
echo "all cases passed"
