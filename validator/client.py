"""Raw HTTP access to the provider under test.

The validator must send values a typed client would refuse (out-of-range temperatures, 21 stop
strings, ...), so it speaks plain JSON over ``httpx``. Every exchange is bounded by a timeout, and
the client keeps a short log of exchanges so that checks can attach them as evidence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

#: How much of a response body evidence keeps (characters).
EXCERPT_CHARS = 600


class ProviderUnreachable(RuntimeError):
    """The provider could not be reached at all (connection refused, DNS, timeout on /models)."""


@dataclass
class Exchange:
    """One HTTP request and what came back."""

    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    text: str
    elapsed_s: float
    events: list[str] | None = None  # SSE ``data:`` payloads, in order, for streamed requests

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def excerpt(self) -> dict[str, Any]:
        """A short, JSON-serialisable summary for reports."""
        out: dict[str, Any] = {
            "request": f"{self.method} {self.path}",
            "body": self.body,
            "status": self.status,
            "response": self.text[:EXCERPT_CHARS] + ("..." if len(self.text) > EXCERPT_CHARS else ""),
        }
        if self.events is not None:
            out["events"] = len(self.events)
        return out


@dataclass
class Client:
    """A provider at ``base_url`` (ending in ``/v1``), optionally with a bearer key."""

    base_url: str
    api_key: str | None = None
    timeout_s: float = 60.0
    concurrency: int = 4
    _http: httpx.Client = field(init=False, repr=False)
    requests_sent: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        limits = httpx.Limits(max_connections=max(1, self.concurrency) + 2)
        self._http = httpx.Client(headers=headers, timeout=self.timeout_s, limits=limits)

    @property
    def root_url(self) -> str:
        """The server root (``base_url`` without its trailing ``/v1``), where ``/extras`` lives."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def close(self) -> None:
        self._http.close()

    def _url(self, path: str) -> str:
        if path.startswith("/extras"):
            return self.root_url + path
        return self.base_url + path

    def get(self, path: str) -> Exchange:
        t0 = time.perf_counter()
        self.requests_sent += 1
        r = self._http.get(self._url(path))
        return Exchange("GET", path, None, r.status_code, r.text, time.perf_counter() - t0)

    def post(self, path: str, body: dict[str, Any]) -> Exchange:
        """POST ``body`` as JSON; transport failures become status 0 with the error as text."""
        t0 = time.perf_counter()
        self.requests_sent += 1
        try:
            r = self._http.post(self._url(path), json=body)
        except httpx.HTTPError as exc:
            return Exchange("POST", path, body, 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        return Exchange("POST", path, body, r.status_code, r.text, time.perf_counter() - t0)

    def stream(self, path: str, body: dict[str, Any], max_events: int = 5000) -> Exchange:
        """POST a streaming request; collect the SSE ``data:`` payloads (bounded by ``max_events``)."""
        t0 = time.perf_counter()
        self.requests_sent += 1
        events: list[str] = []
        raw_lines: list[str] = []
        try:
            with self._http.stream("POST", self._url(path), json=body) as r:
                if r.status_code != 200:
                    r.read()
                    return Exchange("POST", path, body, r.status_code, r.text, time.perf_counter() - t0, [])
                for line in r.iter_lines():
                    raw_lines.append(line)
                    if line.startswith("data:"):
                        events.append(line[5:].strip())
                        if len(events) >= max_events:
                            break
                status = r.status_code
        except httpx.HTTPError as exc:
            return Exchange("POST", path, body, 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0, events)
        return Exchange("POST", path, body, status, "\n".join(raw_lines), time.perf_counter() - t0, events)

    def post_many(self, path: str, bodies: Iterable[dict[str, Any]]) -> list[Exchange]:
        """POST several bodies with at most ``concurrency`` in flight; results in input order."""
        bodies = list(bodies)
        if self.concurrency <= 1 or len(bodies) <= 1:
            return [self.post(path, b) for b in bodies]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda b: self.post(path, b), bodies))


def probe(client: Client) -> Exchange:
    """GET /models; raise :class:`ProviderUnreachable` when nothing answers."""
    try:
        ex = client.get("/models")
    except httpx.HTTPError as exc:
        raise ProviderUnreachable(f"cannot reach {client.base_url}/models: {type(exc).__name__}: {exc}") from exc
    return ex
