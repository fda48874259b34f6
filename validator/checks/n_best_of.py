"""``n`` (choice count and indices) and ``best_of`` (ranking and its errors)."""

from __future__ import annotations

from typing import Any

from validator import rules
from validator.checks.base import check, per_endpoint
from validator.checks.errors import error_param
from validator.context import FAIL, PASS, Context, Outcome
from validator.discovery import per_request
from validator.endpoints import COMPLETIONS, Endpoint
from validator.endpoints import choices as endpoint_choices

PROMPT = "Once upon a time"
#: best_of of the ranking rounds where the provider accepts that many choices.
CANDIDATES = 5


def _indices(data: dict[str, Any]) -> list[int]:
    cs = data.get("choices") if isinstance(data, dict) else None
    return sorted(c.get("index") if isinstance(c, dict) and isinstance(c.get("index"), int) else -1
                  for c in (cs if isinstance(cs, list) else []))


@check(
    "n.indices",
    "n choices per prompt, indexed prompt_index * n + j",
    rules.N,
    """Completions with n = 3; completions with two prompts and n = 2 (indices 0..3, the first two continuing
    the first prompt); chat with n = 3. T = 1, max_tokens 4.""",
)
def indices(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _indices_on)


def _indices_on(ctx: Context, ep: Endpoint) -> Outcome:
    failures: list[str] = []
    evidence = []
    if ep.is_chat:
        cases: tuple[tuple[str, dict[str, Any], list[int]], ...] = (
            ("n=3", {**ep.prompt_fields("Hi"), "n": 3}, [0, 1, 2]),)
    else:
        cases = (("n=3", {"prompt": PROMPT, "n": 3}, [0, 1, 2]),
                 ("2 prompts x n=2", {"prompt": ["The sky is", "1, 2, 3,"], "n": 2}, [0, 1, 2, 3]))
    for label, fields, want in cases:
        ex = ctx.post(ep.path, ctx.body(max_tokens=4, temperature=1.0, seed=ctx.next_seed(), **fields))
        evidence.append(ex.excerpt())
        if ex.status != 200:
            failures.append(f"{label}: HTTP {ex.status} {ex.text[:120]}")
            continue
        got = _indices(ex.json() or {})
        if got != want:
            failures.append(f"{label}: indices {got}, expected {want}")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "n choices with the documented indices",
                   evidence=evidence, failures=failures)


def _mean_logprob(ep: Endpoint, choice: dict[str, Any]) -> float | None:
    """Mean of the chosen tokens' logprobs (in whichever shape the provider reports them)."""
    lps = [v for v in ep.chosen_logprobs(choice) or [] if v is not None]
    return sum(lps) / len(lps) if lps else None


@check(
    "best_of.ranking",
    "best_of returns the n candidates with the highest mean token logprob, best first",
    rules.BEST_OF,
    """Four rounds, each with its own seed: n = 2, best_of = k, logprobs 1, T = 1, max_tokens 4, with k = 5,
    or the largest n the provider accepts when that is smaller (llama-server: its slot count; at least 3).
    The returned choices must be in descending order of mean token logprob. Where the candidates are
    observable — the same body with n = k and no best_of, under the contract's per-candidate seeding,
    yields them — the returned choices must be the two best of those k (ties to the lower index). A provider
    that ignores best_of returns the first two candidates, which are the two best with probability
    2 / (k (k - 1)) per round.""",
    endpoints=(COMPLETIONS,),
)
def ranking(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _ranking, (COMPLETIONS,))


def _ranking(ctx: Context, ep: Endpoint) -> Outcome:
    failures: list[str] = []
    notes: list[str] = []
    evidence = []
    rounds = []
    k = CANDIDATES if per_request(ctx, ep) >= CANDIDATES else max(3, per_request(ctx, ep))
    for _ in range(4):
        seed = ctx.next_seed()
        fields = {"prompt": PROMPT, "max_tokens": 4, "temperature": 1.0, "logprobs": 1, "seed": seed}
        ex = ctx.completion(n=2, best_of=k, **fields)
        evidence.append(ex.excerpt())
        data = ctx.ok(ex, "best_of")
        choices = endpoint_choices(data)
        if len(choices) != 2:
            failures.append(f"seed {seed}: {len(choices)} choices returned, expected n = 2")
            continue
        scores = [_mean_logprob(ep, c) for c in choices]
        if any(s is None for s in scores):
            failures.append(f"seed {seed}: returned choices lack token_logprobs")
            continue
        if scores[0] < scores[1] - 1e-9:
            failures.append(f"seed {seed}: index 0 mean logprob {scores[0]:.4f} < index 1 {scores[1]:.4f}")
        cand = endpoint_choices(ctx.ok(ctx.completion(n=k, **fields), "n"))
        ctexts = [c.get("text") for c in cand]
        cscores = [_mean_logprob(ep, c) for c in cand]
        returned = [c.get("text") for c in choices]
        rounds.append({"seed": seed, "returned": returned, "returned_scores": scores,
                       "candidates": ctexts, "candidate_scores": cscores})
        if len(cand) == k and all(t in ctexts for t in returned) and None not in cscores:
            order = sorted(range(k), key=lambda i: (-(cscores[i] or 0.0), i))
            best = [ctexts[i] for i in order[:2]]
            if returned != best:
                failures.append(f"seed {seed}: returned {returned}, the two best candidates are {best}")
        else:
            notes.append(f"seed {seed}: candidates not observable (n={k} twin does not contain the returned texts)")
    summary = "; ".join(failures[:2]) or ("ordered by mean logprob" + (f" ({len(notes)} rounds unobservable)"
                                                                      if notes else ", best of the candidates"))
    return Outcome(FAIL if failures else PASS, summary, evidence=evidence, details={"best_of": k, "rounds": rounds, "notes": notes},
                   failures=failures)


@check(
    "best_of.errors",
    "best_of < n and best_of > 1 with stream are 400s naming best_of",
    rules.BEST_OF,
    "best_of = 2 with n = 3; best_of = 2 with stream true.",
    endpoints=(COMPLETIONS,),
)
def best_of_errors(ctx: Context) -> Outcome:
    return per_endpoint(ctx, _best_of_errors, (COMPLETIONS,))


def _best_of_errors(ctx: Context, ep: Endpoint) -> Outcome:
    failures = []
    evidence = []
    for extra in ({"n": 3, "best_of": 2}, {"best_of": 2, "stream": True}):
        ex = ctx.completion(prompt=PROMPT, max_tokens=2, **extra)
        evidence.append(ex.excerpt())
        if ex.status != 400 or error_param(ex) != "best_of":
            failures.append(f"{extra}: HTTP {ex.status}, error.param {error_param(ex)!r}; expected 400 naming best_of")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "both rejected naming best_of",
                   evidence=evidence, failures=failures)
