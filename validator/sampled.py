"""Probes for the statistical checks when no logprobs are used (method ``samples``).

Without logprobs the base next-token distribution ``p`` is unknown: it is a nuisance parameter,
estimated in the same run from samples drawn with every sampling field at its documented neutral
value (``BASE``: T = 1, top_p = 1, no penalties). Rules:

- **Design from a pilot, test on fresh samples.** The prompt, the categories (token texts) and the
  logit_bias are chosen from small pilot samples that the tests never reuse, so the choices cannot
  bias the tests. Categories are usable token texts (not empty, not a cut UTF-8 character, not a
  marker) frequent enough that every arm expects >= 10 samples in each.
- **Several arms, one base.** Each check draws arms that differ only in the parameter under test and
  tests them with :func:`validator.stats.shared_base_test`: temperature ``q ∝ p^(1/T)``, logit_bias
  ``q ∝ p · e^b`` on the biased token, a penalty as a shift on the repeated token, defaults and "the
  prompt does not count" as ``q = p``. Tempered arms are conditioned on the categories; arms at T = 1
  keep a pooled ``(other)`` category (its members' ratios are unchanged).
- **Histories from text.** Penalties need tokens 1 and 2 to be ``x``: without logprobs, a choice counts
  when its text starts with ``x + x`` and its third token is the rest of the text (another segmentation
  of the same text is indistinguishable from samples alone; with x forced by a large bias it is rare).
- Samples are cached per endpoint, prompt and setting, so checks that share an arm (the T = 1 base)
  draw it once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from validator.context import Context, Skipped, StatTest
from validator.endpoints import Endpoint
from validator.probing import (
    draw,
    looks_special,
    prompt_contains_token,
    prompts_for,
    repeat_candidates,
    worth,
)
from validator.stats import (
    Arm,
    binom_p_value,
    detectable_range,
    min_detectable_w,
    shared_base_test,
    transformed,
)
from validator.token_ids import token_id

#: Every sampling field at its documented neutral value: the arm the base distribution is fitted from.
BASE: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}
OTHER = "(other)"
#: Most categories a test uses (more add degrees of freedom faster than power).
MAX_CATEGORIES = 10
#: Each category must expect at least this many samples in every arm (the chi-square approximation).
MIN_EXPECTED = 15.0


def pilot_size(ctx: Context) -> int:
    """Samples of a design pilot (never reused by a test)."""
    return max(128, min(512, ctx.settings.samples // 4))


def sample(ctx: Context, ep: Endpoint, prompt: str, target: int, key: str = "", within: list[str] | None = None,
           **fields: Any) -> Counter[str]:
    """One-token completions of ``prompt`` counted by text; cached under ``key`` when given. With ``within``,
    only samples among those texts are counted (and drawn until ``target`` of them)."""
    ck = f"sampled:{ep.name}:{prompt}:{key}:{within}" if key else ""
    if ck and ck in ctx.cache:
        return ctx.cache[ck]
    if within is None:
        classify = ep.text
    else:
        wanted = set(within)

        def classify(c: dict[str, Any]) -> str | None:
            t = ep.text(c)
            return t if t in wanted else None

    counts = draw(ctx, ep, prompt, target, classify, max_tokens=1, **fields).counts
    if ck:
        ctx.cache[ck] = counts
    return counts


def usable(counts: Counter[str]) -> list[str]:
    """Usable token texts, most frequent first (ties by text)."""
    return sorted((t for t in counts if not looks_special(t)), key=lambda t: (-counts[t], t))


@dataclass
class Pilot:
    """A prompt and a pilot sample of its next token at ``BASE``."""

    prompt: str
    counts: Counter[str]

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def share(self, token: str) -> float:
        return self.counts.get(token, 0) / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        top = usable(self.counts)[:MAX_CATEGORIES]
        return {"prompt": self.prompt, "pilot_n": self.n, "pilot_top": {t: self.counts[t] for t in top}}


def pilot(ctx: Context, ep: Endpoint, prompt: str) -> Pilot:
    return Pilot(prompt, sample(ctx, ep, prompt, pilot_size(ctx), key="pilot", **BASE))


def spread_pilot(ctx: Context, ep: Endpoint) -> Pilot:
    """A prompt whose next token is spread over several usable tokens that carry most of the mass."""
    key = f"spread_pilot:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    best: tuple[float, Pilot] | None = None
    for prompt in prompts_for(ep):
        pl = pilot(ctx, ep, prompt)
        toks = usable(pl.counts)
        shares = [pl.share(t) for t in toks]
        if len(shares) < 3 or pl.counts[toks[2]] < 3:
            continue
        mass = sum(shares[:MAX_CATEGORIES])
        informative = shares[0] <= 0.9 and shares[1] >= 0.05 and shares[2] >= 0.02
        score = mass * (1.0 if informative else 0.05 + 0.5 * (1 - shares[0]))
        if best is None or score > best[0]:
            best = (score, pl)
        if informative and mass > 0.9:
            break
    if best is None:
        raise Skipped("no candidate prompt's pilot sample has three usable tokens seen at least 3 times")
    ctx.cache[key] = best[1]
    return best[1]


def categories(pl: Pilot, planned: int, temperatures: tuple[float, ...] = (1.0,),
               exclude: tuple[str, ...] = (), at_least: int = 2, conditional: bool = False) -> list[str]:
    """The pilot's most frequent usable tokens, as many as keep >= ``MIN_EXPECTED`` expected samples per
    category in every arm (``planned`` samples per arm — all inside the categories when ``conditional`` —,
    each arm's temperature applied to the pilot's estimate), at least ``at_least`` (when the pilot has
    them) and at most ``MAX_CATEGORIES``."""
    toks = [t for t in usable(pl.counts) if pl.counts[t] >= 2 and t not in exclude][:MAX_CATEGORIES]
    seen = np.array([pl.counts[t] for t in usable(pl.counts)], dtype=float) / max(pl.n, 1)
    chosen: list[str] = []
    for t in toks:
        trial = chosen + [t]
        p = np.array([pl.share(x) for x in trial])
        ok = True
        for temp in temperatures:
            w = p ** (1 / temp)
            in_set = 1.0 if conditional else float(w.sum() / (seen ** (1 / temp)).sum())  # share inside them
            if (planned * in_set * w / w.sum()).min() < MIN_EXPECTED:
                ok = False
        if not ok and len(chosen) >= at_least:
            break
        chosen = trial
    return chosen


def binned(counts: Counter[str], cats: list[str], pooled: bool) -> tuple[float, ...]:
    """Counts of ``cats`` in order, plus everything else as one last bin when ``pooled``."""
    obs = [float(counts.get(t, 0)) for t in cats]
    if pooled:
        obs.append(float(sum(counts.values()) - sum(obs)))
    return tuple(obs)


def arms_test(name: str, labels: list[str], arms: list[Arm], cats: list[str], alpha: float,
              detectable: str = "", note: str = "") -> StatTest:
    """A :class:`StatTest` from :func:`shared_base_test` over ``arms`` (labelled for the report)."""
    res = shared_base_test(arms)
    sizes = [int(sum(a.counts)) for a in arms]
    bins = cats + ([OTHER] if len(arms[0].counts) > len(cats) else [])
    observed = {lab: dict(zip(bins, (int(c) for c in a.counts), strict=True)) for lab, a in zip(labels, arms, strict=True)}
    fitted = dict(zip([bins[i] for i in res.kept], (round(float(v), 5) for v in res.base), strict=True))
    # each arm's prediction: the fitted base under the arm's own transform (what the contract says it samples)
    predicted: dict[str, Any] = {"fitted base p": fitted}
    for lab, a in zip(labels, arms, strict=True):
        shift = None if a.shift is None else [a.shift[i] for i in res.kept]
        q = transformed(res.base, a.temperature, shift) if len(res.kept) >= 2 else res.base
        predicted[lab] = dict(zip([bins[i] for i in res.kept], (round(float(v), 5) for v in q), strict=True))
    return StatTest(
        name=name, statistic=round(res.statistic, 4), df=res.df, p_value=res.p_value, n=res.n,
        min_detectable_w=round(min_detectable_w(min(sizes), max(res.df, 1), alpha), 4) if min(sizes) else None,
        observed=observed, expected=predicted,
        note=("likelihood-ratio test of one base distribution for every arm (constrained joint multinomial "
              f"fit) against a free distribution per arm; arm sizes {sizes}; w for the smallest arm"
              + (f"; {note}" if note else "")),
        detectable=detectable,
    )


def interval_text(what: str, nominal: float, lo: float | None, hi: float | None, low: float, high: float) -> str:
    """"<what> outside [lo, hi] is detected with 99 % power" (with the bracket searched when a side is not)."""
    a = f"{lo:.3g}" if lo is not None else f"< {low:g} not"
    b = f"{hi:.3g}" if hi is not None else f"> {high:g} not"
    return f"{what} outside [{a}, {b}] (nominal {nominal:g}) is detected with 99 % power"


def shift_detectable(base: np.ndarray, sizes: list[int], shifted_arm: int, index: int, alpha: float,
                     temperatures: list[float] | None = None, nominal: float = 0.0,
                     span: float = 4.0, what: str = "a shift of the token's logit") -> str:
    """Power of a shared-base test in logit units: which shift of category ``index`` in arm
    ``shifted_arm`` (beyond ``nominal``) the test detects, with ``base`` as the true base."""
    temps = temperatures or [1.0] * len(sizes)
    k = len(base)

    def arms(v: float) -> list[Arm]:
        out = []
        for i, (n, t) in enumerate(zip(sizes, temps, strict=True)):
            s = np.zeros(k)
            nominal_s = np.zeros(k)
            if i == shifted_arm:
                s[index] = v
                nominal_s[index] = nominal
            out.append(Arm(tuple(n * transformed(base, t, s)), t, tuple(nominal_s)))
        return out

    lo, hi = detectable_range(arms, nominal, nominal - span, nominal + span, alpha)
    return interval_text(what, nominal, lo, hi, nominal - span, nominal + span)


@dataclass
class RepeatProbe:
    """Samples-only penalty probe: ``x`` forced by ``logit_bias {x: bias}`` after ``prompt``; a choice's
    history is (x, x) when its text starts with ``x + x``, and its third token is the rest."""

    prompt: str
    x: str
    x_id: int
    bias: float
    cats: list[str]
    pilot_yield: float

    def classify(self, ep: Endpoint) -> Any:
        xx = self.x + self.x

        def third(c: dict[str, Any]) -> str | None:
            text = ep.text(c)
            return text[len(xx):] if text.startswith(xx) else None

        return third

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "x": self.x, "x_id": self.x_id, "logit_bias": self.bias,
                "categories": self.cats, "pilot_xx_yield": round(self.pilot_yield, 4)}


#: The biases a samples-only penalty probe tries first; the best is then refined by +-1 and +-2.
PILOT_BIASES = (4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0)
#: Requests one bias pilot may send.
PILOT_REQUESTS = 2


def repeat_probe(ctx: Context, ep: Endpoint) -> RepeatProbe:
    """x among the spread prompt's three most frequent tokens, and a bias, that make a probe worth most in
    small pilots (:func:`validator.probing.worth` of the share of (x, x) histories and x's share at step 3):
    a coarse grid per candidate (stopped once nearly every history is (x, x)), then the best refined by
    +-1 and +-2. The categories are x and everything else pooled: the penalty shifts x alone, so x against
    the rest carries all of the test's information (one degree of freedom)."""
    key = f"sampled_repeat:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    sp = spread_pilot(ctx, ep)
    tried: dict[tuple[str, float], tuple[float, Counter[str], float]] = {}
    ids: dict[str, int] = {}

    def trial(x: str, bias: float) -> float:
        if (x, bias) not in tried and 0 < bias <= 100:
            probe = RepeatProbe(sp.prompt, x, ids[x], bias, [], 0.0)
            d = draw(ctx, ep, sp.prompt, pilot_size(ctx), probe.classify(ep), max_requests=PILOT_REQUESTS,
                     max_tokens=3, logit_bias={str(ids[x]): bias}, **BASE)
            s = d.counts.get(x, 0) / d.n if d.n else 0.0
            y = d.n / max(d.seen, 1)
            tried[(x, bias)] = (worth(y, s), d.counts, y)
        return tried.get((x, bias), (0.0, Counter(), 0.0))[2]

    for x in usable(sp.counts)[:3]:
        try:
            ids[x] = token_id(ctx, ep, x, sp.prompt)
        except Skipped:
            continue
        for bias in PILOT_BIASES:
            if trial(x, bias) > 0.9:
                break
    if not tried:
        raise Skipped("no token id known for the spread prompt's frequent tokens")
    x, best = max(tried, key=lambda k: tried[k][0])
    for step in (-2.0, -1.0, 1.0, 2.0):
        trial(x, best + step)
    x, best = max((k for k in tried if k[0] == x), key=lambda k: tried[k][0])
    info, counts, y = tried[(x, best)]
    if info <= 0:
        raise Skipped(f"no logit_bias on {usable(sp.counts)[:3]} gave both repeated and other third tokens in a pilot")
    probe = RepeatProbe(sp.prompt, x, ids[x], best, [x], y)
    ctx.cache[key] = probe
    return probe


def third_tokens(ctx: Context, ep: Endpoint, probe: RepeatProbe, key: str, **fields: Any) -> Counter[str]:
    """Third tokens after (x, x) with the probe's bias and ``fields`` (cached under ``key``)."""
    ck = f"sampled_third:{ep.name}:{key}"
    if ck not in ctx.cache:
        ctx.cache[ck] = draw(ctx, ep, probe.prompt, ctx.settings.samples, probe.classify(ep), max_tokens=3,
                             logit_bias={str(probe.x_id): probe.bias}, **{**BASE, **fields}).counts
    return ctx.cache[ck]


@dataclass
class PromptRepeat:
    """A prompt that contains token ``x``, with ``x`` frequent next (pilot)."""

    pilot: Pilot
    x: str


def prompt_repeat(ctx: Context, ep: Endpoint) -> PromptRepeat:
    """Like :func:`validator.probing.prompt_repeat_probe`, chosen from pilot samples: the prompt with
    x among its tokens whose pilot gives x the best ``q (1 - q)``."""
    key = f"sampled_prompt_repeat:{ep.name}"
    if key in ctx.cache:
        return ctx.cache[key]
    best: tuple[float, PromptRepeat] | None = None
    for p in prompts_for(ep)[:4]:
        base = pilot(ctx, ep, p)
        for x in usable(base.counts)[:2]:
            for p2 in repeat_candidates(ep, p, x):
                if not prompt_contains_token(ctx, ep, p2, x):
                    continue
                pl = pilot(ctx, ep, p2)
                q = pl.share(x)
                if pl.counts.get(x, 0) >= 3 and q * (1 - q) > (best[0] if best else 0.0):
                    best = (q * (1 - q), PromptRepeat(pl, x))
    if best is None:
        raise Skipped("no prompt found whose own token is frequent next in a pilot sample")
    ctx.cache[key] = best[1]
    return best[1]


def clear_mode(counts: Counter[str], alpha: float) -> str | None:
    """The most frequent text when it is significantly more frequent than the runner-up (exact one-sided
    binomial test of their two counts at ``alpha``) and a usable token; else ``None``. Every text
    competes — a pooled one such as "" (end of text and other tokens without text) may be the mode, and
    then no single token is named."""
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    if not ranked:
        return None
    a = counts[ranked[0]]
    b = counts[ranked[1]] if len(ranked) > 1 else 0
    if binom_p_value(a, a + b, 0.5, alternative="greater") > alpha or looks_special(ranked[0]):
        return None
    return ranked[0]
