"""What a check runs in and what it returns: the context (client, model, settings, seeds, request
helpers), the verdicts, the outcome and statistical-test records, and the exceptions a check raises.

A check ends by returning an :class:`Outcome` or raising one of:

- :class:`Unsupported` — the provider rejected a documented parameter with a clear 4xx error;
- :class:`Skipped` — the check cannot run against this provider (e.g. no tokenizer endpoint);
- any other exception — the check fails, with the exception as evidence (a provider that answers
  with something unparseable has failed, not crashed the validator).

``probing`` and every check import this module; it imports only the HTTP client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from validator.client import Client, Exchange

PASS, FAIL, UNSUPPORTED, SKIPPED = "pass", "fail", "unsupported", "skipped"
VERDICTS = (PASS, FAIL, UNSUPPORTED, SKIPPED)


class Unsupported(Exception):
    """A documented parameter was rejected with a clear error (verdict ``unsupported``)."""

    def __init__(self, reason: str, evidence: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.evidence = evidence or []


class Skipped(Exception):
    """The check cannot run here (verdict ``skipped``); the message says why."""


class ProviderError(Exception):
    """The provider answered a valid request with an error or an unparseable body (verdict ``fail``)."""

    def __init__(self, reason: str, exchange: Exchange | None = None) -> None:
        super().__init__(reason)
        self.exchange = exchange


@dataclass
class StatTest:
    """One statistical test inside a check; ``p_holm`` is filled in by the runner."""

    name: str
    statistic: float
    df: int
    p_value: float
    n: int
    min_detectable_w: float | None = None
    min_detectable_rate: float | None = None
    observed: dict[str, int] | None = None
    expected: dict[str, float] | None = None
    p_holm: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


@dataclass
class Outcome:
    """What a check found. ``verdict`` may be left ``None`` for purely statistical checks: the runner
    decides pass/fail from the Holm-adjusted p-values of ``tests`` at ``alpha``."""

    verdict: str | None
    summary: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    tests: list[StatTest] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@dataclass
class Settings:
    """Run-wide knobs (from the command line)."""

    samples: int = 4000
    alpha: float = 1e-4
    seed: int = 0
    quick: bool = False
    max_requests_per_check: int = 400
    time_budget_s: float = 60.0


@dataclass
class Context:
    """What a check may use: the client, the model name, settings and a shared cache."""

    client: Client
    model: str
    settings: Settings
    cache: dict[str, Any] = field(default_factory=dict)
    on_progress: Callable[[str], None] | None = None
    _seed_counter: int = 0

    # --- seeds -------------------------------------------------------------------------------
    def next_seed(self) -> int:
        """A fresh request seed, deterministic in ``settings.seed`` (so a run is reproducible)."""
        self._seed_counter += 1
        return (self.settings.seed * 1_000_003 + self._seed_counter * 7919) % (2**31 - 1)

    # --- requests ----------------------------------------------------------------------------
    def body(self, **fields: Any) -> dict[str, Any]:
        return {"model": self.model, **fields}

    def completion(self, **fields: Any) -> Exchange:
        """POST /completions with ``fields`` (model added)."""
        return self.client.post("/completions", self.body(**fields))

    def chat(self, **fields: Any) -> Exchange:
        """POST /chat/completions with ``fields`` (model added)."""
        return self.client.post("/chat/completions", self.body(**fields))

    def ok(self, ex: Exchange, params: str = "") -> dict[str, Any]:
        """The JSON body of a 200 answer; a 4xx becomes :class:`Unsupported`, anything else a failure."""
        if ex.status == 200:
            data = ex.json()
            if not isinstance(data, dict):
                raise ProviderError(f"{ex.path}: 200 with a body that is not a JSON object", ex)
            return data
        if 400 <= ex.status < 500 and ex.status not in (401, 403, 404):
            raise Unsupported(
                f"{ex.path} rejected a documented request{' (' + params + ')' if params else ''}: "
                f"HTTP {ex.status} {ex.text[:200]}",
                [ex.excerpt()],
            )
        raise ProviderError(f"{ex.path}: HTTP {ex.status}: {ex.text[:300]}", ex)

    def progress(self, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(message)

    def deadline(self) -> float:
        """Monotonic time by which a sampling loop must stop."""
        return time.monotonic() + self.settings.time_budget_s
