"""Running a ``Job`` through the sampler's engine, off the event loop, cancellably.

Rules:
- ``run_job`` and ``JobStream`` are synchronous; routes call them in the threadpool. The
  ``cancelled`` callback (a disconnected client) is passed to the engine, which stops at the next token.
- Results are the sampler's own: a ``sampler.Completion`` (choice ``index`` = ``prompt_index * n + j``,
  usage summed over prompts) or ``sampler.StreamDelta`` pieces.
- The ``stop_leak`` fault: the engine runs without ``stop``; the server cuts the text just *after*
  the earliest stop string (so the stop string leaks) and reports ``finish_reason: "stop"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import sampler
from provider.faults import leak_stop
from provider.requests_parse import Job
from sampler import Choice, Completion, Model, StreamDelta
from sampler.engine import normalize_prompts


def _echo_lengths(model: Model, job: Job) -> list[int]:
    """Characters of each prompt's echoed text (0 without ``echo``)."""
    return [len(tp.text) if job.params.echo else 0 for tp in normalize_prompts(model, job.prompt)]


def _leak(choice: Choice, stops: tuple[str, ...], start: int) -> Choice:
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


def run_job(model: Model, job: Job, *, count_prompt_in_penalties: bool,
            cancelled: Callable[[], bool] | None = None) -> Completion:
    """Generate every prompt of ``job`` (blocking; all prompts step together in the engine)."""
    out = sampler.complete(model, job.prompt, job.params, count_prompt_in_penalties=count_prompt_in_penalties,
                           cancelled=cancelled)
    if job.stop_leak:
        echoed = _echo_lengths(model, job)
        out.choices = [_leak(c, job.stop_leak, echoed[c.index // job.params.n]) for c in out.choices]
    return out


class JobStream:
    """Iterates ``StreamDelta`` over the engine's stream for every prompt of ``job``; ``prompt_tokens``
    and ``completion_tokens`` are complete after exhaustion; ``close()`` stops generation."""

    def __init__(self, model: Model, job: Job, *, count_prompt_in_penalties: bool,
                 cancelled: Callable[[], bool] | None = None) -> None:
        self._stream = sampler.stream_complete(model, job.prompt, job.params,
                                               count_prompt_in_penalties=count_prompt_in_penalties,
                                               cancelled=cancelled)
        self._leak = None
        if job.stop_leak:
            n = job.params.n
            echoed = _echo_lengths(model, job)
            self._leak = _StreamLeak(job.stop_leak, lambda index: echoed[index // n])
        self._iter = self._run()

    @property
    def prompt_tokens(self) -> int:
        return int(self._stream.prompt_tokens)

    @property
    def completion_tokens(self) -> int:
        return int(self._stream.completion_tokens)

    def __iter__(self) -> Iterator[StreamDelta]:
        return self._iter

    def __next__(self) -> StreamDelta:
        return next(self._iter)

    def _run(self) -> Iterator[StreamDelta]:
        for delta in self._stream:
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

    def feed(self, d: StreamDelta) -> Iterator[StreamDelta]:
        if d.index in self.done:
            return
        before = self.text.get(d.index, "")
        full = before + d.text
        skip = self.echo_len(d.index)
        cut, matched = leak_stop(full[skip:], list(self.stops))
        if matched:
            self.done.add(d.index)
            yield StreamDelta(d.index, (full[:skip] + cut)[len(before):], d.logprobs, "stop")
            return
        self.text[d.index] = full
        yield d
