"""Errors the sampler raises.

``InvalidParameter`` is a request error (the HTTP layer maps it to a 400 naming ``param``), and
``ContextLengthExceeded`` the one that says the prompt (+ ``max_tokens``) does not fit the context;
``InvalidLogits`` is a model error (NaN, ``+inf`` or an all ``-inf`` row): never a silent token.
"""

from __future__ import annotations


class InvalidParameter(ValueError):
    """A sampling parameter outside its documented range; ``param`` names it (as in the API)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class ContextLengthExceeded(InvalidParameter):
    """The prompt, or the prompt plus ``max_tokens``, does not fit the model's context."""


class InvalidLogits(ValueError):
    """The model produced logits no token can be drawn from (NaN, +inf, or every logit -inf)."""


class GenerationCancelled(RuntimeError):
    """Raised by :func:`sampler.complete` when its ``cancelled()`` callback returned true."""
