#!/usr/bin/env python3
"""A rank that says who it is: "probe rank R local L role ROLE" on stdout,
"probe stderr R" on stderr, then exits with the code given (default 0).
Run as a script, as a module (flag_probe_pkg) or executed directly."""

import os
import sys


def main() -> int:
    rank = os.environ.get("RANK")
    sys.stdout.write(f"probe rank {rank} local {os.environ.get('LOCAL_RANK')} role {os.environ.get('ROLE_NAME')}\n")
    sys.stdout.flush()
    sys.stderr.write(f"probe stderr {rank}\n")
    sys.stderr.flush()
    return int(sys.argv[1]) if len(sys.argv) > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
