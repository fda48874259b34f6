"""``POST /v1/chat/completions``: template, logprobs with bytes, n, stop, streaming and usage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from server_support import client, post, serve, sse_events

from generated import models as gm
from sampler import reference

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about the harbour."}]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve()


def _chat(url: str, **kw: Any) -> dict[str, Any]:
    out = client(url).chat.completions.create(model="tiny", messages=kw.pop("messages", MESSAGES), **kw)
    body = out.model_dump(exclude_unset=True)
    gm.CreateChatCompletionResponse.model_validate(body)
    return body


def test_chat_prompt_is_the_model_template(server: tuple[str, Any]) -> None:
    url, app = server
    model = app.state.oairef.model
    body = _chat(url, max_completion_tokens=3, seed=1)
    assert body["usage"]["prompt_tokens"] == len(model.tokenize(model.apply_chat_template(MESSAGES)))
    assert body["object"] == "chat.completion"
    msg = body["choices"][0]["message"]
    assert msg["role"] == "assistant" and isinstance(msg["content"], str)


def test_chat_greedy_matches_model_argmax(server: tuple[str, Any]) -> None:
    url, app = server
    model = app.state.oairef.model
    ids = model.tokenize(model.apply_chat_template(MESSAGES))
    out: list[int] = []
    for _ in range(6):
        t = int(np.argmax(model.logits(ids + out)))
        if t == model.eos_token_id:
            break
        out.append(t)
    body = _chat(url, max_tokens=6, temperature=0)
    assert body["choices"][0]["message"]["content"] == b"".join(model.token_bytes(t) for t in out).decode()


def test_chat_logprobs_top_logprobs_and_bytes(server: tuple[str, Any]) -> None:
    url, app = server
    model = app.state.oairef.model
    ids = model.tokenize(model.apply_chat_template(MESSAGES))
    body = _chat(url, max_tokens=5, seed=3, logprobs=True, top_logprobs=4, temperature=0.7)
    ch = body["choices"][0]
    content = ch["logprobs"]["content"]
    assert "".join(e["token"] for e in content) == ch["message"]["content"]
    raw = reference.raw_logprobs(model.logits(ids))
    first = content[0]
    assert len(first["top_logprobs"]) == 4
    assert [t["logprob"] for t in first["top_logprobs"]] == pytest.approx(sorted(raw, reverse=True)[:4], abs=1e-5)
    order = np.argsort(-raw, kind="stable")[:4]
    assert [bytes(t["bytes"]) for t in first["top_logprobs"]] == [model.token_bytes(int(i)) for i in order]
    chosen = [t for t in range(model.vocab_size) if model.token_bytes(t) == bytes(first["bytes"])]
    assert len(chosen) == 1 and first["logprob"] == pytest.approx(float(raw[chosen[0]]), abs=1e-5)
    for e in content:
        assert all(t["logprob"] <= 0 for t in e["top_logprobs"])
        lps = [t["logprob"] for t in e["top_logprobs"]]
        assert lps == sorted(lps, reverse=True)


def test_chat_logprobs_without_top_logprobs(server: tuple[str, Any]) -> None:
    url, _ = server
    body = _chat(url, max_tokens=4, seed=3, logprobs=True)
    content = body["choices"][0]["logprobs"]["content"]
    assert content and all(e["top_logprobs"] == [] for e in content)
    assert _chat(url, max_tokens=4, seed=3)["choices"][0]["logprobs"] is None


def test_chat_n_seed_and_stop(server: tuple[str, Any]) -> None:
    url, _ = server
    a = _chat(url, max_tokens=12, seed=42, n=3)
    b = _chat(url, max_tokens=12, seed=42, n=3)
    assert [c["message"]["content"] for c in a["choices"]] == [c["message"]["content"] for c in b["choices"]]
    assert [c["index"] for c in a["choices"]] == [0, 1, 2]
    full = _chat(url, max_tokens=20, temperature=0)["choices"][0]["message"]["content"]
    stop = full[5:8]
    cut = _chat(url, max_tokens=20, temperature=0, stop=stop)["choices"][0]
    assert cut["message"]["content"] == full[: full.find(stop)] and cut["finish_reason"] == "stop"


class ShortContext:
    """The tiny model with a 64-token context (delegates everything else)."""

    n_ctx = 64

    def __init__(self) -> None:
        from models import TinyModel

        self._m = TinyModel()
        self.name, self.vocab_size, self.eos_token_id = "tiny", self._m.vocab_size, self._m.eos_token_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m, name)


def _filling(model: ShortContext) -> list[dict[str, str]]:
    """One user message whose rendered prompt is exactly ``model.n_ctx`` tokens."""
    for words in range(1, model.n_ctx):
        for word in (" a", " 7", " ;"):
            messages = [{"role": "user", "content": word * words}]
            if len(model.tokenize(model.apply_chat_template(messages))) == model.n_ctx:
                return messages
    raise AssertionError("no message fills the context exactly")


def test_chat_default_max_tokens_is_rest_of_context() -> None:
    model = ShortContext()
    for url, _ in serve(model=model):
        prompt_tokens = len(model.tokenize(model.apply_chat_template(MESSAGES)))
        body = _chat(url, seed=0, logit_bias={str(model.eos_token_id): -100})
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == model.n_ctx - prompt_tokens
        r = post(url, "/chat/completions", {"model": "tiny", "messages": MESSAGES,
                                            "max_completion_tokens": model.n_ctx - prompt_tokens + 1})
        err = r.json()["error"]
        assert r.status_code == 400 and err["param"] == "max_completion_tokens"
        assert err["code"] == "context_length_exceeded"
        assert err["message"].startswith("Invalid value for 'max_completion_tokens': the prompt has ")
        r = post(url, "/chat/completions", {"model": "tiny", "messages": MESSAGES, "max_tokens": model.n_ctx})
        assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"
        for messages in (MESSAGES * 8, _filling(model)):  # longer than the context; filling it exactly
            r = post(url, "/chat/completions", {"model": "tiny", "messages": messages})
            err = r.json()["error"]
            assert r.status_code == 400 and (err["param"], err["code"]) == ("messages", "context_length_exceeded")
        r = post(url, "/completions", {"model": "tiny", "prompt": "x", "max_tokens": model.n_ctx})
        assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"


def _stream(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = post(url, "/chat/completions", {"model": "tiny", "messages": MESSAGES, **body, "stream": True})
    assert r.status_code == 200
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for c in chunks:
        gm.CreateChatCompletionStreamResponse.model_validate(c)
        assert c["object"] == "chat.completion.chunk"
    return chunks


def test_chat_streaming_equals_non_streaming(server: tuple[str, Any]) -> None:
    url, _ = server
    kw = dict(max_tokens=20, seed=9, n=2, logprobs=True, top_logprobs=2, stop=["."])
    whole = _chat(url, **kw)
    chunks = _stream(url, kw)
    for ch in whole["choices"]:
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == ch["index"]]
        assert mine[0]["delta"] == {"role": "assistant", "content": ""}
        assert "".join(m["delta"].get("content") or "" for m in mine) == ch["message"]["content"]
        assert mine[-1]["finish_reason"] == ch["finish_reason"] and mine[-1]["delta"] == {}
        streamed = [e for m in mine if m.get("logprobs") for e in m["logprobs"]["content"]]
        assert streamed == ch["logprobs"]["content"]


def test_chat_stream_include_usage(server: tuple[str, Any]) -> None:
    url, _ = server
    whole = _chat(url, max_tokens=5, seed=4)
    chunks = _stream(url, {"max_tokens": 5, "seed": 4, "stream_options": {"include_usage": True}})
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])
    official = list(client(url).chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=5, seed=4, stream=True, stream_options={"include_usage": True}))
    assert official[-1].usage is not None and official[-1].usage.total_tokens == whole["usage"]["total_tokens"]
    text = "".join(c.choices[0].delta.content or "" for c in official if c.choices)
    assert text == whole["choices"][0]["message"]["content"]


def test_chat_content_parts_and_roles(server: tuple[str, Any]) -> None:
    url, _ = server
    parts = [{"role": "user", "content": [{"type": "text", "text": "Tell me "}, {"type": "text", "text": "about the harbour."}]}]
    as_parts = _chat(url, messages=[MESSAGES[0], *parts], max_tokens=6, seed=5)
    as_text = _chat(url, max_tokens=6, seed=5)
    assert as_parts["choices"][0]["message"] == as_text["choices"][0]["message"]
    convo = [*MESSAGES, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "content": "42", "tool_call_id": "c1"}]
    assert _chat(url, messages=convo, max_tokens=3, seed=1)["choices"][0]["message"]["role"] == "assistant"
    r = post(url, "/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
