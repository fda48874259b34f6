"""``llama.cpp``: llama-cpp-python's low-level sampler chain over a token-data array.

Per row, one chain built the way llama.cpp composes its samplers (``common_sampler``'s order):
``logit_bias`` -> ``penalties`` (last 64 tokens, repeat 1.0, frequency, presence) -> ``top_p`` ->
``temp`` -> ``dist`` (greedy: ``logit_bias`` -> ``penalties`` -> ``greedy``). The history is fed
with ``llama_sampler_accept`` when the chain is built; each timed step refills a
``llama_token_data_array`` (id, logit, p) from the same float32 logits with numpy and calls
``llama_sampler_apply``. No model is needed. Top-k log-probabilities, which llama-cpp-python computes
in Python from the raw logits, are computed with numpy's ``log_softmax`` + ``argpartition``.

Note: llama.cpp applies top_p **before** temperature (SEMANTICS.md applies it after), and ``dist``
draws from its own RNG rather than our uniforms; the work per step is the same kind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
from typing import Any

import numpy as np

from benchmarks.configs import StepInputs
from benchmarks.peers.base import Prepared, raw_top_logprobs

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class LlamaCppChain:
    """llama.cpp's sampler chain via ctypes (one chain per row)."""

    name = "llama.cpp"

    def __init__(self) -> None:
        self._chains: list[Any] = []

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("llama_cpp") is None:
            return "llama-cpp-python not installed (pip install 'oairef[llama]')"
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def _free(self) -> None:
        import llama_cpp

        for chain in self._chains:
            llama_cpp.llama_sampler_free(chain)
        self._chains = []

    def _chain(self, inputs: StepInputs, row: int) -> Any:
        import llama_cpp as L

        c = inputs.config
        params = L.llama_sampler_chain_default_params()
        params.no_perf = True
        chain = L.llama_sampler_chain_init(params)
        if inputs.bias:
            arr = (L.llama_logit_bias * len(inputs.bias))()
            for k, (tok, val) in enumerate(sorted(inputs.bias.items())):
                arr[k].token = tok
                arr[k].bias = val
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_logit_bias(inputs.vocab, len(inputs.bias), arr))
        if c.penalised:
            L.llama_sampler_chain_add(
                chain,
                L.llama_sampler_init_penalties(
                    inputs.vocab, max(c.history_len, 1), 1.0, c.frequency_penalty, c.presence_penalty
                ),
            )
        if c.greedy:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
        else:
            if c.top_p < 1.0:
                L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(c.top_p, 1))
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(c.temperature))
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(1234 + row))
        for tok in inputs.histories[row].tolist():
            L.llama_sampler_accept(chain, int(tok))
        return chain

    def prepare(self, inputs: StepInputs) -> Prepared:
        import llama_cpp as L

        self._free()
        self._chains = [self._chain(inputs, r) for r in range(inputs.batch)]
        chains = self._chains
        c = inputs.config
        v = inputs.vocab
        buf = np.zeros(v, dtype=TOKEN_DATA)
        ids = np.arange(v, dtype=np.int32)
        data_p = buf.ctypes.data_as(L.llama_token_data_p)
        arr = L.llama_token_data_array(data=data_p, size=v, selected=-1, sorted=False)
        arr_p = ctypes.byref(arr)
        logits = inputs.logits

        def step() -> np.ndarray:
            out = np.empty(inputs.batch, dtype=np.int64)
            for r in range(inputs.batch):
                buf["id"] = ids
                buf["logit"] = logits[r]
                buf["p"] = 0.0
                arr.data = data_p
                arr.size = v
                arr.selected = -1
                arr.sorted = False
                L.llama_sampler_apply(chains[r], arr_p)
                out[r] = arr.data[arr.selected].id
                if c.logprobs:
                    raw_top_logprobs(logits[r], c.logprobs)
            return out

        return step

    def __del__(self) -> None:  # chains own C memory
        with contextlib.suppress(Exception):  # interpreter shutdown
            self._free()
