"""Logit matrices for the benchmarks: ``gaussian`` and ``peaked``.

- ``gaussian``: i.i.d. N(0, 3^2) float32. A flat-ish distribution whose nucleus at top_p = 0.9 holds
  a large share of the vocabulary: the worst case for partial sorts (llama.cpp's top_p falls back to
  a full sort there).
- ``peaked``: real next-token logits of SmolLM2-135M-Instruct (V = 49,152) computed by
  llama-cpp-python on a handful of fixed prompts, **fitted** to the target vocabulary: the
  :data:`HEAD` highest logits of the real vector are kept verbatim (they hold nearly all of the
  mass and decide the nucleus), and the remaining ``V - HEAD`` entries are drawn with replacement
  from the real vector's own tail values; all entries are then placed at seeded random ids. So
  every row keeps SmolLM2's head and its tail's per-token statistics at any V (a larger V adds
  tail tokens, as larger vocabularies do). The real logits are cached as ``.npy`` under the
  cache directory (``$OAIREF_BENCH_CACHE`` or ``<tmp>/oairef-bench``) and computed once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

HEAD = 1024
GAUSSIAN_STD = 3.0

#: prompts whose next-token logits make the ``peaked`` rows (code, prose, chat, lists)
PROMPTS: tuple[str, ...] = (
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Once upon a time, there was a little",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "1, 2, 3, 4, 5,",
    "The quick brown fox jumps over the",
    "import numpy as",
    "Dear Sir or Madam, I am writing to",
)


class ShapeUnavailable(RuntimeError):
    """A logit shape cannot be produced here (e.g. llama-cpp-python or the GGUF is missing)."""


def cache_dir() -> Path:
    """Where computed real logits are cached."""
    d = Path(os.environ.get("OAIREF_BENCH_CACHE", Path(tempfile.gettempdir()) / "oairef-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def smollm2_path() -> Path:
    """The SmolLM2 GGUF (``models.smollm2_path``); ``ShapeUnavailable`` when it is not installed."""
    from models import smollm2_path as packaged

    try:
        return packaged()
    except FileNotFoundError as exc:
        raise ShapeUnavailable(f"peaked logits need the SmolLM2 GGUF: {exc}") from exc


def real_logits() -> np.ndarray:
    """SmolLM2's next-token logits for :data:`PROMPTS`, shape (len(PROMPTS), 49152), float32."""
    cache = cache_dir() / "smollm2-next-token-logits.npy"
    if cache.exists():
        arr = np.load(cache)
        if arr.ndim == 2 and arr.shape[0] == len(PROMPTS) and np.isfinite(arr).all():
            return arr
    try:
        import llama_cpp
    except ImportError as exc:
        raise ShapeUnavailable("peaked logits need llama-cpp-python (extra `llama`)") from exc
    llm = llama_cpp.Llama(
        model_path=str(smollm2_path()), n_ctx=256, n_threads=1, logits_all=True, verbose=False
    )
    rows = []
    for prompt in PROMPTS:
        tokens = llm.tokenize(prompt.encode("utf-8"))
        llm.reset()
        llm.eval(tokens)
        rows.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32))
    arr = np.stack(rows)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, cache)
    return arr


def fit_to_vocab(real: np.ndarray, vocab: int, rng: np.random.Generator) -> np.ndarray:
    """Fit one real logit vector to ``vocab`` entries (see the module docstring)."""
    order = np.argsort(-real, kind="stable")
    head_n = min(HEAD, vocab)
    head = real[order[:head_n]]
    tail_pool = real[order[head_n:]]
    tail = rng.choice(tail_pool, size=vocab - head_n, replace=True) if vocab > head_n else tail_pool[:0]
    row = np.concatenate([head, tail]).astype(np.float32)
    return row[rng.permutation(vocab)]


def make_logits(shape: str, batch: int, vocab: int, seed: int = 0) -> np.ndarray:
    """A (batch, vocab) float32 C-contiguous logit matrix of the given shape."""
    rng = np.random.default_rng([seed, vocab, batch])
    if shape == "gaussian":
        return (rng.standard_normal((batch, vocab), dtype=np.float32) * np.float32(GAUSSIAN_STD)).copy()
    if shape == "peaked":
        real = real_logits()
        out = np.empty((batch, vocab), dtype=np.float32)
        for r in range(batch):
            out[r] = fit_to_vocab(real[r % real.shape[0]], vocab, rng)
        return out
    raise ValueError(f"shape must be one of 'gaussian', 'peaked'; got {shape!r}")
