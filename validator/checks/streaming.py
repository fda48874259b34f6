"""Server-sent-event framing, [DONE], finish_reason per choice, stream == non-stream, include_usage. Both endpoints."""

from __future__ import annotations

import json
from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.client import Exchange
from validator.context import FAIL, PASS, Context, Outcome, ProviderError
from validator.endpoints import Endpoint, choices

PROMPT = "Once upon a time"
CHAT_PROMPT = "Tell me a story."


def prompt_for(ep: Endpoint) -> dict[str, Any]:
    return ep.prompt_fields(CHAT_PROMPT if ep.is_chat else PROMPT)


def parse_stream(ex: Exchange) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON chunks of a stream and the framing problems found (missing [DONE], bad JSON, a cap hit, ...)."""
    problems: list[str] = []
    if ex.status != 200:
        raise ProviderError(f"stream request answered HTTP {ex.status}: {ex.text[:200]}", ex)
    if ex.failure is not None:
        problems.append(ex.failure)
    events = ex.events or []
    if not events:
        problems.append("no data: events")
        return [], problems
    if events[-1] != "[DONE]":
        problems.append("the stream does not end with data: [DONE]")
    if events.count("[DONE]") > 1:
        problems.append("more than one [DONE]")
    chunks = []
    for i, e in enumerate(events):
        if e == "[DONE]":
            if i != len(events) - 1:
                problems.append(f"[DONE] at event {i}, before the end")
            continue
        try:
            chunk = json.loads(e)
        except ValueError:
            problems.append(f"event {i} is not JSON: {e[:80]!r}")
            continue
        if isinstance(chunk, dict):
            chunks.append(chunk)
        else:
            problems.append(f"event {i} is not a JSON object: {e[:80]!r}")
    return chunks, problems


def collect(chunks: list[dict[str, Any]], ep: Endpoint) -> tuple[dict[int, str], dict[int, list[Any]]]:
    """Concatenated text and the non-null finish_reasons, per choice index."""
    texts: dict[int, str] = {}
    finishes: dict[int, list[Any]] = {}
    for ch in chunks:
        for c in ch.get("choices") or []:
            if not isinstance(c, dict):
                continue
            i = int(c.get("index", 0)) if isinstance(c.get("index", 0), int) else -1
            texts[i] = texts.get(i, "") + ep.delta_text(c)
            finishes.setdefault(i, [])
            if c.get("finish_reason") is not None:
                finishes[i].append(c["finish_reason"])
    return texts, finishes


@check(
    "streaming.framing",
    "SSE data events ending in [DONE]; one finish_reason per choice; streamed text equals non-streamed",
    rules.STREAM,
    """Completions and chat, n = 2, T = 1, a fixed seed, max_tokens 12: stream, then the same body without
    stream. Every event but the last must be a JSON chunk, the last [DONE]; each choice index gets exactly
    one non-null finish_reason; the concatenated text per index equals the non-streamed text.""",
)
def framing(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _framing)


def _framing(ctx: Context, ep: Endpoint) -> Outcome:
    fields: dict[str, Any] = {"max_tokens": 12, "temperature": 1.0, "n": 2, "seed": ctx.next_seed(), **prompt_for(ep)}
    ex = ctx.stream(ep.path, ctx.body(stream=True, **fields))
    chunks, problems = parse_stream(ex)
    texts, finishes = collect(chunks, ep)
    full = ctx.ok(ctx.post(ep.path, ctx.body(**fields)), "n, seed")
    want = {int(c.get("index", 0)): ep.text(c) for c in choices(full)}
    for i, f in sorted(finishes.items()):
        if len(f) != 1:
            problems.append(f"choice {i}: {len(f)} non-null finish_reasons {f}")
    if set(texts) != set(want):
        problems.append(f"streamed choice indices {sorted(texts)} != non-streamed {sorted(want)}")
    for i in sorted(set(texts) & set(want)):
        if texts[i] != want[i]:
            problems.append(f"choice {i}: streamed {texts[i]!r} != non-streamed {want[i]!r} (same seed)")
    return Outcome(FAIL if problems else PASS, "; ".join(problems[:3]) or "framing, [DONE] and texts as documented",
                   evidence=[ex.excerpt()], failures=problems)


@check(
    "streaming.include_usage",
    "stream_options.include_usage: a final usage chunk with empty choices",
    rules.INCLUDE_USAGE,
    """Completions and chat streams with stream_options {"include_usage": true}: the last chunk before
    [DONE] carries usage (prompt, completion and total tokens, total = sum) and choices []; every other
    chunk has usage null or absent; completion_tokens matches a non-streamed twin.""",
)
def include_usage(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _include_usage)


def _include_usage(ctx: Context, ep: Endpoint) -> Outcome:
    fields: dict[str, Any] = {"max_tokens": 6, "temperature": 0.0, **prompt_for(ep)}
    ex = ctx.stream(ep.path, ctx.body(stream=True, stream_options={"include_usage": True}, **fields))
    if 400 <= ex.status < 500:
        ctx.ok(ex, "stream_options")
    chunks, problems = parse_stream(ex)
    if not chunks:
        return Outcome(FAIL, "no chunks", evidence=[ex.excerpt()], failures=["no chunks", *problems])
    last = chunks[-1]
    usage = last.get("usage")
    if not isinstance(usage, dict):
        problems.append("the last chunk has no usage")
    else:
        if last.get("choices") not in ([], None):
            problems.append("the usage chunk has non-empty choices")
        pt, ct, tt = usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
        if not all(isinstance(v, int) for v in (pt, ct, tt)) or pt + ct != tt:
            problems.append(f"usage inconsistent: {usage}")
        full = ctx.ok(ctx.post(ep.path, ctx.body(**fields)))
        want = (full.get("usage") or {}).get("completion_tokens")
        if want != ct:
            problems.append(f"streamed completion_tokens {ct} != non-streamed {want}")
    if any(c.get("usage") for c in chunks[:-1]):
        problems.append("usage on a chunk other than the last")
    return Outcome(FAIL if problems else PASS, "; ".join(problems[:3]) or "final usage chunk as documented",
                   evidence=[ex.excerpt()], failures=problems)
