"""What every route of the reference provider reads: the served model and the names it answers to,
its options and limits, the generation slots, the fault, counters.

Routes import this module, never the app: ``get_state(request)`` returns the app's ``ServerState``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Request

from provider.errors import APIError, model_not_found
from provider.faults import Fault
from provider.limits import Limits
from provider.slots import GenerationSlots
from sampler import Model


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
    """What every route needs: the model and its served names, options, limits and generation slots,
    the fault's hooks (``provider.faults``) and counters.

    ``model_names`` are the ids the model answers to (``--served-model-name``, in order; by default the
    model's own ``name``); the first is its primary id.
    """

    model: Model
    model_names: tuple[str, ...]
    api_keys: tuple[str, ...]
    logprobs_mode: str
    fault: Fault
    created: int
    stats: Stats
    limits: Limits
    slots: GenerationSlots

    @property
    def model_id(self) -> str:
        """The primary id: the first served name."""
        return self.model_names[0]

    def check_model(self, requested: str) -> None:
        """404 ``model_not_found`` unless ``requested`` is one of the served names."""
        if requested not in self.model_names:
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
