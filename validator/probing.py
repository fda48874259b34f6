"""Shared probes for the statistical checks: picking prompts, reading reported logprobs, sampling.

How predictions are pinned down by the provider's own reported logprobs:

- A *baseline* request (temperature 1, no top_p, penalties or bias, ``logprobs: 5``) reports the
  top-5 log-probabilities ``l_i`` of the next token. At temperature 1 with no other parameter,
  ``raw`` and ``processed`` logprobs coincide, so the baseline is valid whatever mode the
  provider reports in.
- Temperature, logit_bias and penalties all act on logits additively or by a common scale, so the
  *ratio* of two tokens' probabilities after them depends only on those two tokens' raw logprobs:
  ``p_i / p_j = exp(((l_i + d_i) - (l_j + d_j)) / T)``. The checks therefore test the distribution
  of samples **conditional on the sample being one of the reported top tokens** (a multinomial over
  those tokens whose probabilities are exactly predicted; the unreported tail cancels). Samples
  outside the reported set are counted in an ``other`` bin and reported, not tested.
- top_p needs absolute masses: at temperature 1 they are ``exp(l_i)``, and the nucleus is decided
  within the reported tokens when its cumulative mass crosses ``top_p`` inside them (the prompt and
  ``top_p`` are chosen so); every sample outside the nucleus, ``other`` included, is then a failure.
- Prompts are picked among a fixed candidate list by the baseline: the reported top-5 must carry
  most of the mass (coverage, reported) and be spread enough for tests to have power.

Sampling loops are bounded by a sample target, a request count and a wall-clock budget.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from validator import token_ids
from validator.context import Context, ProviderError, Skipped, StatTest
from validator.stats import g_test, min_detectable_w
from validator.token_ids import tokenize

#: Candidate prompts for a spread-out next-token distribution.
SPREAD_PROMPTS = (
    "The",
    "Once upon a time",
    "I like to eat",
    "My favourite colour is",
    "The cat sat on the",
    "Hello, my name is",
    "1, 2, 3,",
    "a b c d",
)
MAX_N_PER_REQUEST = 128
TOP_K = 5


def looks_special(token: str) -> bool:
    """Empty or marker-like tokens (``<|endoftext|>``, ``</s>``) are not used as bins."""
    return token == "" or (token.startswith("<") and token.endswith(">") and len(token) > 2)


def _content(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``logprobs.content`` when a completion choice reports logprobs in the chat shape (llama.cpp's
    llama-server does: ``{token, logprob, bytes, top_logprobs: [{token, logprob}]}`` per token)."""
    content = (choice.get("logprobs") or {}).get("content")
    return [e if isinstance(e, dict) else {} for e in content] if isinstance(content, list) else None


def choice_tokens(choice: dict[str, Any]) -> list[str]:
    """The generated tokens of a completion choice, from ``logprobs.tokens`` (or the chat shape, which
    ``logprobs.shape`` fails; the sampling checks still read it)."""
    lp = choice.get("logprobs") or {}
    toks = lp.get("tokens")
    content = _content(choice)
    if not isinstance(toks, list) and content is not None:
        return [str(e.get("token", "")) for e in content]
    if not isinstance(toks, list):
        raise ProviderError("completion choice has no logprobs.tokens although logprobs was requested")
    return [str(t) for t in toks]


def choice_top(choice: dict[str, Any]) -> list[dict[str, float]]:
    """Per generated token, the reported ``{token: logprob}`` alternatives (either shape)."""
    lp = choice.get("logprobs") or {}
    top = lp.get("top_logprobs")
    content = _content(choice)
    if not isinstance(top, list) and content is not None:
        out = []
        for e in content:
            alts = {str(a.get("token", "")): float(a["logprob"]) for a in e.get("top_logprobs") or []
                    if isinstance(a, dict) and isinstance(a.get("logprob"), int | float)}
            if isinstance(e.get("logprob"), int | float):
                alts.setdefault(str(e.get("token", "")), float(e["logprob"]))
            out.append(alts)
        return out
    if not isinstance(top, list):
        raise ProviderError("completion choice has no logprobs.top_logprobs although logprobs was requested")
    return [dict(t) if isinstance(t, dict) else {} for t in top]


def choice_token_logprobs(choice: dict[str, Any]) -> list[float | None]:
    """The chosen tokens' logprobs of a completion choice (either shape)."""
    lp = choice.get("logprobs") or {}
    tlp = lp.get("token_logprobs")
    content = _content(choice)
    if not isinstance(tlp, list) and content is not None:
        tlp = [e.get("logprob") for e in content]
    if not isinstance(tlp, list):
        return []
    return [float(v) if isinstance(v, int | float) else None for v in tlp]


@dataclass
class Dist:
    """A reported next-token distribution: top tokens and their raw log-probabilities."""

    prompt: str
    logprobs: dict[str, float]

    @property
    def coverage(self) -> float:
        return float(sum(math.exp(v) for v in self.logprobs.values()))

    def sorted_tokens(self) -> list[str]:
        return sorted(self.logprobs, key=lambda t: -self.logprobs[t])

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "top_logprobs": self.logprobs, "coverage": round(self.coverage, 6)}


def baseline_first_step(ctx: Context, prompt: str) -> Dist:
    """The reported top-5 next-token logprobs after ``prompt`` (temperature 1, nothing else)."""
    key = f"first:{prompt}"
    if key not in ctx.cache:
        ex = ctx.completion(prompt=prompt, max_tokens=1, logprobs=TOP_K, temperature=1.0, seed=ctx.next_seed())
        data = ctx.ok(ex, "logprobs")
        choice = (data.get("choices") or [{}])[0]
        top = choice_top(choice)
        if not top or not top[0]:
            raise ProviderError("logprobs requested but top_logprobs[0] is empty", ex)
        ctx.cache[key] = Dist(prompt, {k: float(v) for k, v in top[0].items()})
    return ctx.cache[key]


def spread_dist(ctx: Context) -> Dist:
    """A prompt whose reported top-5 carries most of the mass and is spread over several tokens."""
    if "spread" in ctx.cache:
        return ctx.cache["spread"]
    best: tuple[float, Dist] | None = None
    for prompt in SPREAD_PROMPTS:
        d = baseline_first_step(ctx, prompt)
        probs = sorted((math.exp(v) for v in d.logprobs.values()), reverse=True)
        if any(looks_special(t) for t in d.logprobs) or len(probs) < 3:
            continue
        informative = probs[0] <= 0.9 and probs[1] >= 0.05 and probs[2] >= 0.02
        score = d.coverage * (1.0 if informative else 0.05)
        if best is None or score > best[0]:
            best = (score, d)
    if best is None:
        raise Skipped("no candidate prompt has a usable reported next-token distribution")
    ctx.cache["spread"] = best[1]
    return best[1]


def n_cap(ctx: Context) -> int:
    """The largest ``n`` (a power of two up to :data:`MAX_N_PER_REQUEST`) the provider accepts, found once by
    halving from 128 on a one-token request: llama.cpp's server refuses ``n`` above its slot count with a
    400, which must bound the sampling loops, not end them."""
    if "n_cap" not in ctx.cache:
        n = MAX_N_PER_REQUEST
        while n > 1:
            ex = ctx.completion(prompt="Hello", max_tokens=1, n=n, seed=ctx.next_seed())
            if ex.status == 200 or not 400 <= ex.status < 500:
                break
            n //= 2
        ctx.cache["n_cap"] = n
    return int(ctx.cache["n_cap"])


def sample_first_tokens(ctx: Context, prompt: str, target: int, **params: Any) -> tuple[Counter[str], int]:
    """Draw about ``target`` one-token completions of ``prompt`` with ``params``; count their texts.

    A choice that ended on the end-of-text token (empty text) is counted as ``""``. Returns the counts
    and the number of requests sent. Bounded by ``settings.max_requests_per_check`` and the time budget.
    """
    counts: Counter[str] = Counter()
    deadline = ctx.deadline()
    sent = 0
    k = max(1, ctx.client.concurrency)
    while sum(counts.values()) < target and sent < ctx.settings.max_requests_per_check and time.monotonic() < deadline:
        remaining = target - sum(counts.values())
        per = max(1, min(n_cap(ctx), math.ceil(remaining / k)))
        batch = min(k, ctx.settings.max_requests_per_check - sent)
        bodies = [
            ctx.body(prompt=prompt, max_tokens=1, n=per, seed=ctx.next_seed(), **params) for _ in range(batch)
        ]
        for ex in ctx.client.post_many("/completions", bodies):
            sent += 1
            data = ctx.ok(ex, ", ".join(params))
            for c in data.get("choices") or []:
                counts[str(c.get("text", ""))] += 1
        ctx.progress(f"{sum(counts.values())}/{target} samples")
    return counts, sent


@dataclass
class RepeatProbe:
    """Token ``x`` made to repeat by ``logit_bias`` ``{x: bias}`` after ``prompt``, with the raw logprobs
    reported at step 3 given the history ``(x, x)`` (``step3``; ``x`` included)."""

    prompt: str
    x: str
    x_id: int
    bias: float
    step3: dict[str, float]
    reported_mode: str  # "raw" or "processed": whether the baseline's reported values included the bias

    def predicted(self, shift_x: float) -> tuple[list[str], list[float]]:
        """Conditional prediction of token 3 over the reported tokens when x's logit moves by
        ``bias + shift_x`` (the bias added here only when the reported values are raw)."""
        tokens = [t for t in sorted(self.step3, key=lambda t: -self.step3[t]) if not looks_special(t)]
        logits = dict(self.step3)
        logits[self.x] += shift_x + (self.bias if self.reported_mode == "raw" else 0.0)
        return tokens, softmax_over(logits, tokens)

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "x": self.x, "x_id": self.x_id, "logit_bias": self.bias,
                "step3_top_logprobs_after_x_x": self.step3, "reported_mode": self.reported_mode}


def _xx_step3(ctx: Context, prompt: str, x: str, x_id: int, bias: float) -> tuple[dict[str, float], dict[str, float]]:
    """Baseline with logit_bias {x: bias}: merged step-3 top logprobs over choices whose tokens 1, 2 are x,
    and the step-1 top logprobs."""
    step3: dict[str, float] = {}
    step1: dict[str, float] = {}
    cap = min(64, n_cap(ctx))
    for _ in range(4 * (64 // cap)):
        ex = ctx.completion(prompt=prompt, max_tokens=3, logprobs=TOP_K, temperature=1.0, n=cap,
                            seed=ctx.next_seed(), logit_bias={str(x_id): bias})
        for c in ctx.ok(ex, "logit_bias, logprobs").get("choices") or []:
            toks, top = choice_tokens(c), choice_top(c)
            if top and top[0]:
                step1 = {k: float(v) for k, v in top[0].items()}
            if len(toks) >= 3 and len(top) >= 3 and toks[0] == x and toks[1] == x:
                step3.update({k: float(v) for k, v in top[2].items()})
        if x in step3 and len(step3) >= 3:
            break
    return step3, step1


def repeat_probe(ctx: Context) -> RepeatProbe:
    """Force a history ``(x, x)`` with a positive logit_bias on ``x`` (the most likely first token of the
    spread prompt), so that penalties have a token with count 2 to act on; the bias is then tuned so
    that x's predicted share at step 3 under a +1.25 shift is near one half (test power)."""
    if "repeat" in ctx.cache:
        return ctx.cache["repeat"]
    d = spread_dist(ctx)
    x = d.sorted_tokens()[0]
    x_id = token_id(ctx, x)
    for bias0 in (4.0, 8.0, 16.0, 24.0):
        step3, step1 = _xx_step3(ctx, d.prompt, x, x_id, bias0)
        if x in step3:
            break
    if x not in step3:
        raise Skipped(f"logit_bias {{{x_id}: {bias0}}} did not make {x!r} repeat, or its logprob is not reported")
    # Was the bias in the reported values? Compare x against the runner-up with and without it.
    other = next((t for t in d.sorted_tokens()[1:] if t in step1), None)
    mode = "raw"
    if other is not None and x in step1:
        delta = (step1[x] - step1[other]) - (d.logprobs[x] - d.logprobs[other])
        mode = "processed" if abs(delta - bias0) < 0.05 else "raw"
    raw3 = dict(step3)
    if mode == "processed":
        raw3[x] -= bias0
    rest = [v for t, v in raw3.items() if t != x and not looks_special(t)]
    if not rest:
        raise Skipped("no other token reported at step 3 after the forced history")
    lse_rest = math.log(sum(math.exp(v) for v in rest))
    bias = round(min(30.0, max(1.0, lse_rest - raw3[x] - 1.25)), 3)
    if abs(bias - bias0) > 1e-9:
        step3b, _ = _xx_step3(ctx, d.prompt, x, x_id, bias)
        if x in step3b:
            step3 = step3b
        else:
            bias = bias0
    if mode == "processed":
        step3 = dict(step3)
        step3[x] -= bias
    probe = RepeatProbe(d.prompt, x, x_id, bias, step3, "raw")  # step3 holds raw values in either mode
    ctx.cache["repeat_reported_mode"] = mode
    ctx.cache["repeat"] = probe
    return probe


def sample_third_after_repeat(ctx: Context, probe: RepeatProbe, target: int, **params: Any) -> tuple[Counter[str], int, int]:
    """Three-token completions with the probe's logit_bias; count token 3 among choices whose tokens
    1 and 2 are both ``x``. Returns (counts, choices seen, requests sent)."""
    counts: Counter[str] = Counter()
    seen = 0
    deadline = ctx.deadline()
    sent = 0
    k = max(1, ctx.client.concurrency)
    limit = ctx.settings.max_requests_per_check
    while sum(counts.values()) < target and sent < limit and time.monotonic() < deadline:
        bodies = [
            ctx.body(prompt=probe.prompt, max_tokens=3, logprobs=1, n=n_cap(ctx), seed=ctx.next_seed(),
                     logit_bias={str(probe.x_id): probe.bias}, **params)
            for _ in range(min(k, limit - sent))
        ]
        for ex in ctx.client.post_many("/completions", bodies):
            sent += 1
            data = ctx.ok(ex, ", ".join(["logit_bias", *params]))
            for c in data.get("choices") or []:
                seen += 1
                toks = choice_tokens(c)
                if len(toks) >= 3 and toks[0] == probe.x and toks[1] == probe.x:
                    counts[toks[2]] += 1
        ctx.progress(f"{sum(counts.values())}/{target} conditional samples")
    return counts, seen, sent


@dataclass
class PromptRepeatProbe:
    """A prompt containing token ``x`` after which ``x`` is again a likely next token."""

    prompt: str
    x: str
    dist: Dist


def prompt_repeat_probe(ctx: Context) -> PromptRepeatProbe:
    """``P + x + "\\n" + P`` for a spread prompt P and one of its likely next tokens x: the prompt now
    contains x, and (models condition mostly on the recent context) x is likely again next."""
    if "prompt_repeat" in ctx.cache:
        return ctx.cache["prompt_repeat"]
    best: tuple[float, PromptRepeatProbe] | None = None
    for p in SPREAD_PROMPTS[:4]:
        d = baseline_first_step(ctx, p)
        for x in [t for t in d.sorted_tokens() if not looks_special(t)][:2]:
            p2 = p + x + "\n" + p
            if not prompt_contains_token(ctx, p2, x):
                continue
            d2 = baseline_first_step(ctx, p2)
            if x in d2.logprobs and not any(looks_special(t) for t in d2.logprobs):
                q = math.exp(d2.logprobs[x])
                score = q * (1 - q) * d2.coverage
                if best is None or score > best[0]:
                    best = (score, PromptRepeatProbe(p2, x, d2))
    if best is None:
        raise Skipped("no prompt found whose tokens reappear among the reported next tokens")
    ctx.cache["prompt_repeat"] = best[1]
    return best[1]


def token_id(ctx: Context, text: str) -> int:
    """The single token id of ``text`` (see :mod:`validator.token_ids` for the endpoints tried); without
    a tokenizer endpoint, learnt by logit_bias bans when ``text`` is the spread prompt's top token."""
    greedy_after = None
    if tokenize(ctx, "Hello") is None:
        d = spread_dist(ctx)
        ranked = [t for t in d.sorted_tokens() if not looks_special(t)]
        if text in ranked:
            above = [token_id(ctx, t) for t in ranked[: ranked.index(text)]]
            greedy_after = (d.prompt, above)
    return token_ids.token_id(ctx, text, greedy_after)


def prompt_contains_token(ctx: Context, prompt: str, x: str) -> bool:
    """Whether ``prompt`` tokenizes with ``x`` as one of its tokens (by the provider's tokenizer endpoint
    when it has one; otherwise by text, the best available guess)."""
    ids = tokenize(ctx, prompt)
    if ids is None:
        return x in prompt
    try:
        return token_id(ctx, x) in ids
    except Skipped:
        return x in prompt


def conditional(counts: Counter[str], tokens: list[str]) -> tuple[list[int], int]:
    """Counts of ``tokens`` (in order) and the count of everything else."""
    obs = [counts.get(t, 0) for t in tokens]
    return obs, sum(counts.values()) - sum(obs)


def softmax_over(logits: dict[str, float], tokens: list[str], temperature: float = 1.0) -> list[float]:
    """``exp(l / T)`` normalised over ``tokens`` only (the conditional prediction)."""
    m = max(logits[t] for t in tokens)
    w = [math.exp((logits[t] - m) / temperature) for t in tokens]
    s = sum(w)
    return [x / s for x in w]


def conditional_gtest(name: str, counts: Counter[str], tokens: list[str], probs: list[float], alpha: float,
                      note: str = "") -> StatTest:
    """G-test of the counts of ``tokens`` against ``probs`` (conditional on being one of ``tokens``)."""
    obs, other = conditional(counts, tokens)
    res = g_test(obs, probs)
    n = int(sum(obs))
    return StatTest(
        name=name, statistic=round(res.statistic, 4), df=res.df, p_value=res.p_value, n=n,
        min_detectable_w=round(min_detectable_w(n, max(res.df, 1), alpha), 4),
        observed={**dict(zip(tokens, obs, strict=True)), "(other)": other},
        expected={t: round(p, 5) for t, p in zip(tokens, probs, strict=True)},
        note=(note + f"; {other} samples outside the reported tokens not tested").lstrip("; "),
    )
