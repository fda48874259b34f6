"""Run a selection of checks against a provider and decide their verdicts.

Verdict rules:
- A check that returns a verdict keeps it; one that raises :class:`Unsupported` / :class:`Skipped`
  gets ``unsupported`` / ``skipped``; one that raises :class:`NoAnswer` (no connection, the exchange
  deadline, a hang-up) gets ``error`` — not judged; any other exception is a ``fail`` with the error
  as evidence.
- A statistical check is a family of tests: their p-values are Holm-adjusted within the check (both
  endpoints together), and a part (one endpoint) fails when any of its adjusted p-values is <= ``alpha``
  or it listed a deterministic failure. The reported minimum detectable effect uses alpha.
- A check with parts: ``fail`` if any part fails; else ``unsupported`` if a part's documented parameter
  was rejected; else ``pass`` if any part passed (an endpoint the provider lacks is listed, not failed);
  else ``unsupported`` / ``skipped``.
- Once the client has seen several transport failures in a row, every remaining check ends as
  ``error`` ("the provider stopped answering") without sending anything.
- ``--strict`` turns ``unsupported`` into ``fail`` (for the exit code and the table).
- Exit status of a run: 1 when a check failed (judged and failed), else 2 when a check could not be
  judged (``error``), else 0.
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
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    UNSUPPORTED,
    Context,
    NoAnswer,
    Outcome,
    Part,
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
    requests: int = 0
    #: Exchanges of this check sent again on a fresh connection after a transport error (client.py).
    retries: list[str] = field(default_factory=list)

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
            "requests": self.requests,
            "transport_retries": self.retries,
            "parts": [p.as_dict() for p in out.parts] if out else [],
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


def _part_verdict(part: Part, outcome: Outcome, alpha: float) -> str:
    if part.verdict is not None:
        return part.verdict
    rejected = any(t.p_holm is not None and t.p_holm <= alpha for t in outcome.tests if t.endpoint == part.endpoint)
    return FAIL if part.failures or rejected else PASS


def combine(parts: list[Part]) -> str:
    """The check's verdict from its parts' (see the module docstring)."""
    verdicts = [p.verdict for p in parts]
    if FAIL in verdicts:
        return FAIL
    if any(p.verdict == UNSUPPORTED and p.rejected for p in parts):
        return UNSUPPORTED
    if PASS in verdicts:
        return PASS
    return UNSUPPORTED if UNSUPPORTED in verdicts else SKIPPED


def decide(outcome: Outcome, alpha: float) -> str:
    """The verdict of an outcome: Holm within the check at ``alpha``, then per part, then combined."""
    if outcome.tests:
        adjusted = holm([t.p_value for t in outcome.tests])
        for t, p in zip(outcome.tests, adjusted, strict=True):
            t.p_holm = p
    for part in outcome.parts:
        part.verdict = _part_verdict(part, outcome, alpha)
    if outcome.verdict is not None:
        return outcome.verdict
    if outcome.parts:
        return combine(outcome.parts)
    if outcome.failures or any((t.p_holm or 0.0) <= alpha for t in outcome.tests):
        return FAIL
    return PASS


def run_check(chk: Check, ctx: Context) -> Result:
    t0 = time.perf_counter()
    sent0 = ctx.client.requests_sent
    retried0 = len(ctx.client.transport_retries)

    def done(verdict: str, summary: str, **kw: Any) -> Result:
        return Result(chk, verdict, summary, time.perf_counter() - t0, requests=ctx.client.requests_sent - sent0,
                      retries=ctx.client.transport_retries[retried0:], **kw)

    if ctx.client.stopped:
        return done(ERROR, ctx.client.stopped_reason(), error=ctx.client.stopped_reason())
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
        return done(verdict, summary, outcome=outcome, evidence=outcome.evidence)
    except Unsupported as exc:
        return done(UNSUPPORTED, str(exc), evidence=exc.evidence)
    except Skipped as exc:
        return done(SKIPPED, str(exc))
    except NoAnswer as exc:
        ev = [exc.exchange.excerpt()] if exc.exchange else []
        return done(ERROR, f"no answer: {exc}", evidence=ev, error=str(exc))
    except ProviderError as exc:
        ev = [exc.exchange.excerpt()] if exc.exchange else []
        return done(FAIL, str(exc), evidence=ev, error=str(exc))
    except Exception as exc:  # the provider said something the check could not digest: that is a failure
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return done(FAIL, f"check raised {tb}", error=tb)


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
    transport_retries: list[str] = field(default_factory=list)

    def effective(self, r: Result) -> str:
        return FAIL if self.strict and r.verdict == UNSUPPORTED else r.verdict

    @property
    def failed(self) -> bool:
        return any(self.effective(r) == FAIL for r in self.results)

    @property
    def unjudged(self) -> bool:
        return any(r.verdict == ERROR for r in self.results)

    @property
    def exit_status(self) -> int:
        """1 judged and failed, 2 could not judge (a check ended in ``error``), 0 otherwise."""
        return 1 if self.failed else 2 if self.unjudged else 0


def not_judged(base_url: str, model: str, settings: Settings, checks: list[Check], reason: str,
               strict: bool = False) -> Run:
    """A run in which no check could be judged (the provider could not be reached or named a model)."""
    return Run(base_url, model, settings, [Result(c, ERROR, reason, 0.0, error=reason) for c in checks], 0.0, 0,
               strict)


def run_checks(client: Client, model: str, settings: Settings, checks: list[Check], strict: bool = False,
               on_start: Callable[[Check], None] | None = None, on_done: Callable[[Result], None] | None = None,
               on_progress: Callable[[str], None] | None = None) -> Run:
    """Run ``checks`` in order, sharing one context (probes are cached across checks)."""
    strict = strict or settings.strict
    settings.strict = strict
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
    return Run(client.base_url, model, settings, results, time.perf_counter() - t0, client.requests_sent, strict,
               list(client.transport_retries))
