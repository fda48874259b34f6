"""numba compilation time of the fast path, measured apart from the steady-state timings.

Runs a fresh interpreter twice with ``NUMBA_CACHE_DIR`` pointing at an empty temporary directory:
the first run compiles every kernel from scratch (``cold``), the second loads them from that
cache (``cached``). Each run reports the import time of ``sampler.kernels`` and the time of the
first ``sample_batch`` call (compilation or cache load) and of a second call (steady state) on a
small float32 batch with the ``full`` configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_SNIPPET = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
from sampler.params import SamplingParams
try:
    from sampler import sample_batch
except ImportError:
    from sampler.kernels import sample_batch
t1 = time.perf_counter()
p = SamplingParams(temperature=0.8, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.3,
                   logit_bias={3: 2.0}, logprobs=5)
x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
t2 = time.perf_counter()
sample_batch(x, [p, p], [[1, 2], [3]], [0.5, 0.25], 5)
t3 = time.perf_counter()
sample_batch(x, [p, p], [[1, 2], [3]], [0.5, 0.25], 5)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "second_call_s": t4 - t3}))
"""


def _once(root: Path, cache: str, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache,
           "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", _SNIPPET], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_compile(timeout: float = 300.0) -> dict[str, Any]:
    """``{"status": "ok", "cold": {...}, "cached": {...}}`` or a status with a note."""
    root = Path(__file__).resolve().parents[1]
    try:
        with tempfile.TemporaryDirectory(prefix="oairef-numba-cache-") as cache:
            cold = _once(root, cache, timeout)
            cached = _once(root, cache, timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"status": "error", "note": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok", "cold": cold, "cached": cached,
            "note": "fresh interpreter; cold = empty NUMBA_CACHE_DIR, cached = second run on that cache"}
