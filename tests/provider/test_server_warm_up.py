"""The provider compiles the sampler before it reports itself ready: no request waits for numba."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_CODE = """
import threading, time
from sampler import kernels
done = threading.Event()

def slow_warm_up(dtypes=None):  # stands in for a cold compile: long, and observable
    time.sleep(2.0)
    done.set()

kernels.warm_up = slow_warm_up
from provider.app import run_in_thread
import httpx
with run_in_thread("tiny") as url:
    ready = done.is_set()
    status = httpx.post(url + "/completions", json={"model": "tiny", "prompt": "Hi", "max_tokens": 1},
                        timeout=120).status_code
print(ready, status)
"""


def _run(**env: str) -> str:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _CODE], cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root), **env}, check=True)
    return proc.stdout.strip()


def test_run_in_thread_yields_once_the_warm_up_is_done() -> None:
    assert _run() == "True 200"


def test_without_the_warm_up_the_server_still_answers() -> None:
    assert _run(OAIREF_SAMPLER_WARMUP="0") == "False 200"
