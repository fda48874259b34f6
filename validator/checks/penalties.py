"""Statistical checks of presence and frequency penalties, and whether the prompt counts.

Penalties act on tokens already sampled, so a check needs a known history. The probe
(:func:`validator.probing.repeat_probe`) takes the spread prompt's most likely first token
``x`` and adds ``logit_bias {x: b}`` so that x is often sampled twice; conditional on tokens 1 and 2
both being x, token 3 has ``c[x] = 2`` and ``c[j] = 0`` for every other token, so the docs' formula
predicts token 3 exactly from the raw logprobs reported for that context:
``l_j + b[j] - (c[j] * frequency + (c[j] > 0) * presence)``. Because ``c[x] = 2``, presence (one-off)
and frequency (per occurrence) predict different shifts, so swapped coefficients are caught.
Negative penalties keep the conditioning history frequent. The bias is tuned so x's predicted share
at step 3 is near one half, where the test has the most power.
"""

from __future__ import annotations

import math

from validator import rules
from validator.checks.base import check
from validator.context import Context, Outcome, StatTest
from validator.probing import (
    conditional_gtest,
    looks_special,
    prompt_repeat_probe,
    repeat_probe,
    sample_first_tokens,
    sample_third_after_repeat,
    softmax_over,
)
from validator.stats import binom_p_value


def _third_token_check(ctx: Context, presence: float, frequency: float) -> Outcome:
    probe = repeat_probe(ctx)
    shift = -(2 * frequency + presence)
    tokens, probs = probe.predicted(shift)
    counts, seen, _ = sample_third_after_repeat(ctx, probe, ctx.settings.samples, temperature=1.0,
                                                presence_penalty=presence, frequency_penalty=frequency)
    test = conditional_gtest(
        f"token 3 after ({probe.x!r}, {probe.x!r}), presence={presence}, frequency={frequency}",
        counts, tokens, probs, ctx.settings.alpha,
        note=f"predicted penalty shift of {probe.x!r}: {shift:+g} (swapped coefficients: "
        f"{-(2 * presence + frequency):+g}); {sum(counts.values())} conditional samples of {seen} choices",
    )
    return Outcome(None, f"prompt {probe.prompt!r}, x = {probe.x!r} forced by logit_bias {probe.bias:g}",
                   tests=[test], details={"probe": probe.as_dict()})


@check(
    "penalties.presence",
    "presence_penalty is a one-off shift of every token already sampled",
    rules.PENALTIES,
    """Three-token completions with logit_bias {x: b} and presence_penalty = -1 (T = 1); token 3 given tokens
    1 and 2 both x is G-tested against the reported raw logprobs for that context with x's logit raised by
    b + 1 (presence counts once, although c[x] = 2). Needs /extras/tokenize for x's id.""",
    statistical=True,
)
def presence(ctx: Context) -> Outcome:
    return _third_token_check(ctx, presence=-1.0, frequency=0.0)


@check(
    "penalties.frequency",
    "frequency_penalty shifts a token in proportion to how often it was sampled",
    rules.PENALTIES,
    """Three-token completions with logit_bias {x: b} and frequency_penalty = -0.75 (T = 1); token 3 given
    tokens 1 and 2 both x is G-tested against the reported raw logprobs with x's logit raised by
    b + 2 * 0.75. Needs /extras/tokenize for x's id.""",
    statistical=True,
)
def frequency(ctx: Context) -> Outcome:
    return _third_token_check(ctx, presence=0.0, frequency=-0.75)


@check(
    "penalties.prompt_not_counted",
    "penalties count sampled tokens only, not the prompt",
    rules.PENALTIES,
    """A prompt P + x + "\\n" + P containing token x after which x is likely again; one-token completions with
    presence_penalty = 1.5 (T = 1). Nothing has been sampled yet, so the contract predicts the unpenalised
    reported distribution; a provider that counts prompt tokens lowers x (and other prompt tokens) already
    at step 1: tested conditionally on the reported tokens, and x's count among all samples against its
    absolute probability exp(l_x) (one-sided binomial).""",
    statistical=True,
)
def prompt_not_counted(ctx: Context) -> Outcome:
    probe = prompt_repeat_probe(ctx)
    d = probe.dist
    tokens = [t for t in d.sorted_tokens() if not looks_special(t)]
    counts, _ = sample_first_tokens(ctx, d.prompt, ctx.settings.samples, temperature=1.0, presence_penalty=1.5)
    probs = softmax_over(d.logprobs, tokens)
    test = conditional_gtest(f"token 1 after {d.prompt!r}, presence=1.5", counts, tokens, probs, ctx.settings.alpha)
    n = sum(counts.get(t, 0) for t in tokens)
    share = counts.get(probe.x, 0) / n if n else 0.0
    predicted = probs[tokens.index(probe.x)]
    # Unconditional too: a provider that penalises every prompt token can push the reported tokens out
    # together (llama-server: 8 of 300 samples left among them), where the conditional test has no power.
    total = sum(counts.values())
    k_x = counts.get(probe.x, 0)
    p_abs = math.exp(d.logprobs[probe.x])
    absolute = StatTest(
        name=f"count of {probe.x!r} among all {total} samples vs exp(logprob) = {p_abs:.4f} (one-sided, lower)",
        statistic=float(k_x), df=0, p_value=binom_p_value(k_x, total, p_abs, alternative="less"), n=total,
        note=f"{k_x} observed, {total * p_abs:.1f} predicted (binomial)")
    if min(test.p_value, absolute.p_value) <= ctx.settings.alpha and (share < predicted or k_x < total * p_abs):
        hint = "significantly lower than predicted: prompt tokens are counted"
    else:
        hint = "no significant drop: prompt tokens not counted"
    return Outcome(None, f"share of {probe.x!r} {share:.3f} vs predicted {predicted:.3f}, {k_x} of {total} samples "
                   f"vs {total * p_abs:.1f} predicted ({hint})",
                   tests=[test, absolute], details={"baseline": d.as_dict(), "x": probe.x, "x_share": share,
                                                    "x_predicted": predicted, "x_count": k_x, "x_p_absolute": p_abs})
