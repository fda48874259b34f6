"""Every documented range and rule is a 400 in OpenAI's shape naming the parameter (never a 422 or
500), checked with the official client's ``BadRequestError``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from server_support import client, post, serve

MSGS = [{"role": "user", "content": "hi"}]
BIG = 10**6

# (parameters, the param the error must name) — shared by both endpoints
COMMON: list[tuple[dict[str, Any], str]] = [
    ({"temperature": -0.01}, "temperature"),
    ({"temperature": 2.01}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_p": -0.1}, "top_p"),
    ({"top_p": 1.01}, "top_p"),
    ({"n": 0}, "n"),
    ({"n": 129}, "n"),
    ({"n": 1.5}, "n"),
    ({"presence_penalty": -2.5}, "presence_penalty"),
    ({"presence_penalty": 2.01}, "presence_penalty"),
    ({"frequency_penalty": -2.01}, "frequency_penalty"),
    ({"frequency_penalty": 3}, "frequency_penalty"),
    ({"logit_bias": {"5": 101}}, "logit_bias"),
    ({"logit_bias": {"5": -100.5}}, "logit_bias"),
    ({"logit_bias": {"abc": 1}}, "logit_bias"),
    ({"logit_bias": {"-3": 1}}, "logit_bias"),
    ({"logit_bias": {"2049": 1}}, "logit_bias"),  # tiny's vocabulary is [0, 2049)
    ({"logit_bias": {str(BIG): 1}}, "logit_bias"),
    ({"logit_bias": [1, 2]}, "logit_bias"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stop": 5}, "stop"),
    ({"stop": []}, "stop"),
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 2049}, "max_tokens"),  # prompt + max_tokens over the 2048-token context
    ({"seed": "abc"}, "seed"),
    ({"stream": "yes"}, "stream"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"unknown_parameter": 1}, "unknown_parameter"),
]

COMPLETIONS: list[tuple[dict[str, Any], str]] = [
    ({"best_of": 0}, "best_of"),
    ({"best_of": 21}, "best_of"),
    ({"n": 3, "best_of": 2}, "best_of"),
    ({"best_of": 2, "stream": True}, "best_of"),
    ({"logprobs": -1}, "logprobs"),
    ({"logprobs": 6}, "logprobs"),
    ({"logprobs": True}, "logprobs"),
    ({"echo": "yes"}, "echo"),
    ({"echo": 1}, "echo"),  # JSON types are never coerced
    ({"prompt": [5, 2049]}, "prompt"),
    ({"prompt": [[1, 2], [-1]]}, "prompt"),
    ({"prompt": {"text": "x"}}, "prompt"),
    ({"prompt": []}, "prompt"),
    ({"suffix": "tail"}, "suffix"),
]

CHAT: list[tuple[dict[str, Any], str]] = [
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"logprobs": True, "top_logprobs": -1}, "top_logprobs"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"logprobs": False, "top_logprobs": 3}, "top_logprobs"),
    ({"logprobs": 3}, "logprobs"),
    ({"logprobs": 1}, "logprobs"),
    ({"logprobs": True, "top_logprobs": 2.0}, "top_logprobs"),
    ({"max_completion_tokens": -1}, "max_completion_tokens"),
    ({"max_completion_tokens": 5000}, "max_completion_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
    ({"messages": [{"role": "user"}]}, "messages"),
    ({"messages": "hello"}, "messages"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve()


def _check(err: openai.BadRequestError, param: str) -> None:
    assert err.status_code == 400
    body = err.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}, body
    assert body["type"] == "invalid_request_error"
    assert body["param"] == param, body
    assert body["message"]


@pytest.mark.parametrize("extra,param", COMMON + COMPLETIONS, ids=lambda x: str(x)[:40])
def test_completions_invalid_parameter(server: tuple[str, Any], extra: dict[str, Any], param: str) -> None:
    url, _ = server
    base = {"model": "tiny", "prompt": "The keeper", "max_tokens": 2, **extra}
    with pytest.raises(openai.BadRequestError) as e:
        client(url).completions.create(**{"model": base.pop("model"), "prompt": base.pop("prompt")},
                                       extra_body=base)
    _check(e.value, param)


@pytest.mark.parametrize("extra,param", COMMON + CHAT, ids=lambda x: str(x)[:40])
def test_chat_invalid_parameter(server: tuple[str, Any], extra: dict[str, Any], param: str) -> None:
    url, _ = server
    base = {"max_tokens": 2, **extra}
    messages = base.pop("messages", MSGS)
    with pytest.raises(openai.BadRequestError) as e:
        client(url).chat.completions.create(model="tiny", messages=messages, extra_body=base)
    _check(e.value, param)


@pytest.mark.parametrize("extra", [
    {"temperature": 0}, {"temperature": 2}, {"top_p": 0}, {"top_p": 1}, {"n": 128, "max_tokens": 1},
    {"presence_penalty": -2, "frequency_penalty": 2}, {"logit_bias": {"0": 100, "2048": -100}},
    {"stop": ["a", "b", "c", "d"]}, {"max_tokens": 0}, {"seed": -5}, {"seed": 2**63},
    {"best_of": 20, "n": 20, "max_tokens": 1}, {"logprobs": 5}, {"logprobs": 0}, {"stop": None},
    {"max_tokens": None}, {"prompt": ""}, {"prompt": None},
], ids=lambda x: str(x)[:40])
def test_completions_boundary_values_are_accepted(server: tuple[str, Any], extra: dict[str, Any]) -> None:
    url, _ = server
    body = {"model": "tiny", "prompt": "The keeper", "max_tokens": 2, **extra}
    r = post(url, "/completions", body)
    assert r.status_code == 200, r.text


def test_validation_errors_are_never_422(server: tuple[str, Any]) -> None:
    url, _ = server
    r = post(url, "/completions", {"model": "tiny", "prompt": "x", "temperature": [1]})
    assert r.status_code == 400 and "detail" not in r.json()
