"""Are the documented defaults in force when a request leaves the sampling fields out? Both endpoints."""

from __future__ import annotations

import math
from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.context import METHOD_LOGPROBS, METHOD_SAMPLES, Context, Outcome, Skipped, StatTest
from validator.discovery import method
from validator.endpoints import Endpoint, choices
from validator.probing import (
    conditional_gtest,
    prompt_repeat_probe,
    sample_first_tokens,
    softmax_over,
    spread_dist,
)
from validator.sampled import BASE, arms_test, binned, categories, prompt_repeat, sample, spread_pilot
from validator.stats import Arm, g_test, min_detectable_w

#: Completions' documented max_tokens default ("max_tokens 整数 可选项 默认为16", 001).
COMPLETIONS_MAX_TOKENS = 16


@check(
    "defaults.sampling",
    "temperature 1, top_p 1, no penalties and max_tokens 16 when omitted",
    rules.DEFAULTS,
    """Both endpoints. (1) One-token completions with no sampling field: with logprobs, the full distribution
    over the reported top tokens plus an "other" bin (mass 1 - coverage) is G-tested against the reported
    probabilities — extra truncation (top_k, min_p) empties the tail bin, another temperature reshapes the
    top; without logprobs, tested against samples with every field set to its documented value (one
    distribution for both, tail bin included). (2) The same on a prompt that contains a likely next token x,
    no penalty fields (a default repetition penalty that counts the prompt, as llama.cpp's, shows here).
    (3) Completions: a completion without max_tokens has at most 16 tokens (one that is not answered within
    the exchange deadline, while a max_tokens 1 request is, fails this part; the statistics still stand).""",
    statistical=True,
)
def defaults(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _defaults)


def _max_tokens_default(ctx: Context, ep: Endpoint, prompt: str, details: dict[str, Any]) -> list[str]:
    if ep.is_chat:  # chat's default is the rest of the context (001: "默认为无穷大"): nothing to bound cheaply
        return []
    failures = []
    ex = ctx.client.post(ep.path, ctx.body(**ep.prompt_fields(prompt), seed=ctx.next_seed()))
    details["default_max_tokens_response"] = ex.excerpt()
    if ex.failure == "deadline":
        # No answer within the deadline: it did not stop after 16 tokens — if the provider still answers a
        # one-token request at once (else NoAnswer: not judged). The statistics above still stand.
        ctx.ok(ctx.post(ep.path, ctx.body(**ep.prompt_fields(prompt), max_tokens=1, seed=ctx.next_seed())))
        return [f"completion without max_tokens: no answer within the {ctx.client.timeout_s:g} s deadline, while a "
                f"max_tokens 1 request is answered; {COMPLETIONS_MAX_TOKENS} tokens take far less, so the "
                f"default max_tokens is not {COMPLETIONS_MAX_TOKENS}"]
    data = ctx.ok(ex)
    ct = (data.get("usage") or {}).get("completion_tokens")
    if not isinstance(ct, int) or ct > COMPLETIONS_MAX_TOKENS:
        failures.append(f"completion without max_tokens generated {ct} tokens (default is {COMPLETIONS_MAX_TOKENS})")
    cs = choices(data)
    fr = cs[0].get("finish_reason") if cs else None
    if fr == "length" and ct != COMPLETIONS_MAX_TOKENS:
        failures.append(f"finish_reason length after {ct} tokens without max_tokens (default is {COMPLETIONS_MAX_TOKENS})")
    return failures


def _defaults(ctx: Context, ep: Endpoint) -> Outcome:
    if method(ctx, ep) == METHOD_SAMPLES:
        return _defaults_samples(ctx, ep)
    d = spread_dist(ctx, ep)
    tokens = d.usable_tokens()
    counts, _ = sample_first_tokens(ctx, ep, d.prompt, ctx.settings.samples)
    obs = [counts.get(t, 0) for t in tokens]
    other = sum(counts.values()) - sum(obs)
    probs = [math.exp(d.logprobs[t]) for t in tokens]
    tail = max(0.0, 1.0 - sum(probs))
    res = g_test(obs + [other], probs + [tail])
    n = sum(counts.values())
    tests = [StatTest(
        name="token 1 with defaults vs reported (incl. tail bin)", statistic=round(res.statistic, 4), df=res.df,
        p_value=res.p_value, n=n, min_detectable_w=round(min_detectable_w(n, max(res.df, 1), ctx.settings.alpha), 4),
        observed={**dict(zip(tokens, obs, strict=True)), "(other)": other},
        expected={**{t: round(p, 5) for t, p in zip(tokens, probs, strict=True)}, "(other)": round(tail, 5)},
    )]
    details: dict[str, object] = {"baseline": d.as_dict()}
    try:
        rp = prompt_repeat_probe(ctx, ep)
    except Skipped as exc:
        details["prompt_repeat"] = f"not tested: {exc}"
    else:
        toks2 = rp.dist.usable_tokens()
        c2, _ = sample_first_tokens(ctx, ep, rp.dist.prompt, ctx.settings.samples)
        tests.append(conditional_gtest(f"token 1 after {rp.dist.prompt!r} (contains {rp.x!r}) with defaults", c2,
                                       toks2, softmax_over(rp.dist.logprobs, toks2), ctx.settings.alpha))
        details["prompt_repeat"] = rp.dist.as_dict()
    failures = _max_tokens_default(ctx, ep, d.prompt, details)
    return Outcome(None, f"prompt {d.prompt!r}, coverage {d.coverage:.3f}", tests=tests, details=details,
                   failures=failures, method=METHOD_LOGPROBS)


def _omitted_vs_documented(ctx: Context, ep: Endpoint, prompt: str, cats: list[str], label: str) -> StatTest:
    documented = sample(ctx, ep, prompt, ctx.settings.samples, key="base", **BASE)
    omitted = sample(ctx, ep, prompt, ctx.settings.samples, key="omitted")
    arms = [Arm(binned(documented, cats, True)), Arm(binned(omitted, cats, True))]
    return arms_test(f"token 1 after {prompt!r}{label}: fields omitted vs set to their documented defaults",
                     ["documented values", "omitted"], arms, cats, ctx.settings.alpha,
                     note="tail bin (other) included: truncation by default empties it")


def _defaults_samples(ctx: Context, ep: Endpoint) -> Outcome:
    sp = spread_pilot(ctx, ep)
    tests = [_omitted_vs_documented(ctx, ep, sp.prompt, categories(sp, ctx.settings.samples), "")]
    details: dict[str, Any] = {"pilot": sp.as_dict()}
    try:
        pr = prompt_repeat(ctx, ep)
    except Skipped as exc:
        details["prompt_repeat"] = f"not tested: {exc}"
    else:
        cats = categories(pr.pilot, ctx.settings.samples)
        tests.append(_omitted_vs_documented(ctx, ep, pr.pilot.prompt, cats, f" (contains {pr.x!r})"))
        details["prompt_repeat"] = pr.pilot.as_dict()
    failures = _max_tokens_default(ctx, ep, sp.prompt, details)
    return Outcome(None, f"prompt {sp.prompt!r}", tests=tests, details=details, failures=failures,
                   method=METHOD_SAMPLES)
