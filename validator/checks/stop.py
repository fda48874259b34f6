"""Stop sequences and max_tokens, on greedy (temperature 0) completions so the text is reproducible.

Method: a greedy completion without ``stop`` gives the text ``G`` and its tokens. A stop string ``s``
is cut out of ``G`` across a token boundary (its earliest occurrence must straddle the boundary);
the same request with ``stop = s`` must return ``G`` up to just before ``s``, finish_reason "stop".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from validator import rules
from validator.checks.base import check
from validator.checks.streaming import collect, parse_stream
from validator.context import FAIL, PASS, Context, Outcome, Skipped
from validator.probing import SPREAD_PROMPTS, choice_tokens


@dataclass
class Greedy:
    prompt: str
    text: str
    tokens: list[str]


def greedy(ctx: Context) -> Greedy:
    """A prompt whose greedy 16-token completion runs to the length limit with >= 6 non-empty tokens."""
    if "greedy" in ctx.cache:
        return ctx.cache["greedy"]
    for prompt in SPREAD_PROMPTS:
        data = ctx.ok(ctx.completion(prompt=prompt, max_tokens=16, temperature=0.0, logprobs=1))
        c = (data.get("choices") or [{}])[0]
        toks = choice_tokens(c)
        text = c.get("text") or ""
        if c.get("finish_reason") == "length" and "".join(toks) == text and sum(1 for t in toks if t) >= 6:
            ctx.cache["greedy"] = Greedy(prompt, text, toks)
            return ctx.cache["greedy"]
    raise Skipped("no candidate prompt gives a 16-token greedy completion whose tokens join to its text")


def spanning_stop(g: Greedy) -> tuple[str, int]:
    """A stop string whose earliest occurrence in ``g.text`` straddles a token boundary, and that position."""
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


def _choice(data: dict[str, Any]) -> dict[str, Any]:
    return (data.get("choices") or [{}])[0]


@check(
    "stop.sequences",
    "stop text is excluded, matched across tokens, earliest of several wins, never streamed",
    rules.STOP,
    """Greedy completion G (16 tokens). (1) stop = s, a substring of G spanning a token boundary: the text
    must be G cut just before s, finish_reason "stop". (2) Four stop strings, a later substring of G listed
    first and s third: same cut. (3) The same as a stream: the concatenated text equals the cut and no
    chunk contains s.""",
)
def sequences(ctx: Context) -> Outcome:
    g = greedy(ctx)
    s, pos = spanning_stop(g)
    want = g.text[:pos]
    later = next((g.text[j:j + 3] for j in range(len(g.text) - 3, pos, -1)
                  if g.text.find(g.text[j:j + 3]) > pos), None)
    failures: list[str] = []
    evidence = []
    stops: list[Any] = [s]
    if later:
        stops.append([later, "\u2603zq", s, "zq\u2603"])
    for st in stops:
        ex = ctx.completion(prompt=g.prompt, max_tokens=16, temperature=0.0, stop=st)
        evidence.append(ex.excerpt())
        c = _choice(ctx.ok(ex, "stop"))
        if c.get("text") != want:
            failures.append(f"stop={st!r}: text {c.get('text')!r}, expected {want!r}")
        if c.get("finish_reason") != "stop":
            failures.append(f"stop={st!r}: finish_reason {c.get('finish_reason')!r}, expected 'stop'")
    ex = ctx.client.stream("/completions", ctx.body(prompt=g.prompt, max_tokens=16, temperature=0.0, stop=s,
                                                    stream=True))
    evidence.append(ex.excerpt())
    chunks, problems = parse_stream(ex)
    texts, finishes = collect(chunks, chat=False)
    if texts.get(0, "") != want:
        failures.append(f"streamed with stop={s!r}: text {texts.get(0, '')!r}, expected {want!r}")
    if any(s in (c.get("text") or "") for ch in chunks for c in ch.get("choices") or []):
        failures.append("a streamed chunk contains the stop string")
    if finishes.get(0) != ["stop"]:
        failures.append(f"streamed finish_reasons {finishes.get(0)}, expected ['stop']")
    failures += [f"stream: {p}" for p in problems]
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or f"cut before {s!r} in every form",
                   evidence=evidence, details={"greedy_text": g.text, "tokens": g.tokens, "stop": s,
                                               "later_stop": later}, failures=failures)


@check(
    "stop.max_tokens",
    "generation stops after max_tokens with finish_reason length",
    rules.MAX_TOKENS,
    """Greedy completion with max_tokens 5 (and chat with max_tokens 3) of a prompt whose greedy run is
    longer: exactly that many tokens (usage.completion_tokens, logprobs.tokens), finish_reason "length",
    and the text is the prefix of the 16-token greedy text.""",
)
def max_tokens(ctx: Context) -> Outcome:
    g = greedy(ctx)
    failures: list[str] = []
    ex = ctx.completion(prompt=g.prompt, max_tokens=5, temperature=0.0, logprobs=1)
    c = _choice(ctx.ok(ex))
    usage = (ex.json() or {}).get("usage") or {}
    toks = choice_tokens(c)
    if usage.get("completion_tokens") != 5 or len(toks) != 5:
        failures.append(f"completions: {usage.get('completion_tokens')} tokens counted, {len(toks)} returned, expected 5")
    if c.get("finish_reason") != "length":
        failures.append(f"completions: finish_reason {c.get('finish_reason')!r}, expected 'length'")
    if c.get("text") != "".join(g.tokens[:5]):
        failures.append(f"completions: text {c.get('text')!r} is not the greedy prefix {''.join(g.tokens[:5])!r}")
    ex2 = ctx.chat(messages=[{"role": "user", "content": "Write a long story about a dragon."}], max_tokens=3,
                   temperature=0.0)
    d2 = ctx.ok(ex2)
    c2 = _choice(d2)
    ct = (d2.get("usage") or {}).get("completion_tokens")
    if c2.get("finish_reason") == "length" and ct != 3:
        failures.append(f"chat: finish_reason length after {ct} tokens, expected 3")
    if c2.get("finish_reason") not in ("length", "stop") or (isinstance(ct, int) and ct > 3):
        failures.append(f"chat: finish_reason {c2.get('finish_reason')!r} after {ct} tokens with max_tokens 3")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "stops at max_tokens with 'length'",
                   evidence=[ex.excerpt(), ex2.excerpt()], failures=failures)
