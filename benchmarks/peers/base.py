"""The protocol every benchmarked sampler implements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from benchmarks.configs import StepInputs

#: one batched sampling step over prepared inputs; returns the B chosen token ids
Prepared = Callable[[], np.ndarray]


class Impl(Protocol):
    """A sampler under test.

    ``unavailable()`` returns why it cannot run here (missing package, ...) or ``None``.
    ``skip_reason(inputs)`` returns why a particular cell is not measured (e.g. too slow) or ``None``.
    ``prepare(inputs)`` does everything that is *not* per-step work (building samplers, tensors,
    parameter objects) and returns the step function that is timed. The step must do the whole
    per-step job for every row: penalties, bias, temperature, top_p, the draw, and, when the config
    asks for them, the top-k log-probabilities of the raw logits.
    """

    name: str

    def unavailable(self) -> str | None: ...

    def skip_reason(self, inputs: StepInputs) -> str | None: ...

    def prepare(self, inputs: StepInputs) -> Prepared: ...


def raw_top_logprobs(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ids (by logprob desc, ties by id) and their log_softmax values of one raw row."""
    z = row.astype(np.float64)
    m = z.max()
    lse = m + np.log(np.exp(z - m).sum())
    part = np.argpartition(-z, k - 1)[:k]
    part = part[np.lexsort((part, -z[part]))]
    return part, z[part] - lse
