"""``oairef serve --model smollm2`` — the reference provider, run as a subprocess like any peer.

It is the matrix's yardstick: the same SmolLM2 GGUF as llama.cpp and llama-cpp-python, judged by the
same validator from outside. peers/ never imports the provider: it runs ``python -m oairef serve``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from models.smollm2 import smollm2_path
from peers.cache import log_path, offline_env
from peers.process import Running, free_port, serving

STARTUP_TIMEOUT_S = 120.0


def install() -> None:
    """Nothing to install beyond oairef's ``llama`` extra (the GGUF)."""
    smollm2_path()


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return f"oairef {dist_version('oairef')}"
    except PackageNotFoundError:
        return "oairef (source tree)"


@contextlib.contextmanager
def start() -> Iterator[Running]:
    """``python -m oairef serve --model smollm2`` on a free loopback port, stopped when the block ends."""
    port = free_port()
    cmd = [sys.executable, "-m", "oairef", "serve", "--model", "smollm2", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]
    with serving("oairef serve", cmd, port, log_path("oairef-serve"), STARTUP_TIMEOUT_S, env=offline_env()) as run:
        yield run
