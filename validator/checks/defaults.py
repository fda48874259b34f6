"""Are the documented defaults in force when a request leaves the sampling fields out?"""

from __future__ import annotations

import math

from validator import rules
from validator.checks.base import check
from validator.context import Context, Outcome, Skipped, StatTest
from validator.probing import (
    conditional_gtest,
    looks_special,
    prompt_repeat_probe,
    sample_first_tokens,
    softmax_over,
    spread_dist,
)
from validator.stats import g_test, min_detectable_w


@check(
    "defaults.sampling",
    "temperature 1, top_p 1, no penalties and max_tokens 16 when omitted",
    rules.DEFAULTS,
    """(1) One-token completions with no sampling field: the full distribution over the reported top-5 plus
    an "other" bin (mass 1 - coverage) is G-tested against the reported probabilities — extra truncation
    (top_k, min_p) empties the tail bin, another temperature reshapes the top. (2) One-token completions of a
    prompt that contains a likely next token x, no penalty fields: conditional G-test against the reported
    logprobs (a default repetition penalty that counts the prompt, as llama.cpp's, shows here). (3) A completion without max_tokens has at most 16 tokens.""",
    statistical=True,
)
def defaults(ctx: Context) -> Outcome:
    d = spread_dist(ctx)
    tokens = [t for t in d.sorted_tokens() if not looks_special(t)]
    counts, _ = sample_first_tokens(ctx, d.prompt, ctx.settings.samples)
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
    failures: list[str] = []
    try:
        rp = prompt_repeat_probe(ctx)
    except Skipped as exc:
        details["prompt_repeat"] = f"not tested: {exc}"
    else:
        toks2 = [t for t in rp.dist.sorted_tokens() if not looks_special(t)]
        c2, _ = sample_first_tokens(ctx, rp.dist.prompt, ctx.settings.samples)
        tests.append(conditional_gtest(f"token 1 after {rp.dist.prompt!r} (contains {rp.x!r}) with defaults", c2,
                                       toks2, softmax_over(rp.dist.logprobs, toks2), ctx.settings.alpha))
        details["prompt_repeat"] = rp.dist.as_dict()
    ex = ctx.completion(prompt=d.prompt, seed=ctx.next_seed())
    details["default_max_tokens_response"] = ex.excerpt()
    if ex.status == 0:  # no answer in time: it did not stop after 16 tokens; the statistics above still stand
        failures.append(f"completion without max_tokens: no answer within the request timeout ({ex.text[:80]}); "
                        "16 tokens take well under a second, so the default max_tokens is not 16")
        return Outcome(None, f"prompt {d.prompt!r}, coverage {d.coverage:.3f}", tests=tests, details=details,
                       failures=failures)
    data = ctx.ok(ex)
    usage = data.get("usage") or {}
    ct = usage.get("completion_tokens")
    if not isinstance(ct, int) or ct > 16:
        failures.append(f"completion without max_tokens generated {ct} tokens (default is 16)")
    fr = (data.get("choices") or [{}])[0].get("finish_reason")
    if fr == "length" and ct != 16:
        failures.append(f"finish_reason length after {ct} tokens without max_tokens (default is 16)")
    return Outcome(None, f"prompt {d.prompt!r}, coverage {d.coverage:.3f}", tests=tests, details=details,
                   failures=failures)
