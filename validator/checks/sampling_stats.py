"""Statistical checks of temperature, top_p and logit_bias on the next-token distribution.

Each check predicts the distribution of a one-token completion from the provider's own reported
top-5 logprobs at temperature 1 (see :mod:`validator.probing` for why the prediction is
exact conditional on the sample being a reported token) and tests samples against it: a G-test
where the prediction is a distribution, an exact "must never happen" test where it is zero.
"""

from __future__ import annotations

import math

from validator import rules
from validator.checks.base import check
from validator.context import Context, Outcome, Skipped, StatTest
from validator.probing import (
    conditional_gtest,
    looks_special,
    sample_first_tokens,
    softmax_over,
    spread_dist,
    token_id,
)
from validator.stats import min_detectable_rate


def forbidden_test(name: str, bad: int, n: int, alpha: float, what: str) -> StatTest:
    """An exact test of an event the prediction gives probability 0: any occurrence is a failure."""
    return StatTest(name=name, statistic=float(bad), df=0, p_value=0.0 if bad else 1.0, n=n,
                    min_detectable_rate=round(min_detectable_rate(n, alpha), 6),
                    note=f"{bad} of {n} samples were {what} (probability 0 under the contract)")


@check(
    "sampling.temperature",
    "temperature reshapes the next-token distribution as softmax(z / T)",
    rules.TEMPERATURE,
    """One-token completions at T = 0.5 and T = 1.5; counts of the reported top-5 tokens are G-tested
    against exp(l_i / T) normalised over those tokens, l_i the logprobs reported at T = 1.""",
    statistical=True,
)
def temperature(ctx: Context) -> Outcome:
    d = spread_dist(ctx)
    tokens = [t for t in d.sorted_tokens() if not looks_special(t)]
    temps = (0.5,) if ctx.settings.quick else (0.5, 1.5)
    tests = []
    for t in temps:
        counts, _ = sample_first_tokens(ctx, d.prompt, ctx.settings.samples, temperature=t)
        tests.append(conditional_gtest(f"T={t}", counts, tokens, softmax_over(d.logprobs, tokens, t),
                                       ctx.settings.alpha))
    return Outcome(None, f"prompt {d.prompt!r}, top-5 coverage {d.coverage:.3f}", tests=tests,
                   details={"baseline": d.as_dict()})


def _nucleus_size(probs: list[float], top_p: float) -> int:
    """Size of the shortest prefix of descending ``probs`` whose mass is >= top_p."""
    cum = 0.0
    for i, p in enumerate(probs):
        cum += p
        if cum >= top_p:
            return i + 1
    return len(probs) + 1  # crosses in the unreported tail


@check(
    "sampling.top_p",
    "top_p keeps the smallest nucleus reaching top_p mass, after temperature",
    rules.TOP_P,
    """(1) T = 1, top_p set midway between two cumulative masses of the reported tokens so the nucleus
    is known: any sample outside it is a failure (exact test); inside, a G-test against the
    renormalised reported probabilities. (2) T = 0.5 with a top_p for which the contract's nucleus
    (on tempered probabilities, tail mass bounded by coverage) differs from the nucleus taken before
    temperature (llama.cpp's chain order): a sample outside the contract's nucleus fails.""",
    statistical=True,
)
def top_p(ctx: Context) -> Outcome:
    d = spread_dist(ctx)
    tokens = [t for t in d.sorted_tokens() if not looks_special(t)]
    probs = [math.exp(d.logprobs[t]) for t in tokens]
    cum = [sum(probs[: i + 1]) for i in range(len(probs))]
    j = 1 if cum[1] < 0.95 and len(probs) > 2 else 0
    tp = (cum[j] + (cum[j - 1] if j else 0.0)) / 2
    nucleus = tokens[: j + 1]
    counts, _ = sample_first_tokens(ctx, d.prompt, ctx.settings.samples, temperature=1.0, top_p=round(tp, 6))
    n = sum(counts.values())
    bad = n - sum(counts.get(t, 0) for t in nucleus)
    tests = [forbidden_test(f"T=1 top_p={tp:.4f}: outside nucleus {nucleus}", bad, n, ctx.settings.alpha,
                            "outside the nucleus")]
    if len(nucleus) >= 2:
        tests.append(conditional_gtest(f"T=1 top_p={tp:.4f}: within nucleus", counts, nucleus,
                                       softmax_over(d.logprobs, nucleus), ctx.settings.alpha))
    details: dict[str, object] = {"baseline": d.as_dict(), "top_p_1": tp, "nucleus_1": nucleus}
    # (2) order of temperature and top_p
    temp = 0.5
    tail = max(0.0, 1.0 - d.coverage)
    powered = [p ** (1 / temp) for p in probs]
    s = sum(powered)
    z_lo, z_hi = s, s + tail * probs[-1] ** (1 / temp - 1)
    best: tuple[float, float, int] | None = None
    for step in range(5, 96):
        cand = step / 100
        a = _nucleus_size([p / z_hi for p in powered], cand)
        b = _nucleus_size([p / z_lo for p in powered], cand)
        before = _nucleus_size(probs, cand)
        margin_ok = all(abs(c - cand) > 0.01 for c in [sum(powered[: i + 1]) / z for z in (z_lo, z_hi)
                                                         for i in range(len(powered))])
        if a == b and a <= len(tokens) and before != a and margin_ok:
            gap = sum(probs[min(a, before): max(a, before)])
            if best is None or gap > best[0]:
                best = (gap, cand, a)
    if best is None:
        details["order_test"] = "no top_p separates the two orders within the reported tokens"
    else:
        _, cand, a = best
        nuc2 = tokens[:a]
        counts2, _ = sample_first_tokens(ctx, d.prompt, ctx.settings.samples, temperature=temp, top_p=cand)
        n2 = sum(counts2.values())
        bad2 = n2 - sum(counts2.get(t, 0) for t in nuc2)
        tests.append(forbidden_test(f"T={temp} top_p={cand}: outside tempered nucleus {nuc2}", bad2, n2,
                                    ctx.settings.alpha, "outside the nucleus of the tempered distribution"))
        if len(nuc2) >= 2:
            tests.append(conditional_gtest(f"T={temp} top_p={cand}: within nucleus", counts2, nuc2,
                                           softmax_over(d.logprobs, nuc2, temp), ctx.settings.alpha))
        details.update({"top_p_2": cand, "temperature_2": temp, "nucleus_2": nuc2})
    return Outcome(None, f"prompt {d.prompt!r}, nucleus {nucleus} at top_p {tp:.4f}", tests=tests,
                   details=details)


@check(
    "sampling.logit_bias",
    "logit_bias adds to the logits before sampling; -100 bans, +100 forces",
    rules.LOGIT_BIAS,
    """Token ids of reported top tokens from /extras/tokenize. (1) +2 on the second most likely token:
    G-test against exp(l_i + b_i) over the reported tokens. (2) -100 on the most likely token: it must
    never be sampled. (3) +100 on the third: every sample must be it.""",
    statistical=True,
)
def logit_bias(ctx: Context) -> Outcome:
    d = spread_dist(ctx)
    tokens = [t for t in d.sorted_tokens() if not looks_special(t)]
    if len(tokens) < 3:
        raise Skipped("fewer than three usable reported tokens")
    ids = {t: token_id(ctx, t) for t in tokens[:3]}
    biased = dict(d.logprobs)
    biased[tokens[1]] += 2.0
    counts, _ = sample_first_tokens(ctx, d.prompt, ctx.settings.samples, temperature=1.0,
                                    logit_bias={str(ids[tokens[1]]): 2.0})
    tests = [conditional_gtest(f"+2 on {tokens[1]!r} (id {ids[tokens[1]]})", counts, tokens,
                               softmax_over(biased, tokens), ctx.settings.alpha)]
    small = max(200, ctx.settings.samples // 4)
    counts2, _ = sample_first_tokens(ctx, d.prompt, small, temperature=1.0, logit_bias={str(ids[tokens[0]]): -100})
    n2 = sum(counts2.values())
    tests.append(forbidden_test(f"-100 on {tokens[0]!r} (id {ids[tokens[0]]})", counts2.get(tokens[0], 0), n2,
                                ctx.settings.alpha, f"the banned token {tokens[0]!r}"))
    counts3, _ = sample_first_tokens(ctx, d.prompt, small, temperature=1.0, logit_bias={str(ids[tokens[2]]): 100})
    n3 = sum(counts3.values())
    tests.append(forbidden_test(f"+100 on {tokens[2]!r} (id {ids[tokens[2]]})", n3 - counts3.get(tokens[2], 0), n3,
                                ctx.settings.alpha, f"not the forced token {tokens[2]!r}"))
    return Outcome(None, f"prompt {d.prompt!r}, ids {ids}", tests=tests, details={"baseline": d.as_dict(),
                                                                                 "token_ids": ids})
