"""``--served-model-name``: the model answers to each served name (and only to them), ``/v1/models``
lists them, responses carry the name the request used; ``DELETE /v1/models/{model}`` never deletes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_support import client, serve

from oairef.cli import build_parser
from provider.app import create_app

NAMES = ("gpt-3.5-turbo-instruct", "my-alias")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve(served_model_names=NAMES)


def test_models_lists_every_served_name(server: tuple[str, Any]) -> None:
    url, _ = server
    c = client(url)
    assert [m.id for m in c.models.list()] == list(NAMES)
    for name in NAMES:
        assert c.models.retrieve(name).id == name
    r = httpx.get(url + "/models/tiny", timeout=30)  # the model's own name is not served any more
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert httpx.get(url.removesuffix("/v1") + "/health", timeout=30).json()["model"] == NAMES[0]


@pytest.mark.parametrize("name", NAMES)
def test_every_name_reaches_the_sampler_and_is_echoed(server: tuple[str, Any], name: str) -> None:
    url, _ = server
    c = client(url)
    out = c.completions.create(model=name, prompt="The keeper", max_tokens=4, seed=1)
    assert out.model == name and out.usage is not None and out.usage.completion_tokens >= 1
    chat = c.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hi"}], max_tokens=3, seed=1)
    assert chat.model == name
    stream = c.completions.create(model=name, prompt="The keeper", max_tokens=3, seed=1, stream=True)
    assert {chunk.model for chunk in stream} == {name}
    # the same seed samples the same text whatever the name
    assert out.choices[0].text == c.completions.create(model=NAMES[0], prompt="The keeper", max_tokens=4,
                                                         seed=1).choices[0].text


def test_other_names_are_404(server: tuple[str, Any]) -> None:
    url, _ = server
    for name in ("tiny", "gpt-4o", "my-alias "):
        r = httpx.post(url + "/completions", json={"model": name, "prompt": "x", "max_tokens": 1}, timeout=30)
        assert r.status_code == 404 and r.json()["error"]["param"] == "model"


def test_delete_never_deletes(server: tuple[str, Any]) -> None:
    url, _ = server
    r = httpx.delete(url + "/models/my-alias", timeout=30)
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["param"], err["code"], err["type"]) == ("model", "model_not_deletable", "invalid_request_error")
    r = httpx.delete(url + "/models/ft:gpt-4o:org:x", timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert [m["id"] for m in httpx.get(url + "/models", timeout=30).json()["data"]] == list(NAMES)


def test_names_are_checked() -> None:
    for bad in ([""], [" x"], ["a", "a"]):
        with pytest.raises(ValueError, match="served model name"):
            create_app("tiny", served_model_names=bad)
    assert build_parser().parse_args(["serve", "--served-model-name", "a", "--served-model-name", "b"]
                                     ).served_model_name == ["a", "b"]
    assert build_parser().parse_args(["serve"]).served_model_name == []
