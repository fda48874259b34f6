"""``TinyModel``: a deterministic, self-contained language model for tests and the embedded default.

- Vocabulary: byte-level BPE (256 bytes + 1,792 merges learned from ``tiny_corpus``) + one
  end-of-text token (id 2048, no bytes): 2,049 tokens, many multi-byte, some UTF-8 fragments.
  Training takes ~0.1 s and is done once per process (cached).
- Logits: a fixed random low-rank term (a hashed embedding of the last two tokens times a fixed
  projection, std ~2) plus count-based boosts from the corpus' trigram (last two tokens) or, failing
  that, bigram statistics. Continuations seen in the corpus dominate, so distributions are peaked
  (top_p 0.9 keeps a handful of tokens) and sampled text is mostly sensible. Pure numpy; ~20 us.
- Chat template: ``<|role|>\\ncontent\\n`` per message, then ``<|assistant|>\\n``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from models import bpe
from models.tiny_corpus import build_corpus

N_MERGES = 1792
N_CTX = 2048
_RANK = 16
_HASH_ROWS = 4096
_SEED = 7


@functools.lru_cache(maxsize=1)
def _build() -> tuple[bpe.Encoder, dict[tuple[int, int], tuple[np.ndarray, np.ndarray]], dict[int, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    corpus = build_corpus()
    enc = bpe.Encoder(bpe.train(corpus, N_MERGES))
    eos = len(enc.vocab)
    tri: dict[tuple[int, int], dict[int, int]] = {}
    bi: dict[int, dict[int, int]] = {}
    for para in corpus:
        ids = [eos, *enc.encode(para), eos]
        for a, b, c in zip(ids, ids[1:], ids[2:], strict=False):
            d = tri.setdefault((a, b), {})
            d[c] = d.get(c, 0) + 1
        for a, b in zip(ids, ids[1:], strict=False):
            d2 = bi.setdefault(a, {})
            d2[b] = d2.get(b, 0) + 1

    def arrays(d: dict[int, int], base: float, slope: float) -> tuple[np.ndarray, np.ndarray]:
        keys = np.array(sorted(d), np.int64)
        cnt = np.array([d[k] for k in keys], np.float64)
        return keys, (base + slope * np.log(cnt)).astype(np.float32)

    tri_arr = {k: arrays(v, 9.0, 2.0) for k, v in tri.items()}
    bi_arr = {k: arrays(v, 7.0, 1.5) for k, v in bi.items()}
    rng = np.random.default_rng(_SEED)
    emb = rng.standard_normal((_HASH_ROWS, _RANK)).astype(np.float32)
    proj = (rng.standard_normal((_RANK, eos + 1)) * (2.0 / np.sqrt(_RANK))).astype(np.float32)
    return enc, tri_arr, bi_arr, emb, proj


class TinyModel:
    """A deterministic 2,049-token byte-level BPE n-gram model (see the module docstring)."""

    name = "tiny"
    n_ctx = N_CTX

    def __init__(self) -> None:
        self._enc, self._tri, self._bi, self._emb, self._proj = _build()
        self.vocab_size = len(self._enc.vocab) + 1
        self.eos_token_id = len(self._enc.vocab)
        self._bytes = [*self._enc.vocab, b""]

    def tokenize(self, text: str) -> list[int]:
        """Byte-level BPE ids of ``text``; decoding them gives ``text`` back exactly."""
        return self._enc.encode(text)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of a token; end-of-text has none."""
        return self._bytes[token_id]

    def logits(self, ids: list[int]) -> np.ndarray:
        """Next-token logits (float32, length ``vocab_size``) after ``ids``; deterministic."""
        last = ids[-1] if len(ids) >= 1 else self.eos_token_id
        prev = ids[-2] if len(ids) >= 2 else self.eos_token_id
        h = (prev * 1_000_003 + last * 7919) % _HASH_ROWS
        out = self._emb[h] @ self._proj
        hit = self._tri.get((prev, last))
        if hit is not None:
            out[hit[0]] += hit[1]
        hit2 = self._bi.get(last)
        if hit2 is not None:
            out[hit2[0]] += 0.5 * hit2[1] if hit is not None else hit2[1]
        return out

    def apply_chat_template(self, messages: list[dict[str, Any]]) -> str:
        """``<|role|>\\ncontent\\n`` per message, then ``<|assistant|>\\n`` (text parts of list content joined)."""
        parts = []
        for m in messages:
            content = m.get("content") or ""
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            parts.append(f"<|{m.get('role', 'user')}|>\n{content}\n")
        parts.append("<|assistant|>\n")
        return "".join(parts)
