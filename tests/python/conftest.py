"""pytest set-up for the Python tests: the helpers in this folder are
importable, and the `myriad` package is the one the build assembled
(PYTHONPATH=<build>/python, as CTest sets it)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
