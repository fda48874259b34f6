"""The reference provider's plumbing: models, auth, routing, malformed bodies, tokenizer extras."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from server_support import API_KEY, client, post, serve

from generated import models as gm
from provider.app import create_app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve()


@pytest.fixture(scope="module")
def keyed() -> Iterator[tuple[str, Any]]:
    yield from serve(api_keys=[API_KEY, "sk-second"])


def _is_openai_error(body: Any, status_param: str | None = None) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
    gm.ErrorResponse.model_validate(body)
    return err


def test_models_list_and_retrieve(server: tuple[str, Any]) -> None:
    url, _ = server
    c = client(url)
    listed = c.models.list()
    assert [m.id for m in listed.data] == ["tiny"]
    gm.ListModelsResponse.model_validate(httpx.get(url + "/models").json())
    m = c.models.retrieve("tiny")
    assert m.id == "tiny" and m.object == "model" and m.owned_by == "oairef"
    gm.Model.model_validate(httpx.get(url + "/models/tiny").json())


def test_unknown_model_is_404_model_not_found(server: tuple[str, Any]) -> None:
    url, _ = server
    c = client(url)
    with pytest.raises(openai.NotFoundError) as e:
        c.models.retrieve("gpt-4o")
    assert e.value.code == "model_not_found"
    for path, body in [("/completions", {"model": "gpt-4o", "prompt": "x"}),
                       ("/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})]:
        r = post(url, path, body)
        assert r.status_code == 404
        err = _is_openai_error(r.json())
        assert err["code"] == "model_not_found" and err["param"] == "model"


def test_api_keys_required_when_configured(keyed: tuple[str, Any]) -> None:
    url, _ = keyed
    with pytest.raises(openai.AuthenticationError) as e:
        client(url, api_key="wrong").models.list()
    assert e.value.status_code == 401
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {API_KEY}"}):
        r = httpx.get(url + "/models", headers=headers)
        assert r.status_code == 401 and _is_openai_error(r.json())["code"] == "invalid_api_key"
    r = post(url.removesuffix("/v1"), "/extras/tokenize", {"input": "x"})
    assert r.status_code == 401
    for key in (API_KEY, "sk-second"):
        assert [m.id for m in client(url, api_key=key).models.list().data] == ["tiny"]
    out = client(url, api_key=API_KEY).completions.create(model="tiny", prompt="The", max_tokens=2, seed=0)
    assert out.usage is not None and out.usage.completion_tokens >= 1


@pytest.mark.parametrize("key", ["", "  ", " sk-x"])
def test_a_key_no_request_could_carry_is_refused_at_start(key: str) -> None:
    """An empty or blank --api-key would make every request a 401; the server refuses to start instead."""
    with pytest.raises(ValueError, match="API key"):
        create_app("tiny", api_keys=[API_KEY, key])


def test_no_key_needed_without_keys(server: tuple[str, Any]) -> None:
    url, _ = server
    assert httpx.get(url + "/models").status_code == 200


@pytest.mark.parametrize("payload", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"', b"null",
                                     b'{"model": "tiny", "prompt": "x", "temperature": NaN}'])
@pytest.mark.parametrize("path", ["/completions", "/chat/completions"])
def test_malformed_body_is_400(server: tuple[str, Any], path: str, payload: bytes) -> None:
    url, _ = server
    r = post(url, path, payload)
    assert r.status_code == 400, r.text
    _is_openai_error(r.json())


def test_missing_required_fields_name_them(server: tuple[str, Any]) -> None:
    url, _ = server
    r = post(url, "/completions", {"model": "tiny"})
    assert r.status_code == 400 and _is_openai_error(r.json())["param"] == "prompt"
    r = post(url, "/chat/completions", {"model": "tiny"})
    assert r.status_code == 400 and _is_openai_error(r.json())["param"] == "messages"
    r = post(url, "/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and _is_openai_error(r.json())["param"] == "model"


def test_unknown_route_and_method_are_openai_shaped(server: tuple[str, Any]) -> None:
    url, _ = server
    r = httpx.get(url + "/nothing-here")
    assert r.status_code == 404
    _is_openai_error(r.json())
    r = httpx.get(url + "/completions")
    assert r.status_code == 405
    _is_openai_error(r.json())


def test_tokenize_detokenize_round_trip(server: tuple[str, Any]) -> None:
    url, app = server
    base = url.removesuffix("/v1")
    text = "The keeper counted 3 ships. Zoë, 日本語 🙂"
    r = post(base, "/extras/tokenize", {"input": text})
    assert r.status_code == 200
    tokens = r.json()["tokens"]
    assert tokens == app.state.oairef.model.tokenize(text)
    r = post(base, "/extras/detokenize", {"tokens": tokens})
    assert r.status_code == 200 and r.json() == {"text": text}


@pytest.mark.parametrize("path,body,param", [
    ("/extras/tokenize", {"input": 5}, "input"),
    ("/extras/tokenize", {}, "input"),
    ("/extras/detokenize", {"tokens": [0, 99999]}, "tokens"),
    ("/extras/detokenize", {"tokens": [-1]}, "tokens"),
    ("/extras/detokenize", {"tokens": "abc"}, "tokens"),
])
def test_extras_reject_bad_input(server: tuple[str, Any], path: str, body: dict[str, Any], param: str) -> None:
    url, _ = server
    r = post(url.removesuffix("/v1"), path, body)
    assert r.status_code == 400
    assert _is_openai_error(r.json())["param"] == param


def test_extras_model_must_match(server: tuple[str, Any]) -> None:
    url, _ = server
    r = post(url.removesuffix("/v1"), "/extras/tokenize", {"input": "x", "model": "other"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


class NaNAfter:
    """The tiny model, but its logits turn NaN once the context is longer than ``limit`` tokens."""

    def __init__(self, limit: int) -> None:
        from models import TinyModel

        self._m, self.limit = TinyModel(), limit
        self.name, self.vocab_size, self.eos_token_id, self.n_ctx = "tiny", self._m.vocab_size, self._m.eos_token_id, 2048

    def logits(self, ids: list[int]) -> Any:
        z = self._m.logits(ids)
        return z * float("nan") if len(ids) > self.limit else z

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m, name)


def test_model_failure_is_reported_in_shape_and_server_survives() -> None:
    import json

    for url, _ in serve(model=NaNAfter(limit=4)):
        body = {"model": "tiny", "prompt": "The", "max_tokens": 10, "logit_bias": {"2048": -100}}
        r = post(url, "/completions", body)
        assert r.status_code == 500
        err = _is_openai_error(r.json())
        assert err["type"] == "server_error" and "InvalidLogits" in err["message"]
        r = post(url, "/completions", {**body, "stream": True})
        events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
        errors = [json.loads(e) for e in events if e != "[DONE]" and "error" in json.loads(e)]
        assert len(errors) == 1 and errors[0]["error"]["type"] == "server_error"
        assert httpx.get(url + "/models").status_code == 200


def test_keep_alive_requests_are_not_held_by_nagle() -> None:
    """Connections asyncio accepts on ``listening_socket`` (uvicorn's ``sockets=`` path) have
    TCP_NODELAY: asyncio sets it only when the socket's proto is IPPROTO_TCP, and without it every
    keep-alive response waited ~40 ms for the client's delayed ACK."""
    import asyncio
    import socket

    from provider.app import listening_socket

    async def main() -> int:
        sock = listening_socket("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            host, port = sock.getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            nodelay = await asyncio.wait_for(seen, timeout=30)  # bounded: the handler runs once accepted
            writer.close()
        return nodelay

    assert asyncio.run(main()) != 0


def test_a_subnormal_temperature_is_served_as_the_greedy_choice(server: tuple[str, Any]) -> None:
    """temperature 1e-310 lies in [0, 2]: the contract's softmax(z / T) puts all mass on the maximum (it
    once crashed the server process: 1 / T overflowed inside the kernel)."""
    url, _ = server
    body = {"model": "tiny", "prompt": "The keeper", "max_tokens": 8, "seed": 3}
    tiny = post(url, "/completions", {**body, "temperature": 1e-310})
    greedy = post(url, "/completions", {**body, "temperature": 0})
    assert tiny.status_code == greedy.status_code == 200
    assert tiny.json()["choices"][0]["text"] == greedy.json()["choices"][0]["text"]
