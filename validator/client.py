"""Raw HTTP access to the provider under test, bounded in time and size.

The validator must send values a typed client would refuse (out-of-range temperatures, 21 stop
strings, ...), so it speaks plain JSON over ``httpx``. Rules:

- **A total deadline per exchange** (``timeout_s``, from the first byte sent to the last byte read),
  not only between bytes: every socket read and write waits at most the time left (a network backend
  that bounds each operation by a per-thread deadline), so a provider that never answers, or drips
  one byte at a time — headers included —, ends the exchange when its deadline passes.
- **Caps**: a body larger than ``max_body_bytes``, or a stream with more than ``max_events`` events
  (or bytes beyond the body cap), is cut there; the exchange then records why (``failure``) and keeps
  the status it had. That is an answer, and a wrong one.
- **Transport failures** — no connection, the deadline passed, the provider hung up mid-body —
  give ``status 0`` with the error as text (``transport`` is true). An error other than the deadline
  is retried once, on a fresh connection and within the same deadline (the validator's requests are
  seeded, so repeatable; servers close kept-alive connections under a client's feet, and the pool's
  other idle connections may be closed too). Every retry is recorded (``transport_retries``, and the
  exchange's ``retried``) so the report says so. A **429** (the provider is busy) is sent again after the
  wait it asks for, up to ``RATE_LIMIT_RETRIES`` times within the deadline, and listed there too: a busy
  provider is not one that rejects a parameter. After ``max_failures`` failures in
  a row the client stops sending: every later exchange is a transport failure at once ("the
  provider stopped answering"), so a dead provider costs a few deadlines, not one per request.
- The client counts requests (``requests_sent``) so the report can say what each check cost.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

#: How much of a response body evidence keeps (characters).
EXCERPT_CHARS = 600
#: Default total deadline of one exchange (seconds).
DEFAULT_TIMEOUT_S = 30.0
#: The largest response body read (bytes); no answer of the validator's requests comes near it.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: The most server-sent events read from one stream (the validator's streams have a few dozen).
MAX_EVENTS = 2000
#: Transport failures in a row after which the provider is taken to have stopped answering.
MAX_CONSECUTIVE_FAILURES = 3
#: How often an exchange is sent again, on a fresh connection within its deadline, after a transport
#: error that is not the deadline (connection reset or refused, hang-up): every request the validator
#: sends is seeded and safe to repeat, and servers do close kept-alive connections under a client's feet.
TRANSPORT_RETRIES = 1
#: How often an exchange answered 429 (the provider is busy) is sent again, after the ``Retry-After`` it
#: asks for (else 0.5 s, doubling), within the exchange's deadline; a 429 that outlasts them is the answer.
RATE_LIMIT_RETRIES = 4
#: The longest wait a ``Retry-After`` header is taken at (seconds); the deadline bounds it too.
MAX_RETRY_AFTER_S = 10.0
#: Paths served at the server root rather than under ``/v1``: oairef's and llama-cpp-python's
#: ``/extras``, vLLM's and llama.cpp's ``/tokenize``.
ROOT_PATHS = ("/extras", "/tokenize")
STOPPED = "the provider stopped answering"


class ProviderUnreachable(RuntimeError):
    """The provider could not be reached at all (connection refused, DNS, timeout on /models)."""


# ------------------------------------------------------------------------------ deadline backend
_deadline = threading.local()


class DeadlineExceeded(httpcore.TimeoutException):
    """The exchange's total deadline passed."""


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` shortened to the time left before this thread's exchange deadline."""
    dl = getattr(_deadline, "at", None)
    if dl is None:
        return timeout
    left = dl - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the exchange's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read and write waits at most until the exchange deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend with every connect, read and write bounded by the deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _bounded(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _transport(max_connections: int) -> httpx.HTTPTransport:
    """httpx's transport over a connection pool that uses the deadline backend."""
    transport = httpx.HTTPTransport(limits=httpx.Limits(max_connections=max_connections))
    # httpx builds its pool without a backend option; swap in one with the same limits and ours.
    transport._pool = httpcore.ConnectionPool(max_connections=max_connections,  # noqa: SLF001
                                              network_backend=_DeadlineBackend())
    return transport


# ------------------------------------------------------------------------------------ exchanges
def retry_after_s(headers: httpx.Headers, earlier: int) -> float:
    """How long to wait before sending a 429'd request again: ``retry-after-ms`` or ``Retry-After``
    (seconds) when given and sane, else 0.5 s doubled per ``earlier`` retry; at most
    ``MAX_RETRY_AFTER_S``."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if 0 <= value < float("inf"):
            return min(value, MAX_RETRY_AFTER_S)
    return min(0.5 * 2 ** earlier, MAX_RETRY_AFTER_S)


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
    failure: str | None = None  # why the answer is incomplete or missing (a cap, the deadline, ...)
    retried: str | None = None  # the transport error after which it was sent again on a fresh connection

    @property
    def transport(self) -> bool:
        """Nothing usable came back (no connection, deadline, hang-up, or the client had stopped)."""
        return self.status == 0

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is not JSON (or was cut by a cap)."""
        if self.failure is not None:
            return None
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
        if self.failure is not None:
            out["failure"] = self.failure
        if self.retried is not None:
            out["retried_after"] = self.retried
        return out


@dataclass
class Client:
    """A provider at ``base_url`` (ending in ``/v1``), optionally with a bearer key."""

    base_url: str
    api_key: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    concurrency: int = 4
    max_body_bytes: int = MAX_BODY_BYTES
    max_events: int = MAX_EVENTS
    max_failures: int = MAX_CONSECUTIVE_FAILURES
    _http: httpx.Client = field(init=False, repr=False)
    requests_sent: int = field(default=0, init=False)
    consecutive_failures: int = field(default=0, init=False)
    last_failure: str | None = field(default=None, init=False)
    #: Exchanges sent again on a fresh connection: ``"POST /path: ErrorType: message"``, in order.
    transport_retries: list[str] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        conns = max(1, self.concurrency) + 2
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout_s),
                                  transport=_transport(conns))

    def _fresh(self) -> httpx.Client:
        """A one-off client with this client's headers, timeout and deadline backend: a new connection."""
        return httpx.Client(headers=self._http.headers, timeout=httpx.Timeout(self.timeout_s), transport=_transport(1))

    @property
    def root_url(self) -> str:
        """The server root (``base_url`` without its trailing ``/v1``), where ``/extras`` lives."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    @property
    def stopped(self) -> bool:
        """Whether ``max_failures`` transport failures in a row have been seen."""
        return self.consecutive_failures >= self.max_failures

    def stopped_reason(self) -> str:
        return f"{STOPPED} ({self.consecutive_failures} transport failures in a row; last: {self.last_failure})"

    def close(self) -> None:
        self._http.close()

    def _url(self, path: str) -> str:
        if path.startswith(ROOT_PATHS):
            return self.root_url + path
        return self.base_url + path

    def _record(self, ex: Exchange) -> Exchange:
        with self._lock:
            if ex.transport:
                self.consecutive_failures += 1
                self.last_failure = ex.text[:200]
            else:
                self.consecutive_failures = 0
        return ex

    def _exchange(self, method: str, path: str, body: dict[str, Any] | None, stream: bool,
                  max_events: int | None = None) -> Exchange:
        with self._lock:
            if self.stopped:
                return Exchange(method, path, body, 0, self.stopped_reason(), 0.0, [] if stream else None, STOPPED)
            self.requests_sent += 1
        t0 = time.perf_counter()
        _deadline.at = time.monotonic() + self.timeout_s
        retried: str | None = None
        transport_left, busy_left = TRANSPORT_RETRIES, RATE_LIMIT_RETRIES
        try:
            while True:
                events: list[str] | None = [] if stream else None
                http = self._http if retried is None else self._fresh()
                try:
                    with http.stream(method, self._url(path), json=body) as r:
                        text, failure = self._read(r, events, max_events or self.max_events)
                        status, wait = r.status_code, retry_after_s(r.headers, RATE_LIMIT_RETRIES - busy_left)
                except httpx.TimeoutException as exc:
                    ex = Exchange(method, path, body, 0, f"no complete answer within the {self.timeout_s:g} s "
                                  f"deadline ({type(exc).__name__})", time.perf_counter() - t0, events, "deadline",
                                  retried)
                    return self._record(ex)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    if transport_left:
                        # e.g. a kept-alive connection the server had just closed: the same request again,
                        # on a new connection (the pool's other idle ones may have been closed as well)
                        transport_left, retried = transport_left - 1, error
                        with self._lock:
                            self.transport_retries.append(f"{method} {path}: {error}")
                        continue
                    ex = Exchange(method, path, body, 0, error + (f" (retried after {retried})" if retried else ""),
                                  time.perf_counter() - t0, events, "transport", retried)
                    return self._record(ex)
                finally:
                    if http is not self._http:
                        http.close()
                if status == 429 and busy_left and time.monotonic() + wait < _deadline.at:
                    # the provider is busy, not refusing: wait as it asks, within this exchange's deadline
                    busy_left -= 1
                    with self._lock:
                        self.transport_retries.append(f"{method} {path}: HTTP 429, sent again after {wait:.2f} s")
                    time.sleep(wait)
                    continue
                break
        finally:
            _deadline.at = None
        return self._record(Exchange(method, path, body, status, text, time.perf_counter() - t0, events, failure,
                                     retried))

    def _read(self, r: httpx.Response, events: list[str] | None, max_events: int) -> tuple[str, str | None]:
        """The body (or, for streams, the raw lines with ``events`` filled in) and the cap it hit, if any.
        Both are read in chunks and counted as they arrive: a line without end is cut at the byte cap too."""
        size, chunks = 0, []
        if events is None or r.status_code != 200:
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    head = b"".join(chunks)[:EXCERPT_CHARS].decode("utf-8", "replace")
                    return head, f"the body exceeds the {self.max_body_bytes} byte cap"
                chunks.append(chunk)
            return b"".join(chunks).decode(r.encoding or "utf-8", "replace"), None
        lines: list[str] = []
        pending = bytearray()
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                tail = lines[-20:] + [bytes(pending[:EXCERPT_CHARS]).decode("utf-8", "replace")]
                return "\n".join(tail), f"the stream exceeds the {self.max_body_bytes} byte cap"
            pending += chunk
            if b"\n" not in chunk:
                continue
            *complete, rest = bytes(pending).split(b"\n")
            pending = bytearray(rest)
            for raw in complete:
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                lines.append(line)
                if line.startswith("data:"):
                    events.append(line[5:].strip())
                if len(events) > max_events:
                    return "\n".join(lines[-20:]), f"the stream did not end within {max_events} events"
        if pending:
            line = bytes(pending).rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if line.startswith("data:"):
                events.append(line[5:].strip())
        return "\n".join(lines), None

    def get(self, path: str) -> Exchange:
        return self._exchange("GET", path, None, stream=False)

    def post(self, path: str, body: dict[str, Any]) -> Exchange:
        """POST ``body`` as JSON (transport failures become status 0 with the error as text)."""
        return self._exchange("POST", path, body, stream=False)

    def stream(self, path: str, body: dict[str, Any], max_events: int | None = None) -> Exchange:
        """POST a streaming request; collect the SSE ``data:`` payloads (at most ``max_events``, default
        ``self.max_events``, and the body cap)."""
        return self._exchange("POST", path, body, stream=True, max_events=max_events)

    def post_many(self, path: str, bodies: Iterable[dict[str, Any]]) -> list[Exchange]:
        """POST several bodies with at most ``concurrency`` in flight; results in input order."""
        bodies = list(bodies)
        if self.concurrency <= 1 or len(bodies) <= 1:
            return [self.post(path, b) for b in bodies]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda b: self.post(path, b), bodies))


def probe(client: Client) -> Exchange:
    """GET /models; raise :class:`ProviderUnreachable` when nothing answers."""
    ex = client.get("/models")
    if ex.transport:
        raise ProviderUnreachable(f"cannot reach {client.base_url}/models: {ex.text}")
    return ex
