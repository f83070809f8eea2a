#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a 4-rank
# `myriad run` on the embedded defaults (local engine, embedded store).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
exec "$root/build/release/launcher/myriad" run -np 4 "$root/build/release/examples/cpp/hello/hello"
