"""The provider compiles the sampler before it reports itself ready: no request waits for numba."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_CODE = """
import threading
from sampler import kernels
release, done, yielded = threading.Event(), threading.Event(), threading.Event()

def held_warm_up(dtypes=None):  # stands in for a cold compile: it ends only when released
    release.wait(300)
    done.set()

kernels.warm_up = held_warm_up
from provider.app import run_in_thread
import httpx
out = []

def serve():
    with run_in_thread("tiny") as url:
        out.append(done.is_set())
        yielded.set()
        out.append(httpx.post(url + "/completions", json={"model": "tiny", "prompt": "Hi", "max_tokens": 1},
                              timeout=120).status_code)

thread = threading.Thread(target=serve)
thread.start()
early = yielded.wait(5.0)  # the server starts in about a second; it must not be reported ready yet
release.set()
thread.join(300)
print(early, *out)
"""


def _run(**env: str) -> str:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _CODE], cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root), **env}, check=True)
    return proc.stdout.strip()


def test_run_in_thread_yields_once_the_warm_up_is_done() -> None:
    """``run_in_thread`` has not yielded while the compilation is held (5 s: the server itself starts in
    about one), and yields with it done once released."""
    assert _run() == "False True 200"


def test_without_the_warm_up_the_server_still_answers() -> None:
    """Turned off, nothing is compiled ahead (the held warm-up never runs) and requests compile on use."""
    assert _run(OAIREF_SAMPLER_WARMUP="0").split()[1:] == ["False", "200"]
