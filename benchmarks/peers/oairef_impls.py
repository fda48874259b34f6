"""``oairef-numba`` (the fast path) and ``oairef-reference`` (the readable numpy contract).

- ``oairef-reference``: per row, :func:`sampler.reference.sample_reference` with the row's
  history and uniform, plus (config ``full``) ``raw_logprobs`` + ``top_k_logprobs``.
- ``oairef-numba``: B = 1 without logprobs calls :func:`sampler.sample_next`; otherwise one call of
  :func:`sampler.sample_batch` over all rows (which also returns the top-k raw logprobs; with
  ``logprobs=False`` when the config reports none, so it does no log-probability work the peers skip).
  Rows run on numba's thread pool when ``sample_batch`` decides to (its default). Its
  first call (numba compilation or cache load) is reported separately by the runner.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from benchmarks.configs import StepInputs
from benchmarks.peers.base import Prepared


def _params(inputs: StepInputs) -> Any:
    from sampler.params import SamplingParams

    c = inputs.config
    return SamplingParams(
        temperature=c.temperature,
        top_p=c.top_p,
        presence_penalty=c.presence_penalty,
        frequency_penalty=c.frequency_penalty,
        logit_bias=dict(inputs.bias),
        logprobs=c.logprobs or None,
    )


class OairefReference:
    """The numpy reference, one row at a time."""

    name = "oairef-reference"

    def unavailable(self) -> str | None:
        try:
            importlib.import_module("sampler.reference")
        except ImportError as exc:
            return f"sampler.reference not importable ({exc})"
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs) -> Prepared:
        from sampler.reference import raw_logprobs, sample_reference, top_k_logprobs

        params = _params(inputs)
        k = inputs.config.logprobs
        logits, us = inputs.logits, inputs.uniforms
        hists = [h.tolist() for h in inputs.histories]

        def step() -> np.ndarray:
            out = np.empty(inputs.batch, dtype=np.int64)
            for r in range(inputs.batch):
                out[r] = sample_reference(logits[r], params, hists[r], float(us[r]))
                if k:
                    top_k_logprobs(raw_logprobs(logits[r]), k)
            return out

        return step


class OairefNumba:
    """The numba fast path (``sampler.sample_next`` / ``sampler.sample_batch``)."""

    name = "oairef-numba"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def unavailable(self) -> str | None:
        try:
            importlib.import_module("sampler.kernels")
        except ImportError as exc:
            return f"sampler not importable ({exc})"
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs) -> Prepared:
        import numba

        from sampler import sample_batch, sample_next

        numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        params = _params(inputs)
        k = inputs.config.logprobs
        logits, us = inputs.logits, inputs.uniforms
        if inputs.batch == 1 and not k:
            row, hist, u = logits[0], inputs.histories[0], float(us[0])

            def step_one() -> np.ndarray:
                return np.array([sample_next(row, params, hist, u)], dtype=np.int64)

            return step_one
        params_list = [params] * inputs.batch
        histories = list(inputs.histories)

        def step_batch() -> np.ndarray:
            # log-probabilities only when the config reports them (as the peers do)
            return np.asarray(sample_batch(logits, params_list, histories, us, k, logprobs=bool(k)).tokens)

        return step_batch
