"""Statistical checks of temperature, top_p and logit_bias on the next-token distribution, on both endpoints.

Method ``logprobs``: each check predicts the distribution of a one-token completion from the
provider's own reported top logprobs at temperature 1 (see :mod:`validator.probing` for why the
prediction is exact conditional on the sample being a reported token) and tests samples against it:
a G-test where the prediction is a distribution, an exact "must never happen" test where it is zero.

Method ``samples`` (no logprobs): arms that differ only in the parameter under test share one unknown
base distribution, fitted in the same run (see :mod:`validator.sampled`); a likelihood-ratio test of
that constrained fit, or an exact "never" test where the contract forbids a token outright.
"""

from __future__ import annotations

import math

import numpy as np

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.context import METHOD_LOGPROBS, METHOD_SAMPLES, Context, Outcome, Skipped, StatTest
from validator.discovery import method
from validator.endpoints import Endpoint
from validator.probing import (
    conditional_gtest,
    conditional_target,
    sample_first_tokens,
    softmax_over,
    spread_dist,
)
from validator.sampled import (
    BASE,
    arms_test,
    binned,
    categories,
    clear_mode,
    interval_text,
    sample,
    shift_detectable,
    spread_pilot,
    usable,
)
from validator.stats import (
    Arm,
    clopper_pearson,
    detectable_range,
    min_detectable_rate,
    shared_base_test,
    transformed,
)
from validator.token_ids import token_id, tokenizer_name

#: Confidence of the nucleus a samples-only top_p test relies on (each bound, Bonferroni over the tokens).
NUCLEUS_CONFIDENCE = 1 - 1e-6
ORDER_TEMPERATURE = 0.5


def forbidden_test(name: str, bad: int, n: int, alpha: float, what: str) -> StatTest:
    """An exact test of an event the prediction gives probability 0: any occurrence is a failure."""
    return StatTest(name=name, statistic=float(bad), df=0, p_value=0.0 if bad else 1.0, n=n,
                    min_detectable_rate=round(min_detectable_rate(n, alpha), 6),
                    note=f"{bad} of {n} samples were {what} (probability 0 under the contract)")


def _temps(ctx: Context) -> tuple[float, ...]:
    return (0.5,) if ctx.settings.quick else (0.5, 1.5)


# ----------------------------------------------------------------------------------- temperature
@check(
    "sampling.temperature",
    "temperature reshapes the next-token distribution as softmax(z / T)",
    rules.TEMPERATURE,
    """Both endpoints. With logprobs: one-token completions at T = 0.5 and T = 1.5 (--samples divided by the
    reported tokens' coverage, at most 4 times as many, so that about --samples fall among them); counts of
    the reported top tokens (5 on completions, 20 on chat) are G-tested against exp(l_i / T) normalised over those
    tokens, l_i the logprobs reported at T = 1. Without: samples at T = 1, 0.5 and 1.5 must be explained
    by one base p with q ∝ p^(1/T) (likelihood-ratio test of that joint fit against a free distribution
    per temperature); its power is stated as the applied temperatures it would detect. Samples alone
    carry no absolute logit scale: a temperature rescaled by the same factor at every T shows as a
    logit_bias of the wrong size (sampling.logit_bias), not here.""",
    statistical=True,
)
def temperature(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _temperature)


def _temperature(ctx: Context, ep: Endpoint) -> Outcome:
    if method(ctx, ep) == METHOD_SAMPLES:
        return _temperature_samples(ctx, ep)
    d = spread_dist(ctx, ep)
    tokens = d.usable_tokens()
    tests = []
    for t in _temps(ctx):
        counts, _ = sample_first_tokens(ctx, ep, d.prompt, conditional_target(ctx, d), temperature=t)
        tests.append(conditional_gtest(f"T={t}", counts, tokens, softmax_over(d.logprobs, tokens, t),
                                       ctx.settings.alpha))
    return Outcome(None, f"prompt {d.prompt!r}, {len(d.logprobs)} reported tokens, coverage {d.coverage:.3f}", tests=tests,
                   details={"baseline": d.as_dict()}, method=METHOD_LOGPROBS)


def _temperature_samples(ctx: Context, ep: Endpoint) -> Outcome:
    sp = spread_pilot(ctx, ep)
    temps = _temps(ctx)
    cats = categories(sp, ctx.settings.samples, (1.0, *temps), conditional=True)
    # each arm is drawn until it has ``samples`` samples among the categories (the test conditions on them)
    arms = [Arm(binned(sample(ctx, ep, sp.prompt, ctx.settings.samples, key="base", within=cats, **BASE), cats,
                       False), 1.0)]
    for t in temps:
        counts = sample(ctx, ep, sp.prompt, ctx.settings.samples, key=f"T={t}", within=cats,
                        **{**BASE, "temperature": t})
        arms.append(Arm(binned(counts, cats, False), t))
    fit = shared_base_test(arms)
    base = fit.base
    sizes = [int(sum(arms[0].counts[i] for i in fit.kept))] + [int(sum(a.counts[i] for i in fit.kept))
                                                                for a in arms[1:]]
    powers = []
    for j, t in enumerate(temps, start=1):
        def expected(v: float, j: int = j) -> list[Arm]:
            return [Arm(tuple(sizes[i] * transformed(base, v if i == j else a.temperature)), a.temperature)
                    for i, a in enumerate(arms)]
        lo, hi = detectable_range(expected, t, t / 4, min(4 * t, 8.0), ctx.settings.alpha)
        powers.append(interval_text(f"at T={t}, an applied temperature", t, lo, hi, t / 4, min(4 * t, 8.0)))
    test = arms_test(f"T=1 and T={', '.join(map(str, temps))} explained by one p with q ∝ p^(1/T)",
                     ["T=1", *[f"T={t}" for t in temps]], arms, cats, ctx.settings.alpha,
                     detectable="; ".join(powers), note="conditional on the sample being one of the categories")
    return Outcome(None, f"prompt {sp.prompt!r}, {len(cats)} categories from a pilot of {sp.n}", tests=[test],
                   details={"pilot": sp.as_dict(), "categories": cats}, method=METHOD_SAMPLES)


# ----------------------------------------------------------------------------------------- top_p
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
    """Both endpoints. With logprobs: (1) T = 1, top_p set midway between two cumulative masses of the
    reported tokens so the nucleus is known: any sample outside it is a failure (exact test); inside, a
    G-test against the renormalised reported probabilities. (2) T = 0.5 with a top_p for which the
    contract's nucleus (on tempered probabilities, tail mass bounded by coverage) differs from the nucleus
    taken before temperature (llama.cpp's chain order): a sample outside the contract's nucleus fails.
    Without logprobs the nucleus is estimated from the T = 1 samples with Clopper-Pearson bounds at
    confidence 1 - 1e-6 each (Bonferroni over the tokens): (1) top_p at half the lower bound of the top
    token's mass keeps one token — every sample must be the same; (2) where two tokens' masses are
    resolved, top_p between them keeps exactly those; (3) order: top_p between the upper bound of the top
    mass at T = 1 and the lower bound at T = 0.5 keeps one token after temperature, several before it.""",
    statistical=True,
)
def top_p(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _top_p)


def _top_p(ctx: Context, ep: Endpoint) -> Outcome:
    if method(ctx, ep) == METHOD_SAMPLES:
        return _top_p_samples(ctx, ep)
    d = spread_dist(ctx, ep)
    tokens = d.usable_tokens()
    probs = [math.exp(d.logprobs[t]) for t in tokens]
    if len(probs) < 2:
        raise Skipped("fewer than two usable reported tokens")
    cum = [sum(probs[: i + 1]) for i in range(len(probs))]
    j = 1 if cum[1] < 0.95 and len(probs) > 2 else 0
    tp = (cum[j] + (cum[j - 1] if j else 0.0)) / 2
    nucleus = tokens[: j + 1]
    counts, _ = sample_first_tokens(ctx, ep, d.prompt, ctx.settings.samples, temperature=1.0, top_p=round(tp, 6))
    n = sum(counts.values())
    bad = n - sum(counts.get(t, 0) for t in nucleus)
    tests = [forbidden_test(f"T=1 top_p={tp:.4f}: outside nucleus {nucleus}", bad, n, ctx.settings.alpha,
                            "outside the nucleus")]
    if len(nucleus) >= 2:
        tests.append(conditional_gtest(f"T=1 top_p={tp:.4f}: within nucleus", counts, nucleus,
                                       softmax_over(d.logprobs, nucleus), ctx.settings.alpha))
    details: dict[str, object] = {"baseline": d.as_dict(), "top_p_1": tp, "nucleus_1": nucleus}
    # (2) order of temperature and top_p
    temp = ORDER_TEMPERATURE
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
        counts2, _ = sample_first_tokens(ctx, ep, d.prompt, ctx.settings.samples, temperature=temp, top_p=cand)
        n2 = sum(counts2.values())
        bad2 = n2 - sum(counts2.get(t, 0) for t in nuc2)
        tests.append(forbidden_test(f"T={temp} top_p={cand}: outside tempered nucleus {nuc2}", bad2, n2,
                                    ctx.settings.alpha, "outside the nucleus of the tempered distribution"))
        if len(nuc2) >= 2:
            tests.append(conditional_gtest(f"T={temp} top_p={cand}: within nucleus", counts2, nuc2,
                                           softmax_over(d.logprobs, nuc2, temp), ctx.settings.alpha))
        details.update({"top_p_2": cand, "temperature_2": temp, "nucleus_2": nuc2})
    return Outcome(None, f"prompt {d.prompt!r}, nucleus {nucleus} at top_p {tp:.4f}", tests=tests,
                   details=details, method=METHOD_LOGPROBS)


def _one_token_test(name: str, counts: dict[str, int], alpha: float, must_be: str | None) -> StatTest:
    """Every sample is the same token (and ``must_be`` when the contract names it)."""
    n = sum(counts.values())
    top = max(counts, key=lambda t: counts[t]) if counts else ""
    want = must_be if must_be is not None else top
    bad = n - counts.get(want, 0)
    return forbidden_test(name, bad, n, alpha, f"not the single token the nucleus keeps ({want!r})")


def _top_p_samples(ctx: Context, ep: Endpoint) -> Outcome:
    sp = spread_pilot(ctx, ep)
    alpha = ctx.settings.alpha
    base = sample(ctx, ep, sp.prompt, ctx.settings.samples, key="base", **BASE)
    n = sum(base.values())
    toks = usable(base)
    if not toks:
        raise Skipped("the T = 1 samples have no usable token")
    conf = 1 - (1 - NUCLEUS_CONFIDENCE) / max(1, min(len(toks), 20))
    lb1, ub1 = clopper_pearson(base[toks[0]], n, conf)
    mode = clear_mode(base, alpha)
    details: dict[str, object] = {"pilot": sp.as_dict(), "t1_samples": n, "top_token": toks[0],
                                  "top_mass_bounds": [round(lb1, 5), round(ub1, 5)], "clear_mode": mode,
                                  "confidence": conf}
    tests = []
    # (1) a nucleus of one token
    tp1 = round(lb1 / 2, 6)
    if tp1 <= 0:
        raise Skipped(f"the top token's mass is not bounded away from 0 with {n} samples")
    c1 = sample(ctx, ep, sp.prompt, ctx.settings.samples, key=f"top_p={tp1}", **{**BASE, "top_p": tp1})
    tests.append(_one_token_test(f"T=1 top_p={tp1} (<= the top token's mass {lb1:.4f}): one token", c1, alpha, mode))
    # (2) a resolved nucleus of two or more tokens: the j-th token separated from the (j-1)-th and from
    # every token outside (the most frequent outsider bounds them all; pooled texts such as "" included),
    # and the masses of the top j-1 and top j separated by a gap for top_p
    def ci(k: int) -> tuple[float, float]:
        return clopper_pearson(k, n, conf)

    for j in range(2, min(len(toks), 6) + 1):
        nuc = toks[:j]
        rest = [c for t, c in base.items() if t not in nuc]
        top_out = max(rest, default=0)
        in_j = sum(base[t] for t in nuc)
        if not (ci(base[toks[j - 2]])[0] > ci(base[toks[j - 1]])[1] and ci(base[toks[j - 1]])[0] > ci(top_out)[1]
                and ci(in_j - base[toks[j - 1]])[1] < ci(in_j)[0]):
            continue
        tp = round((ci(in_j - base[toks[j - 1]])[1] + ci(in_j)[0]) / 2, 6)
        c2 = sample(ctx, ep, sp.prompt, ctx.settings.samples, key=f"top_p={tp}", **{**BASE, "top_p": tp})
        n2 = sum(c2.values())
        tests.append(forbidden_test(f"T=1 top_p={tp}: outside the estimated nucleus {nuc}",
                                    n2 - sum(c2.get(t, 0) for t in nuc), n2, alpha, "outside the nucleus"))
        arms = [Arm(binned(base, nuc, False)), Arm(binned(c2, nuc, False))]
        tests.append(arms_test(f"T=1 top_p={tp}: within the nucleus as at T=1", ["T=1", f"top_p={tp}"], arms,
                               nuc, alpha, note="renormalised within the nucleus: q = p"))
        details.update({"top_p_2": tp, "nucleus_2": nuc})
        break
    else:
        details["nucleus_2"] = "no nucleus of two or more tokens is resolved at this confidence"
    # (3) order of temperature and top_p
    t = ORDER_TEMPERATURE
    cold = sample(ctx, ep, sp.prompt, ctx.settings.samples, key=f"T={t}", **{**BASE, "temperature": t})
    nc = sum(cold.values())
    lbq, _ = clopper_pearson(cold.get(toks[0], 0), nc, conf)
    cold_top = usable(cold)[:1]
    if cold_top == toks[:1] and lbq > ub1:
        tp3 = round((ub1 + lbq) / 2, 6)
        c3 = sample(ctx, ep, sp.prompt, ctx.settings.samples, key=f"T={t} top_p={tp3}",
                    **{**BASE, "temperature": t, "top_p": tp3})
        tests.append(_one_token_test(f"T={t} top_p={tp3} (above the top mass at T=1, below it at T={t}): one token",
                                     c3, alpha, mode))
        details.update({"order_top_p": tp3, "order_bounds": [round(ub1, 5), round(lbq, 5)]})
    else:
        details["order_test"] = (f"not established: the top token's mass at T={t} (lower bound {lbq:.4f}) is not "
                                 f"resolved above its mass at T=1 (upper bound {ub1:.4f})")
    return Outcome(None, f"prompt {sp.prompt!r}, top token {toks[0]!r} mass in [{lb1:.3f}, {ub1:.3f}]",
                   tests=tests, details=details, method=METHOD_SAMPLES)


# ------------------------------------------------------------------------------------ logit_bias
@check(
    "sampling.logit_bias",
    "logit_bias adds to the logits before sampling; -100 bans, +100 forces",
    rules.LOGIT_BIAS,
    """Both endpoints; token ids from the provider's tokenizer endpoint (/extras/tokenize, or vLLM's or
    llama.cpp's /tokenize), else learnt by greedy decoding under -100 bans. With logprobs: (1) +2 on the second most likely
    reported token: G-test against exp(l_i + b_i) over the reported tokens. Without: (1) samples at T = 1
    with and without the +2 bias must be explained by one base p with q ∝ p · e^2 on that token (that
    token against the rest, likelihood-ratio test; power stated as the applied biases it would detect). Both: (2) -100 on the most
    likely token: it must never be sampled. (3) +100 on the third: every sample must be it.""",
    statistical=True,
)
def logit_bias(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _logit_bias)


def _ban_and_force(ctx: Context, ep: Endpoint, prompt: str, tokens: list[str], ids: dict[str, int],
                   fields: dict[str, float]) -> list[StatTest]:
    small = max(200, ctx.settings.samples // 4)
    counts2, _ = sample_first_tokens(ctx, ep, prompt, small, logit_bias={str(ids[tokens[0]]): -100}, **fields)
    n2 = sum(counts2.values())
    out = [forbidden_test(f"-100 on {tokens[0]!r} (id {ids[tokens[0]]})", counts2.get(tokens[0], 0), n2,
                          ctx.settings.alpha, f"the banned token {tokens[0]!r}")]
    counts3, _ = sample_first_tokens(ctx, ep, prompt, small, logit_bias={str(ids[tokens[2]]): 100}, **fields)
    n3 = sum(counts3.values())
    out.append(forbidden_test(f"+100 on {tokens[2]!r} (id {ids[tokens[2]]})", n3 - counts3.get(tokens[2], 0), n3,
                              ctx.settings.alpha, f"not the forced token {tokens[2]!r}"))
    return out


def _logit_bias(ctx: Context, ep: Endpoint) -> Outcome:
    if method(ctx, ep) == METHOD_SAMPLES:
        return _logit_bias_samples(ctx, ep)
    d = spread_dist(ctx, ep)
    tokens = d.usable_tokens()
    if len(tokens) < 3:
        raise Skipped("fewer than three usable reported tokens")
    ids = {t: token_id(ctx, ep, t, d.prompt) for t in tokens[:3]}
    biased = dict(d.logprobs)
    biased[tokens[1]] += 2.0
    counts, _ = sample_first_tokens(ctx, ep, d.prompt, conditional_target(ctx, d), temperature=1.0,
                                    logit_bias={str(ids[tokens[1]]): 2.0})
    tests = [conditional_gtest(f"+2 on {tokens[1]!r} (id {ids[tokens[1]]})", counts, tokens,
                               softmax_over(biased, tokens), ctx.settings.alpha)]
    tests += _ban_and_force(ctx, ep, d.prompt, tokens, ids, {"temperature": 1.0})
    return Outcome(None, f"prompt {d.prompt!r}, ids {ids}", tests=tests,
                   details={"baseline": d.as_dict(), "token_ids": ids, "ids_from": tokenizer_name(ctx)}, method=METHOD_LOGPROBS)


def _logit_bias_samples(ctx: Context, ep: Endpoint) -> Outcome:
    sp = spread_pilot(ctx, ep)
    top3 = usable(sp.counts)[:3]
    if len(top3) < 3:
        raise Skipped("fewer than three usable tokens in the pilot sample")
    ids = {t: token_id(ctx, ep, t, sp.prompt) for t in top3}
    target = top3[1]
    cats = [target]  # the bias moves this token alone: it against the rest carries the test
    base = sample(ctx, ep, sp.prompt, ctx.settings.samples, key="base", **BASE)
    biased = sample(ctx, ep, sp.prompt, ctx.settings.samples, key=f"bias {ids[target]}+2",
                    logit_bias={str(ids[target]): 2.0}, **BASE)
    shift = tuple(2.0 if t == target else 0.0 for t in cats) + (0.0,)
    arms = [Arm(binned(base, cats, True)), Arm(binned(biased, cats, True), 1.0, shift)]
    fit = shared_base_test(arms)
    sizes = [int(sum(a.counts)) for a in arms]
    full = list(fit.base) if len(fit.kept) == len(cats) + 1 else None
    power = (shift_detectable(np.array(full), sizes, 1, 0, ctx.settings.alpha, nominal=2.0,
                              span=2.0, what=f"an applied bias on {target!r}") if full else "")
    tests = [arms_test(f"+2 on {target!r} (id {ids[target]}): q ∝ p·e^2 on it", ["no bias", "+2"], arms, cats,
                       ctx.settings.alpha, detectable=power)]
    tests += _ban_and_force(ctx, ep, sp.prompt, top3, ids, BASE)
    return Outcome(None, f"prompt {sp.prompt!r}, ids {ids}", tests=tests,
                   details={"pilot": sp.as_dict(), "token_ids": ids, "ids_from": tokenizer_name(ctx)}, method=METHOD_SAMPLES)
