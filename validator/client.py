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
#: Paths served at the server root rather than under ``/v1`` (oairef's extras, vLLM's and llama.cpp's tokenizer).
ROOT_PATHS = ("/extras", "/tokenize")


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
    retried: str | None = None  # the transport failure that made the client send it again, if any

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
        if self.retried:
            out["retried_after"] = self.retried
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
    #: Transport failures retried once on a fresh connection: ``"POST /path: ErrorType: message"``.
    transport_retries: list[str] = field(default_factory=list, init=False)

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
        if path.startswith(ROOT_PATHS):
            return self.root_url + path
        return self.base_url + path

    def get(self, path: str) -> Exchange:
        t0 = time.perf_counter()
        self.requests_sent += 1
        r = self._http.get(self._url(path))
        return Exchange("GET", path, None, r.status_code, r.text, time.perf_counter() - t0)

    def _fresh(self) -> httpx.Client:
        """A one-off client (a new connection) with this client's headers and timeout."""
        return httpx.Client(headers=dict(self._http.headers), timeout=self.timeout_s)

    def post(self, path: str, body: dict[str, Any]) -> Exchange:
        """POST ``body`` as JSON. A transport failure (e.g. a kept-alive connection the server closed) is
        retried once on a fresh connection and recorded in ``transport_retries``; a second one becomes
        status 0 with the error as text. A timeout is not retried (the bound would double)."""
        t0 = time.perf_counter()
        self.requests_sent += 1
        try:
            r = self._http.post(self._url(path), json=body)
        except httpx.TimeoutException as exc:
            return Exchange("POST", path, body, 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        except httpx.TransportError as exc:
            first = f"{type(exc).__name__}: {exc}"
            self.transport_retries.append(f"POST {path}: {first}")
            self.requests_sent += 1
            try:
                with self._fresh() as fresh:
                    r = fresh.post(self._url(path), json=body)
            except httpx.HTTPError as exc2:
                return Exchange("POST", path, body, 0, f"{type(exc2).__name__}: {exc2} (retried after {first})",
                                time.perf_counter() - t0, retried=first)
            return Exchange("POST", path, body, r.status_code, r.text, time.perf_counter() - t0, retried=first)
        except httpx.HTTPError as exc:
            return Exchange("POST", path, body, 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        return Exchange("POST", path, body, r.status_code, r.text, time.perf_counter() - t0)

    def stream(self, path: str, body: dict[str, Any], max_events: int = 5000) -> Exchange:
        """POST a streaming request; collect the SSE ``data:`` payloads (bounded by ``max_events``). A
        transport failure before any byte arrived is retried once on a fresh connection (recorded)."""
        t0 = time.perf_counter()
        self.requests_sent += 1
        ex = self._stream_once(self._http, path, body, max_events, t0)
        if isinstance(ex, Exchange):
            return ex
        first, events = ex
        if events:
            return Exchange("POST", path, body, 0, first, time.perf_counter() - t0, events)
        self.transport_retries.append(f"POST {path} (stream): {first}")
        self.requests_sent += 1
        with self._fresh() as fresh:
            again = self._stream_once(fresh, path, body, max_events, t0)
        if isinstance(again, Exchange):
            again.retried = first
            return again
        return Exchange("POST", path, body, 0, f"{again[0]} (retried after {first})", time.perf_counter() - t0,
                        again[1], retried=first)

    def _stream_once(self, http: httpx.Client, path: str, body: dict[str, Any], max_events: int,
                     t0: float) -> Exchange | tuple[str, list[str]]:
        """One streamed exchange, or ``(transport error, events received before it)``."""
        events: list[str] = []
        raw_lines: list[str] = []
        try:
            with http.stream("POST", self._url(path), json=body) as r:
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
        except httpx.TimeoutException as exc:
            return Exchange("POST", path, body, 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0, events)
        except httpx.TransportError as exc:
            # bytes already received mean the request reached the server: no retry then
            return f"{type(exc).__name__}: {exc}", events if events or not raw_lines else ["<partial>"]
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
