"""Shared helpers for the reference provider's tests: real servers on loopback ports, real clients."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import openai

from models import TinyModel
from provider.app import create_app, run_in_thread

API_KEY = "sk-test-key"


def client(base_url: str, api_key: str = "unused", **kw: Any) -> openai.OpenAI:
    """The official client, without retries (a retry would hide a 5xx)."""
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=60, **kw)


def serve(**kw: Any) -> Iterator[tuple[str, Any]]:
    """A fresh app on a free port; yields ``(base_url, app)``."""
    app = create_app(kw.pop("model", "tiny"), **kw)
    with run_in_thread(app=app) as url:
        yield url, app


def post(base_url: str, path: str, body: Any, **kw: Any) -> httpx.Response:
    """POST raw JSON (or bytes) to ``base_url + path``."""
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return httpx.post(base_url + path, content=content, headers=headers, timeout=60, **kw)


def sse_events(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of an SSE response, in order."""
    return [line[len("data: "):] for line in response.text.splitlines() if line.startswith("data: ")]


def wait_until(predicate: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` (bounded by ``timeout``); fail naming ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class GatedTiny(TinyModel):
    """The tiny model whose ``logits`` waits for ``gate`` (bounded: after ``timeout`` s it goes on), so a
    test can hold a generation running for as long as it needs. ``calls`` counts ``logits`` calls."""

    def __init__(self, timeout: float = 60.0) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.timeout = timeout
        self.calls = 0

    def logits(self, ids: list[int]) -> np.ndarray:
        self.calls += 1
        self.gate.wait(self.timeout)
        return super().logits(ids)


@contextlib.contextmanager
def serving(**kw: Any) -> Iterator[tuple[str, Any]]:
    """``serve`` as a context manager: ``with serving(limits=...) as (url, app): ...``."""
    yield from serve(**kw)
