"""Hostile input gets a 4xx in OpenAI's shape, never a 500 and never unbounded work: body size (413),
JSON nesting depth (400), prompt length before tokenizing (400 context_length_exceeded) and the
per-request token budget (400 naming the parameter that took the request over it)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from server_support import client, serve, serving

from models import TinyModel
from provider import limits as L
from provider.limits import Limits

EOS = 2048
#: Every route that reads a JSON body, with a body it accepts.
BODY_ROUTES = {
    "/completions": {"model": "tiny", "prompt": "The keeper", "max_tokens": 2},
    "/chat/completions": {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
    "../extras/tokenize": {"input": "The keeper"},
    "../extras/detokenize": {"tokens": [1, 2, 3]},
}


class CountingTiny(TinyModel):
    """The tiny model, counting the characters it was asked to tokenize."""

    def __init__(self) -> None:
        super().__init__()
        self.tokenized = 0

    def tokenize(self, text: str) -> list[int]:
        self.tokenized += len(text)
        return super().tokenize(text)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve(model=CountingTiny())


@pytest.fixture()
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if the server logged an internal error (a 500's traceback) meanwhile."""
    with caplog.at_level(logging.ERROR, logger="oairef.serve"):
        yield
    assert [r.getMessage() for r in caplog.records if r.name == "oairef.serve"] == []


def error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text[:500]
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def url_of(base: str, route: str) -> str:
    return str(httpx.URL(base + "/").join(route.lstrip("/")))


# ------------------------------------------------------------------------------------------- body size
def test_defaults_are_the_documented_ones() -> None:
    """docs/serve.md's limits table states each flag's default: it must be the one the server uses."""
    table = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text(encoding="utf-8")
    documented = {m.group(1): int(m.group(2).replace(",", ""))
                  for m in re.finditer(r"^\| [^|]+ \| `(--[a-z-]+) N` \| ([\d,]+)", table, re.M)}
    assert documented == {"--max-body-bytes": Limits().max_body_bytes, "--max-json-depth": Limits().max_json_depth,
                          "--max-request-tokens": Limits().max_request_tokens,
                          "--max-concurrency": Limits().max_concurrency, "--max-queue": Limits().max_queue}
    for bad in ({"max_body_bytes": 0}, {"max_queue": -1}, {"max_concurrency": True}, {"max_json_depth": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("route", sorted(BODY_ROUTES))
def test_a_body_over_the_limit_is_413_however_it_is_sent(route: str, no_server_errors: None) -> None:
    body = json.dumps(BODY_ROUTES[route]).encode()
    limit = len(body) + 10
    with serving(limits=Limits(max_body_bytes=limit)) as (url, app):
        target = url_of(url, route)
        at_limit = body[:-1] + b" " * 10 + b"}"
        assert len(at_limit) == limit
        assert post_to(target, at_limit).status_code == 200  # exactly the limit is read
        err = error(post_to(target, at_limit + b" "), 413)
        assert err["code"] == "request_too_large" and str(limit) in err["message"] and "--max-body-bytes" in err["message"]
        # chunked (no Content-Length): refused once the bytes read pass the limit
        chunks = iter([body[:-1], b" " * 100, b"}"])
        r = httpx.post(target, content=chunks, headers={"Content-Type": "application/json"}, timeout=30)
        assert error(r, 413)["code"] == "request_too_large"
        assert app.state.oairef.stats.started <= 2


def post_to(url: str, body: Any) -> httpx.Response:
    return httpx.post(url, content=body if isinstance(body, bytes) else json.dumps(body),
                      headers={"Content-Type": "application/json"}, timeout=60)


def test_the_official_client_sees_the_413(server: tuple[str, Any]) -> None:
    url, _ = server
    with pytest.raises(openai.APIStatusError) as info:
        client(url).completions.create(model="tiny", prompt="x" * (L.DEFAULT_MAX_BODY_BYTES + 1))
    assert info.value.status_code == 413
    assert info.value.body["code"] == "request_too_large"  # type: ignore[index]


# ------------------------------------------------------------------------------------------ JSON depth
def nested(depth: int) -> dict[str, Any]:
    """A chat body whose total nesting depth is ``depth`` (the tool's JSON-schema ``parameters`` nest)."""
    inner: dict[str, Any] = {}
    for _ in range(depth - 5):  # body > tools > tool > function > parameters
        inner = {"a": inner}
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": inner}}]}
    return body


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def test_json_nested_beyond_the_limit_is_400_before_parsing(no_server_errors: None) -> None:
    with serving(limits=Limits(max_json_depth=12)) as (url, _):
        body = nested(12)
        assert depth_of(body) == 12
        assert post_to(url + "/chat/completions", body).status_code == 200
        err = error(post_to(url + "/chat/completions", nested(13)), 400)
        assert err["code"] == "invalid_json" and "13 levels" in err["message"] and "at most 12" in err["message"]
        # brackets inside strings do not count, escaped quotes do not end a string
        ok = {"model": "tiny", "prompt": "[[[[[[[[[[[[[[[[[[[[ \"{{{{{{{{{{{{{{{{ \\", "max_tokens": 1}
        assert post_to(url + "/completions", ok).status_code == 200


@pytest.mark.parametrize("route", sorted(BODY_ROUTES))
@pytest.mark.parametrize("raw", [b"[" * 5000 + b"]" * 5000, b'{"a": ' * 100_000, b"[" * 1_000_000],
                         ids=["arrays-5000", "objects-100000-unclosed", "arrays-1000000-unclosed"])
def test_deep_json_is_400_on_every_route_never_500(server: tuple[str, Any], route: str, raw: bytes,
                                                   no_server_errors: None) -> None:
    url, _ = server
    err = error(post_to(url_of(url, route), raw), 400)
    assert err["code"] == "invalid_json" and f"at most {L.DEFAULT_MAX_JSON_DEPTH}" in err["message"]


def test_an_unclosed_string_is_invalid_json(server: tuple[str, Any]) -> None:
    url, _ = server
    err = error(post_to(url + "/completions", b'{"model": "tiny", "prompt": "[[[[' + b"x" * 10_000), 400)
    assert err["code"] == "invalid_json" and "never closed" in err["message"]


# --------------------------------------------------------------------------------------- prompt length
def test_a_2mb_prompt_is_refused_without_being_tokenized(server: tuple[str, Any], no_server_errors: None) -> None:
    url, app = server
    model = app.state.oairef.model
    big = "the keeper " * 180_000  # 1.98 MB: under the body limit, far over any 2,048-token context
    before = model.tokenized
    err = error(post_to(url + "/completions", {"model": "tiny", "prompt": big, "max_tokens": 1}), 400)
    assert (err["param"], err["code"]) == ("prompt", "context_length_exceeded") and "at least" in err["message"]
    err = error(post_to(url + "/completions", {"model": "tiny", "prompt": ["fine", big], "max_tokens": 1}), 400)
    assert err["param"] == "prompt"
    err = error(post_to(url + "/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": big}]}), 400)
    assert (err["param"], err["code"]) == ("messages", "context_length_exceeded")
    err = error(post_to(url_of(url, "../extras/tokenize"), {"input": big}), 400)
    assert (err["param"], err["code"]) == ("input", "context_length_exceeded")
    assert model.tokenized - before == len("fine")  # the big text was never tokenized
    too_many = list(range(model.n_ctx + 1))
    err = error(post_to(url_of(url, "../extras/detokenize"), {"tokens": too_many}), 400)
    assert (err["param"], err["code"]) == ("tokens", "context_length_exceeded")
    err = error(post_to(url + "/completions", {"model": "tiny", "prompt": too_many + [10**9], "max_tokens": 1}), 400)
    assert (err["param"], err["code"]) == ("prompt", "context_length_exceeded")


# ------------------------------------------------------------------------------------ token budget
@pytest.fixture(scope="module")
def budget_server() -> Iterator[tuple[str, Any]]:
    yield from serve(limits=Limits(max_request_tokens=100))


@pytest.mark.parametrize(("body", "param"), [
    ({"prompt": "x", "max_tokens": 101}, "max_tokens"),
    ({"prompt": [1], "max_tokens": 100}, "prompt"),  # 1 prompt token read + 100 generated
    ({"prompt": ["a"] * 11, "max_tokens": 10}, "prompt"),
    ({"prompt": "x", "max_tokens": 10, "n": 11}, "n"),
    ({"prompt": "x", "max_tokens": 10, "n": 2, "best_of": 11}, "best_of"),
    ({"prompt": [[1], [2]], "max_tokens": 10, "n": 2, "best_of": 6}, "best_of"),
    ({"prompt": [[1], [2]], "max_tokens": 10, "n": 6}, "n"),
    ({"prompt": [[1] * 60, [2] * 40], "max_tokens": 0, "echo": True, "logprobs": 0}, "prompt"),  # 100 read + 2
    ({"prompt": [[1] * 600, [2] * 400], "max_tokens": 1}, "prompt"),  # read whether or not they are echoed
    ({"prompt": "x" * 98, "max_tokens": 1, "echo": True, "logprobs": 1, "n": 2}, "n"),  # 99 + 1 fit, 99 + 2 do not
])
def test_a_request_over_the_token_budget_is_400_naming_the_parameter(budget_server: tuple[str, Any],
                                                                     body: dict[str, Any], param: str) -> None:
    url, app = budget_server
    started = app.state.oairef.stats.started
    err = error(post_to(url + "/completions", {"model": "tiny", **body}), 400)
    assert (err["param"], err["code"]) == (param, "max_request_tokens_exceeded")
    assert "--max-request-tokens" in err["message"] and "100 per request" in err["message"]
    assert app.state.oairef.stats.started == started  # refused before generating


@pytest.mark.parametrize("body", [
    {"prompt": "x", "max_tokens": 98}, {"prompt": ["a"] * 10, "max_tokens": 8}, {"prompt": [1], "max_tokens": 9, "n": 11},
    {"prompt": [1], "max_tokens": 9, "n": 2, "best_of": 11}, {"prompt": [1], "max_tokens": 0, "echo": True, "n": 99},
    {"prompt": [[1] * 60, [2] * 38], "max_tokens": 0, "echo": True, "logprobs": 0},  # 98 read + 2
])
def test_a_request_at_the_budget_is_served(budget_server: tuple[str, Any], body: dict[str, Any]) -> None:
    url, _ = budget_server
    r = post_to(url + "/completions", {"model": "tiny", "logit_bias": {str(EOS): -100}, **body})
    assert r.status_code == 200, r.text


def test_chat_names_its_own_fields_and_counts_the_context_without_max_tokens(budget_server: tuple[str, Any]) -> None:
    url, _ = budget_server
    msgs = [{"role": "user", "content": "Hi"}]
    err = error(post_to(url + "/chat/completions", {"model": "tiny", "messages": msgs}), 400)
    assert err["param"] == "max_tokens" and "context length" in err["message"]
    err = error(post_to(url + "/chat/completions", {"model": "tiny", "messages": msgs, "max_completion_tokens": 101}), 400)
    assert err["param"] == "max_completion_tokens"
    err = error(post_to(url + "/chat/completions", {"model": "tiny", "messages": msgs, "max_tokens": 20, "n": 6}), 400)
    assert err["param"] == "n"
    assert post_to(url + "/chat/completions", {"model": "tiny", "messages": msgs, "max_tokens": 10, "n": 5}).status_code == 200


@pytest.mark.parametrize("echo", [True, False])
def test_prompt_tokens_count_against_the_default_budget(server: tuple[str, Any], echo: bool) -> None:
    """Every prompt token is read (a GGUF model decodes each; echo with logprobs scores each, one tiny-model
    call per token: 44 s for 100 x 2,040 ids before the budget). 20 prompts of 2,040 ids pass the default."""
    url, _ = server
    body = {"model": "tiny", "prompt": [[1, 300, 700] * 680] * 20, "max_tokens": 0 if echo else 1,
            **({"echo": True, "logprobs": 1} if echo else {})}
    err = error(post_to(url + "/completions", body), 400)
    assert err["param"] == "prompt" and "prompt tokens" in err["message"]
    assert post_to(url + "/completions", {**body, "prompt": body["prompt"][:2]}).status_code == 200


def test_the_default_budget_refuses_the_issue_s_request(server: tuple[str, Any]) -> None:
    """n = 128 with max_tokens up to the context: 262,144 tokens, 8 x the default budget."""
    url, _ = server
    err = error(post_to(url + "/completions", {"model": "tiny", "prompt": "x", "n": 128, "max_tokens": 2000}), 400)
    assert err["param"] == "n" and str(L.DEFAULT_MAX_REQUEST_TOKENS) in err["message"]
    # a max_tokens beyond the context stays the engine's context error (the budget counts at most the context)
    err = error(post_to(url + "/completions", {"model": "tiny", "prompt": "x", "max_tokens": 10**8}), 400)
    assert (err["param"], err["code"]) == ("max_tokens", "context_length_exceeded")
