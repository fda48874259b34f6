"""What is benchmarked: sampling configurations, vocabulary sizes, batch sizes, logit shapes.

Every implementation receives the same :class:`StepInputs` for a cell: the same float32 logits,
the same per-row generated-token histories, the same logit_bias, the same uniforms. The configs
mirror what API users send:

- ``greedy``: temperature 0 (argmax; ties to the lowest id).
- ``temperature``: T = 0.8, top_p = 1.
- ``top_p``: T = 0.8, top_p = 0.9.
- ``full``: T = 0.8, top_p = 0.9, presence 0.5, frequency 0.3, 8 biased tokens, a 64-token
  generated history per row and the top-5 log-probabilities of the raw logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOCABS: tuple[int, ...] = (32_000, 50_257, 128_256, 151_936, 262_144)
BATCHES: tuple[int, ...] = (1, 8, 32, 64)
SHAPES: tuple[str, ...] = ("gaussian", "peaked")

#: the cells of ``--quick`` (CI and checks; the whole run stays under 90 s on 2 cores)
QUICK_VOCABS: tuple[int, ...] = (128_256,)
QUICK_BATCHES: tuple[int, ...] = (1, 32)
QUICK_CONFIGS: tuple[str, ...] = ("top_p", "full")


@dataclass(frozen=True)
class Config:
    """One sampling configuration; zero/one values mean "off"."""

    name: str
    temperature: float
    top_p: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    n_bias: int = 0
    history_len: int = 0
    logprobs: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def penalised(self) -> bool:
        return self.presence_penalty != 0.0 or self.frequency_penalty != 0.0


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("greedy", temperature=0.0),
        Config("temperature", temperature=0.8),
        Config("top_p", temperature=0.8, top_p=0.9),
        Config(
            "full",
            temperature=0.8,
            top_p=0.9,
            presence_penalty=0.5,
            frequency_penalty=0.3,
            n_bias=8,
            history_len=64,
            logprobs=5,
        ),
    )
}


@dataclass(frozen=True)
class StepInputs:
    """The inputs of one batched sampling step, shared by every implementation.

    ``logits`` is C-contiguous float32 of shape (B, V); ``histories`` is int64 (B, history_len)
    (tokens this choice generated so far, repeats included); ``bias`` maps token id -> bias;
    ``uniforms`` is float64 (B,) in [0, 1), one per row.
    """

    config: Config
    logits: np.ndarray
    histories: np.ndarray
    bias: dict[int, float]
    uniforms: np.ndarray

    @property
    def batch(self) -> int:
        return int(self.logits.shape[0])

    @property
    def vocab(self) -> int:
        return int(self.logits.shape[1])


def make_inputs(config: Config, logits: np.ndarray, seed: int = 0) -> StepInputs:
    """Draw histories, biases and uniforms for ``logits`` (B, V) from a fixed seed.

    Histories are drawn from each row's own softmax so that penalised tokens are plausible ones
    (and repeats occur, exercising frequency counts); biased ids are spread over the vocabulary
    with values in [-5, 5] plus one banned token (-100).
    """
    rng = np.random.default_rng(seed)
    b, v = logits.shape
    hist = np.zeros((b, config.history_len), dtype=np.int64)
    if config.history_len:
        for r in range(b):
            z = logits[r].astype(np.float64)
            p = np.exp(z - z.max())
            p /= p.sum()
            hist[r] = rng.choice(v, size=config.history_len, p=p)
    bias: dict[int, float] = {}
    if config.n_bias:
        ids = rng.choice(v, size=config.n_bias, replace=False)
        vals = rng.uniform(-5.0, 5.0, size=config.n_bias)
        vals[0] = -100.0
        bias = {int(i): float(x) for i, x in zip(ids, vals, strict=True)}
    uniforms = rng.random(b)
    return StepInputs(config, np.ascontiguousarray(logits, dtype=np.float32), hist, bias, uniforms)
