"""The reference provider: an OpenAI-compatible FastAPI app over oairef's sampler.

``create_app(model, ...)`` builds the app; ``run_in_thread(...)`` serves one on a free loopback
port for tests and for ``oairef validate``'s embedded target. Rules:

- Endpoints: ``GET /v1/models``, ``GET /v1/models/{model}``, ``POST /v1/completions``,
  ``POST /v1/chat/completions`` (JSON or SSE), ``POST /extras/tokenize``, ``POST /extras/detokenize``,
  and ``GET /health`` (no key needed).
- When ``api_keys`` is non-empty every endpoint needs ``Authorization: Bearer <one of them>`` (401).
- Errors are OpenAI-shaped (``conformance.errors``); generation runs in the threadpool, never on the
  event loop; a client that goes away stops its generation.
- ``logprobs_mode``: ``"raw"`` (default; the model's unmodified log-softmax) or ``"processed"``.
- ``fault``: a test-only departure from the contract (``conformance.faults``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request

from conformance.errors import APIError, install_error_handlers, model_not_found
from conformance.faults import NO_FAULT, Fault, get_fault

LOGPROBS_MODES = ("raw", "processed")


@dataclass
class Stats:
    """Counters the tests read to see generation start, finish and be cancelled (thread-safe)."""

    active: int = 0
    started: int = 0
    finished: int = 0
    cancelled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self) -> None:
        with self.lock:
            self.active += 1
            self.started += 1

    def end(self, *, cancelled: bool) -> None:
        with self.lock:
            self.active -= 1
            self.finished += 1
            if cancelled:
                self.cancelled += 1


@dataclass
class ServerState:
    """What every route needs: the model, options, fault and counters."""

    model: Any
    api_keys: tuple[str, ...]
    logprobs_mode: str
    fault: Fault
    created: int
    stats: Stats

    @property
    def model_id(self) -> str:
        return str(getattr(self.model, "name", "tiny"))

    @property
    def effective_logprobs_mode(self) -> str:
        return self.fault.logprobs_mode or self.logprobs_mode

    def check_model(self, requested: str) -> None:
        """404 ``model_not_found`` unless ``requested`` is the served model's id."""
        if requested != self.model_id:
            raise model_not_found(requested)


def get_state(request: Request) -> ServerState:
    """The app's ``ServerState``."""
    return request.app.state.oairef


def require_api_key(request: Request) -> None:
    """401 unless the server has no keys or the request's bearer token is one of them."""
    state = get_state(request)
    if not state.api_keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise APIError(401, "You didn't provide an API key. Provide it as 'Authorization: Bearer KEY'.",
                       code="invalid_api_key")
    if token.strip() not in state.api_keys:
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")


def load_model(spec: Any) -> Any:
    """``"tiny"`` -> the sampler's built-in tiny model; a ``.gguf`` path -> ``LlamaModel``;
    anything else with ``logits`` is taken as a model already."""
    if not isinstance(spec, str):
        return spec
    if spec.endswith(".gguf"):
        from conformance.llama_model import LlamaModel

        return LlamaModel(spec)
    if spec.lower() in ("smollm2", "smollm2-135m"):
        from conformance.llama_model import LlamaModel, smollm2_path

        return LlamaModel(smollm2_path(), name="SmolLM2-135M-Instruct")
    from sampler import load_model as load_builtin

    return load_builtin(spec)


def create_app(model: Any, *, api_keys: Sequence[str] = (), logprobs_mode: str = "raw",
               fault: str | Fault | None = None) -> FastAPI:
    """The reference provider's FastAPI app serving ``model`` (a Model, ``"tiny"`` or a GGUF path)."""
    if logprobs_mode not in LOGPROBS_MODES:
        raise ValueError(f"logprobs_mode must be one of {LOGPROBS_MODES}, got {logprobs_mode!r}")
    fault_obj = fault if isinstance(fault, Fault) else get_fault(fault)
    from conformance import routes_completions, routes_extras, routes_models

    app = FastAPI(title="oairef reference provider", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.oairef = ServerState(
        model=load_model(model),
        api_keys=tuple(api_keys),
        logprobs_mode=logprobs_mode,
        fault=fault_obj or NO_FAULT,
        created=int(time.time()),
        stats=Stats(),
    )
    install_error_handlers(app, fault_obj.shape_error)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        """Liveness probe (no key needed): ``{"status": "ok", "model": id}``."""
        return {"status": "ok", "model": app.state.oairef.model_id}

    deps = [Depends(require_api_key)]
    app.include_router(routes_models.router, prefix="/v1", dependencies=deps)
    app.include_router(routes_completions.router, prefix="/v1", dependencies=deps)
    app.include_router(routes_extras.router, prefix="/extras", dependencies=deps)
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn's ``sockets=``, created with ``IPPROTO_TCP`` explicitly.

    asyncio sets ``TCP_NODELAY`` on an accepted connection only when the socket's ``proto`` is
    ``IPPROTO_TCP``; a socket made with the default proto 0 passes that on to every accepted
    connection, and Nagle's algorithm then holds each response behind the client's delayed ACK
    (~40 ms per keep-alive request on Linux). Raises ``OSError`` when it cannot bind.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_in_thread(model: Any = "tiny", *, app: FastAPI | None = None, host: str = "127.0.0.1",
                  startup_timeout: float = 30.0, **kw: Any) -> Iterator[str]:
    """Serve ``app`` (or ``create_app(model, **kw)``) with uvicorn in a background thread on a free
    port of ``host``; yields the base URL ``http://HOST:PORT/v1``; stops the server on exit.

    Raises ``RuntimeError`` if the server has not started within ``startup_timeout`` seconds.
    """
    import uvicorn

    app = app if app is not None else create_app(model, **kw)
    sock = listening_socket(host, 0)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"oairef-serve-{port}")
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("the reference provider failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the reference provider did not start within {startup_timeout} s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
