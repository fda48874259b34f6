"""numba compilation of the fast path, measured apart from the steady-state timings.

Every measurement runs a fresh interpreter with ``NUMBA_CACHE_DIR`` pointing at a temporary
directory, on a small batch with the ``full`` configuration:

- ``cold``: an empty cache and no background warm-up (``OAIREF_SAMPLER_WARMUP=0``): the import time
  of the sampler, the first call on float32 logits (compilation), a second call (steady state) and
  the first call on float64 logits (the second signature).
- ``cached``: the same on the cache ``cold`` filled (loading instead of compiling).
- ``ahead_of_use`` (optional): an empty cache with the default import-time warm-up: how long after
  the import the background compilation is done (``warm_up_s``), and the first call made after it
  (``first_call_s``) — what a server that starts its sampler at import and its first request later
  waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_SETUP = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
from sampler import kernels
from sampler.params import SamplingParams
t1 = time.perf_counter()
p = SamplingParams(temperature=0.8, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.3,
                   logit_bias={3: 2.0}, logprobs=5)
x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)

def call(a):
    t = time.perf_counter()
    kernels.sample_batch(a, [p, p], [[1, 2], [3]], [0.5, 0.25], 5)
    return time.perf_counter() - t
"""

_COLD = _SETUP + r"""
first = call(x)
second = call(x)
f64 = call(x.astype(np.float64))
print(json.dumps({"import_s": t1 - t0, "first_call_s": first, "second_call_s": second, "first_call_float64_s": f64}))
"""

_AHEAD = _SETUP + r"""
kernels.warm_up_in_background().join()
t2 = time.perf_counter()
first = call(x)
print(json.dumps({"import_s": t1 - t0, "warm_up_s": t2 - t1, "first_call_s": first,
                  "first_call_float64_s": call(x.astype(np.float64))}))
"""


def _once(root: Path, cache: str | None, snippet: str, warm_up: bool, timeout: float) -> dict[str, Any]:
    """Run ``snippet`` in a fresh interpreter (``cache``: its NUMBA_CACHE_DIR, None for numba's
    default) and return the JSON it prints."""
    env = {**os.environ, "OAIREF_SAMPLER_WARMUP": "1" if warm_up else "0",
           "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_compile(timeout: float = 300.0, *, ahead_of_use: bool = True, cold: bool = True) -> dict[str, Any]:
    """``{"status": "ok", "cold": {...}, "cached": {...}, "ahead_of_use": {...}}`` or a status with a
    note. ``cold=False`` measures only ``cached``, on numba's default cache (whatever earlier runs
    left there)."""
    root = Path(__file__).resolve().parents[1]
    out: dict[str, Any] = {"status": "ok"}
    try:
        with tempfile.TemporaryDirectory(prefix="oairef-numba-cache-") as cache:
            if cold:
                out["cold"] = _once(root, cache, _COLD, False, timeout)
            out["cached"] = _once(root, cache if cold else None, _COLD, False, timeout)
        if ahead_of_use:
            with tempfile.TemporaryDirectory(prefix="oairef-numba-cache-") as cache:
                out["ahead_of_use"] = _once(root, cache, _AHEAD, True, timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"status": "error", "note": f"{type(exc).__name__}: {exc}"}
    out["note"] = ("fresh interpreter each; cold = empty NUMBA_CACHE_DIR without warm-up, cached = the cache "
                   "cold filled, ahead_of_use = empty cache with the import-time background warm-up")
    return out
