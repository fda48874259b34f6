"""Fixtures for the codegen tests: the scripted server, clients pointed at it, and the reference provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generated import AsyncOpenAI, OpenAI
from tests.codegen.scripted_server import API_KEY, ScriptedServer, scripted_server

#: the one API key the reference provider of these tests accepts
REFERENCE_KEY = "sk-reference-0123456789"


@pytest.fixture()
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as srv:
        yield srv


@pytest.fixture()
def client(server: ScriptedServer) -> Iterator[OpenAI]:
    with OpenAI(api_key=API_KEY, base_url=server.url, timeout=10.0) as c:
        yield c


@pytest.fixture()
def aclient(server: ScriptedServer) -> AsyncOpenAI:
    """An async client of the scripted server (each test closes it inside its own event loop)."""
    return AsyncOpenAI(api_key=API_KEY, base_url=server.url, timeout=10.0)


@pytest.fixture(scope="session")
def reference_url() -> Iterator[str]:
    """Base URL of a real ``oairef serve`` (tiny model) on 127.0.0.1 that accepts ``REFERENCE_KEY``."""
    from provider.app import run_in_thread  # the only import of the provider in these tests

    with run_in_thread("tiny", api_keys=(REFERENCE_KEY,)) as url:
        yield url
