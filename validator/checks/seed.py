"""Determinism: the same seed gives the same response; temperature 0 is the argmax. Both endpoints."""

from __future__ import annotations

from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.context import FAIL, METHOD_LOGPROBS, METHOD_SAMPLES, PASS, Context, Outcome
from validator.discovery import method, n_honoured
from validator.endpoints import Endpoint, choices
from validator.probing import choice_tokens, choice_top, spread_dist
from validator.sampled import BASE, clear_mode, sample, spread_pilot

PROMPT = "Once upon a time"
CHAT_PROMPT = "Tell me a story."


def _strip(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("id", "created", "system_fingerprint")}


@check(
    "seed.determinism",
    "the same request with the same seed gives the same response",
    rules.SEED,
    """Completions (n = 3, T = 1.2, max_tokens 12, logprobs 2) and chat (n = 2) sent twice with the same
    seed: their choices (texts, logprobs, finish reasons) must be equal; other fields that differ between
    the twins besides id and created (llama-server's wall-clock timings, cached-token counts) are noted,
    not failed. Two different seeds are also compared (equal outputs are noted: sampling would then not
    depend on the seed).""",
)
def determinism(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _determinism)


def _determinism(ctx: Context, ep: Endpoint) -> Outcome:
    failures: list[str] = []
    notes = []
    seed = ctx.next_seed()
    fields: dict[str, Any] = {"max_tokens": 12, "temperature": 1.2, "seed": seed}
    if ep.is_chat:
        fields.update(ep.prompt_fields(CHAT_PROMPT), n=2)
    else:
        fields.update(ep.prompt_fields(PROMPT), n=3, logprobs=2)
    a, b = ctx.post(ep.path, ctx.body(**fields)), ctx.post(ep.path, ctx.body(**fields))
    da, db = _strip(ctx.ok(a, "seed")), _strip(ctx.ok(b, "seed"))
    varying = sorted(k for k in set(da) | set(db) if k != "choices" and da.get(k) != db.get(k))
    if varying:  # not the sampled result: e.g. llama-server's "timings", usage's cached-token counts
        notes.append(f"fields besides the choices differ between the twins: {varying}")
    if da.get("choices") != db.get("choices"):
        ta = [ep.text(c) for c in choices(da)]
        tb = [ep.text(c) for c in choices(db)]
        failures.append(f"seed {seed} twice gave different responses ({ta} vs {tb})")
    other = _strip(ctx.ok(ctx.post(ep.path, ctx.body(**{**fields, "seed": seed + 1})), "seed"))
    if other.get("choices") == da.get("choices"):
        notes.append(f"seeds {seed} and {seed + 1} gave identical choices")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "same seed, same response",
                   evidence=[a.excerpt(), b.excerpt()], details={"notes": notes}, failures=failures)


@check(
    "sampling.greedy",
    "temperature 0 picks the most likely token at every step",
    rules.GREEDY,
    """Both endpoints, T = 0, two choices (n = 2 where honoured, else two requests). With logprobs (5 on
    completions, 20 on chat), max_tokens 8: at each position the chosen token's logprob equals the largest
    reported one (ties allowed). Without, max_tokens 1 on the spread prompt: the token is the mode of the
    T = 1 samples where that mode is clear (exact binomial test of the top two counts at alpha). Both: the
    two choices are identical. A provider that refuses n = 2 at T = 0 (vLLM: greedy sampling must have
    n = 1) is judged on two requests with n = 1 instead, and the refusal is noted.""",
)
def greedy_argmax(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _greedy)


def _greedy(ctx: Context, ep: Endpoint) -> Outcome:
    failures: list[str] = []
    sampled = method(ctx, ep) == METHOD_SAMPLES
    if sampled:
        prompt = spread_pilot(ctx, ep).prompt
        fields: dict[str, Any] = {"max_tokens": 1, "temperature": 0.0}
    else:
        prompt = spread_dist(ctx, ep).prompt if ep.is_chat else PROMPT
        fields = {"max_tokens": 8, "temperature": 0.0, **ep.logprob_fields(min(5, ep.max_top) if not ep.is_chat
                                                                          else ep.max_top)}
    body = ctx.body(**ep.prompt_fields(prompt), **fields)
    notes: list[str] = []
    evidence = []
    cs: list[dict[str, Any]] = []
    if n_honoured(ctx, ep):
        ex = ctx.post(ep.path, {**body, "n": 2})
        evidence.append(ex.excerpt())
        if 400 <= ex.status < 500 and ex.status not in (401, 403, 404):
            notes.append(f"n = 2 at T = 0 refused (HTTP {ex.status}: {ex.text[:160]}); judged with n = 1 twice")
        else:
            cs = choices(ctx.ok(ex, "temperature 0"))
    if not evidence or notes:
        ex, ex2 = ctx.post(ep.path, body), ctx.post(ep.path, body)
        cs = choices(ctx.ok(ex, "temperature 0"))[:1] + choices(ctx.ok(ex2, "temperature 0"))[:1]
        evidence += [ex.excerpt(), ex2.excerpt()]
    details: dict[str, Any] = {"prompt": prompt, "notes": notes}
    if not cs:
        failures.append("no choices returned")
    elif sampled:
        base = sample(ctx, ep, prompt, ctx.settings.samples, key="base", **BASE)
        mode = clear_mode(base, ctx.settings.alpha)
        first = ep.text(cs[0])
        details.update({"t1_mode": mode, "t1_samples": sum(base.values())})
        if mode is None:
            details["mode_test"] = "the mode of the T = 1 samples is not clear: only consistency is tested"
        elif first != mode:
            failures.append(f"T = 0 gives {first!r}, but the clear mode of {sum(base.values())} T = 1 "
                            f"samples is {mode!r}")
    else:
        for c in cs[:1]:
            for i, (t, top) in enumerate(zip(choice_tokens(ep, c), choice_top(ep, c), strict=False)):
                if not top:
                    continue
                best = max(top.values())
                if t not in top or top[t] < best - 1e-6:
                    failures.append(f"position {i}: chose {t!r} ({top.get(t)}) but {max(top, key=top.get)!r} has {best}")
    texts = {ep.text(c) for c in cs}
    if len(texts) > 1:
        failures.append(f"two choices at temperature 0 differ: {sorted(texts)}")
    return Outcome(FAIL if failures else PASS, "; ".join(failures[:3]) or (
        "consistent, first token the clear T = 1 mode" if sampled else "argmax at every position")
        + (" (n = 1 requests: n = 2 refused at T = 0)" if notes and not failures else ""),
        evidence=evidence, details=details, failures=failures, method=METHOD_SAMPLES if sampled else METHOD_LOGPROBS)
