#!/usr/bin/env bash
# Installs everything Myriad needs on a Debian 12 machine: the Debian
# packages and the Python virtual environment at $MYRIAD_VENV (default
# /opt/myriad/venv, outside the source tree). Idempotent, and quick when
# everything is already there: it only calls apt-get for missing packages.
set -euo pipefail

MYRIAD_VENV=${MYRIAD_VENV:-/opt/myriad/venv}

packages=(
  build-essential cmake ninja-build ccache pkg-config git clang-tidy clang-format
  clang libclang-rt-14-dev
  libopenmpi-dev openmpi-bin libucx-dev libhwloc-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-venv python3-dev
  iproute2 procps hyperfine
  slurm-wlm munge
  etcd-server etcd-client curl libcurl4 libcurl4-openssl-dev
  libyaml-cpp-dev chromium
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's interpreter, not whichever python3 is first on PATH, so that the
# environment is the same on every machine.
if [ ! -x "$MYRIAD_VENV/bin/python" ]; then
  echo "setup: creating the Python environment at $MYRIAD_VENV"
  "${sudo_cmd[@]}" mkdir -p "$(dirname "$MYRIAD_VENV")"
  "${sudo_cmd[@]}" /usr/bin/python3 -m venv "$MYRIAD_VENV"
fi
# PyTorch and the Python tools (PyPI): torch for the backend and its tests
# (its CUDA wheels, ~5 GB, ~1.5 min to install on the project's machines),
# scikit-build-core for `pip install ./python`. Only what is missing is
# installed: a re-run costs one interpreter start.
python_packages=(torch numpy pytest scikit-build-core)
missing_python=$("$MYRIAD_VENV/bin/python" - "${python_packages[@]}" <<'PY'
import importlib.util, sys
print(" ".join(p for p in sys.argv[1:] if importlib.util.find_spec(p.replace("-", "_")) is None))
PY
)
if [ -n "$missing_python" ]; then
  echo "setup: installing into $MYRIAD_VENV: $missing_python"
  # shellcheck disable=SC2086  # one word per package
  "${sudo_cmd[@]}" "$MYRIAD_VENV/bin/pip" install --quiet --disable-pip-version-check $missing_python
fi
echo "setup: dependencies present; Python environment at $MYRIAD_VENV"
