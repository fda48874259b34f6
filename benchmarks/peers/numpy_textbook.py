"""``numpy-textbook``: the sampler users write by hand — sort, cumsum, searchsorted.

Per row, in float64: penalties from ``np.bincount`` of the history, bias, ``z / T``, a stable
softmax, a full ``argsort`` by probability (descending, ties by id), ``cumsum``, the nucleus cut
by ``searchsorted`` and the inverse-CDF draw by ``searchsorted`` on the renormalised prefix. It
follows the contract in SEMANTICS.md, so for the same uniform it picks the reference's token
(barring float ties at a boundary).
"""

from __future__ import annotations

import numpy as np

from benchmarks.configs import StepInputs
from benchmarks.peers.base import Prepared, raw_top_logprobs


def textbook_row(
    row: np.ndarray,
    history: np.ndarray,
    bias_ids: np.ndarray,
    bias_vals: np.ndarray,
    temperature: float,
    top_p: float,
    presence: float,
    frequency: float,
    u: float,
) -> int:
    """One sampling step for one row (see module docstring)."""
    z = row.astype(np.float64)
    if presence or frequency:
        counts = np.bincount(history, minlength=z.shape[0])
        z -= counts * frequency + (counts > 0) * presence
    if bias_ids.size:
        z[bias_ids] += bias_vals
    if temperature == 0.0:
        return int(np.argmax(z))
    z /= temperature
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    cum = np.cumsum(p[order])
    if top_p < 1.0:
        keep = min(int(np.searchsorted(cum, top_p)) + 1, cum.shape[0])
        cum = cum[:keep] / cum[keep - 1]
    else:
        cum = cum / cum[-1]
    idx = min(int(np.searchsorted(cum, u, side="right")), cum.shape[0] - 1)
    return int(order[idx])


class NumpyTextbook:
    """The hand-written numpy sampler (one row at a time)."""

    name = "numpy-textbook"

    def unavailable(self) -> str | None:
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs) -> Prepared:
        c = inputs.config
        ids = np.array(sorted(inputs.bias), dtype=np.int64)
        vals = np.array([inputs.bias[i] for i in ids.tolist()], dtype=np.float64)
        logits, hist, us = inputs.logits, inputs.histories, inputs.uniforms

        def step() -> np.ndarray:
            out = np.empty(inputs.batch, dtype=np.int64)
            for r in range(inputs.batch):
                out[r] = textbook_row(
                    logits[r], hist[r], ids, vals, c.temperature, c.top_p,
                    c.presence_penalty, c.frequency_penalty, float(us[r]),
                )
                if c.logprobs:
                    raw_top_logprobs(logits[r], c.logprobs)
            return out

        return step
