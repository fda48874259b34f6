"""``.with_raw_response`` and ``.with_streaming_response`` (sync and async) against the scripted server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import requests

from generated import (
    APIResponse,
    AsyncAPIResponse,
    AsyncOpenAI,
    AsyncPage,
    AsyncStream,
    BinaryResponse,
    LegacyAPIResponse,
    NotFoundError,
    OpenAI,
    Page,
    Stream,
    models,
)
from tests.codegen.scripted_server import Recorded, Reply, ScriptedServer
from tests.codegen.test_codegen_async import run
from tests.codegen.test_codegen_client_features import MESSAGES, _chunk, _event, _frames
from tests.codegen.test_codegen_client_http import COMPLETION, MODEL, _error

UNICODE_BODY = {"id": "m1", "object": "model", "created": 1, "owned_by": "caf\u00e9 \u4e16\u754c"}


def _events_pages(rec: Recorded) -> Reply:
    start = int(rec.query["after"][0].split("-")[1]) + 1 if "after" in rec.query else 0
    items = [_event(i) for i in range(start, min(start + 2, 4))]
    return Reply(json={"object": "list", "data": items, "has_more": start + 2 < 4})


def test_raw_response_has_headers_status_and_parses(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/completions", Reply(503, json=_error("busy"), headers={"retry-after-ms": "1"}),
               Reply(json=COMPLETION, headers={"x-request-id": "req_42", "X-Custom": "v"}))
    raw = client.completions.with_raw_response.create(model="m1", prompt="x")
    assert isinstance(raw, LegacyAPIResponse)
    assert (raw.status_code, raw.request_id, raw.headers["x-custom"], raw.retries_taken) == (200, "req_42", "v", 1)
    assert isinstance(raw.http_response, requests.Response)
    assert raw.method == "POST" and raw.url.endswith("/v1/completions")
    assert raw.json() == COMPLETION and json.loads(raw.text) == COMPLETION
    parsed = raw.parse()
    assert isinstance(parsed, models.CreateCompletionResponse) and parsed.choices[0].text == "hi"
    assert raw.parse() is parsed


def test_raw_response_of_a_stream_parses_to_a_stream(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), _chunk(1, "b", "stop"))))
    raw = client.chat.completions.with_raw_response.create(model="m1", messages=MESSAGES, stream=True)
    assert raw.headers["content-type"] == "text/event-stream"
    stream = raw.parse()
    assert isinstance(stream, Stream)
    assert [c.choices[0].delta.content for c in stream] == ["a", "b"]


def test_raw_and_streaming_calls_still_raise_status_errors(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/nope", Reply(404, json=_error("no such model")))
    with pytest.raises(NotFoundError):
        client.models.with_raw_response.retrieve("nope")
    with pytest.raises(NotFoundError), client.models.with_streaming_response.retrieve("nope"):
        pass


def test_raw_page_parses_to_a_page_whose_next_pages_are_plain_calls(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/fine_tuning/jobs/j1/events", _events_pages)
    raw = client.with_raw_response.fine_tuning.jobs.list_events("j1", limit=2)
    assert isinstance(raw, LegacyAPIResponse)
    page = raw.parse()
    assert isinstance(page, Page)
    assert [e.id for e in page] == ["ev-0", "ev-1", "ev-2", "ev-3"]


def test_streaming_response_reads_lines_bytes_and_text(client: OpenAI, server: ScriptedServer) -> None:
    body = json.dumps(UNICODE_BODY, indent=1, ensure_ascii=False).encode("utf-8")
    server.add("GET", "/v1/models/m1", Reply(body=body, headers={"Content-Type": "application/json; charset=utf-8"}))
    with client.models.with_streaming_response.retrieve("m1") as response:
        assert isinstance(response, APIResponse)
        assert isinstance(response.http_response, requests.Response)
        assert response.status_code == 200 and not response.is_closed
        lines = list(response.iter_lines())
    assert response.is_closed
    assert lines == body.decode("utf-8").split("\n")
    with client.models.with_streaming_response.retrieve("m1") as response:
        assert b"".join(response.iter_bytes(chunk_size=5)) == body
    with client.models.with_streaming_response.retrieve("m1") as response:
        assert "".join(response.iter_text(chunk_size=3)) == body.decode("utf-8")  # split inside characters
    with client.models.with_streaming_response.retrieve("m1") as response:
        parsed = response.parse()
        assert isinstance(parsed, models.Model) and parsed.owned_by == "caf\u00e9 \u4e16\u754c"
    with client.with_streaming_response.models.retrieve("m1") as response:
        assert response.json() == UNICODE_BODY and json.loads(response.text()) == UNICODE_BODY


def test_streaming_response_of_an_event_stream_is_read_as_it_arrives_and_closed_on_exit(
        client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), done=False), trickle=250))
    with client.chat.completions.with_streaming_response.create(model="m1", messages=MESSAGES,
                                                                stream=True) as response:
        first = next(line for line in response.iter_lines() if line)
    assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["content"] == "a"
    assert server.hung_up.wait(timeout=10)
    assert not server.stream_finished.is_set()


def test_streaming_response_of_binary_content(client: OpenAI, server: ScriptedServer) -> None:
    blob = bytes(range(256)) * 8
    server.add("GET", "/v1/files/f1/content", Reply(body=blob, headers={"Content-Type": "application/octet-stream"}))
    with client.files.with_streaming_response.content("f1") as response:
        assert b"".join(response.iter_bytes(chunk_size=100)) == blob
    with client.files.with_streaming_response.content("f1") as response:
        binary = response.parse()
    assert isinstance(binary, BinaryResponse) and binary.content == blob


def test_async_raw_response(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/completions", Reply(json=COMPLETION, headers={"x-request-id": "req_1"}))
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), _chunk(1, "b"))))
    server.add("GET", "/v1/fine_tuning/jobs/j1/events", _events_pages)

    async def body(c: AsyncOpenAI) -> tuple[Any, ...]:
        raw = await c.completions.with_raw_response.create(model="m1", prompt="x")
        raw_stream = await c.chat.completions.with_raw_response.create(model="m1", messages=MESSAGES, stream=True)
        stream = raw_stream.parse()
        chunks = [ch.choices[0].delta.content async for ch in stream]
        raw_page = await c.with_raw_response.fine_tuning.jobs.list_events("j1", limit=2)
        page = raw_page.parse()
        items = [e.id async for e in page]
        return raw, stream, chunks, page, items

    raw, stream, chunks, page, items = run(aclient, body)
    assert isinstance(raw, LegacyAPIResponse) and isinstance(raw.http_response, httpx.Response)
    assert (raw.status_code, raw.request_id) == (200, "req_1")
    assert isinstance(raw.parse(), models.CreateCompletionResponse)
    assert isinstance(stream, AsyncStream) and chunks == ["a", "b"]
    assert isinstance(page, AsyncPage) and items == ["ev-0", "ev-1", "ev-2", "ev-3"]


def test_async_streaming_response(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    body_bytes = json.dumps(UNICODE_BODY, indent=1, ensure_ascii=False).encode("utf-8")
    server.add("GET", "/v1/models/m1", Reply(body=body_bytes, headers={"Content-Type": "application/json"}))
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), done=False), trickle=250))

    async def body(c: AsyncOpenAI) -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with c.models.with_streaming_response.retrieve("m1") as response:
            assert isinstance(response, AsyncAPIResponse) and not response.is_closed
            out["lines"] = [line async for line in response.iter_lines()]
        out["closed"] = response.is_closed
        async with c.models.with_streaming_response.retrieve("m1") as response:
            out["bytes"] = b"".join([b async for b in response.iter_bytes(chunk_size=4)])
        async with c.models.with_streaming_response.retrieve("m1") as response:
            out["text"] = "".join([t async for t in response.iter_text(chunk_size=3)])
        async with c.with_streaming_response.models.retrieve("m1") as response:
            out["parsed"] = await response.parse()
        async with c.models.with_streaming_response.retrieve("m1") as response:
            out["json"] = await response.json()
        async with c.chat.completions.with_streaming_response.create(model="m1", messages=MESSAGES,
                                                                     stream=True) as response:
            async for line in response.iter_lines():
                if line:
                    out["first_event"] = line
                    break
        out["hung_up"] = await asyncio.to_thread(server.hung_up.wait, 10)
        return out

    out = run(aclient, body)
    assert out["lines"] == body_bytes.decode("utf-8").split("\n") and out["closed"]
    assert out["bytes"] == body_bytes and out["text"] == body_bytes.decode("utf-8")
    assert isinstance(out["parsed"], models.Model) and out["parsed"].owned_by == UNICODE_BODY["owned_by"]
    assert out["json"] == UNICODE_BODY
    assert out["first_event"].startswith("data: ") and out["hung_up"]
    assert not server.stream_finished.is_set()


def test_client_level_wrappers_reach_every_resource(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(json=MODEL))
    assert client.with_raw_response.models.retrieve("m1").parse().id == "m1"
    assert client.with_raw_response.organization.projects.users.list is not None
    assert AsyncOpenAI(api_key="sk-x").with_streaming_response.beta.threads.messages.create is not None
