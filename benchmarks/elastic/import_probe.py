#!/usr/bin/env python3
"""How long a rank takes to import what train_ckpt.py imports, under a launcher.

Run by import_time.py under `myriad run -np 2` and `torchrun
--nproc-per-node 2`; prints one JSON line per rank: seconds for
`import torch`, `import torch._dynamo`, `import myriad.torch` (+
myriad.elastic) and the torch-related environment.
"""

import time

T0 = time.time()

import json  # noqa: E402
import os  # noqa: E402

import torch  # noqa: E402,F401

T1 = time.time()
import torch._dynamo  # noqa: E402,F401

T2 = time.time()
import myriad.elastic  # noqa: E402,F401
import myriad.torch  # noqa: E402,F401

T3 = time.time()
print("@probe " + json.dumps({
    "rank": int(os.environ.get("RANK", "0")),
    "torch": T1 - T0, "dynamo": T2 - T1, "myriad": T3 - T2, "total": T3 - T0,
    "threads": torch.get_num_threads(),
    "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ},
}), flush=True)
