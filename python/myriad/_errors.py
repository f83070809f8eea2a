"""Writes a rank's uncaught exception where its agent reads it.

Under an agent, ``TORCHELASTIC_ERROR_FILE`` names a file for this rank; an
uncaught exception is written there (in torchrun's format) before Python
prints it as usual, so that ``myriad run`` names the root-cause rank with its
traceback. Installed on ``import myriad``; chains to the previous hook.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from types import TracebackType
from typing import Optional

_previous = sys.excepthook


def _write_error_file(kind: type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path and not os.path.exists(path):
        record = {
            "message": {
                "message": f"{kind.__name__}: {value}",
                "extraInfo": {
                    "py_callstack": "".join(traceback.format_exception(kind, value, tb)),
                    "timestamp": str(int(time.time())),
                },
            }
        }
        try:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(record, f)
        except OSError:
            pass  # the traceback still reaches stderr, which the agent keeps too
    _previous(kind, value, tb)


def install() -> None:
    if os.environ.get("TORCHELASTIC_ERROR_FILE") and sys.excepthook is not _write_error_file:
        sys.excepthook = _write_error_file
