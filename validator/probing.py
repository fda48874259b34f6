"""Shared probes of the statistical checks: prompts, reported baselines, sampling loops, token ids.

Both endpoints are probed the same way (``validator.endpoints``): a completions ``prompt`` or the
content of one user message. How predictions are pinned down by the provider's own reported logprobs
(method ``logprobs``; the method ``samples`` lives in ``validator.sampled``):

- A *baseline* request (temperature 1, no top_p, penalties or bias) reports the endpoint's most top
  log-probabilities ``l_i`` of the next token (5 on completions, 20 on chat). At temperature 1 with no
  other parameter, ``raw`` and ``processed`` logprobs coincide, so the baseline is valid whatever mode
  the provider reports in.
- Temperature, logit_bias and penalties all act on logits additively or by a common scale, so the
  *ratio* of two tokens' probabilities after them depends only on those two tokens' raw logprobs:
  ``p_i / p_j = exp(((l_i + d_i) - (l_j + d_j)) / T)``. The checks therefore test the distribution
  of samples **conditional on the sample being one of the reported top tokens** (a multinomial over
  those tokens whose probabilities are exactly predicted; the unreported tail cancels). Samples
  outside the reported set are counted in an ``other`` bin and reported, not tested.
- top_p needs absolute masses: at temperature 1 they are ``exp(l_i)``, and the nucleus is decided
  within the reported tokens when its cumulative mass crosses ``top_p`` inside them (the prompt and
  ``top_p`` are chosen so); every sample outside the nucleus, ``other`` included, is then a failure.
- Prompts are picked among a fixed candidate list by the baseline: the reported top tokens must carry
  most of the mass (coverage, reported) and be spread enough for tests to have power.

Sampling loops ask for as many choices per request as the provider honours (``n``), and are bounded
by a sample target, a request count and a wall-clock budget.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from validator.client import Exchange
from validator.context import Context, ProviderError, Skipped, StatTest
from validator.discovery import per_request
from validator.endpoints import Endpoint, choices
from validator.rules import LOGPROBS_MODES
from validator.stats import g_test, min_detectable_w
from validator.token_ids import token_id, tokenize

RAW, PROCESSED = LOGPROBS_MODES

#: Candidate prompts for a spread-out next-token distribution, per endpoint (chat: the user message).
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
CHAT_PROMPTS = (
    "Say one word.",
    "Name a colour.",
    "Pick a random animal.",
    "Write one random word.",
    "Pick a number between 1 and 10.",
    "Continue: The cat sat on the",
    "Hi",
    "Tell me a story.",
)


def prompts_for(ep: Endpoint) -> tuple[str, ...]:
    return CHAT_PROMPTS if ep.is_chat else SPREAD_PROMPTS


def looks_special(token: str) -> bool:
    """Tokens not used as bins: empty, marker-like (``<|endoftext|>``, ``</s>``), or a cut UTF-8
    character (U+FFFD), whose text several tokens share."""
    return (token == "" or "\ufffd" in token
            or (token.startswith("<") and token.endswith(">") and len(token) > 2))


def choice_tokens(ep: Endpoint, choice: dict[str, Any]) -> list[str]:
    toks = ep.tokens(choice)
    if toks is None:
        raise ProviderError(f"{ep.path}: a choice has no logprobs tokens although logprobs were requested")
    return toks


def choice_top(ep: Endpoint, choice: dict[str, Any]) -> list[dict[str, float]]:
    top = ep.top(choice)
    if top is None:
        raise ProviderError(f"{ep.path}: a choice has no top logprobs although they were requested")
    return top


# --------------------------------------------------------------------------------- sampling
@dataclass
class Draw:
    """What a sampling loop collected: counts per category, choices seen, requests sent."""

    counts: Counter[str]
    seen: int
    sent: int

    @property
    def n(self) -> int:
        return sum(self.counts.values())


def draw(ctx: Context, ep: Endpoint, prompt: str, target: int, classify: Callable[[dict[str, Any]], str | None],
         max_requests: int | None = None, **fields: Any) -> Draw:
    """Ask ``ep`` for completions of ``prompt`` with ``fields`` until ``target`` choices have been counted;
    ``classify`` maps a choice to its category (``None``: not counted, e.g. a history not conditioned on).

    Each request asks for as many choices as the provider honours (sized by the share of choices counted
    so far); several requests are in flight at once (``--concurrency``). Bounded by ``max_requests``
    (default ``--max-requests``) and the time budget.
    """
    counts: Counter[str] = Counter()
    seen = sent = 0
    deadline = ctx.deadline()
    k = max(1, ctx.client.concurrency)
    most = per_request(ctx, ep)
    limit = ctx.settings.max_requests_per_check if max_requests is None else max_requests
    while sum(counts.values()) < target and sent < limit and time.monotonic() < deadline:
        got = sum(counts.values())
        rate = max(got, 0.5) / seen if seen else 1.0
        per = max(1, min(most, math.ceil((target - got) / rate / k)))
        batch = min(k, limit - sent)
        bodies = [ctx.body(**ep.prompt_fields(prompt), n=per, seed=ctx.next_seed(), **fields) if most > 1 else
                  ctx.body(**ep.prompt_fields(prompt), seed=ctx.next_seed(), **fields) for _ in range(batch)]
        for ex in ctx.post_many(ep.path, bodies):
            sent += 1
            data = ctx.ok(ex, ", ".join(k for k in fields if k not in ("max_tokens", "temperature")))
            if not choices(data):
                raise ProviderError(f"{ep.path}: 200 without a list of choices", ex)
            for c in choices(data):
                seen += 1
                cat = classify(c)
                if cat is not None:
                    counts[cat] += 1
        ctx.progress(f"{ep.name}: {sum(counts.values())}/{target} samples")
    return Draw(counts, seen, sent)


#: Most times ``--samples`` a conditional test draws to make up for a low coverage (``conditional_target``).
MAX_COVERAGE_FACTOR = 4


def conditional_target(ctx: Context, d: Dist) -> int:
    """Samples to draw for a test conditional on the reported tokens of ``d``: ``--samples`` divided by their
    coverage (at most :data:`MAX_COVERAGE_FACTOR` times ``--samples``), so that about ``--samples`` of them
    fall among the tested tokens — on a flat distribution (chat's top 20 of a tiny model cover a fifth of
    the mass) the rest would leave the test without power."""
    cover = max(d.coverage - sum(math.exp(v) for t, v in d.logprobs.items() if looks_special(t)), 1e-9)
    return min(MAX_COVERAGE_FACTOR * ctx.settings.samples, math.ceil(ctx.settings.samples / min(cover, 1.0)))


def sample_first_tokens(ctx: Context, ep: Endpoint, prompt: str, target: int, **params: Any) -> tuple[Counter[str], int]:
    """About ``target`` one-token completions of ``prompt`` with ``params``, counted by their text
    (a choice that ended on the end-of-text token is counted as ``""``). Returns counts and requests."""
    d = draw(ctx, ep, prompt, target, ep.text, max_tokens=1, **params)
    return d.counts, d.sent


# --------------------------------------------------------------------------- reported baselines
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

    def usable_tokens(self) -> list[str]:
        """The reported tokens that can be bins (see :func:`looks_special`), most likely first."""
        return [t for t in self.sorted_tokens() if not looks_special(t)]

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "top_logprobs": self.logprobs, "coverage": round(self.coverage, 6)}


#: Draws of a reported distribution before a prompt whose next token keeps being end-of-text is given up.
EOS_RETRIES = 6


def first_top(ctx: Context, ep: Endpoint, prompt: str, **fields: Any) -> tuple[dict[str, float], Exchange]:
    """The reported top logprobs (as many as the endpoint may report) of the first token after ``prompt``
    with ``fields``. A draw that ended on end-of-text — chat reports no entry for it — is drawn again;
    :class:`Skipped` after ``EOS_RETRIES`` such draws."""
    for _ in range(EOS_RETRIES):
        ex = ctx.post(ep.path, ctx.body(**ep.prompt_fields(prompt), max_tokens=1, seed=ctx.next_seed(),
                                        **fields, **ep.logprob_fields(ep.max_top)))
        cs = choices(ctx.ok(ex, "logprobs"))
        if not cs:
            raise ProviderError(f"{ep.path}: 200 without a list of choices", ex)
        top = choice_top(ep, cs[0])
        if top and top[0]:
            return dict(top[0]), ex
        if not (cs[0].get("finish_reason") == "stop" and ep.text(cs[0]) == ""):
            raise ProviderError("logprobs requested but the first position's top logprobs are empty", ex)
    raise Skipped(f"after {prompt!r} the drawn token was end-of-text {EOS_RETRIES} times: no reported distribution")


def baseline_first_step(ctx: Context, ep: Endpoint, prompt: str) -> Dist:
    """The reported top next-token logprobs after ``prompt`` (temperature 1, nothing else; as many as
    the endpoint may report)."""
    key = f"first:{ep.name}:{prompt}"
    if key not in ctx.cache:
        try:
            ctx.cache[key] = Dist(prompt, first_top(ctx, ep, prompt, temperature=1.0)[0])
        except Skipped as exc:
            ctx.cache[key] = exc
    if isinstance(ctx.cache[key], Skipped):
        raise ctx.cache[key]
    return ctx.cache[key]


def spread_dist(ctx: Context, ep: Endpoint) -> Dist:
    """A prompt whose reported top tokens carry most of the mass and are spread over several tokens."""
    key = f"spread:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    best: tuple[float, Dist] | None = None
    for prompt in prompts_for(ep):
        try:
            d = baseline_first_step(ctx, ep, prompt)
        except Skipped:
            continue
        usable = d.usable_tokens()
        probs = [math.exp(d.logprobs[t]) for t in usable]
        if len(probs) < 3:
            continue
        special_mass = sum(math.exp(v) for t, v in d.logprobs.items() if looks_special(t))
        informative = probs[0] <= 0.9 and probs[1] >= 0.05 and probs[2] >= 0.02
        score = (d.coverage - special_mass) * (1.0 if informative else 0.05)
        if best is None or score > best[0]:
            best = (score, d)
        if informative and d.coverage - special_mass > 0.9:
            break
    if best is None:
        raise Skipped("no candidate prompt has a usable reported next-token distribution")
    ctx.cache[key] = best[1]
    return best[1]


# ------------------------------------------------------------------------------ token ids
def prompt_contains_token(ctx: Context, ep: Endpoint, prompt: str, x: str) -> bool:
    """Whether ``prompt`` tokenizes with ``x`` as one of its tokens (by the provider's tokenizer endpoint
    when it has one, see :mod:`validator.token_ids`; otherwise by text, the best available guess)."""
    ids = tokenize(ctx, prompt)
    if ids is None:
        return x in prompt
    try:
        return token_id(ctx, ep, x) in ids
    except Skipped:
        return x in prompt


# ------------------------------------------------------------------------- penalty probes
@dataclass
class RepeatProbe:
    """Token ``x`` made to repeat by ``logit_bias`` ``{x: bias}`` after ``prompt``, with the raw logprobs
    reported at step 3 given the history ``(x, x)`` (``step3``; ``x`` included)."""

    prompt: str
    x: str
    x_id: int
    bias: float
    step3: dict[str, float]
    reported_mode: str  # one of LOGPROBS_MODES: whether the baseline's reported values included the bias
    yield_xx: float = 0.0  # predicted share of choices whose tokens 1 and 2 are both x
    info: float = 0.0  # how good the probe is predicted to be (``worth``)

    def predicted(self, shift_x: float) -> tuple[list[str], list[float]]:
        """Conditional prediction of token 3 over the reported tokens when x's logit moves by
        ``bias + shift_x`` (``step3`` holds raw values)."""
        tokens = [t for t in sorted(self.step3, key=lambda t: -self.step3[t]) if not looks_special(t)]
        logits = dict(self.step3)
        logits[self.x] += shift_x + self.bias
        return tokens, softmax_over(logits, tokens)

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "x": self.x, "x_id": self.x_id, "logit_bias": self.bias,
                "step3_top_logprobs_after_x_x": self.step3, "reported_mode": self.reported_mode,
                "predicted_xx_yield": round(self.yield_xx, 4)}


def _xx_steps(ctx: Context, ep: Endpoint, prompt: str, x: str, x_id: int, bias: float
              ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Three-token completions with logit_bias {x: bias}: the reported top logprobs at step 1, at step 2
    after x, and at step 3 after (x, x), each merged over the choices with that history."""
    steps: tuple[dict[str, float], dict[str, float], dict[str, float]] = ({}, {}, {})
    for _ in range(3):
        n = min(16, per_request(ctx, ep))
        ex = ctx.post(ep.path, ctx.body(**ep.prompt_fields(prompt), max_tokens=3, temperature=1.0,
                                        seed=ctx.next_seed(), logit_bias={str(x_id): bias},
                                        **({"n": n} if n > 1 else {}), **ep.logprob_fields(ep.max_top)))
        for c in choices(ctx.ok(ex, "logit_bias, logprobs")):
            toks, top = choice_tokens(ep, c), choice_top(ep, c)
            if top and top[0]:
                steps[0].update(top[0])
            if len(toks) >= 2 and len(top) >= 2 and toks[0] == x:
                steps[1].update(top[1])
            if len(toks) >= 3 and len(top) >= 3 and toks[0] == x and toks[1] == x:
                steps[2].update(top[2])
        if x in steps[2] and len(steps[2]) >= 3:
            break
    return steps


#: Biases that force a penalty probe's history (the second when the first does not).
PROBE_BIASES = (24.0, 48.0)
#: Below this share of (x, x) histories a penalty probe's cost per conditional sample starts to count.
MIN_YIELD = 0.25


def worth(yield_xx: float, s: float) -> float:
    """How good a penalty probe is: the information a conditional sample carries about x's shift,
    ``s (1 - s)`` (``s`` x's share at step 3), discounted when fewer than ``MIN_YIELD`` of the choices
    have the history (a sample then costs more than 1 / MIN_YIELD choices)."""
    return s * (1 - s) * min(1.0, yield_xx / MIN_YIELD)


def _share(logits: dict[str, float], x: str, shift: float) -> float:
    """x's probability when its logit moves by ``shift``, the others' total mass taken as 1 - e^l_x."""
    lx = logits[x]
    px = math.exp(min(lx, 0.0))
    rest = max(1.0 - px, 1e-12)
    return 1.0 / (1.0 + rest / math.exp(min(lx + shift, 700.0)))


def _probe_for(ctx: Context, ep: Endpoint, d: Dist, x: str) -> RepeatProbe | None:
    """The best-informed probe forcing ``x`` after ``d.prompt`` (``None`` when x will not repeat)."""
    x_id = token_id(ctx, ep, x, d.prompt)
    # A large bias makes (x, x) near certain; raw logprobs do not depend on it (processed ones are
    # corrected below), so one forced history tells the logprobs at steps 1-3 for any bias.
    bias0 = PROBE_BIASES[0]
    for bias0 in PROBE_BIASES:
        step1, step2, step3 = _xx_steps(ctx, ep, d.prompt, x, x_id, bias0)
        if x in step3:
            break
    if x not in step3:
        return None
    # Did the reported values include the bias? Compare x against the runner-up with and without it.
    other = next((t for t in d.sorted_tokens() if t != x and t in step1), None)
    mode = RAW
    if other is not None and x in step1:
        delta = (step1[x] - step1[other]) - (d.logprobs[x] - d.logprobs[other])
        mode = PROCESSED if abs(delta - bias0) < 0.05 else RAW
    raw1, raw2, raw3 = dict(d.logprobs), dict(step2), dict(step3)
    if mode == PROCESSED:
        for st in (raw2, raw3):
            if x in st:
                st[x] -= bias0
    tokens = [t for t in raw3 if not looks_special(t)]
    if len(tokens) < 2:
        return None

    def value(b: float) -> tuple[float, float]:
        logits = dict(raw3)
        logits[x] += b + 1.25
        s = softmax_over(logits, tokens)[tokens.index(x)]
        y1 = _share(raw1, x, b) if x in raw1 else 1.0
        y2 = _share(raw2, x, b) if x in raw2 else min(1.0, math.exp(min(raw2.values(), default=-30.0) + b))
        return worth(y1 * y2, s), y1 * y2

    grid = [1.0 + 0.25 * i for i in range(117)]  # 1 .. 30
    bias = max(grid, key=lambda b: value(b)[0])
    probe = RepeatProbe(d.prompt, x, x_id, bias, raw3, mode, value(bias)[1])
    probe.info = value(bias)[0]
    return probe


def repeat_probe(ctx: Context, ep: Endpoint) -> RepeatProbe:
    """Force a history ``(x, x)`` with a positive logit_bias on ``x``, so that penalties have a token with
    count 2 to act on. x is one of the spread prompt's three most likely first tokens, and the bias the
    one, that maximise :func:`worth` of the predicted share of (x, x) histories and x's predicted share at
    step 3 under a +1.25 shift (the middle of the checks' shifts). Step 3's logprobs are then read again
    at that bias."""
    key = f"repeat:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    d = spread_dist(ctx, ep)
    found = [p for p in (_probe_for(ctx, ep, d, x) for x in d.usable_tokens()[:3]) if p is not None]
    if not found:
        raise Skipped(f"no logit_bias made one of {d.usable_tokens()[:3]} repeat with its logprob reported")
    best = max(found, key=lambda p: p.info)
    _, _, step3b = _xx_steps(ctx, ep, d.prompt, best.x, best.x_id, best.bias)
    if best.x in step3b:
        raw3 = dict(step3b)
        if best.reported_mode == PROCESSED:
            raw3[best.x] -= best.bias
        best.step3 = raw3
    ctx.cache[f"repeat_reported_mode:{ep.name}"] = best.reported_mode
    best.reported_mode = RAW  # step3 now holds raw values in either mode
    ctx.cache[key] = best
    return best


def third_after(ep: Endpoint, x: str) -> Callable[[dict[str, Any]], str | None]:
    """Classifier: token 3 of a choice whose tokens 1 and 2 are both ``x`` (by reported tokens)."""

    def classify(c: dict[str, Any]) -> str | None:
        toks = choice_tokens(ep, c)
        return toks[2] if len(toks) >= 3 and toks[0] == x and toks[1] == x else None

    return classify


def sample_third_after_repeat(ctx: Context, ep: Endpoint, probe: RepeatProbe, target: int,
                              **params: Any) -> tuple[Counter[str], int, int]:
    """Three-token completions with the probe's logit_bias; count token 3 among choices whose tokens
    1 and 2 are both ``x``. Returns (counts, choices seen, requests sent)."""
    d = draw(ctx, ep, probe.prompt, target, third_after(ep, probe.x), max_tokens=3,
             logit_bias={str(probe.x_id): probe.bias}, **ep.token_fields(), **params)
    return d.counts, d.seen, d.sent


@dataclass
class PromptRepeatProbe:
    """A prompt containing token ``x`` after which ``x`` is again a likely next token."""

    prompt: str
    x: str
    dist: Dist


def repeat_candidates(ep: Endpoint, prompt: str, x: str) -> list[str]:
    """Prompts that contain ``x`` after ``prompt``: completions ``P + x + "\\n" + P`` (models condition
    mostly on the recent context, so x is likely again next); chat, the message ``P + x`` and
    ``P + "\\n" + P + x`` (the penalty must see x in the message content)."""
    if ep.is_chat:
        return [prompt + x, prompt + "\n" + prompt + x]
    return [prompt + x + "\n" + prompt]


def prompt_repeat_probe(ctx: Context, ep: Endpoint) -> PromptRepeatProbe:
    """A prompt with a likely next token ``x`` among its own tokens (verified with the provider's tokenizer
    endpoint when it has one), x reported again after it: the best ``q (1 - q)`` times coverage."""
    key = f"prompt_repeat:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    best: tuple[float, PromptRepeatProbe] | None = None
    for p in prompts_for(ep)[:4]:
        try:
            d = baseline_first_step(ctx, ep, p)
        except Skipped:
            continue
        for x in d.usable_tokens()[:2]:
            for p2 in repeat_candidates(ep, p, x):
                if not prompt_contains_token(ctx, ep, p2, x):
                    continue
                try:
                    d2 = baseline_first_step(ctx, ep, p2)
                except Skipped:
                    continue
                if x in d2.logprobs:
                    q = math.exp(d2.logprobs[x]) / max(d2.coverage, 1e-12)
                    score = q * (1 - q) * d2.coverage
                    if best is None or score > best[0]:
                        best = (score, PromptRepeatProbe(p2, x, d2))
    if best is None:
        raise Skipped("no prompt found whose tokens reappear among the reported next tokens")
    ctx.cache[key] = best[1]
    return best[1]


# --------------------------------------------------------------------------------- tests
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
