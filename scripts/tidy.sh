#!/usr/bin/env bash
# Runs clang-tidy, configured by the root .clang-tidy, over every first-party
# C++ source of a configured build tree and fails on any warning:
#   scripts/tidy.sh [BUILD_DIR]        (default: build/release)
# The sources are those of BUILD_DIR/compile_commands.json under the source
# root, except CUDA (.cu, and anything nvcc compiles: clang-tidy does not
# parse nvcc's command lines) and files generated into a build tree.
# Files are checked $(nproc) at a time.
#
# Result cache. A file that passes is recorded under
# ${XDG_CACHE_HOME:-~/.cache}/myriad-tidy (or $MYRIAD_TIDY_CACHE) by a hash of
# everything its result depends on: the clang-tidy version, this script, the
# .clang-tidy files above it, its compile command and its preprocessed
# translation unit, comments kept (so a NOLINT counts), with the source root
# written as a placeholder (so a fresh clone elsewhere on the machine hits).
# An unchanged file is then answered by one preprocessor run instead of a
# clang-tidy run, as ccache answers a compile. Failures are not recorded: a
# failing file is checked, and its warnings printed, every time. Entries not
# used for 30 days are removed. MYRIAD_TIDY_VERBOSE=1 prints each check's time.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=$(cd "${1:-$root/build/release}" && pwd -P)
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy.sh: no compile_commands.json in $build: configure it first (scripts/build.sh)" >&2
  exit 2
fi
# Debian names the tool clang-tidy-<version>; setup.sh installs the
# unversioned alternative.
tidy=${CLANG_TIDY:-$(command -v clang-tidy || command -v clang-tidy-14 || true)}
if [ -z "$tidy" ]; then
  echo "tidy.sh: clang-tidy not found: run scripts/setup.sh, or set CLANG_TIDY" >&2
  exit 2
fi
cache=${MYRIAD_TIDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/myriad-tidy}

exec python3 - "$root" "$build" "$tidy" "$cache" "$(nproc)" "${BASH_SOURCE[0]}" <<'PY'
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time

root, build, tidy, cache, jobs, script = sys.argv[1:]
jobs = int(jobs)
verbose = os.environ.get("MYRIAD_TIDY_VERBOSE", "") not in ("", "0")
started = time.monotonic()
kPlaceholder = b"@MYRIAD_ROOT@"
kUnusedDays = 30

with open(os.path.join(build, "compile_commands.json")) as f:
    entries = json.load(f)


def first_party(entry):
    path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    if not path.startswith(root + os.sep) or not path.endswith(".cc"):
        return False
    if path.startswith(os.path.join(root, "build") + os.sep) or path.startswith(build + os.sep):
        return False
    compiler = os.path.basename(shlex.split(entry["command"])[0] if "command" in entry else entry["arguments"][0])
    return compiler != "nvcc"


def arguments(entry):
    return shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])


def preprocess_command(args):
    # The compile command with its output dropped, made to preprocess to
    # stdout: -C keeps comments, where NOLINT markers live.
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
        elif arg in ("-c", "-MD", "-MMD") or arg.startswith("-o"):
            continue
        else:
            out.append(arg)
    return out + ["-E", "-C", "-o", "-"]


def digest(data):
    return hashlib.sha256(data).hexdigest()


with open(script, "rb") as f:
    script_hash = digest(f.read())
version = subprocess.run([tidy, "--version"], capture_output=True, check=True).stdout
config_hash = {}


def configs_above(path):
    # clang-tidy takes the nearest .clang-tidy up from the file; each one on
    # the way to the root is hashed, so adding one anywhere there counts.
    parts = []
    folder = os.path.dirname(path)
    while True:
        if folder not in config_hash:
            candidate = os.path.join(folder, ".clang-tidy")
            if os.path.isfile(candidate):
                with open(candidate, "rb") as f:
                    config_hash[folder] = digest(f.read())
            else:
                config_hash[folder] = ""
        parts.append(config_hash[folder])
        if folder == root or len(folder) <= len(root):
            break
        folder = os.path.dirname(folder)
    return "\n".join(parts).encode()


def check(entry):
    path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, root)
    args = arguments(entry)
    pre = subprocess.run(preprocess_command(args), cwd=entry["directory"], capture_output=True)
    if pre.returncode != 0:
        return rel, "failed", "preprocessing failed:\n" + pre.stderr.decode(errors="replace")
    key = hashlib.sha256()
    for part in (version, script_hash.encode(), configs_above(path),
                 " ".join(args).encode().replace(root.encode(), kPlaceholder),
                 pre.stdout.replace(root.encode(), kPlaceholder)):
        key.update(digest(part).encode())
    key = key.hexdigest()
    marker = os.path.join(cache, key[:2], key)
    if os.path.exists(marker):
        os.utime(marker)
        return rel, "cached", ""
    # The code is built by GCC: a pragma naming a GCC-only warning is not
    # clang's business.
    begun = time.monotonic()
    result = subprocess.run([tidy, "-p", build, "--quiet", "--extra-arg=-Wno-unknown-warning-option", path],
                            capture_output=True)
    if verbose:
        print(f"tidy: {rel}: {time.monotonic() - begun:.1f} s", flush=True)
    output = (result.stdout + result.stderr).decode(errors="replace")
    # clang-tidy prints "N warnings generated." for suppressed ones too; a
    # diagnostic line is what counts.
    if result.returncode != 0 or ": warning: " in output or ": error: " in output:
        return rel, "failed", output
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    temporary = f"{marker}.{os.getpid()}.{id(entry)}"
    with open(temporary, "w") as f:
        f.write(rel + "\n")
    os.replace(temporary, marker)  # atomic: a concurrent run never sees half an entry
    return rel, "checked", ""


selected = [e for e in entries if first_party(e)]
if not selected:
    sys.exit(f"tidy.sh: no first-party sources in {build}/compile_commands.json")
counts = {"cached": 0, "checked": 0, "failed": 0}
failed = []
with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
    for rel, outcome, output in pool.map(check, selected):
        counts[outcome] += 1
        if outcome == "failed":
            failed.append(rel)
            print(f"== clang-tidy: {rel}\n{output}", flush=True)

cutoff = time.time() - kUnusedDays * 86400
for folder, _, files in os.walk(cache):
    for name in files:
        entry = os.path.join(folder, name)
        try:
            if os.path.getmtime(entry) < cutoff:
                os.remove(entry)
        except OSError:
            pass  # removed by a concurrent run

print(f"tidy: {len(selected)} files: {counts['checked']} checked, {counts['cached']} from the cache "
      f"({cache}), {counts['failed']} with warnings; {time.monotonic() - started:.0f} s")
if failed:
    print("tidy: warnings in " + ", ".join(failed))
    sys.exit(1)
PY
