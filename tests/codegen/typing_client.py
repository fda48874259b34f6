"""Static typing of the generated client: each line states the type mypy must infer for a call.

Checked by mypy (``.ci/run``, and ``test_codegen_typing.py``), never run: the clients point nowhere.
The ``stream=True`` overloads give ``Stream``/``AsyncStream`` of the chunk model, the others the
response model; list calls give pages; the response wrappers keep the parsed type.
"""

from __future__ import annotations

from typing_extensions import assert_type

import generated
from generated import (
    APIResponse,
    AsyncAPIResponse,
    AsyncPage,
    AsyncPaginator,
    AsyncStream,
    BinaryResponse,
    LegacyAPIResponse,
    Page,
    Stream,
    models,
)

MESSAGES = [{"role": "user", "content": "hi"}]


def sync_client(client: generated.OpenAI, flag: bool) -> None:
    assert_type(client.completions.create(model="m", prompt="p"), models.CreateCompletionResponse)
    assert_type(client.completions.create(model="m", prompt="p", stream=False), models.CreateCompletionResponse)
    assert_type(client.completions.create(model="m", prompt="p", stream=True), Stream[models.CreateCompletionResponse])
    assert_type(client.chat.completions.create(model="m", messages=MESSAGES), models.CreateChatCompletionResponse)
    assert_type(client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
                Stream[models.CreateChatCompletionStreamResponse])
    assert_type(client.chat.completions.create(model="m", messages=MESSAGES, stream=flag),
                models.CreateChatCompletionResponse | Stream[models.CreateChatCompletionStreamResponse])
    for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        assert_type(chunk, models.CreateChatCompletionStreamResponse)
    assert_type(client.models.list(), Page[models.Model])
    for model in client.models.list():
        assert_type(model, models.Model)
    assert_type(client.models.retrieve("m"), models.Model)
    assert_type(client.files.content("f"), BinaryResponse)
    assert_type(client.models.retrieve("m").to_dict(), dict[str, object])
    assert_type(client.models.retrieve("m").to_json(), str)
    raw = client.models.with_raw_response.retrieve("m")
    assert_type(raw, LegacyAPIResponse[models.Model])
    assert_type(raw.parse(), models.Model)
    assert_type(client.with_raw_response.models.list().parse(), Page[models.Model])
    with client.models.with_streaming_response.retrieve("m") as response:
        assert_type(response, APIResponse[models.Model])
        assert_type(response.parse(), models.Model)
        for line in response.iter_lines():
            assert_type(line, str)
    assert_type(client.with_options(max_retries=0), generated.OpenAI)


async def async_client(client: generated.AsyncOpenAI) -> None:
    assert_type(await client.completions.create(model="m", prompt="p"), models.CreateCompletionResponse)
    assert_type(await client.completions.create(model="m", prompt="p", stream=True),
                AsyncStream[models.CreateCompletionResponse])
    assert_type(await client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
                AsyncStream[models.CreateChatCompletionStreamResponse])
    async for chunk in await client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        assert_type(chunk, models.CreateChatCompletionStreamResponse)
    assert_type(client.models.list(), AsyncPaginator[models.Model])
    assert_type(await client.models.list(), AsyncPage[models.Model])
    async for model in client.models.list():
        assert_type(model, models.Model)
    raw = await client.models.with_raw_response.retrieve("m")
    assert_type(raw, LegacyAPIResponse[models.Model])
    async with client.models.with_streaming_response.retrieve("m") as response:
        assert_type(response, AsyncAPIResponse[models.Model])
        assert_type(await response.parse(), models.Model)
        async for line in response.iter_lines():
            assert_type(line, str)
    assert_type(client.with_options(max_retries=0), generated.AsyncOpenAI)
