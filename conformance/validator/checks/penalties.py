"""Statistical checks of presence and frequency penalties, and whether the prompt counts.

The probe (:func:`conformance.validator.probing.repeat_probe`) finds a repetitive prompt after which
the model often generates the same token ``x`` twice. Conditional on tokens 1 and 2 both being ``x``,
token 3 has history count ``c[x] = 2`` and ``c[j] = 0`` for every other token, so the docs' formula
predicts token 3's logits exactly: ``l_j - (c[j] * frequency + (c[j] > 0) * presence)``, with ``l``
the raw logprobs the provider reported for that same context at temperature 1. Because ``c[x] = 2``,
presence (one-off) and frequency (per occurrence) predict different shifts, so swapped coefficients
are caught. Negative penalties are used: they make the conditioning history more frequent.
"""

from __future__ import annotations

from conformance.validator import rules
from conformance.validator.checks.base import Context, Outcome, check
from conformance.validator.probing import (
    conditional_gtest,
    looks_special,
    repeat_probe,
    sample_first_tokens,
    sample_third_after_repeat,
    softmax_over,
)


def _third_token_check(ctx: Context, presence: float, frequency: float) -> Outcome:
    probe = repeat_probe(ctx)
    tokens = [t for t in sorted(probe.step3, key=lambda t: -probe.step3[t]) if not looks_special(t)]
    shifted = dict(probe.step3)
    shifted[probe.x] -= 2 * frequency + presence
    counts, seen, _ = sample_third_after_repeat(ctx, probe, ctx.settings.samples, temperature=1.0,
                                                presence_penalty=presence, frequency_penalty=frequency)
    test = conditional_gtest(
        f"token 3 after ({probe.x!r}, {probe.x!r}), presence={presence}, frequency={frequency}",
        counts, tokens, softmax_over(shifted, tokens), ctx.settings.alpha,
        note=f"predicted logit shift of {probe.x!r}: {-(2 * frequency + presence):+g}; "
        f"{sum(counts.values())} conditional samples out of {seen} choices",
    )
    return Outcome(None, f"prompt {probe.prompt!r}, repeated token {probe.x!r}", tests=[test],
                   details={"probe": probe.as_dict()})


@check(
    "penalties.presence",
    "presence_penalty is a one-off shift of every token already sampled",
    rules.PENALTIES,
    """Three-token completions with presence_penalty = -1 (T = 1); token 3 given tokens 1 and 2 both x is
    G-tested against the reported raw logprobs for that context with x's logit raised by 1 (not 2).""",
    statistical=True,
)
def presence(ctx: Context) -> Outcome:
    return _third_token_check(ctx, presence=-1.0, frequency=0.0)


@check(
    "penalties.frequency",
    "frequency_penalty shifts a token in proportion to how often it was sampled",
    rules.PENALTIES,
    """Three-token completions with frequency_penalty = -0.75 (T = 1); token 3 given tokens 1 and 2 both x
    is G-tested against the reported raw logprobs with x's logit raised by 2 * 0.75 = 1.5.""",
    statistical=True,
)
def frequency(ctx: Context) -> Outcome:
    return _third_token_check(ctx, presence=0.0, frequency=-0.75)


@check(
    "penalties.prompt_not_counted",
    "penalties count sampled tokens only, not the prompt",
    rules.PENALTIES,
    """One-token completions of a prompt made of repeats of x, with presence_penalty = 1.5 (T = 1). No token
    has been sampled yet, so the contract predicts the unpenalised reported distribution; a provider that
    counts prompt tokens lowers x (and any other prompt token) already at step 1.""",
    statistical=True,
)
def prompt_not_counted(ctx: Context) -> Outcome:
    probe = repeat_probe(ctx)
    tokens = [t for t in sorted(probe.step1, key=lambda t: -probe.step1[t]) if not looks_special(t)]
    counts, _ = sample_first_tokens(ctx, probe.prompt, ctx.settings.samples, temperature=1.0, presence_penalty=1.5)
    probs = softmax_over(probe.step1, tokens)
    test = conditional_gtest(f"token 1 after {probe.prompt!r}, presence=1.5", counts, tokens, probs,
                             ctx.settings.alpha)
    n = sum(counts.get(t, 0) for t in tokens)
    share = counts.get(probe.x, 0) / n if n else 0.0
    predicted = probs[tokens.index(probe.x)]
    verdict_hint = "lower than predicted: consistent with prompt tokens being counted" if share < predicted else "as predicted"
    return Outcome(None, f"share of {probe.x!r} {share:.3f} vs predicted {predicted:.3f} ({verdict_hint})",
                   tests=[test], details={"probe": probe.as_dict(), "x_share": share, "x_predicted": predicted})
