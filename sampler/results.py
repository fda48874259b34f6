"""What the completion engine returns: plain dataclasses the HTTP layer turns into API objects."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenLogprob:
    """One reported token.

    ``text`` is the token's share of the decoded text (UTF-8 decoded incrementally, so a token that
    ends inside a multi-byte character has ``""`` and the next one carries the character); ``bytes``
    are the token's own bytes. ``logprob`` is the chosen token's log-probability (``None`` for the
    first echoed prompt token), ``top`` the top-k ``(token_id, logprob)`` plus the chosen token when it
    is not among them (``None`` for the first echoed prompt token). ``text_offset`` counts characters
    from the start of the prompt, echoed or not.
    """

    token_id: int
    text: str
    bytes: bytes
    logprob: float | None
    top: list[tuple[int, float]] | None
    text_offset: int


@dataclass
class Choice:
    """One returned completion. ``index`` is ``prompt_index * n + j``; ``mean_logprob`` is its score."""

    index: int
    text: str
    finish_reason: str
    logprobs: list[TokenLogprob] | None
    token_ids: list[int]
    mean_logprob: float


@dataclass
class Completion:
    """All choices of a request plus usage (every candidate's generated tokens count)."""

    choices: list[Choice]
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class StreamDelta:
    """A streamed piece of choice ``index``: new text, its logprob entries, and the finish reason on the last."""

    index: int
    text: str
    logprobs: list[TokenLogprob] | None = field(default=None)
    finish_reason: str | None = None
