"""Generation runs off the event loop (other requests are answered meanwhile) and stops when its
client goes away. Progress is read from the server's own counters, never from timings."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from server_support import serve, wait_until

EOS = 2048  # tiny's end-of-text id: biased away so generations run to max_tokens
LONG = {"model": "tiny", "prompt": "The keeper", "max_tokens": 2000, "n": 8, "seed": 1,
        "logit_bias": {str(EOS): -100}}


@pytest.fixture()
def server() -> Iterator[tuple[str, Any]]:
    yield from serve()


def _raw_request(url: str, path: str, body: dict[str, Any]) -> socket.socket:
    """Send a POST on a bare socket and return it (the caller decides when to hang up)."""
    u = urlparse(url)
    data = json.dumps(body).encode()
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    sock.sendall(f"POST {u.path}{path} HTTP/1.1\r\nHost: {u.hostname}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def test_long_stream_does_not_block_and_disconnect_stops_it(server: tuple[str, Any]) -> None:
    url, app = server
    stats = app.state.oairef.stats
    with httpx.Client(timeout=60) as http, http.stream("POST", url + "/completions",
                                                       json={**LONG, "stream": True}) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert json.loads(first[6:])["choices"]
        assert stats.active == 1
        # while it generates, other requests are answered
        for _ in range(3):
            assert httpx.get(url + "/models", timeout=30).status_code == 200
            short = httpx.post(url + "/completions", json={"model": "tiny", "prompt": "x", "max_tokens": 2},
                               timeout=30)
            assert short.status_code == 200
        assert stats.active == 1 and stats.cancelled == 0  # the long one is still running
    # leaving the block closed the connection mid-stream: generation must stop early
    wait_until(lambda: stats.active == 0, what="the stream's generation to stop")
    assert stats.cancelled == 1


def test_disconnect_stops_a_non_streamed_generation(server: tuple[str, Any]) -> None:
    url, app = server
    stats = app.state.oairef.stats
    sock = _raw_request(url, "/completions", LONG)
    wait_until(lambda: stats.active == 1, what="the generation to start")
    assert httpx.get(url + "/models", timeout=30).status_code == 200
    assert stats.active == 1
    sock.close()
    wait_until(lambda: stats.active == 0, what="the generation to stop after the disconnect")
    assert stats.cancelled == 1 and stats.started == 1


def test_parallel_requests_all_complete(server: tuple[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url, app = server
    body = {"model": "tiny", "prompt": "The keeper", "max_tokens": 12, "seed": 3}

    def one(_: int) -> str:
        r = httpx.post(url + "/completions", json=body, timeout=60)
        assert r.status_code == 200
        return r.json()["choices"][0]["text"]

    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(one, range(8)))
    assert len(set(texts)) == 1  # same seed, same text, whatever the interleaving
    assert app.state.oairef.stats.finished == 8 and app.state.oairef.stats.cancelled == 0
