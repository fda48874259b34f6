"""``torch``: Hugging Face transformers' logits-warper semantics in torch CPU ops, batched.

One step over the (B, V) float32 tensor: OpenAI-formula penalties from per-row counts
(``scatter_add_`` of the histories, as vLLM computes them), ``logit_bias`` by index, temperature
(``TemperatureLogitsWarper``: divide), top_p as ``TopPLogitsWarper`` does it (ascending
``torch.sort``, softmax, cumsum, mask tokens whose cumulative mass is ``<= 1 - top_p``, keep the
last), ``softmax`` + ``torch.multinomial``; top-k log-probabilities by ``log_softmax`` +
``topk``. ``torch.set_num_threads`` follows oairef-numba's use of threads: 1 at B = 1 (the fast path
samples a single row on one thread), the benchmark's thread count for B > 1.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from benchmarks.configs import StepInputs
from benchmarks.peers.base import Prepared


class TorchWarpers:
    """HF warper semantics in torch (batched over rows)."""

    name = "torch"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("torch") is None:
            return "torch not installed (pip install 'oairef[bench]')"
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs) -> Prepared:
        import torch

        torch.set_num_threads(1 if inputs.batch == 1 else self.threads)
        gen = torch.Generator().manual_seed(0)
        c = inputs.config
        x0 = torch.from_numpy(inputs.logits)
        b, v = inputs.logits.shape
        hist = torch.from_numpy(inputs.histories)
        ones = torch.ones(hist.shape, dtype=torch.float32)
        bias_ids = torch.tensor(sorted(inputs.bias), dtype=torch.long)
        bias_vals = torch.tensor([inputs.bias[i] for i in sorted(inputs.bias)], dtype=torch.float32)

        def step() -> np.ndarray:
            with torch.inference_mode():
                x = x0
                if c.penalised:
                    counts = torch.zeros((b, v), dtype=torch.float32).scatter_add_(1, hist, ones)
                    x = x - counts * c.frequency_penalty - (counts > 0).float() * c.presence_penalty
                if bias_ids.numel():
                    x = x.clone() if x is x0 else x
                    x[:, bias_ids] += bias_vals
                if c.greedy:
                    tokens = torch.argmax(x, dim=-1)
                else:
                    x = x / c.temperature
                    if c.top_p < 1.0:
                        sorted_logits, sorted_idx = torch.sort(x, descending=False)
                        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
                        remove_sorted = cum <= (1.0 - c.top_p)
                        remove_sorted[..., -1:] = False
                        remove = remove_sorted.scatter(1, sorted_idx, remove_sorted)
                        x = x.masked_fill(remove, float("-inf"))
                    probs = torch.softmax(x, dim=-1)
                    tokens = torch.multinomial(probs, 1, generator=gen).squeeze(1)
                if c.logprobs:
                    lp = torch.log_softmax(x0, dim=-1)
                    lp.topk(c.logprobs, dim=-1)
                    lp.gather(1, tokens.unsqueeze(1))
                return tokens.numpy()

        return step
