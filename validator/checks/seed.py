"""Determinism: the same seed gives the same response; temperature 0 is the argmax."""

from __future__ import annotations

from typing import Any

from validator import rules
from validator.checks.base import check
from validator.context import FAIL, PASS, Context, Outcome
from validator.probing import TOP_K, choice_tokens, choice_top

PROMPT = "Once upon a time"


def _strip(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("id", "created", "system_fingerprint")}


@check(
    "seed.determinism",
    "the same request with the same seed gives the same response",
    rules.SEED,
    """Completions (n = 3, T = 1.2, max_tokens 12, logprobs 2) and chat (n = 2) sent twice with the same
    seed: their choices (texts, logprobs, finish reasons) must be equal; other fields that differ (timings,
    cached-token counts) are noted. Two different seeds are also compared (equal
    outputs are noted: sampling would then not depend on the seed).""",
)
def determinism(ctx: Context) -> Outcome:
    failures: list[str] = []
    evidence = []
    notes = []
    for chat in (False, True):
        seed = ctx.next_seed()
        fields: dict[str, Any] = {"max_tokens": 12, "temperature": 1.2, "seed": seed}
        if chat:
            fields.update(messages=[{"role": "user", "content": "Tell me a story."}], n=2)
        else:
            fields.update(prompt=PROMPT, n=3, logprobs=2)
        send = ctx.chat if chat else ctx.completion
        a, b = send(**fields), send(**fields)
        evidence += [a.excerpt(), b.excerpt()]
        da, db = _strip(ctx.ok(a, "seed")), _strip(ctx.ok(b, "seed"))
        where = "chat" if chat else "completions"
        varying = sorted(k for k in set(da) | set(db) if k != "choices" and da.get(k) != db.get(k))
        if varying:  # e.g. llama-server's wall-clock "timings", usage's cached_tokens: not the sampled result
            notes.append(f"{where}: fields besides choices differ between the twins: {varying}")
        if da.get("choices") != db.get("choices"):
            ta = [c.get("text") or (c.get("message") or {}).get("content") for c in da.get("choices") or []]
            tb = [c.get("text") or (c.get("message") or {}).get("content") for c in db.get("choices") or []]
            failures.append(f"{where}: seed {seed} twice gave different responses ({ta} vs {tb})")
        other = _strip(ctx.ok(send(**{**fields, "seed": seed + 1}), "seed"))
        if other.get("choices") == da.get("choices"):
            notes.append(f"{where}: seeds {seed} and {seed + 1} gave identical choices")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "same seed, same response",
                   evidence=evidence, details={"notes": notes}, failures=failures)


@check(
    "sampling.greedy",
    "temperature 0 picks the most likely token at every step",
    rules.GREEDY,
    """Completions at T = 0, n = 2, max_tokens 8, logprobs 5: at each position the chosen token's logprob
    equals the largest reported one (ties allowed), and both choices are identical. A provider that refuses
    n > 1 at T = 0 (vLLM) is judged on two requests with n = 1 instead (the refusal is noted).""",
)
def greedy_argmax(ctx: Context) -> Outcome:
    failures = []
    notes = []
    fields: dict[str, Any] = {"prompt": PROMPT, "max_tokens": 8, "temperature": 0.0, "logprobs": TOP_K}
    ex = ctx.completion(n=2, **fields)
    evidence = [ex.excerpt()]
    if 400 <= ex.status < 500 and ex.status not in (401, 403, 404):
        notes.append(f"n = 2 at T = 0 refused (HTTP {ex.status}: {ex.text[:160]}); judged with n = 1 twice")
        pair = [ctx.completion(n=1, **fields) for _ in range(2)]
        evidence += [e.excerpt() for e in pair]
        choices = [(ctx.ok(e, "temperature 0").get("choices") or [{}])[0] for e in pair]
    else:
        choices = ctx.ok(ex, "temperature 0").get("choices") or []
    for c in choices[:1]:
        for i, (t, top) in enumerate(zip(choice_tokens(c), choice_top(c), strict=False)):
            if not top:
                continue
            best = max(top.values())
            if t not in top or top[t] < best - 1e-6:
                failures.append(f"position {i}: chose {t!r} ({top.get(t)}) but {max(top, key=top.get)!r} has {best}")
    texts = {c.get("text") for c in choices}
    if len(texts) > 1:
        failures.append(f"two choices at temperature 0 differ: {sorted(texts)}")
    summary = "; ".join(failures[:3]) or "argmax at every position" + (" (n = 1 requests)" if notes else "")
    return Outcome(FAIL if failures else PASS, summary, evidence=evidence, failures=failures,
                   details={"notes": notes})
