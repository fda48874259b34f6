"""The two generation endpoints, seen the same way: how to ask, and where the answer's parts are.

Rules:
- A "prompt" is the completions ``prompt`` or the content of a single user message on chat.
- Logprobs are asked as ``logprobs: k`` (completions) or ``logprobs: true, top_logprobs: k`` (chat);
  the most a request may ask for is the spec's maximum for that field (``validator.ranges``).
- Per generated token, ``top(choice)`` gives ``{token text: logprob}`` of the reported alternatives
  plus the chosen token (completions reports it among ``top_logprobs`` already; chat reports it beside
  them). ``None`` means the provider sent no logprobs for the choice.
- A completions choice whose logprobs come in the chat shape (``logprobs.content[]``, as llama.cpp's
  llama-server answers) is read in that shape, so the statistical checks still judge the sampling;
  ``logprobs.shape`` fails the shape itself, once.
- A choice's text is ``text`` (completions) or ``message.content`` (chat, null read as ""); a streamed
  chunk's is ``text`` or ``delta.content``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from validator.ranges import bound

COMPLETIONS, CHAT = "completions", "chat"
ENDPOINT_NAMES = (COMPLETIONS, CHAT)


@dataclass(frozen=True)
class Endpoint:
    """One generation endpoint."""

    name: str
    path: str

    @property
    def is_chat(self) -> bool:
        return self.name == CHAT

    @property
    def top_param(self) -> str:
        """The request field that asks for top logprobs."""
        return "top_logprobs" if self.is_chat else "logprobs"

    @functools.cached_property
    def max_top(self) -> int:
        """The most top logprobs a request may ask for (the spec's maximum)."""
        return int(bound(self.name, self.top_param).maximum or 0)

    @functools.cached_property
    def max_n(self) -> int:
        """The most choices a request may ask for (the spec's maximum of ``n``)."""
        return int(bound(self.name, "n").maximum or 1)

    def prompt_fields(self, prompt: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": prompt}]} if self.is_chat else {"prompt": prompt}

    def logprob_fields(self, k: int) -> dict[str, Any]:
        return {"logprobs": True, "top_logprobs": k} if self.is_chat else {"logprobs": k}

    def token_fields(self) -> dict[str, Any]:
        """The fields that make a provider report the generated tokens: logprobs with one alternative
        (llama.cpp's llama-server reports no logprobs at all for 0 alternatives — a departure
        ``logprobs.shape`` fails —, and checks that only read tokens must not fail for it again)."""
        return self.logprob_fields(1)

    def text(self, choice: Any) -> str:
        if not isinstance(choice, dict):
            return ""
        if self.is_chat:
            msg = choice.get("message")
            return str((msg.get("content") if isinstance(msg, dict) else None) or "")
        return str(choice.get("text") or "")

    def delta_text(self, choice: Any) -> str:
        if not isinstance(choice, dict):
            return ""
        if self.is_chat:
            delta = choice.get("delta")
            return str((delta.get("content") if isinstance(delta, dict) else None) or "")
        return str(choice.get("text") or "")

    def _chat_content(self, choice: Any) -> list[dict[str, Any]] | None:
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        content = lp.get("content") if isinstance(lp, dict) else None
        if not isinstance(content, list) or not all(isinstance(e, dict) for e in content):
            return None
        return content

    def _chat_shaped(self, choice: Any, field: str) -> list[dict[str, Any]] | None:
        """``logprobs.content`` when the choice is read in the chat shape: always on chat; on completions
        when ``logprobs.<field>`` is not a list but ``logprobs.content`` is (llama-server)."""
        if self.is_chat:
            return self._chat_content(choice)
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        if isinstance(lp, dict) and not isinstance(lp.get(field), list):
            return self._chat_content(choice)
        return None

    def tokens(self, choice: Any) -> list[str] | None:
        """The generated tokens' texts, or ``None`` without logprobs."""
        content = self._chat_shaped(choice, "tokens")
        if content is not None or self.is_chat:
            return None if content is None else [str(e.get("token", "")) for e in content]
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        toks = lp.get("tokens") if isinstance(lp, dict) else None
        return [str(t) for t in toks] if isinstance(toks, list) else None

    def top(self, choice: Any) -> list[dict[str, float]] | None:
        """Per generated token, the reported alternatives and the chosen token with their logprobs."""
        content = self._chat_shaped(choice, "top_logprobs")
        if content is not None or self.is_chat:
            if content is None:
                return None
            out = []
            for e in content:
                d: dict[str, float] = {}
                for t in e.get("top_logprobs") or []:
                    if isinstance(t, dict) and isinstance(t.get("logprob"), int | float):
                        d[str(t.get("token", ""))] = float(t["logprob"])
                if isinstance(e.get("logprob"), int | float):
                    d.setdefault(str(e.get("token", "")), float(e["logprob"]))
                out.append(d)
            return out
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        top = lp.get("top_logprobs") if isinstance(lp, dict) else None
        if not isinstance(top, list):
            return None
        return [{str(k): float(v) for k, v in t.items() if isinstance(v, int | float)} if isinstance(t, dict) else {}
                for t in top]

    def chosen_logprobs(self, choice: Any) -> list[float | None] | None:
        """The chosen tokens' logprobs (``None`` entries where absent), or ``None`` without logprobs."""
        content = self._chat_shaped(choice, "token_logprobs")
        if content is not None or self.is_chat:
            return None if content is None else [
                float(e["logprob"]) if isinstance(e.get("logprob"), int | float) else None for e in content]
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        vals = lp.get("token_logprobs") if isinstance(lp, dict) else None
        return None if not isinstance(vals, list) else [float(v) if isinstance(v, int | float) else None for v in vals]


ENDPOINTS: dict[str, Endpoint] = {
    COMPLETIONS: Endpoint(COMPLETIONS, "/completions"),
    CHAT: Endpoint(CHAT, "/chat/completions"),
}


def choices(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The choices of a response body, in index order (non-objects dropped)."""
    cs = data.get("choices")
    if not isinstance(cs, list):
        return []
    good = [c for c in cs if isinstance(c, dict)]
    return sorted(good, key=lambda c: c.get("index") if isinstance(c.get("index"), int) else 0)


def parse_endpoints(text: str) -> tuple[str, ...]:
    """``"completions,chat"`` -> the endpoint names, in catalogue order (``ValueError`` naming a bad one)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in ENDPOINTS]
    if bad or not names:
        raise ValueError(f"--endpoints takes a comma-separated subset of {', '.join(ENDPOINT_NAMES)}; got {text!r}")
    return tuple(n for n in ENDPOINT_NAMES if n in names)
