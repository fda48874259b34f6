"""Server-sent-event framing, [DONE], finish_reason per choice, stream == non-stream, include_usage."""

from __future__ import annotations

import json
from typing import Any

from validator import rules
from validator.checks.base import check
from validator.client import Exchange
from validator.context import FAIL, PASS, Context, Outcome, ProviderError

PROMPT = "Once upon a time"
MESSAGES = [{"role": "user", "content": "Tell me a story."}]


def parse_stream(ex: Exchange) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON chunks of a stream and the framing problems found (missing [DONE], bad JSON, ...)."""
    problems: list[str] = []
    if ex.status != 200:
        raise ProviderError(f"stream request answered HTTP {ex.status}: {ex.text[:200]}", ex)
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
            chunks.append(json.loads(e))
        except ValueError:
            problems.append(f"event {i} is not JSON: {e[:80]!r}")
    return chunks, problems


def collect(chunks: list[dict[str, Any]], chat: bool) -> tuple[dict[int, str], dict[int, list[Any]]]:
    """Concatenated text and the non-null finish_reasons, per choice index."""
    texts: dict[int, str] = {}
    finishes: dict[int, list[Any]] = {}
    for ch in chunks:
        for c in ch.get("choices") or []:
            i = int(c.get("index", 0))
            piece = ((c.get("delta") or {}).get("content") if chat else c.get("text")) or ""
            texts[i] = texts.get(i, "") + piece
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
    failures: list[str] = []
    evidence = []
    for chat in (False, True):
        seed = ctx.next_seed()
        fields: dict[str, Any] = {"max_tokens": 12, "temperature": 1.0, "n": 2, "seed": seed}
        fields.update({"messages": MESSAGES} if chat else {"prompt": PROMPT})
        path = "/chat/completions" if chat else "/completions"
        ex = ctx.client.stream(path, ctx.body(stream=True, **fields))
        evidence.append(ex.excerpt())
        chunks, problems = parse_stream(ex)
        texts, finishes = collect(chunks, chat)
        full = ctx.ok(ctx.client.post(path, ctx.body(**fields)), "n, seed")
        want = {int(c.get("index", 0)): ((c.get("message") or {}).get("content") if chat else c.get("text")) or ""
                for c in full.get("choices") or []}
        for i, f in sorted(finishes.items()):
            if len(f) != 1:
                problems.append(f"choice {i}: {len(f)} non-null finish_reasons {f}")
        if set(texts) != set(want):
            problems.append(f"streamed choice indices {sorted(texts)} != non-streamed {sorted(want)}")
        for i in sorted(set(texts) & set(want)):
            if texts[i] != want[i]:
                problems.append(f"choice {i}: streamed {texts[i]!r} != non-streamed {want[i]!r} (same seed)")
        failures += [f"{path}: {p}" for p in problems]
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or "framing, [DONE] and texts as documented",
                   evidence=evidence, failures=failures)


@check(
    "streaming.include_usage",
    "stream_options.include_usage: a final usage chunk with empty choices",
    rules.INCLUDE_USAGE,
    """Completions and chat streams with stream_options {"include_usage": true}: the last chunk before
    [DONE] carries usage (prompt, completion and total tokens, total = sum) and choices []; every other
    chunk has usage null or absent; completion_tokens matches a non-streamed twin.""",
)
def include_usage(ctx: Context) -> Outcome:
    failures: list[str] = []
    evidence = []
    for chat in (False, True):
        fields: dict[str, Any] = {"max_tokens": 6, "temperature": 0.0}
        fields.update({"messages": MESSAGES} if chat else {"prompt": PROMPT})
        path = "/chat/completions" if chat else "/completions"
        ex = ctx.client.stream(path, ctx.body(stream=True, stream_options={"include_usage": True}, **fields))
        evidence.append(ex.excerpt())
        if 400 <= ex.status < 500:
            ctx.ok(ex, "stream_options")
        chunks, problems = parse_stream(ex)
        if not chunks:
            failures.append(f"{path}: no chunks")
            continue
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
            full = ctx.ok(ctx.client.post(path, ctx.body(**fields)))
            want = (full.get("usage") or {}).get("completion_tokens")
            if want != ct:
                problems.append(f"streamed completion_tokens {ct} != non-streamed {want}")
        if any(c.get("usage") for c in chunks[:-1]):
            problems.append("usage on a chunk other than the last")
        failures += [f"{path}: {p}" for p in problems]
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or "final usage chunk as documented",
                   evidence=evidence, failures=failures)
