"""numba compilation of the fast path, measured apart from the steady-state timings.

Every measurement runs a fresh interpreter with ``NUMBA_CACHE_DIR`` pointing at a temporary
directory, on a small batch with the ``full`` configuration:

- ``cold``: an empty cache: the import time of the sampler, the first call on float32 logits (the
  compilation of the kernel every model of this project is served with), a second call (steady
  state) and the first call on float64 logits that are not float32 values (the second kernel,
  compiled only when such logits arrive). Each first call is reported as wall seconds, CPU seconds
  of the process, the CPU seconds spent in LLVM (numba's ``numba:llvm_lock`` events: optimisation
  and machine code; the rest is numba's own typing and lowering, in Python) and the number of
  functions numba compiled (``numba:compile`` events).
- ``cached``: the same on the cache ``cold`` filled (loading instead of compiling).
- ``ahead_of_use`` (optional): an empty cache and the reference provider as ``oairef validate``
  starts it (``provider.app.run_in_thread``, which starts the compilation when it builds the app and
  waits for it before it yields the URL): how long until the server is ready (``ready_s``), and the
  wall time of the first completion request sent then on a kept-alive connection, after a
  ``GET /models`` as the validator starts (``first_request_s``) — what ``oairef validate``'s first
  request waits.

The load average is recorded before each run (a loaded machine stretches wall times; CPU seconds
much less).
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
import json, os, time
load = os.getloadavg()[0]
t0 = time.perf_counter()
from numba.core import event

class _Llvm(event.Listener):  # CPU seconds inside LLVM, and functions compiled
    cpu = 0.0
    functions = 0
    def on_start(self, ev):
        if ev.kind == "numba:llvm_lock":
            self.t0 = time.thread_time()
        else:
            _Llvm.functions += 1
    def on_end(self, ev):
        if ev.kind == "numba:llvm_lock":
            _Llvm.cpu += time.thread_time() - self.t0

event.register("numba:llvm_lock", _Llvm())
event.register("numba:compile", _Llvm())
import numpy as np
from sampler import kernels
from sampler.params import SamplingParams
t1 = time.perf_counter()
p = SamplingParams(temperature=0.8, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.3,
                   logit_bias={3: 2.0}, logprobs=5)
x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)

def call(a):
    llvm, n, c, t = _Llvm.cpu, _Llvm.functions, time.process_time(), time.perf_counter()
    kernels.sample_batch(a, [p, p], [[1, 2], [3]], [0.5, 0.25], 5)
    return (time.perf_counter() - t, time.process_time() - c, _Llvm.cpu - llvm, _Llvm.functions - n)
"""

_COLD = _SETUP + r"""
first, second = call(x), call(x)
f64 = call(x.astype(np.float64) + 0.1)  # + 0.1: not float32 values, so the float64 kernel
print(json.dumps({"loadavg": load, "import_s": t1 - t0, "first_call_s": first[0], "first_call_cpu_s": first[1],
                  "first_call_llvm_cpu_s": first[2], "functions_compiled": first[3], "second_call_s": second[0],
                  "first_call_float64_s": f64[0], "first_call_float64_cpu_s": f64[1],
                  "float64_functions_compiled": f64[3]}))
"""

_AHEAD = r"""
import json, os, time
load = os.getloadavg()[0]
t0 = time.perf_counter()
import httpx
from provider.app import run_in_thread
body = {"model": "tiny", "prompt": "Hello", "max_tokens": 1, "logprobs": 5, "temperature": 0.8, "top_p": 0.9}
with run_in_thread("tiny") as url, httpx.Client(timeout=600) as client:
    t1 = time.perf_counter()
    client.get(url + "/models").raise_for_status()  # as the validator starts: the connection is open
    t2 = time.perf_counter()
    client.post(url + "/completions", json=body).raise_for_status()
    t3 = time.perf_counter()
    client.post(url + "/completions", json=body).raise_for_status()
    t4 = time.perf_counter()
print(json.dumps({"loadavg": load, "ready_s": t1 - t0, "first_request_s": t3 - t2, "second_request_s": t4 - t3}))
"""


def _once(root: Path, cache: str | None, snippet: str, timeout: float) -> dict[str, Any]:
    """Run ``snippet`` in a fresh interpreter (``cache``: its NUMBA_CACHE_DIR, None for numba's
    default) and return the JSON it prints."""
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("OAIREF_SAMPLER_WARMUP", None)  # the provider's own behaviour (``oairef bench`` turns it off for itself)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_compile(timeout: float = 600.0, *, ahead_of_use: bool = True, cold: bool = True) -> dict[str, Any]:
    """``{"status": "ok", "cold": {...}, "cached": {...}, "ahead_of_use": {...}}`` or a status with a
    note. ``cold=False`` measures only ``cached``, on numba's default cache (whatever earlier runs
    left there)."""
    root = Path(__file__).resolve().parents[1]
    out: dict[str, Any] = {"status": "ok"}
    try:
        with tempfile.TemporaryDirectory(prefix="oairef-numba-cache-") as cache:
            if cold:
                out["cold"] = _once(root, cache, _COLD, timeout)
            out["cached"] = _once(root, cache if cold else None, _COLD, timeout)
        if ahead_of_use:
            with tempfile.TemporaryDirectory(prefix="oairef-numba-cache-") as cache:
                out["ahead_of_use"] = _once(root, cache, _AHEAD, timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"status": "error", "note": f"{type(exc).__name__}: {exc}"}
    out["note"] = ("fresh interpreter each; cold = empty NUMBA_CACHE_DIR, cached = the cache cold filled, "
                   "ahead_of_use = empty cache, the reference provider as oairef validate starts it")
    return out
