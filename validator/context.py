"""What a check runs in and what it returns: the context (client, model, settings, seeds, request
helpers), the verdicts, the outcome and statistical-test records, and the exceptions a check raises.

A check ends by returning an :class:`Outcome` or raising one of:

- :class:`Unsupported` — the provider rejected a documented parameter with a clear 4xx error;
- :class:`Skipped` — the check cannot run against this provider (e.g. no tokenizer endpoint);
- :class:`NoAnswer` — the provider gave no usable answer (no connection, the exchange deadline, a
  hang-up, or the client stopped after several of those): verdict ``error``, the check was not judged;
- any other exception — the check fails, with the exception as evidence (a provider that answers
  with something unparseable has failed, not crashed the validator).

A check that covers both endpoints reports one :class:`Part` per endpoint (``checks.base.per_endpoint``).

``probing`` and every check import this module; it imports only the HTTP client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from validator.client import Client, Exchange
from validator.endpoints import ENDPOINT_NAMES

PASS, FAIL, UNSUPPORTED, SKIPPED, ERROR = "pass", "fail", "unsupported", "skipped", "error"
VERDICTS = (PASS, FAIL, UNSUPPORTED, SKIPPED, ERROR)
#: How the statistical checks may use reported logprobs (``--logprobs``): use them when the provider
#: reports them, else samples alone; require them; never use them.
LOGPROBS_AUTO, LOGPROBS_REQUIRE, LOGPROBS_NEVER = "auto", "require", "never"
LOGPROBS_CHOICES = (LOGPROBS_AUTO, LOGPROBS_REQUIRE, LOGPROBS_NEVER)
#: The two methods a statistical sub-test can use.
METHOD_LOGPROBS, METHOD_SAMPLES = "logprobs", "samples"


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


class NoAnswer(Exception):
    """The provider gave no usable answer to an exchange (verdict ``error``: not judged)."""

    def __init__(self, reason: str, exchange: Exchange | None = None) -> None:
        super().__init__(reason)
        self.exchange = exchange


class ProviderStopped(NoAnswer):
    """Several exchanges in a row got no answer: the provider stopped answering."""


@dataclass
class StatTest:
    """One statistical test inside a check; ``p_holm`` is filled in by the runner.

    ``min_detectable_w`` / ``min_detectable_rate`` state the power (99 %) in the test's own units;
    ``detectable`` in the units of the parameter under test (e.g. "applied T outside [0.44, 0.57]")."""

    name: str
    statistic: float
    df: int
    p_value: float
    n: int
    min_detectable_w: float | None = None
    min_detectable_rate: float | None = None
    observed: dict[str, Any] | None = None
    expected: dict[str, Any] | None = None
    p_holm: float | None = None
    note: str = ""
    endpoint: str = ""
    method: str = ""
    detectable: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


@dataclass
class Part:
    """One endpoint's share of a check: its verdict (``None`` until the runner decides it from the
    endpoint's tests and failures), what it found, and the method it used."""

    endpoint: str
    verdict: str | None
    summary: str = ""
    method: str = ""
    failures: list[str] = field(default_factory=list)
    rejected: bool = False  # unsupported because a documented parameter was rejected (not a missing endpoint)

    def as_dict(self) -> dict[str, Any]:
        out = {"endpoint": self.endpoint, "verdict": self.verdict, "summary": self.summary}
        if self.method:
            out["method"] = self.method
        return out


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
    parts: list[Part] = field(default_factory=list)
    method: str = ""


@dataclass
class Settings:
    """Run-wide knobs (from the command line)."""

    samples: int = 4000
    alpha: float = 1e-4
    seed: int = 0
    quick: bool = False
    max_requests_per_check: int = 400
    time_budget_s: float = 60.0
    endpoints: tuple[str, ...] = ENDPOINT_NAMES
    logprobs: str = LOGPROBS_AUTO
    strict: bool = False


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

    # --- requests: every helper returns an answered exchange or raises NoAnswer ----------------
    def answered(self, ex: Exchange) -> Exchange:
        """``ex`` if the provider answered it; :class:`NoAnswer` / :class:`ProviderStopped` otherwise."""
        if not ex.transport:
            return ex
        if self.client.stopped:
            raise ProviderStopped(self.client.stopped_reason(), ex)
        raise NoAnswer(f"{ex.method} {ex.path}: {ex.text}", ex)

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"model": self.model, **fields}

    def get(self, path: str) -> Exchange:
        return self.answered(self.client.get(path))

    def post(self, path: str, body: dict[str, Any]) -> Exchange:
        """POST ``body`` as is (the model is not added)."""
        return self.answered(self.client.post(path, body))

    def stream(self, path: str, body: dict[str, Any]) -> Exchange:
        """A streamed exchange, cut after four times the events the request can legitimately produce
        (``n`` choices of ``max_tokens`` tokens, one event each, plus openings, finishes, usage, [DONE])."""
        n = body.get("n") if isinstance(body.get("n"), int) else 1
        tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 16
        return self.answered(self.client.stream(path, body, max_events=max(50, 4 * (n * (tokens + 3) + 3))))

    def post_many(self, path: str, bodies: list[dict[str, Any]]) -> list[Exchange]:
        return [self.answered(ex) for ex in self.client.post_many(path, bodies)]

    def completion(self, **fields: Any) -> Exchange:
        """POST /completions with ``fields`` (model added)."""
        return self.post("/completions", self.body(**fields))

    def chat(self, **fields: Any) -> Exchange:
        """POST /chat/completions with ``fields`` (model added)."""
        return self.post("/chat/completions", self.body(**fields))

    def ok(self, ex: Exchange, params: str = "") -> dict[str, Any]:
        """The JSON body of a 200 answer; a 4xx becomes :class:`Unsupported`, anything else a failure."""
        self.answered(ex)
        if ex.failure is not None:
            raise ProviderError(f"{ex.path}: {ex.failure}", ex)
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
