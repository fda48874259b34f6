"""Engine results -> OpenAI response bodies (``CreateCompletionResponse``, ``CreateChatCompletionResponse``
and their streamed chunks), and the server-sent events that carry a stream.

Rules:
- Completions ``logprobs``: ``tokens`` (token text), ``token_logprobs`` (the chosen token's logprob;
  ``null`` for the first echoed prompt token), ``top_logprobs`` (``{token text: logprob}`` of the
  engine's top list: the ``k`` most likely plus the chosen one when it is not among them; ``null``
  where the engine has none), ``text_offset`` (characters from the start of the prompt).
- Chat ``logprobs.content[]``: ``{token, logprob, bytes, top_logprobs}`` where ``top_logprobs`` is
  exactly the ``k`` most likely tokens (descending logprob, ties by id) each with its bytes. A
  ``-inf`` logprob (possible in ``processed`` mode) is written as ``-9999.0``, OpenAI's value for
  "not among the likely tokens", because JSON has no infinity.
- A chosen token's text is the engine's share of the decoded text (so ``"".join(tokens) == text``;
  a token ending inside a multi-byte character has ``""`` and the next one carries the character),
  and it appears under that same text in ``top_logprobs``. Other listed tokens are the UTF-8
  decoding of their bytes, or ``bytes:\\xNN...`` (OpenAI's convention) when not valid UTF-8 on their
  own; chat entries always carry the exact ``bytes``.
- ``usage`` = the engine's counts (every candidate's generated tokens; each prompt once).
- A stream is one ``data: {json}`` event per chunk and ends with ``data: [DONE]`` (:data:`DONE_EVENT`).
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Sequence
from typing import Any

from sampler import Model, TokenLogprob

#: JSON has no -inf: a token with probability 0 is reported with this logprob (OpenAI's floor value).
NEG_INF_LOGPROB = -9999.0


#: The event that ends every stream.
DONE_EVENT = "data: [DONE]\n\n"


def sse(obj: dict[str, Any]) -> str:
    """One server-sent event carrying ``obj`` as JSON."""
    return f"data: {json.dumps(obj, ensure_ascii=False, allow_nan=False)}\n\n"


def new_id(prefix: str) -> str:
    """A fresh response id such as ``cmpl-3f9c...``."""
    return f"{prefix}-{secrets.token_hex(12)}"


def finite(logprob: float | None) -> float | None:
    """``logprob`` as JSON can carry it (``-inf`` -> ``NEG_INF_LOGPROB``)."""
    if logprob is None:
        return None
    x = float(logprob)
    if math.isnan(x):
        raise ValueError("NaN logprob")
    return NEG_INF_LOGPROB if x == -math.inf else x


def token_text(data: bytes) -> str:
    """Text of one token's bytes; ``bytes:\\xNN`` when they are not valid UTF-8 on their own."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in data)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """``CompletionUsage``."""
    return {"prompt_tokens": int(prompt_tokens), "completion_tokens": int(completion_tokens),
            "total_tokens": int(prompt_tokens) + int(completion_tokens)}


def completion_logprobs(entries: Sequence[TokenLogprob] | None, model: Model) -> dict[str, Any] | None:
    """Completions' ``logprobs`` object for the engine's ``TokenLogprob`` entries."""
    if entries is None:
        return None
    tokens, token_logprobs, tops, offsets = [], [], [], []
    for e in entries:
        tokens.append(e.text)
        token_logprobs.append(finite(e.logprob))
        if e.top is None:
            tops.append(None)
        else:
            top: dict[str, float] = {}
            chosen: float | None = None
            for tid, lp in e.top:
                if int(tid) == int(e.token_id):
                    chosen = finite(lp)
                else:
                    top.setdefault(token_text(model.token_bytes(int(tid))), finite(lp))
            if chosen is not None:  # the chosen token wins a clash of texts (e.g. "" with end-of-text)
                top[e.text] = chosen
            tops.append(top)
        offsets.append(int(e.text_offset))
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": tops, "text_offset": offsets}


def _ranked(top: Sequence[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    def key(item: tuple[int, float]) -> tuple[float, int]:
        lp = float(item[1])
        return (-lp if lp != -math.inf else math.inf, int(item[0]))

    return sorted(top, key=key)[:k]


def chat_logprobs(entries: Sequence[TokenLogprob] | None, model: Model, k: int) -> dict[str, Any] | None:
    """Chat's ``logprobs`` object (``{"content": [...], "refusal": None}``)."""
    if entries is None:
        return None
    content = []
    for e in entries:
        data = bytes(e.bytes)
        top = []
        for tid, lp in _ranked(e.top or [], k):
            tb = model.token_bytes(int(tid))
            text = e.text if int(tid) == int(e.token_id) else token_text(tb)
            top.append({"token": text, "logprob": finite(lp), "bytes": list(tb)})
        content.append({"token": e.text, "logprob": finite(e.logprob), "bytes": list(data),
                        "top_logprobs": top})
    return {"content": content, "refusal": None}


def completion_body(*, rid: str, created: int, model_id: str, choices: list[dict[str, Any]],
                    usage_: dict[str, int] | None, include_usage_key: bool = True) -> dict[str, Any]:
    """A ``CreateCompletionResponse`` (a whole response or one streamed chunk)."""
    body: dict[str, Any] = {"id": rid, "object": "text_completion", "created": created, "model": model_id,
                            "system_fingerprint": SYSTEM_FINGERPRINT, "choices": choices}
    if include_usage_key:
        body["usage"] = usage_
    return body


def chat_body(*, rid: str, created: int, model_id: str, choices: list[dict[str, Any]],
              usage_: dict[str, int] | None, chunk: bool, include_usage_key: bool = True) -> dict[str, Any]:
    """A ``CreateChatCompletionResponse`` or, with ``chunk``, a ``CreateChatCompletionStreamResponse``."""
    body: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk" if chunk else "chat.completion",
                            "created": created, "model": model_id,
                            "system_fingerprint": SYSTEM_FINGERPRINT, "choices": choices}
    if include_usage_key:
        body["usage"] = usage_
    return body


#: Identifies the backend configuration (constant: the reference's behaviour does not vary).
SYSTEM_FINGERPRINT = "fp_oairef"
