"""The implementations under test, each a :class:`~benchmarks.peers.base.Impl`.

Order is the table order: oairef's fast path, oairef's reference, then the peers users would
pick instead. Each module imports its heavy dependency lazily, so a missing one makes that
implementation *absent* (reported with the reason), never a crash.
"""

from __future__ import annotations

from benchmarks.peers.base import Impl, Prepared
from benchmarks.peers.llamacpp_chain import LlamaCppChain
from benchmarks.peers.numpy_textbook import NumpyTextbook
from benchmarks.peers.oairef_impls import OairefNumba, OairefReference
from benchmarks.peers.torch_warpers import TorchWarpers


def all_impls(threads: int) -> list[Impl]:
    """Every implementation, in table order; ``threads`` caps numba's and torch's thread pools."""
    return [
        OairefNumba(threads),
        OairefReference(),
        NumpyTextbook(),
        TorchWarpers(threads),
        LlamaCppChain(),
    ]


IMPL_NAMES: tuple[str, ...] = ("oairef-numba", "oairef-reference", "numpy-textbook", "torch", "llama.cpp")

__all__ = ["IMPL_NAMES", "Impl", "Prepared", "all_impls"]
