"""Running a ``Job`` through the sampler's engine, off the event loop, cancellably.

Rules:
- ``run_job`` and ``open_streams`` are synchronous; routes call them in the threadpool. The
  ``cancelled`` callback (a disconnected client) is passed to the engine, which stops at the next token.
- Several prompts: prompt ``p``'s choice ``j`` gets index ``p * n + j``; usage sums over prompts.
- The ``stop_leak`` fault: the engine runs without ``stop``; the server cuts the text just *after*
  the earliest stop string (so the stop string leaks) and reports ``finish_reason: "stop"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sampler
from provider.faults import leak_stop
from provider.requests_parse import Job


@dataclass
class ChoiceResult:
    """One returned choice, with its index across all prompts."""

    index: int
    text: str
    finish_reason: str
    logprobs: list[Any] | None


@dataclass
class JobResult:
    """All choices of a job and its usage counts."""

    choices: list[ChoiceResult]
    prompt_tokens: int
    completion_tokens: int


def _prompt_text(model: Any, ids: list[int]) -> str:
    return b"".join(model.token_bytes(t) for t in ids).decode("utf-8", errors="replace")


def _leak(choice: ChoiceResult, stops: tuple[str, ...], start: int) -> ChoiceResult:
    """``stop_leak``: cut after the earliest stop string found in ``text[start:]``."""
    head, tail = choice.text[:start], choice.text[start:]
    cut, matched = leak_stop(tail, list(stops))
    if not matched:
        return choice
    text = head + cut
    logprobs = choice.logprobs
    if logprobs is not None:
        # keep entries whose text starts before the end of the leaked text
        first = logprobs[0].text_offset if logprobs else 0
        logprobs = [e for e in logprobs if e.text_offset - first < len(text) or e.logprob is None]
    return dataclasses.replace(choice, text=text, finish_reason="stop", logprobs=logprobs)


def run_job(model: Any, job: Job, *, count_prompt_in_penalties: bool,
            cancelled: Callable[[], bool] | None = None) -> JobResult:
    """Generate every prompt of ``job`` (blocking; all prompts step together in the engine)."""
    n = job.params.n
    out = sampler.complete(model, job.prompts, job.params, count_prompt_in_penalties=count_prompt_in_penalties,
                           cancelled=cancelled)
    choices: list[ChoiceResult] = []
    for c in out.choices:
        res = ChoiceResult(c.index, c.text, c.finish_reason, c.logprobs)
        if job.stop_leak:
            echo_len = len(_prompt_text(model, job.prompts[c.index // n])) if job.params.echo else 0
            res = _leak(res, job.stop_leak, echo_len)
        choices.append(res)
    return JobResult(choices, out.prompt_tokens, out.completion_tokens)


@dataclass
class Delta:
    """One streamed piece of one choice (index across prompts)."""

    index: int
    text: str
    logprobs: list[Any] | None
    finish_reason: str | None


class JobStream:
    """Iterates ``Delta`` over the engine's stream for every prompt of ``job``; ``prompt_tokens`` and
    ``completion_tokens`` are complete after exhaustion; ``close()`` stops generation."""

    def __init__(self, model: Any, job: Job, *, count_prompt_in_penalties: bool,
                 cancelled: Callable[[], bool] | None = None) -> None:
        self._stream = sampler.stream_complete(model, job.prompts, job.params,
                                               count_prompt_in_penalties=count_prompt_in_penalties,
                                               cancelled=cancelled)
        self._leak = None
        if job.stop_leak:
            n = job.params.n
            echoed = [len(_prompt_text(model, ids)) if job.params.echo else 0 for ids in job.prompts]
            self._leak = _StreamLeak(job.stop_leak, lambda index: echoed[index // n])
        self._iter = self._run()

    @property
    def prompt_tokens(self) -> int:
        return int(self._stream.prompt_tokens)

    @property
    def completion_tokens(self) -> int:
        return int(self._stream.completion_tokens)

    def __iter__(self) -> Iterator[Delta]:
        return self._iter

    def __next__(self) -> Delta:
        return next(self._iter)

    def _run(self) -> Iterator[Delta]:
        for d in self._stream:
            delta = Delta(d.index, d.text, d.logprobs, d.finish_reason)
            if self._leak is not None:
                yield from self._leak.feed(delta)
            else:
                yield delta

    def close(self) -> None:
        """Stop generating (idempotent)."""
        self._stream.close()
        self._iter.close()


class _StreamLeak:
    """``stop_leak`` for streams: pass text through until a stop string has appeared in the
    completion (an echoed prompt, the first ``echo_len(index)`` characters, is not searched), then
    emit up to its end, finish the choice with ``stop`` and drop the rest of that choice."""

    def __init__(self, stops: tuple[str, ...], echo_len: Callable[[int], int]) -> None:
        self.stops = stops
        self.echo_len = echo_len
        self.text: dict[int, str] = {}
        self.done: set[int] = set()

    def feed(self, d: Delta) -> Iterator[Delta]:
        if d.index in self.done:
            return
        before = self.text.get(d.index, "")
        full = before + d.text
        skip = self.echo_len(d.index)
        cut, matched = leak_stop(full[skip:], list(self.stops))
        if matched:
            self.done.add(d.index)
            yield Delta(d.index, (full[:skip] + cut)[len(before):], d.logprobs, "stop")
            return
        self.text[d.index] = full
        yield d
