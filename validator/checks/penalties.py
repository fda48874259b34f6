"""Statistical checks of presence and frequency penalties, and whether the prompt counts. Both endpoints.

Penalties act on tokens already sampled, so a check needs a known history. The probe takes the spread
prompt's most likely first token ``x`` and adds ``logit_bias {x: b}`` so that x is often sampled twice;
conditional on tokens 1 and 2 both being x, token 3 has ``c[x] = 2`` and ``c[j] = 0`` for every other
token, so the docs' formula predicts token 3's distribution up to x's shift
``-(c[x] * frequency + (c[x] > 0) * presence)``. Because ``c[x] = 2``, presence (one-off) and frequency
(per occurrence) predict different shifts, so swapped coefficients are caught. Negative penalties keep
the conditioning history frequent.

- Method ``logprobs``: the prediction is the raw logprobs reported for that context (x raised by the
  bias and the shift); a G-test. The bias puts x near an even share at step 3 while keeping (x, x) histories frequent.
- Method ``samples``: token 3 with the bias and no penalty, and with the bias and the penalty, must be
  explained by one base distribution with x shifted by exactly the predicted amount (likelihood-ratio
  test); histories are read from the text (``validator.sampled``).

On chat the prompt side is the user message: it contains x (verified with the provider's tokenizer endpoint where it has one), and a
provider that counts prompt tokens lowers x already at the first generated token.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.context import METHOD_LOGPROBS, METHOD_SAMPLES, Context, Outcome, StatTest
from validator.discovery import method
from validator.endpoints import Endpoint
from validator.probing import (
    conditional_gtest,
    prompt_repeat_probe,
    repeat_probe,
    sample_first_tokens,
    sample_third_after_repeat,
    softmax_over,
)
from validator.sampled import (
    BASE,
    arms_test,
    binned,
    prompt_repeat,
    sample,
    shift_detectable,
    third_tokens,
)
from validator.sampled import (
    repeat_probe as sampled_repeat_probe,
)
from validator.stats import Arm, binom_lower_detectable, binom_p_value, shared_base_test


def _third_token_check(ctx: Context, ep: Endpoint, presence: float, frequency: float) -> Outcome:
    if method(ctx, ep) == METHOD_SAMPLES:
        return _third_token_samples(ctx, ep, presence, frequency)
    probe = repeat_probe(ctx, ep)
    shift = -(2 * frequency + presence)
    tokens, probs = probe.predicted(shift)
    counts, seen, _ = sample_third_after_repeat(ctx, ep, probe, ctx.settings.samples, temperature=1.0,
                                                presence_penalty=presence, frequency_penalty=frequency)
    test = conditional_gtest(
        f"token 3 after ({probe.x!r}, {probe.x!r}), presence={presence}, frequency={frequency}",
        counts, tokens, probs, ctx.settings.alpha,
        note=f"predicted penalty shift of {probe.x!r}: {shift:+g} (swapped coefficients: "
        f"{-(2 * presence + frequency):+g}); {sum(counts.values())} conditional samples of {seen} choices",
    )
    return Outcome(None, f"prompt {probe.prompt!r}, x = {probe.x!r} forced by logit_bias {probe.bias:g}",
                   tests=[test], details={"probe": probe.as_dict()}, method=METHOD_LOGPROBS)


def _third_token_samples(ctx: Context, ep: Endpoint, presence: float, frequency: float) -> Outcome:
    probe = sampled_repeat_probe(ctx, ep)
    shift = -(2 * frequency + presence)
    without = third_tokens(ctx, ep, probe, "no penalty")
    with_ = third_tokens(ctx, ep, probe, f"presence={presence} frequency={frequency}",
                         presence_penalty=presence, frequency_penalty=frequency)
    cats = probe.cats
    shifts = tuple(shift if t == probe.x else 0.0 for t in cats) + (0.0,)
    arms = [Arm(binned(without, cats, True)), Arm(binned(with_, cats, True), 1.0, shifts)]
    fit = shared_base_test(arms)
    power = ""
    if len(fit.kept) == len(cats) + 1:
        power = shift_detectable(np.array(fit.base), [int(sum(a.counts)) for a in arms], 1, 0, ctx.settings.alpha,
                                 nominal=shift, span=3.0, what=f"an applied shift of {probe.x!r}")
    test = arms_test(f"token 3 after ({probe.x!r}, {probe.x!r}) read from the text, presence={presence}, "
                     f"frequency={frequency}: x shifted by {shift:+g}", ["no penalty", "penalty"], arms, cats,
                     ctx.settings.alpha, detectable=power,
                     note=f"swapped coefficients would shift x by {-(2 * presence + frequency):+g}")
    return Outcome(None, f"prompt {probe.prompt!r}, x = {probe.x!r} forced by logit_bias {probe.bias:g}",
                   tests=[test], details={"probe": probe.as_dict()}, method=METHOD_SAMPLES)


@check(
    "penalties.presence",
    "presence_penalty is a one-off shift of every token already sampled",
    rules.PENALTIES,
    """Both endpoints. Three-token completions with logit_bias {x: b} and presence_penalty = -1 (T = 1);
    token 3 given tokens 1 and 2 both x: with logprobs, G-tested against the reported raw logprobs for that
    context with x's logit raised by b + 1 (presence counts once, although c[x] = 2); without, tested against
    the same completions without the penalty (one base, x shifted by +1). x's id from a tokenizer endpoint or
    learnt by logit_bias bans (validator.token_ids).""",
    statistical=True,
)
def presence(ctx: Context) -> Outcome:
    return per_endpoint(ctx, lambda c, ep: _third_token_check(c, ep, presence=-1.0, frequency=0.0))


@check(
    "penalties.frequency",
    "frequency_penalty shifts a token in proportion to how often it was sampled",
    rules.PENALTIES,
    """Both endpoints. Three-token completions with logit_bias {x: b} and frequency_penalty = -0.75 (T = 1);
    token 3 given tokens 1 and 2 both x: with logprobs, G-tested against the reported raw logprobs with x's
    logit raised by b + 2 * 0.75; without, against the same completions without the penalty (x shifted by
    +1.5). x's id from a tokenizer endpoint or
    learnt by logit_bias bans (validator.token_ids).""",
    statistical=True,
)
def frequency(ctx: Context) -> Outcome:
    return per_endpoint(ctx, lambda c, ep: _third_token_check(c, ep, presence=0.0, frequency=-0.75))


@check(
    "penalties.prompt_not_counted",
    "penalties count sampled tokens only, not the prompt",
    rules.PENALTIES,
    """Both endpoints. A prompt containing token x after which x is likely next — completions
    P + x + "\\n" + P, chat a user message ending in x — and one-token completions with presence_penalty =
    1.5 (T = 1). Nothing has been sampled yet, so the contract predicts the unpenalised distribution: with
    logprobs the reported one (G-test over the reported tokens, and x's count among all samples against
    exp(l_x), one-sided binomial: a provider that pushes every prompt token down together leaves the
    conditional test without power); without, the same prompt's samples with no penalty (likelihood-ratio
    test of one distribution for both, power stated as the shift of x it detects). A provider that counts
    prompt tokens lowers x (and other prompt tokens) already at step 1.""",
    statistical=True,
)
def prompt_not_counted(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _prompt_not_counted)


def _prompt_not_counted(ctx: Context, ep: Endpoint) -> Outcome:
    if method(ctx, ep) == METHOD_SAMPLES:
        return _prompt_not_counted_samples(ctx, ep)
    probe = prompt_repeat_probe(ctx, ep)
    d = probe.dist
    tokens = d.usable_tokens()
    counts, _ = sample_first_tokens(ctx, ep, d.prompt, ctx.settings.samples, temperature=1.0, presence_penalty=1.5)
    probs = softmax_over(d.logprobs, tokens)
    test = conditional_gtest(f"token 1 after {d.prompt!r}, presence=1.5", counts, tokens, probs, ctx.settings.alpha)
    n = sum(counts.get(t, 0) for t in tokens)
    share = counts.get(probe.x, 0) / n if n else 0.0
    predicted = probs[tokens.index(probe.x)]
    absolute = _x_among_all(counts, probe.x, math.exp(d.logprobs[probe.x]), ctx.settings.alpha)
    k_x, total = counts.get(probe.x, 0), sum(counts.values())
    if min(test.p_value, absolute.p_value) <= ctx.settings.alpha and (share < predicted or absolute.statistic < 0):
        hint = "significantly lower than predicted: prompt tokens are counted"
    else:
        hint = "no significant drop: prompt tokens not counted"
    return Outcome(None, f"share of {probe.x!r} {share:.3f} vs predicted {predicted:.3f}; {k_x} of {total} samples vs "
                   f"{total * math.exp(d.logprobs[probe.x]):.1f} predicted ({hint})",
                   tests=[test, absolute], details={"baseline": d.as_dict(), "x": probe.x, "x_share": share,
                                                    "x_predicted": predicted, "x_count": k_x,
                                                    "x_p_absolute": math.exp(d.logprobs[probe.x])},
                   method=METHOD_LOGPROBS)


def _x_among_all(counts: Counter[str], x: str, p_abs: float, alpha: float) -> StatTest:
    """x's count among all samples against its absolute probability ``exp(l_x)`` (one-sided binomial, lower).

    The conditional G-test has no power when a provider that counts the prompt pushes every reported token
    down together (llama-server: 8 of 300 samples left among them); x's absolute share still drops. Under
    the contract x has probability exactly exp(l_x) at step 1; truncation (top_k, min_p) could only raise it,
    so the one-sided test stays valid for providers that truncate. ``statistic`` is the observed minus the
    predicted count."""
    total = sum(counts.values())
    k_x = counts.get(x, 0)
    p1 = binom_lower_detectable(total, p_abs, alpha)
    power = ("no drop is detectable with these samples" if p1 is None else
             f"x's probability below {p1:.4f} (a logit shift of {math.log(p1 / p_abs):+.2f} or more)" if p1 > 0 else
             "only x never sampled")
    return StatTest(
        name=f"count of {x!r} among all {total} samples vs exp(logprob) = {p_abs:.4f} (one-sided, lower)",
        statistic=round(k_x - total * p_abs, 3), df=0, p_value=binom_p_value(k_x, total, p_abs, alternative="less"),
        n=total, detectable=power,
        observed={x: k_x, "(other)": total - k_x}, expected={x: round(p_abs, 6), "(other)": round(1 - p_abs, 6)},
        note=f"{k_x} observed, {total * p_abs:.1f} predicted (binomial)")


def _prompt_not_counted_samples(ctx: Context, ep: Endpoint) -> Outcome:
    pr = prompt_repeat(ctx, ep)
    prompt = pr.pilot.prompt
    cats = [pr.x]  # counting the prompt shifts x: x against the rest carries the test
    plain = sample(ctx, ep, prompt, ctx.settings.samples, key="base", **BASE)
    penal = sample(ctx, ep, prompt, ctx.settings.samples, key="presence=1.5", **{**BASE, "presence_penalty": 1.5})
    arms = [Arm(binned(plain, cats, True)), Arm(binned(penal, cats, True))]
    fit = shared_base_test(arms)
    power = ""
    if len(fit.kept) == len(cats) + 1:
        power = shift_detectable(np.array(fit.base), [int(sum(a.counts)) for a in arms], 1, 0,
                                 ctx.settings.alpha, span=3.0, what=f"a shift of {pr.x!r} (counting the prompt: -1.5)")
    test = arms_test(f"token 1 after {prompt!r} (contains {pr.x!r}), presence=1.5 vs none: the same distribution",
                     ["no penalty", "presence=1.5"], arms, cats, ctx.settings.alpha, detectable=power)
    n1, n2 = sum(plain.values()), sum(penal.values())
    s1, s2 = plain.get(pr.x, 0) / max(n1, 1), penal.get(pr.x, 0) / max(n2, 1)
    return Outcome(None, f"share of {pr.x!r} {s2:.3f} with presence 1.5 vs {s1:.3f} without",
                   tests=[test], details={"pilot": pr.pilot.as_dict(), "x": pr.x, "categories": cats},
                   method=METHOD_SAMPLES)
