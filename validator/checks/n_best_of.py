"""``n`` (choice count and indices) and ``best_of`` (ranking and its errors)."""

from __future__ import annotations

from typing import Any

from validator import rules
from validator.checks.base import check
from validator.checks.errors import error_param
from validator.context import FAIL, PASS, Context, Outcome
from validator.probing import choice_token_logprobs

PROMPT = "Once upon a time"


def _indices(data: dict[str, Any]) -> list[int]:
    return sorted(int(c.get("index", -1)) for c in data.get("choices") or [])


@check(
    "n.indices",
    "n choices per prompt, indexed prompt_index * n + j",
    rules.N,
    """Completions with n = 3; completions with two prompts and n = 2 (indices 0..3, the first two continuing
    the first prompt); chat with n = 3. T = 1, max_tokens 4.""",
)
def indices(ctx: Context) -> Outcome:
    failures: list[str] = []
    evidence = []
    cases = (
        ("completions n=3", "/completions", {"prompt": PROMPT, "n": 3}, [0, 1, 2]),
        ("completions 2 prompts x n=2", "/completions", {"prompt": ["The sky is", "1, 2, 3,"], "n": 2}, [0, 1, 2, 3]),
        ("chat n=3", "/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "n": 3}, [0, 1, 2]),
    )
    for label, path, fields, want in cases:
        ex = ctx.client.post(path, ctx.body(max_tokens=4, temperature=1.0, seed=ctx.next_seed(), **fields))
        evidence.append(ex.excerpt())
        if ex.status != 200:
            failures.append(f"{label}: HTTP {ex.status} {ex.text[:120]}")
            continue
        got = _indices(ex.json() or {})
        if got != want:
            failures.append(f"{label}: indices {got}, expected {want}")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "n choices with the documented indices",
                   evidence=evidence, failures=failures)


def _mean_logprob(choice: dict[str, Any]) -> float | None:
    lps = [v for v in choice_token_logprobs(choice) if v is not None]
    return sum(lps) / len(lps) if lps else None


@check(
    "best_of.ranking",
    "best_of returns the n candidates with the highest mean token logprob, best first",
    rules.BEST_OF,
    """Four rounds, each with its own seed: n = 2, best_of = 5, logprobs 1, T = 1, max_tokens 4. The returned
    choices must be in descending order of mean token logprob. Where the candidates are observable — the
    same body with n = 5 and no best_of, under the contract's per-candidate seeding, yields them — the
    returned choices must be the two best of those five (ties to the lower index). A provider that ignores
    best_of returns the first two candidates, which are the two best with probability 1/10 per round.""",
)
def ranking(ctx: Context) -> Outcome:
    failures: list[str] = []
    notes: list[str] = []
    evidence = []
    rounds = []
    for _ in range(4):
        seed = ctx.next_seed()
        fields = {"prompt": PROMPT, "max_tokens": 4, "temperature": 1.0, "logprobs": 1, "seed": seed}
        ex = ctx.completion(n=2, best_of=5, **fields)
        evidence.append(ex.excerpt())
        data = ctx.ok(ex, "best_of")
        choices = sorted(data.get("choices") or [], key=lambda c: int(c.get("index", 0)))
        if len(choices) != 2:
            failures.append(f"seed {seed}: {len(choices)} choices returned, expected n = 2")
            continue
        scores = [_mean_logprob(c) for c in choices]
        if any(s is None for s in scores):
            failures.append(f"seed {seed}: returned choices lack token_logprobs")
            continue
        if scores[0] < scores[1] - 1e-9:
            failures.append(f"seed {seed}: index 0 mean logprob {scores[0]:.4f} < index 1 {scores[1]:.4f}")
        cand = sorted(ctx.ok(ctx.completion(n=5, **fields), "n").get("choices") or [],
                      key=lambda c: int(c.get("index", 0)))
        ctexts = [c.get("text") for c in cand]
        cscores = [_mean_logprob(c) for c in cand]
        returned = [c.get("text") for c in choices]
        rounds.append({"seed": seed, "returned": returned, "returned_scores": scores,
                       "candidates": ctexts, "candidate_scores": cscores})
        if len(cand) == 5 and all(t in ctexts for t in returned) and None not in cscores:
            order = sorted(range(5), key=lambda i: (-(cscores[i] or 0.0), i))
            best = [ctexts[i] for i in order[:2]]
            if returned != best:
                failures.append(f"seed {seed}: returned {returned}, the two best candidates are {best}")
        else:
            notes.append(f"seed {seed}: candidates not observable (n=5 twin does not contain the returned texts)")
    summary = "; ".join(failures[:2]) or ("ordered by mean logprob" + (f" ({len(notes)} rounds unobservable)"
                                                                      if notes else ", best of the candidates"))
    return Outcome(FAIL if failures else PASS, summary, evidence=evidence, details={"rounds": rounds, "notes": notes},
                   failures=failures)


@check(
    "best_of.errors",
    "best_of < n and best_of > 1 with stream are 400s naming best_of",
    rules.BEST_OF,
    "best_of = 2 with n = 3; best_of = 2 with stream true.",
)
def best_of_errors(ctx: Context) -> Outcome:
    failures = []
    evidence = []
    for extra in ({"n": 3, "best_of": 2}, {"best_of": 2, "stream": True}):
        ex = ctx.completion(prompt=PROMPT, max_tokens=2, **extra)
        evidence.append(ex.excerpt())
        if ex.status != 400 or error_param(ex) != "best_of":
            failures.append(f"{extra}: HTTP {ex.status}, error.param {error_param(ex)!r}; expected 400 naming best_of")
    return Outcome(FAIL if failures else PASS, "; ".join(failures) or "both rejected naming best_of",
                   evidence=evidence, failures=failures)
