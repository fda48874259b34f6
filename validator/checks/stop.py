"""Stop sequences and max_tokens, on greedy (temperature 0) completions so the text is reproducible. Both endpoints.

Method: a greedy completion without ``stop`` gives the text ``G`` and its tokens (from logprobs where
the provider reports them). A stop string ``s`` is cut out of ``G`` across a token boundary (its
earliest occurrence must straddle the boundary); the same request with ``stop = s`` must return ``G``
up to just before ``s``, finish_reason "stop". Without logprobs the token boundaries are unknown: ``s``
is four characters from the middle of ``G`` at their earliest occurrence (said in the details).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.checks.streaming import collect, parse_stream
from validator.context import FAIL, PASS, Context, Outcome, ProviderError, Skipped
from validator.discovery import logprobs_reported
from validator.endpoints import Endpoint, choices
from validator.probing import choice_tokens, prompts_for

GREEDY_TOKENS = 16
LONG_CHAT = "Write a long story about a dragon."


@dataclass
class Greedy:
    prompt: str
    text: str
    tokens: list[str] | None  # None: the provider reports no logprobs


def greedy(ctx: Context, ep: Endpoint) -> Greedy:
    """A prompt whose greedy completion (up to 16 tokens) has >= 5 non-empty tokens joining to its text
    (without reported tokens: >= 12 characters)."""
    key = f"greedy:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    with_tokens = logprobs_reported(ctx, ep) is None
    for prompt in prompts_for(ep):
        fields = {**ep.prompt_fields(prompt), "max_tokens": GREEDY_TOKENS, "temperature": 0.0,
                  **(ep.token_fields() if with_tokens else {})}
        ex = ctx.post(ep.path, ctx.body(**fields))
        cs = choices(ctx.ok(ex))
        if not cs:
            raise ProviderError(f"{ep.path}: 200 without a list of choices", ex)
        if cs[0].get("finish_reason") not in ("length", "stop"):
            continue
        text = ep.text(cs[0])
        toks = choice_tokens(ep, cs[0]) if with_tokens else None
        if toks is None and len(text) >= 12 or toks is not None and "".join(toks) == text and \
                sum(1 for t in toks if t) >= 5:
            ctx.cache[key] = Greedy(prompt, text, toks)
            return ctx.cache[key]
    raise Skipped("no candidate prompt gives a greedy completion of 5 or more tokens that join to its text")


def spanning_stop(g: Greedy) -> tuple[str, int]:
    """A stop string whose earliest occurrence in ``g.text`` straddles a token boundary, and that position."""
    if g.tokens is None:
        for mid in range(len(g.text) // 2, len(g.text) - 3):
            s = g.text[mid - 2: mid + 2]
            if g.text.find(s) == mid - 2 and mid - 2 > 0:
                return s, mid - 2
        raise Skipped(f"no four characters of the greedy text {g.text!r} first occur in its middle")
    offsets = [0]
    for t in g.tokens:
        offsets.append(offsets[-1] + len(t))
    for i in range(2, len(g.tokens) - 1):
        left, right = g.tokens[i - 1], g.tokens[i]
        if not left or not right:
            continue
        s = left[-2:] + right[:2]
        pos = g.text.find(s)
        start = offsets[i] - len(left[-2:])
        if pos == start and pos > 0:
            return s, pos
    raise Skipped(f"no substring of the greedy text {g.text!r} first occurs across a token boundary")


@check(
    "stop.sequences",
    "stop text is excluded, matched across tokens, earliest of several wins, never streamed",
    rules.STOP,
    """Both endpoints. Greedy completion G (16 tokens). (1) stop = s, a substring of G spanning a token
    boundary: the text must be G cut just before s, finish_reason "stop". (2) Four stop strings, a later
    substring of G listed first and s third: same cut. (3) The same as a stream: the concatenated text
    equals the cut and no chunk contains s.""",
)
def sequences(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _sequences)


def _sequences(ctx: Context, ep: Endpoint) -> Outcome:
    g = greedy(ctx, ep)
    s, pos = spanning_stop(g)
    want = g.text[:pos]
    later = next((g.text[j:j + 3] for j in range(len(g.text) - 3, pos, -1)
                  if g.text.find(g.text[j:j + 3]) > pos), None)
    failures: list[str] = []
    evidence = []
    stops: list[Any] = [s]
    if later:
        stops.append([later, "\u2603zq", s, "zq\u2603"])
    base = {**ep.prompt_fields(g.prompt), "max_tokens": GREEDY_TOKENS, "temperature": 0.0}
    for st in stops:
        ex = ctx.post(ep.path, ctx.body(**base, stop=st))
        evidence.append(ex.excerpt())
        cs = choices(ctx.ok(ex, "stop"))
        c = cs[0] if cs else {}
        if ep.text(c) != want:
            failures.append(f"stop={st!r}: text {ep.text(c)!r}, expected {want!r}")
        if c.get("finish_reason") != "stop":
            failures.append(f"stop={st!r}: finish_reason {c.get('finish_reason')!r}, expected 'stop'")
    ex = ctx.stream(ep.path, ctx.body(**base, stop=s, stream=True))
    evidence.append(ex.excerpt())
    chunks, problems = parse_stream(ex)
    texts, finishes = collect(chunks, ep)
    if texts.get(0, "") != want:
        failures.append(f"streamed with stop={s!r}: text {texts.get(0, '')!r}, expected {want!r}")
    if any(s in ep.delta_text(c) for ch in chunks for c in ch.get("choices") or []):
        failures.append("a streamed chunk contains the stop string")
    if finishes.get(0) != ["stop"]:
        failures.append(f"streamed finish_reasons {finishes.get(0)}, expected ['stop']")
    failures += [f"stream: {p}" for p in problems]
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or f"cut before {s!r} in every form",
                   evidence=evidence, failures=failures,
                   details={"greedy_text": g.text, "tokens": g.tokens, "stop": s, "later_stop": later,
                            "token_boundaries": "from logprobs" if g.tokens is not None else
                            "unknown (no logprobs): s taken from the middle of the text"})


@check(
    "stop.max_tokens",
    "generation stops after max_tokens with finish_reason length",
    rules.MAX_TOKENS,
    """Completions: greedy completion with max_tokens 5 of a prompt whose greedy run is longer: exactly 5 tokens
    (usage.completion_tokens, and logprobs tokens where reported), finish_reason "length", and the text is the
    prefix of the 16-token greedy text. Chat: max_tokens 3 on a request for a long story: at most 3 tokens, and
    "length" after exactly 3.""",
)
def max_tokens(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _max_tokens)


def _max_tokens(ctx: Context, ep: Endpoint) -> Outcome:
    failures: list[str] = []
    if ep.is_chat:
        ex = ctx.post(ep.path, ctx.body(**ep.prompt_fields(LONG_CHAT), max_tokens=3, temperature=0.0))
        d = ctx.ok(ex)
        cs = choices(d)
        c = cs[0] if cs else {}
        ct = (d.get("usage") or {}).get("completion_tokens")
        if c.get("finish_reason") == "length" and ct != 3:
            failures.append(f"finish_reason length after {ct} tokens, expected 3")
        if c.get("finish_reason") not in ("length", "stop") or (isinstance(ct, int) and ct > 3):
            failures.append(f"finish_reason {c.get('finish_reason')!r} after {ct} tokens with max_tokens 3")
        return Outcome(FAIL if failures else PASS, "; ".join(failures) or "stops at max_tokens with 'length'",
                       evidence=[ex.excerpt()], failures=failures)
    g = greedy(ctx, ep)
    with_tokens = g.tokens is not None
    ex = ctx.post(ep.path, ctx.body(**ep.prompt_fields(g.prompt), max_tokens=5, temperature=0.0,
                                    **(ep.logprob_fields(1) if with_tokens else {})))
    data = ctx.ok(ex)
    cs = choices(data)
    c = cs[0] if cs else {}
    usage = data.get("usage") or {}
    if usage.get("completion_tokens") != 5:
        failures.append(f"{usage.get('completion_tokens')} tokens counted, expected 5")
    if with_tokens and len(choice_tokens(ep, c)) != 5:
        failures.append(f"{len(choice_tokens(ep, c))} tokens returned, expected 5")
    if c.get("finish_reason") != "length":
        failures.append(f"finish_reason {c.get('finish_reason')!r}, expected 'length'")
    prefix = "".join(g.tokens[:5]) if g.tokens is not None else None
    if prefix is not None and ep.text(c) != prefix:
        failures.append(f"text {ep.text(c)!r} is not the greedy prefix {prefix!r}")
    if prefix is None and not g.text.startswith(ep.text(c)):
        failures.append(f"text {ep.text(c)!r} is not a prefix of the greedy text {g.text!r}")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "stops at max_tokens with 'length'",
                   evidence=[ex.excerpt()], failures=failures)
