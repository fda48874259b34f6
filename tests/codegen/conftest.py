"""Fixtures for the codegen tests: the scripted server and a client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generated import OpenAI
from tests.codegen.scripted_server import API_KEY, ScriptedServer, scripted_server


@pytest.fixture()
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as srv:
        yield srv


@pytest.fixture()
def client(server: ScriptedServer) -> Iterator[OpenAI]:
    with OpenAI(api_key=API_KEY, base_url=server.url, timeout=10.0) as c:
        yield c
