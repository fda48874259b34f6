"""``AsyncOpenAI`` (httpx) against the real scripted HTTP server: results, retries, errors, streams, pages."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from generated import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncOpenAI,
    AsyncPage,
    AsyncPaginator,
    AsyncStream,
    AuthenticationError,
    BadRequestError,
    BinaryResponse,
    InternalServerError,
    InvalidRequestParameterError,
    NotFoundError,
    RateLimitError,
    models,
)
from tests.codegen.scripted_server import API_KEY, Recorded, Reply, ScriptedServer, closed_port
from tests.codegen.test_codegen_client_features import MESSAGES, _chunk, _event, _frames, _multipart_echo
from tests.codegen.test_codegen_client_http import COMPLETION, MODEL, _error, _retry_delays

T = TypeVar("T")


def run(client: AsyncOpenAI, body: Callable[[AsyncOpenAI], Awaitable[T]]) -> T:
    """Run ``body(client)`` in a fresh event loop, closing the client inside it."""
    async def main() -> T:
        async with client:
            return await body(client)
    return asyncio.run(main())


def test_async_create_parses_the_model_and_sends_the_key(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/completions", Reply(json=COMPLETION))

    async def body(c: AsyncOpenAI) -> models.CreateCompletionResponse:
        return await c.completions.create(model="m1", prompt="x", temperature=0.5, extra_query={"q": "1"})

    result = run(aclient, body)
    assert isinstance(result, models.CreateCompletionResponse)
    assert result.choices[0].text == "hi"
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(sent.body) == {"model": "m1", "prompt": "x", "temperature": 0.5}
    assert sent.query == {"q": ["1"]}


def test_async_retries_honour_retry_after_then_succeed(aclient: AsyncOpenAI, server: ScriptedServer,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    server.add("GET", "/v1/models/m1",
               Reply(500, json=_error("oops", "server_error")),
               Reply(429, json=_error("slow", "rate_limit_error"), headers={"retry-after-ms": "40"}),
               Reply(json=MODEL))
    with caplog.at_level(logging.INFO, logger="generated"):
        model = run(aclient, lambda c: c.models.retrieve("m1"))
    assert model.id == "m1"
    delays = _retry_delays(caplog)
    assert 0.375 <= delays[0] <= 0.5  # no Retry-After: 0.5 s less at most 25 % jitter
    assert delays[1] == pytest.approx(0.04)
    assert len(server.requests) == 3


@pytest.mark.parametrize(("status", "cls", "sent"), [
    (400, BadRequestError, 1), (401, AuthenticationError, 1), (404, NotFoundError, 1),
    (429, RateLimitError, 2), (503, InternalServerError, 2),
])
def test_async_status_errors_are_typed_and_only_retryable_ones_retry(
        server: ScriptedServer, status: int, cls: type[Exception], sent: int) -> None:
    server.add("POST", "/v1/completions", Reply(status, json=_error("bad", param="n", code="c"),
                                                headers={"retry-after-ms": "1", "x-request-id": "req_7"}))
    client = AsyncOpenAI(api_key=API_KEY, base_url=server.url, max_retries=1)
    with pytest.raises(cls) as info:
        run(client, lambda c: c.completions.create(model="m1", prompt="x"))
    err: Any = info.value
    assert type(err) is cls
    assert (err.status_code, err.param, err.code, err.request_id) == (status, "n", "c", "req_7")
    assert err.body == _error("bad", param="n", code="c")["error"]
    assert isinstance(err.response, httpx.Response)
    assert len(server.requests) == sent


def test_async_timeout_connection_refused_and_bad_url(server: ScriptedServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    server.add("GET", "/v1/models/m1", Reply(json=MODEL, delay=1.0))
    slow = AsyncOpenAI(api_key=API_KEY, base_url=server.url, max_retries=0, timeout=0.2)
    with pytest.raises(APITimeoutError):
        run(slow, lambda c: c.models.retrieve("m1"))
    refused = AsyncOpenAI(api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=1)
    with caplog.at_level(logging.INFO, logger="generated"), pytest.raises(APIConnectionError) as info:
        run(refused, lambda c: c.models.retrieve("m1"))
    assert not isinstance(info.value, APITimeoutError)
    assert len(_retry_delays(caplog)) == 1
    caplog.clear()
    bad = AsyncOpenAI(api_key=API_KEY, base_url="no-scheme.invalid/v1")
    with caplog.at_level(logging.INFO, logger="generated"), pytest.raises(APIConnectionError, match="not sent"):
        run(bad, lambda c: c.models.retrieve("m1"))
    assert _retry_delays(caplog) == []


def test_async_refuses_out_of_range_arguments_before_sending(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    async def body(c: AsyncOpenAI) -> list[str]:
        params = []
        for call in (lambda: c.completions.create(model="m1", prompt="x", temperature=2.5),
                     lambda: c.chat.completions.create(model="m1", messages=MESSAGES, top_logprobs=2),
                     lambda: c.fine_tuning.jobs.list(limit=0)):
            with pytest.raises(InvalidRequestParameterError) as info:
                await call()
            params.append(info.value.param)
        with pytest.raises(InvalidRequestParameterError):
            async for _ in c.fine_tuning.jobs.list(limit=0):
                pass
        return params

    assert run(aclient, body) == ["temperature", "top_logprobs", "limit"]
    assert server.requests == []


def test_async_api_key_is_redacted_from_errors(server: ScriptedServer) -> None:
    def echo_auth(rec: Recorded) -> Reply:
        return Reply(401, json=_error(f"Incorrect API key provided: {rec.headers['authorization']}"))

    server.add("GET", "/v1/models/m1", echo_auth)
    with pytest.raises(AuthenticationError) as info:
        run(AsyncOpenAI(api_key=API_KEY, base_url=server.url), lambda c: c.models.retrieve("m1"))
    for text in (str(info.value), repr(info.value), json.dumps(info.value.body)):
        assert API_KEY not in text
    assert "***" in info.value.message


def test_async_stream_yields_typed_chunks_and_closes(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    frames = _frames(_chunk(0, "Hel"), _chunk(1, "lo", "stop"))
    frames.append("data: " + json.dumps(_chunk(2, "after done")) + "\n\n")
    server.add("POST", "/v1/chat/completions", Reply(sse=frames))

    async def body(c: AsyncOpenAI) -> tuple[AsyncStream[Any], list[Any]]:
        stream = await c.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
        return stream, [chunk async for chunk in stream]

    stream, chunks = run(aclient, body)
    assert isinstance(stream, AsyncStream) and stream.closed
    assert all(isinstance(c, models.CreateChatCompletionStreamResponse) for c in chunks)
    assert "".join(c.choices[0].delta.content for c in chunks) == "Hello"
    assert server.requests[0].headers["accept"] == "text/event-stream"


@pytest.mark.parametrize("how", ["async with", "break"])
def test_async_stream_closes_the_connection_when_left_early(aclient: AsyncOpenAI, server: ScriptedServer,
                                                             how: str) -> None:
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), _chunk(1, "b"), done=False),
                                                     trickle=250))

    async def body(c: AsyncOpenAI) -> AsyncStream[Any]:
        stream = await c.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
        if how == "async with":
            async with stream:
                first = await stream.__anext__()
                assert first.choices[0].delta.content == "a"
        else:
            async for _ in stream:
                break
            for _ in range(50):  # the abandoned iterator is closed by the event loop soon after
                if stream.closed:
                    break
                await asyncio.sleep(0.01)
        assert stream.closed  # before the client (and its connection pool) is closed
        assert await asyncio.to_thread(server.hung_up.wait, 10)
        return stream

    run(aclient, body)
    assert not server.stream_finished.is_set()


def test_async_mid_stream_error_event_raises(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    error = {"error": {"message": "the model crashed", "type": "server_error", "code": "boom"}}
    frames = _frames(_chunk(0, "a"), done=False) + [f"event: error\ndata: {json.dumps(error)}\n\n"]
    server.add("POST", "/v1/chat/completions", Reply(sse=frames))
    received: list[Any] = []

    async def body(c: AsyncOpenAI) -> AsyncStream[Any]:
        stream = await c.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
        with pytest.raises(APIError) as info:
            async for chunk in stream:
                received.append(chunk)
        assert info.value.code == "boom" and "the model crashed" in info.value.message
        return stream

    assert run(aclient, body).closed
    assert len(received) == 1


def test_async_pagination_awaits_a_page_or_iterates_every_item(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    def pages(rec: Recorded) -> Reply:
        start = int(rec.query["after"][0].split("-")[1]) + 1 if "after" in rec.query else 0
        items = [_event(i) for i in range(start, min(start + 2, 5))]
        return Reply(json={"object": "list", "data": items, "has_more": start + 2 < 5})

    server.add("GET", "/v1/fine_tuning/jobs/job-1/events", pages)

    async def body(c: AsyncOpenAI) -> tuple[list[str], AsyncPage[Any], list[str], list[str]]:
        paginator = c.fine_tuning.jobs.list_events("job-1", limit=2)
        assert isinstance(paginator, AsyncPaginator)
        every = [e.message async for e in paginator]
        first = await c.fine_tuning.jobs.list_events("job-1", limit=2)
        second = await first.get_next_page()
        return every, first, [e.id for e in second.data], [e.id async for e in first]

    every, first, second_ids, again = run(aclient, body)
    assert every == ["m0", "m1", "m2", "m3", "m4"]
    assert isinstance(first, AsyncPage) and first.object == "list"
    assert [e.id for e in first.data] == ["ev-0", "ev-1"] and first.has_next_page()
    assert second_ids == ["ev-2", "ev-3"]
    assert again == [f"ev-{i}" for i in range(5)]
    assert [r.query.get("after") for r in server.requests[:3]] == [None, ["ev-1"], ["ev-3"]]


def test_async_uploads_and_binary_responses(aclient: AsyncOpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/files", _multipart_echo)
    server.add("GET", "/v1/files/file-1/content", Reply(body=b"\x00\x01binary", headers={"Content-Type": "application/octet-stream"}))

    async def body(c: AsyncOpenAI) -> tuple[models.OpenAIFile, BinaryResponse]:
        uploaded = await c.files.create(file=("named.jsonl", io.BytesIO(b'{"a": 1}\n'), "application/jsonl"),
                                        purpose="fine-tune")
        return uploaded, await c.files.content("file-1")

    uploaded, content = run(aclient, body)
    echo = (uploaded.model_extra or {})["echo"]
    assert echo["file"] == {"filename": "named.jsonl", "type": "application/jsonl", "content": '{"a": 1}\n'}
    assert echo["purpose"]["content"] == "fine-tune"
    assert uploaded.filename == "named.jsonl"
    assert content.content == b"\x00\x01binary"
    assert server.requests[0].headers["content-type"].startswith("multipart/form-data")


def test_async_client_takes_the_environment_and_an_injected_http_client(
        server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
    server.add("GET", "/v1/models/m1", Reply(json=MODEL))

    async def body() -> httpx.AsyncClient:
        http = httpx.AsyncClient(headers={"X-From-Injected": "yes"})
        client = AsyncOpenAI(http_client=http, default_headers={"X-Default": "d"}, default_query={"dq": True})
        assert client.http_client is http
        await client.models.retrieve("m1")
        await client.close()  # an injected client stays open
        assert not http.is_closed
        await client.with_options(default_headers={"X-Copy": "c"}).models.retrieve("m1")
        await http.aclose()
        return http

    asyncio.run(body())
    first, second = server.requests
    assert first.headers["authorization"] == "Bearer sk-env"
    assert (first.headers["openai-organization"], first.headers["openai-project"]) == ("org-1", "proj-1")
    assert first.headers["x-from-injected"] == "yes" and first.headers["x-default"] == "d"
    assert first.query == {"dq": ["true"]}
    assert second.headers["x-default"] == "d" and second.headers["x-copy"] == "c"
    assert re.fullmatch(r"oairef-generated/\S+", first.headers["user-agent"])
    with pytest.raises(InvalidRequestParameterError) as info:
        AsyncOpenAI(http_client=object())  # type: ignore[arg-type]
    assert info.value.param == "http_client"
