"""openai-python idioms run unchanged on ``import generated as openai`` against the reference provider.

One program written for openai-python (sync and async clients, streams, raw and streaming
responses, pagination, typed errors, dump helpers, configuration from the environment) runs
twice: with the official ``openai`` package and with ``generated`` imported under its name. With
fixed seeds the reference provider is deterministic, so both runs must print the same lines
(response ids and timestamps, which differ from call to call, are left out).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

import pytest

from tests.codegen.conftest import REFERENCE_KEY

PROGRAM = '''
import asyncio
import json

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]


def show(label, value):
    print(label, json.dumps(value, sort_keys=True))


def stable(d):
    return {k: v for k, v in d.items() if k not in ("id", "created", "system_fingerprint")}


client = openai.OpenAI(max_retries=0)  # OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID

completion = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=6,
                                       temperature=0.8, seed=3, n=2)
show("completion", stable(completion.to_dict()))
print("to_json", completion.to_json().startswith('{\\n  "'), json.loads(completion.to_json()) == completion.to_dict())
print("to_json compact", "\\n" not in completion.to_json(indent=None))
show("to_dict json", stable(completion.to_dict(mode="json", exclude_none=True)))
print("usage", completion.usage.prompt_tokens, completion.usage.completion_tokens)

stream = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, temperature=0.9,
                                        seed=11, stream=True)
print("stream", repr("".join(c.choices[0].delta.content or "" for c in stream if c.choices)))
with client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, seed=11, stream=True) as s:
    for chunk in s:
        print("first chunk role", chunk.choices[0].delta.role)
        break

raw = client.chat.completions.with_raw_response.create(model="tiny", messages=MESSAGES, max_tokens=4, seed=1)
print("raw", raw.status_code, raw.headers.get("content-type"), raw.http_response.status_code)
chat = raw.parse()
print("raw parse", chat.choices[0].message.role, repr(chat.choices[0].message.content), chat.choices[0].finish_reason)
raw_models = client.with_raw_response.models.list()
print("client raw", raw_models.status_code, [m.id for m in raw_models.parse()])
raw_stream = client.completions.with_raw_response.create(model="tiny", prompt="ab", max_tokens=3, seed=2,
                                                         stream=True)
print("raw stream", raw_stream.headers.get("content-type").split(";")[0],
      "".join(c.choices[0].text for c in raw_stream.parse()))

with client.chat.completions.with_streaming_response.create(model="tiny", messages=MESSAGES, max_tokens=4,
                                                            seed=1) as response:
    print("streaming", response.status_code, response.headers.get("content-type"))
    show("streaming body", stable(json.loads("".join(response.iter_lines()))))
with client.completions.with_streaming_response.create(model="tiny", prompt="ab", max_tokens=3, seed=2,
                                                       stream=True) as response:
    events = [line for line in response.iter_lines() if line.startswith("data: ")]
    print("sse", len(events), events[-1])
with client.models.with_streaming_response.retrieve("tiny") as response:
    print("bytes", json.loads(b"".join(response.iter_bytes()))["id"])
with client.models.with_streaming_response.retrieve("tiny") as response:
    print("text", json.loads("".join(response.iter_text()))["object"])
with client.models.with_streaming_response.list() as response:
    print("streaming parse", [m.id for m in response.parse()])

page = client.models.list()
print("page", [m.id for m in page.data], page.has_next_page())
for model in client.models.list():
    print("model", model.id, model.owned_by)
print("with_options", client.with_options(max_retries=1, timeout=30.0).models.retrieve("tiny").id)

try:
    client.models.retrieve("no-such-model")
except openai.NotFoundError as e:
    print("404", e.status_code, e.type, isinstance(e, openai.APIStatusError), isinstance(e, openai.APIError))
try:
    client.completions.create(model="tiny", prompt="x", extra_body={"temperature": 3})
except openai.BadRequestError as e:
    print("400", e.status_code, e.param, e.body["param"], e.message.startswith("Error code: 400 - "))
try:
    openai.OpenAI(api_key="sk-wrong", max_retries=0).models.list()
except openai.AuthenticationError as e:
    print("401", e.status_code, e.code)


async def main():
    async with openai.AsyncOpenAI(max_retries=0) as aclient:
        c = await aclient.completions.create(model="tiny", prompt="Once upon a time", max_tokens=6,
                                             temperature=0.8, seed=3, n=2)
        show("async completion", stable(c.to_dict()))
        astream = await aclient.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8,
                                                        temperature=0.9, seed=11, stream=True)
        parts = []
        async for chunk in astream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        print("async stream", repr("".join(parts)))
        async with await aclient.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8,
                                                         seed=11, stream=True) as s2:
            async for chunk in s2:
                print("async first chunk role", chunk.choices[0].delta.role)
                break
        print("async models", [m.id async for m in aclient.models.list()])
        first = await aclient.models.list()
        print("async page", [m.id for m in first.data], first.has_next_page())
        raw = await aclient.completions.with_raw_response.create(model="tiny", prompt="ab", max_tokens=3, seed=2)
        print("async raw", raw.status_code, raw.headers.get("content-type"), repr(raw.parse().choices[0].text))
        async with aclient.chat.completions.with_streaming_response.create(
                model="tiny", messages=MESSAGES, max_tokens=4, seed=1, stream=True) as response:
            lines = [line async for line in response.iter_lines() if line]
            print("async sse", response.status_code, len(lines), lines[-1])
        async with aclient.models.with_streaming_response.retrieve("tiny") as response:
            print("async streaming parse", (await response.parse()).id)
        async with aclient.with_streaming_response.models.retrieve("tiny") as response:
            print("async text", json.loads(await response.text())["id"])
        try:
            await aclient.models.retrieve("no-such-model")
        except openai.NotFoundError as e:
            print("async 404", e.status_code, e.type)


asyncio.run(main())
'''


def _run(module: str, base_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", REFERENCE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-idioms")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-idioms")
    namespace: dict[str, Any] = {}
    exec(f"import {module} as openai" if module != "openai" else "import openai", namespace)  # the one difference
    out = io.StringIO()
    with redirect_stdout(out):
        exec(PROGRAM, namespace)
    return out.getvalue()


def test_openai_python_idioms_print_the_same_with_generated(reference_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = _run("openai", reference_url, monkeypatch)
    ours = _run("generated", reference_url, monkeypatch)
    assert ours.splitlines() == theirs.splitlines()
    labels = [line.split(" ", 1)[0] for line in ours.splitlines()]
    for label in ("completion", "stream", "raw", "streaming", "sse", "page", "model", "404", "400", "401",
                  "async", "with_options"):
        assert label in labels, label
    assert "to_json True True" in ours
    assert any(line.startswith("stream '") and line != "stream ''" for line in ours.splitlines())
    assert any(line.startswith("async stream '") and line != "async stream ''" for line in ours.splitlines())
    assert "400 400 temperature temperature True" in ours
    assert "401 401 invalid_api_key" in ours
