"""Overload is a 429 with ``Retry-After``, not a pile-up: ``max_concurrency`` generations run, up to
``max_queue`` wait their turn, the rest are told to retry; both clients retry and then succeed.

Generations are held open with ``GatedTiny`` (the tiny model, whose ``logits`` waits for a gate), and
progress is read from the server's own counters, never from timings."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import httpx
import openai
import pytest
from server_support import GatedTiny, serving, wait_until

import generated
from provider.limits import RETRY_AFTER_S, Limits

BODY = {"model": "tiny", "prompt": "The keeper", "max_tokens": 3, "seed": 1}


@pytest.fixture()
def gated() -> Iterator[tuple[str, Any, GatedTiny]]:
    model = GatedTiny()
    with serving(model=model, limits=Limits(max_concurrency=1, max_queue=1)) as (url, app):
        try:
            yield url, app, model
        finally:
            model.gate.set()


def completion(url: str, body: dict[str, Any] = BODY) -> httpx.Response:
    return httpx.post(url + "/completions", json=body, timeout=60)


def test_queue_then_429_with_retry_after(gated: tuple[str, Any, GatedTiny]) -> None:
    url, app, model = gated
    state = app.state.oairef
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(completion, url)
        wait_until(lambda: model.calls >= 1, what="the first generation to hold the slot")
        second = pool.submit(completion, url)
        wait_until(lambda: state.slots.waiting == 1, what="the second request to queue")
        third = completion(url)  # the slot is held and the queue is full
        assert third.status_code == 429 and third.headers["retry-after"] == str(RETRY_AFTER_S)
        err = third.json()["error"]
        assert (err["type"], err["code"]) == ("requests", "rate_limit_exceeded") and "--max-concurrency" in err["message"]
        assert httpx.get(url.removesuffix("/v1") + "/health", timeout=30).status_code == 200  # not queued
        assert state.stats.started == 1  # the queued one has not started
        model.gate.set()
        assert first.result(timeout=60).status_code == 200 and second.result(timeout=60).status_code == 200
    assert state.stats.started == 2 and state.slots.rejected == 1
    wait_until(lambda: state.slots.running == 0, what="every slot to be released")


def test_streams_hold_a_slot_until_they_end(gated: tuple[str, Any, GatedTiny]) -> None:
    url, app, model = gated
    state = app.state.oairef
    with httpx.Client(timeout=60) as http, http.stream("POST", url + "/completions",
                                                       json={**BODY, "max_tokens": 2000, "stream": True,
                                                             "logit_bias": {"2048": -100}}) as r:
        assert r.status_code == 200  # the 200 is out; its generation waits at its first token
        wait_until(lambda: model.calls >= 1, what="the stream's generation to start")
        assert state.slots.running == 1
        queued = threading.Thread(target=completion, args=(url,))
        queued.start()
        wait_until(lambda: state.slots.waiting == 1, what="a request to queue behind the stream")
        assert completion(url).status_code == 429
        model.gate.set()
    # leaving the block hung up on the stream: its slot goes to the queued request
    queued.join(timeout=60)
    assert not queued.is_alive()
    wait_until(lambda: state.slots.running == 0 and state.stats.active == 0, what="slots to be released")


def test_a_queued_client_that_leaves_is_never_generated_for(gated: tuple[str, Any, GatedTiny]) -> None:
    url, app, model = gated
    state = app.state.oairef
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(completion, url)
        wait_until(lambda: model.calls >= 1, what="the first generation to hold the slot")
        u = urlparse(url)
        data = json.dumps(BODY).encode()
        sock = socket.create_connection((u.hostname, u.port), timeout=30)
        sock.sendall(f"POST {u.path}/completions HTTP/1.1\r\nHost: {u.hostname}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        wait_until(lambda: state.slots.waiting == 1, what="the raw request to queue")
        sock.close()
        wait_until(lambda: state.slots.waiting == 0, what="the gone client to leave the queue")
        model.gate.set()
        assert first.result(timeout=60).status_code == 200
    assert state.stats.started == 1
    wait_until(lambda: state.slots.running == 0, what="the slot to be released")


@pytest.mark.parametrize("bad", [{"prompt": [5000]}, {"prompt": "x" * 100_000}, {"best_of": 2, "n": 1}],
                         ids=["token-id", "context", "best_of-stream"])
def test_refused_streams_release_their_slot(gated: tuple[str, Any, GatedTiny], bad: dict[str, Any]) -> None:
    url, app, model = gated
    model.gate.set()
    for _ in range(3):  # with one slot, a leaked slot would queue the next request for good
        r = httpx.post(url + "/completions", json={**BODY, **bad, "stream": True}, timeout=60)
        assert r.status_code == 400, r.text
    assert completion(url).status_code == 200
    assert app.state.oairef.slots.running == 0


def hold_slot_then_release(app: Any, model: GatedTiny, url: str) -> Future[httpx.Response]:
    """Start a generation that holds the only slot; release it once the server has refused a request."""
    pool = ThreadPoolExecutor(2)
    held = pool.submit(completion, url)
    wait_until(lambda: model.calls >= 1, what="a generation to hold the slot")

    def release() -> None:
        wait_until(lambda: app.state.oairef.slots.rejected >= 1, what="the client's first attempt to be refused")
        model.gate.set()

    pool.submit(release)
    pool.shutdown(wait=False)
    return held


def test_the_official_client_retries_the_429_and_succeeds() -> None:
    model = GatedTiny()
    with serving(model=model, limits=Limits(max_concurrency=1, max_queue=0)) as (url, app):
        try:
            held = hold_slot_then_release(app, model, url)
            c = openai.OpenAI(base_url=url, api_key="unused", max_retries=5, timeout=60)
            out = c.completions.create(model="tiny", prompt="The keeper", max_tokens=3, seed=1)
            assert out.choices[0].text and out.usage is not None
            assert app.state.oairef.slots.rejected >= 1  # it was refused, then retried
            assert held.result(timeout=60).status_code == 200
        finally:
            model.gate.set()


def test_the_generated_client_retries_the_429_and_succeeds() -> None:
    model = GatedTiny()
    with serving(model=model, limits=Limits(max_concurrency=1, max_queue=0)) as (url, app):
        try:
            held = hold_slot_then_release(app, model, url)
            with generated.OpenAI(base_url=url, api_key="unused", max_retries=5, timeout=60) as c:
                out = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}],
                                                max_tokens=3, seed=1)
            assert out.choices[0].message.content is not None
            assert app.state.oairef.slots.rejected >= 1
            assert held.result(timeout=60).status_code == 200
        finally:
            model.gate.set()


def test_without_retries_the_clients_see_the_429() -> None:
    model = GatedTiny()
    with serving(model=model, limits=Limits(max_concurrency=1, max_queue=0)) as (url, _app):
        try:
            with ThreadPoolExecutor(1) as pool:
                held = pool.submit(completion, url)
                wait_until(lambda: model.calls >= 1, what="a generation to hold the slot")
                with pytest.raises(openai.RateLimitError) as info:
                    openai.OpenAI(base_url=url, api_key="unused", max_retries=0).completions.create(
                        model="tiny", prompt="x", max_tokens=1)
                assert info.value.response.headers["retry-after"] == str(RETRY_AFTER_S)
                with pytest.raises(generated.RateLimitError):
                    generated.OpenAI(base_url=url, api_key="unused", max_retries=0).completions.create(
                        model="tiny", prompt="x", max_tokens=1)
                model.gate.set()
                assert held.result(timeout=60).status_code == 200
        finally:
            model.gate.set()
