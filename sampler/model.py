"""The model protocol the engine samples from.

A model is anything with ``name``, ``vocab_size``, ``eos_token_id``, ``n_ctx``, ``tokenize(text)``,
``token_bytes(id)``, ``logits(ids)`` (the next-token logits after ``ids``, shape ``(vocab_size,)``,
float32 or float64) and ``apply_chat_template(messages)``. The models themselves (the tiny built-in one,
GGUF files through llama.cpp) live in the ``models`` package.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Model(Protocol):
    """What the completion engine needs from a language model."""

    name: str
    vocab_size: int
    eos_token_id: int
    n_ctx: int

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        ...

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for (``b""`` for special tokens such as end-of-text)."""
        ...

    def logits(self, ids: list[int]) -> np.ndarray:
        """Next-token logits after the context ``ids``, shape ``(vocab_size,)``."""
        ...

    def apply_chat_template(self, messages: list[dict[str, Any]]) -> str:
        """The prompt text for chat ``messages`` (``{"role", "content"}``), ending where the assistant speaks."""
        ...
