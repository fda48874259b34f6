"""Real weights for the reference provider: a GGUF file through llama-cpp-python.

llama.cpp supplies the tokenizer, the next-token logits and the chat template (from the GGUF
metadata); every sampling decision stays with oairef's sampler. Rules:

- ``logits(ids)`` returns the raw logits (float64, length ``vocab_size``) for the position after
  ``ids``. Several KV sequences are kept (``n_seq``, default 4) and each request reuses the longest
  cached common prefix, so growing sequences one token at a time — including ``n`` candidates
  sampled side by side — costs one decode per token. An empty ``ids`` is conditioned on BOS.
- ``tokenize`` parses special tokens (``<|im_start|>`` in a chat template is one token) and adds BOS
  only when the GGUF metadata asks for it; ``token_bytes`` renders special tokens as their text, so
  ``b"".join(token_bytes(t) for t in tokenize(s)) == s.encode()`` for ordinary text.
- llama.cpp contexts are not thread-safe: one lock serialises ``logits`` and ``tokenize``.
- ``default_threads()``: llama.cpp threads unless given (half the CPUs).
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

#: ChatML, used when a GGUF file carries no chat template.
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def default_threads() -> int:
    """Threads for llama.cpp: half the CPUs (at least 1, at most 8), for prompts and tokens alike.

    llama.cpp's threads spin while they wait; on a busy machine more threads than free cores make
    decoding many times slower, so the default leaves half the machine alone.
    """
    return max(1, min(8, (os.cpu_count() or 2) // 2))


class LlamaModel:
    """A GGUF model through llama-cpp-python (implements :class:`sampler.Model`)."""

    def __init__(self, path: str | Path, *, n_ctx: int = 2048, n_threads: int | None = None,
                 name: str | None = None, n_seq: int = 4) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        try:
            import llama_cpp
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("llama-cpp-python is not installed: pip install 'oairef[llama]'") from exc
        self._llama_cpp = llama_cpp
        threads = n_threads or default_threads()
        # the Llama object provides weights, tokenizer and metadata; its own context stays tiny
        self._llama = llama_cpp.Llama(
            str(path), n_ctx=64, n_batch=64, n_threads=threads, n_threads_batch=threads, verbose=False,
        )
        self._lock = threading.Lock()
        self._cache = _SequenceCache(llama_cpp, self._llama, n_ctx=n_ctx, n_seq=n_seq, threads=threads)
        meta: dict[str, str] = dict(self._llama.metadata)
        self.metadata = meta
        self.path = path
        self.name: str = name or path.stem
        self.vocab_size: int = int(self._llama.n_vocab())
        self.n_ctx: int = int(n_ctx)
        self.eos_token_id: int = int(self._llama.token_eos())
        self.bos_token_id: int = int(self._llama.token_bos())
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "false").lower() == "true"
        self._pieces: list[bytes] = [self._piece(i) for i in range(self.vocab_size)]
        self._chat_template = meta.get("tokenizer.chat_template") or _CHATML

    # -- tokenizer -----------------------------------------------------------------------------
    def _piece(self, token_id: int) -> bytes:
        vocab = self._llama._model.vocab
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._llama_cpp.llama_token_to_piece(vocab, token_id, buf, size, 0, True)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens parsed; BOS only if the GGUF asks for it)."""
        if not text:
            return []
        with self._lock:
            return [int(t) for t in self._llama.tokenize(text.encode("utf-8"), add_bos=self._add_bos,
                                                          special=True)]

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes token ``token_id`` stands for (special tokens as their text)."""
        return self._pieces[token_id]

    # -- logits --------------------------------------------------------------------------------
    def logits(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """Raw next-token logits after ``ids`` (a float64 copy); see ``_SequenceCache``."""
        seq = [int(t) for t in ids] or [self.bos_token_id]
        if len(seq) > self.n_ctx:
            raise ValueError(f"sequence of {len(seq)} tokens exceeds the context of {self.n_ctx}")
        with self._lock:
            return self._cache.logits(seq)

    # -- chat ----------------------------------------------------------------------------------
    def apply_chat_template(self, messages: list[dict[str, Any]]) -> str:
        """The prompt text for ``messages`` by the GGUF's Jinja chat template, ending in the
        assistant's turn (``add_generation_prompt=True``)."""
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise ValueError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        template = env.from_string(self._chat_template)
        return template.render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=self._pieces[self.bos_token_id].decode("utf-8", errors="replace"),
            eos_token=self._pieces[self.eos_token_id].decode("utf-8", errors="replace"),
            raise_exception=raise_exception,
        )


class _Slot:
    """One KV-cache sequence: the tokens it holds and the logits after them (if known)."""

    def __init__(self, seq_id: int) -> None:
        self.seq_id = seq_id
        self.tokens: list[int] = []
        self.logits: np.ndarray | None = None
        self.last_used = 0


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    x, y = np.asarray(a[:n]), np.asarray(b[:n])
    diff = np.flatnonzero(x != y)
    return int(diff[0]) if diff.size else n


class _SequenceCache:
    """Next-token logits for many token sequences over one llama.cpp context with ``n_seq`` KV
    sequences.

    Rules: a request for ``ids`` reuses the sequence with the longest common prefix. If that
    sequence is a prefix of ``ids`` it is extended in place; otherwise ``ids`` goes to a free or least
    recently used sequence, leaving the other intact: that sequence is cut back to what it shares with
    ``ids`` (its own cells, so nothing is copied between sequences) and the rest decoded in one batched
    pass. So ``n`` candidates sampled side by side (the engine's batch) share the prompt's cells of
    whichever sequence they land in — more candidates than sequences re-decode only their own tokens,
    not the prompt — and echoed prompt scoring extends one sequence token by token.
    Each sequence has its own stream of ``n_ctx`` KV cells (``kv_unified = False``), so one never
    evicts another's cells. (With llama-cpp-python 0.3.36 a unified cache shared by several sequences
    gave wrong logits after some histories — with or without ``seq_cp`` — which the tests caught.)
    Memory: ``n_seq`` times one context's KV cache (SmolLM2-135M, 2048 tokens: ~47 MB each).
    """

    def __init__(self, llama_cpp: Any, llama: Any, *, n_ctx: int, n_seq: int, threads: int) -> None:
        from llama_cpp import _internals

        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * n_seq  # one stream of n_ctx cells per sequence
        params.n_batch = min(512, n_ctx)
        params.n_ubatch = min(512, n_ctx)
        params.n_seq_max = n_seq
        params.kv_unified = False
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        self._ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
        self._batch = _internals.LlamaBatch(n_tokens=params.n_batch, embd=0, n_seq_max=1, verbose=False)
        self._n_batch = int(params.n_batch)
        self._vocab = int(llama.n_vocab())
        self._slots = [_Slot(i) for i in range(n_seq)]
        self._tick = 0
        #: tokens decoded so far (what the prefix reuse saves shows here)
        self.decoded_tokens = 0

    def logits(self, ids: list[int]) -> np.ndarray:
        self._tick += 1
        scored = [(_common_prefix(s.tokens, ids), s) for s in self._slots]
        best_len, best = max(scored, key=lambda item: (item[0], item[1].last_used))
        if best_len == len(ids) == len(best.tokens) and best.logits is not None:
            best.last_used = self._tick
            return best.logits.copy()
        keep = min(best_len, len(ids) - 1)  # at least the last token is decoded to get its logits
        if len(best.tokens) == keep:
            slot = best  # extend in place
        else:
            victim = self._victim(exclude=best)
            if victim is None:
                slot = best
            else:  # another sequence, leaving ``best`` intact; it keeps what it shares with ``ids``
                slot, keep = victim, min(_common_prefix(victim.tokens, ids), len(ids) - 1)
        self._truncate(slot, keep)
        out = self._decode(slot, ids[keep:], keep)
        slot.tokens = list(ids)
        slot.logits = out
        slot.last_used = self._tick
        return out.copy()

    def _victim(self, exclude: _Slot) -> _Slot | None:
        others = [s for s in self._slots if s is not exclude]
        if not others:
            return None
        empty = [s for s in others if not s.tokens]
        return empty[0] if empty else min(others, key=lambda s: s.last_used)

    def _truncate(self, slot: _Slot, keep: int) -> None:
        self._ctx.kv_cache_seq_rm(slot.seq_id, keep, -1)
        slot.tokens = slot.tokens[:keep]
        slot.logits = None

    def _decode(self, slot: _Slot, tokens: list[int], start: int) -> np.ndarray:
        self.decoded_tokens += len(tokens)
        b = self._batch.batch
        for i in range(0, len(tokens), self._n_batch):
            chunk = tokens[i:i + self._n_batch]
            b.n_tokens = len(chunk)
            last_chunk = i + self._n_batch >= len(tokens)
            for j, t in enumerate(chunk):
                b.token[j] = t
                b.pos[j] = start + i + j
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = slot.seq_id
                b.logits[j] = last_chunk and j == len(chunk) - 1
            self._ctx.decode(self._batch)
        raw = np.ctypeslib.as_array(self._ctx.get_logits_ith(-1), shape=(self._vocab,))
        return np.array(raw, dtype=np.float64)
