"""The peers: one entry per server, naming the module that installs and starts it and how to validate it.

A peer module exposes ``install() -> None`` (idempotent), ``start()`` (a context manager yielding
:class:`peers.process.Running`) and ``version() -> str``; optionally ``model_name() -> str`` when the
server's ``/v1/models`` cannot tell the name to send.

Sample counts: a peer that honours ``n`` (vLLM, oairef) draws up to 128 samples per request, so 600
samples per test cost little; one that ignores ``n`` (llama.cpp's servers, transformers) pays a
request per sample, so it gets 300.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "docs" / "reports"


@dataclass(frozen=True)
class Peer:
    """A server the validator meets."""

    name: str
    module: str
    title: str
    launch: str  # the command, as a person would type it (ports elided)
    samples: int
    concurrency: int = 2
    timeout_s: float = 60.0
    time_budget_s: float = 90.0
    #: Checks not run against this peer, each for a reason stated in its findings' NOTES.
    not_run: tuple[str, ...] = ()
    #: Where its report, JSON and pictures go (the committed ones; a partial run writes elsewhere).
    reports: Path = REPORTS

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def report_md(self) -> Path:
        return self.reports / f"{self.name}.md"

    @property
    def report_json(self) -> Path:
        return self.reports / f"{self.name}.json"

    @property
    def images(self) -> Path:
        return self.reports / "img" / self.name


PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("oairef", "peers.oairef_serve", "oairef serve (reference provider) vs the documented semantics",
         "oairef serve --model smollm2", samples=600),
    Peer("vllm", "peers.vllm", "vLLM (CPU) vs the documented semantics",
         "python -m vllm.entrypoints.openai.api_server --model <SmolLM2 HF folder> --served-model-name "
         "SmolLM2-135M-Instruct --dtype float32 --max-model-len 2048 --max-logprobs 20 "
         "--no-enable-chunked-prefill --max-num-batched-tokens 4096 --generation-config vllm",
         samples=600),
    Peer("llama-server", "peers.llama_server", "llama.cpp's llama-server vs the documented semantics",
         "llama-server -m SmolLM2-135M-Instruct.Q4_1.gguf -c 4096 --parallel 4", samples=300, concurrency=4),
    Peer("llama-cpp-python", "peers.llama_cpp_python", "llama-cpp-python server vs the documented semantics",
         "python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf", samples=300),
    Peer("transformers", "peers.transformers_serve", "transformers serve vs the documented semantics",
         "transformers serve <SmolLM2 HF folder> --device cpu --dtype float32", samples=300,
         not_run=("errors.ranges",)),
)}
#: Report order of the matrix's columns.
ORDER = tuple(PEERS)


def get(name: str) -> Peer:
    """The peer called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return PEERS[name]
    except KeyError:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(PEERS)}") from None
