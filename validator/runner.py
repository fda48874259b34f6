"""Run a selection of checks against a provider and decide their verdicts.

Verdict rules:
- A check that returns a verdict keeps it; one that raises :class:`Unsupported` / :class:`Skipped`
  gets ``unsupported`` / ``skipped``; any other exception is a ``fail`` with the error as evidence.
- A statistical check (verdict left to the runner) is a family of tests: their p-values are
  Holm-adjusted within the check, and the check fails when any adjusted p-value is <= ``alpha``
  or when it listed a deterministic failure. The reported minimum detectable effect uses alpha.
- ``--strict`` turns ``unsupported`` into ``fail`` (for the exit code and the table).
"""

from __future__ import annotations

import fnmatch
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from validator.checks import Check, catalogue
from validator.client import Client
from validator.context import (
    FAIL,
    PASS,
    SKIPPED,
    UNSUPPORTED,
    Context,
    Outcome,
    ProviderError,
    Settings,
    Skipped,
    Unsupported,
)
from validator.stats import holm


@dataclass
class Result:
    """A check's verdict and evidence, as reported."""

    check: Check
    verdict: str
    summary: str
    duration_s: float
    outcome: Outcome | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = self.outcome
        return {
            "id": self.check.id,
            "title": self.check.title,
            "verdict": self.verdict,
            "summary": self.summary,
            "rule": self.check.rule,
            "method": self.check.method,
            "statistical": self.check.statistical,
            "duration_s": round(self.duration_s, 3),
            "failures": out.failures if out else ([self.error] if self.error else []),
            "tests": [t.as_dict() for t in out.tests] if out else [],
            "details": out.details if out else {},
            "evidence": self.evidence,
        }


def select(patterns: str | None) -> list[Check]:
    """Checks whose id matches any comma-separated glob in ``patterns`` (all when empty), in catalogue order."""
    if not patterns:
        return catalogue()
    globs = [p.strip() for p in patterns.split(",") if p.strip()]
    return [c for c in catalogue() if any(fnmatch.fnmatchcase(c.id, g) for g in globs)]


def decide(outcome: Outcome, alpha: float) -> str:
    """The verdict of a statistical outcome: Holm within the check at ``alpha``."""
    if outcome.tests:
        adjusted = holm([t.p_value for t in outcome.tests])
        for t, p in zip(outcome.tests, adjusted, strict=True):
            t.p_holm = p
    if outcome.verdict is not None:
        return outcome.verdict
    if outcome.failures or any((t.p_holm or 0.0) <= alpha for t in outcome.tests):
        return FAIL
    return PASS


def run_check(chk: Check, ctx: Context) -> Result:
    t0 = time.perf_counter()
    try:
        outcome = chk.fn(ctx)
        verdict = decide(outcome, ctx.settings.alpha)
        if verdict == FAIL and outcome.verdict is None:
            outcome.failures += [f"{t.name}: Holm-adjusted p = {t.p_holm:.3g} <= alpha {ctx.settings.alpha:g}"
                                 for t in outcome.tests if t.p_holm is not None and t.p_holm <= ctx.settings.alpha]
        summary = outcome.summary
        if outcome.tests:
            pmin = min(t.p_holm if t.p_holm is not None else 1.0 for t in outcome.tests)
            summary += f" [min Holm p = {pmin:.3g}]"
        return Result(chk, verdict, summary, time.perf_counter() - t0, outcome, outcome.evidence)
    except Unsupported as exc:
        return Result(chk, UNSUPPORTED, str(exc), time.perf_counter() - t0, evidence=exc.evidence)
    except Skipped as exc:
        return Result(chk, SKIPPED, str(exc), time.perf_counter() - t0)
    except ProviderError as exc:
        ev = [exc.exchange.excerpt()] if exc.exchange else []
        return Result(chk, FAIL, str(exc), time.perf_counter() - t0, evidence=ev, error=str(exc))
    except Exception as exc:  # the provider said something the check could not digest: that is a failure
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Result(chk, FAIL, f"check raised {tb}", time.perf_counter() - t0, error=tb)


@dataclass
class Run:
    """A whole validation run."""

    base_url: str
    model: str
    settings: Settings
    results: list[Result]
    duration_s: float
    requests_sent: int
    strict: bool = False

    def effective(self, r: Result) -> str:
        return FAIL if self.strict and r.verdict == UNSUPPORTED else r.verdict

    @property
    def failed(self) -> bool:
        return any(self.effective(r) == FAIL for r in self.results)


def run_checks(client: Client, model: str, settings: Settings, checks: list[Check], strict: bool = False,
               on_start: Callable[[Check], None] | None = None, on_done: Callable[[Result], None] | None = None,
               on_progress: Callable[[str], None] | None = None) -> Run:
    """Run ``checks`` in order, sharing one context (probes are cached across checks)."""
    ctx = Context(client=client, model=model, settings=settings, on_progress=on_progress)
    t0 = time.perf_counter()
    results = []
    for chk in checks:
        if on_start:
            on_start(chk)
        r = run_check(chk, ctx)
        results.append(r)
        if on_done:
            on_done(r)
    return Run(client.base_url, model, settings, results, time.perf_counter() - t0, client.requests_sent, strict)
