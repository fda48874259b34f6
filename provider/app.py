"""The reference provider: an OpenAI-compatible FastAPI app over oairef's sampler.

``create_app(model, ...)`` builds the app; ``run_in_thread(...)`` serves one on a free loopback
port for tests and for ``oairef validate``'s embedded target. Rules:

- Endpoints: ``GET /v1/models``, ``GET`` and ``DELETE /v1/models/{model}``, ``POST /v1/completions``,
  ``POST /v1/chat/completions`` (JSON or SSE), ``POST /extras/tokenize``, ``POST /extras/detokenize``,
  and ``GET /health`` (no key needed).
- When ``api_keys`` is non-empty every endpoint but ``/health`` needs ``Authorization: Bearer <one of
  them>`` (401).
- Errors are OpenAI-shaped (``provider.errors``); generation runs in the threadpool, never on the
  event loop; a client that goes away stops its generation.
- ``logprobs_mode``: ``"raw"`` (default; the model's unmodified log-softmax) or ``"processed"``.
- ``served_model_names``: the ids the model answers to (first = primary); default its own ``name``.
- ``limits``: body size, JSON depth, tokens per request, concurrent and queued generations
  (``provider.limits``; defaults there).
- ``fault``: a test-only departure from the contract (a name or a ``provider.faults.Fault``); the
  app passes its hooks on and knows nothing else of it.
- Building an app starts compiling the sampler's fast path in the background
  (``sampler.kernels.warm_up_in_background``; numba's on-disk cache makes it quick after the first
  run); ``run_in_thread`` and ``oairef serve`` wait for it before they report the server ready, so
  no request waits for a compilation.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import Depends, FastAPI

from models import load_model
from provider import routes_completions, routes_extras, routes_models
from provider.errors import install_error_handlers
from provider.faults import Fault, get_fault
from provider.limits import RETRY_AFTER_S, Limits
from provider.slots import GenerationSlots
from provider.state import ServerState, Stats, require_api_key
from sampler import Model
from sampler.kernels import wait_for_warm_up, warm_up_in_background
from sampler.params import LOGPROBS_MODES

#: seconds ``run_in_thread`` waits at most for the sampler's compilation (a cold numba cache on a
#: loaded 2-core machine); past it the server is reported ready and its first request waits instead
WARM_UP_TIMEOUT = 600.0


def served_names(names: Sequence[str], default: str) -> tuple[str, ...]:
    """The ids a model answers to: ``names`` in order (non-empty strings without surrounding blanks,
    no repeats; ``ValueError`` otherwise), or ``(default,)`` when there are none."""
    for name in names:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"a served model name must be a non-empty string without surrounding blanks, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"served model names repeat: {list(names)}")
    return tuple(names) or (default,)


def api_keys_ok(keys: Sequence[str]) -> tuple[str, ...]:
    """The bearer keys accepted (``ValueError`` for an empty or blank one: no request could carry it, so
    every request would be a 401)."""
    for key in keys:
        if not isinstance(key, str) or not key.strip() or key != key.strip():
            raise ValueError(f"an API key must be a non-empty string without surrounding blanks, got {key!r}")
    return tuple(keys)


def create_app(model: Model | str, *, api_keys: Sequence[str] = (), logprobs_mode: str = "raw",
               fault: str | Fault | None = None, served_model_names: Sequence[str] = (),
               limits: Limits | None = None) -> FastAPI:
    """The reference provider's FastAPI app serving ``model`` (a :class:`sampler.Model`, or a name or
    ``.gguf`` path for :func:`models.load_model`) under ``served_model_names`` (default: its name)."""
    if logprobs_mode not in LOGPROBS_MODES:
        raise ValueError(f"logprobs_mode must be one of {LOGPROBS_MODES}, got {logprobs_mode!r}")
    keys = api_keys_ok(api_keys)
    fault_obj = fault if isinstance(fault, Fault) else get_fault(fault)
    warm_up_in_background()  # compiles while the model loads and the server starts
    limits = limits if limits is not None else Limits()
    model_obj = load_model(model) if isinstance(model, str) else model

    app = FastAPI(title="oairef reference provider", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.oairef = ServerState(
        model=model_obj,
        model_names=served_names(served_model_names, str(model_obj.name)),
        api_keys=keys,
        logprobs_mode=logprobs_mode,
        fault=fault_obj,
        created=int(time.time()),
        stats=Stats(),
        limits=limits,
        slots=GenerationSlots(limits.max_concurrency, limits.max_queue, RETRY_AFTER_S),
    )
    install_error_handlers(app, fault_obj.error)

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


@contextlib.contextmanager
def run_in_thread(model: Model | str = "tiny", *, app: FastAPI | None = None, host: str = "127.0.0.1",
                  startup_timeout: float = 30.0, warm_up_timeout: float = WARM_UP_TIMEOUT,
                  **kw: Any) -> Iterator[str]:
    """Serve ``app`` (or ``create_app(model, **kw)``) with uvicorn in a background thread on a free
    port of ``host``; yields the base URL ``http://HOST:PORT/v1`` once the server is up and the
    sampler compiled (waiting up to ``warm_up_timeout`` seconds for that); stops the server on exit.

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
    wait_for_warm_up(warm_up_timeout)
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
