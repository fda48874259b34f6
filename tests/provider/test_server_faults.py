"""Each ``--fault`` changes the provider's behaviour exactly as its name says (and only then): the
validator's proofs rely on these departures being real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import post, serve, sse_events

from models import TinyModel
from provider.faults import FAULTS, Fault, clamp_request, get_fault, llama_cpp_penalty_ids, request_limits
from sampler import SamplingParams, complete
from sampler.params import MAX_STOP, RANGES

PROMPT = "The keeper counted the ships"
EOS = 2048
NO_EOS = {str(EOS): -100}  # keeps generations going to max_tokens, so repeats (and penalties) happen


@contextmanager
def _server(**kw: Any) -> Iterator[str]:
    gen = serve(**kw)
    url, _ = next(gen)
    try:
        yield url
    finally:
        gen.close()


@pytest.fixture(scope="module")
def normal() -> Iterator[str]:
    with _server() as url:
        yield url




def _completion(url: str, **kw: Any) -> dict[str, Any]:
    r = post(url, "/completions", {"model": "tiny", "prompt": PROMPT, "max_tokens": 12, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def _texts(body: dict[str, Any]) -> list[str]:
    return [c["text"] for c in body["choices"]]


def test_every_fault_is_documented_and_unknown_names_fail() -> None:
    """``FAULTS`` is the one list: every fault is documented in provider/faults.py and docs/serve.md."""
    import provider.faults

    serve_md = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text(encoding="utf-8")
    for name in FAULTS:
        assert f"``{name}``" in (provider.faults.__doc__ or ""), name
        assert f"`{name}`" in serve_md, name
    with pytest.raises(ValueError, match="unknown fault"):
        get_fault("nope")
    assert get_fault(None).name == "none"


def test_stop_leak(normal: str) -> None:
    full = _texts(_completion(normal, temperature=0, max_tokens=30))[0]
    stop = full[8:11]
    i = full.find(stop)
    assert _texts(_completion(normal, temperature=0, max_tokens=30, stop=stop))[0] == full[:i]
    with _server(fault="stop_leak") as url:
        body = _completion(url, temperature=0, max_tokens=30, stop=stop)
        assert body["choices"][0]["text"] == full[: i + len(stop)]
        assert body["choices"][0]["finish_reason"] == "stop"
        r = post(url, "/completions", {"model": "tiny", "prompt": PROMPT, "max_tokens": 30, "temperature": 0,
                                       "stop": stop, "stream": True})
        chunks = [json.loads(e) for e in sse_events(r)[:-1]]
        assert "".join(c["choices"][0]["text"] for c in chunks) == full[: i + len(stop)]
        # an echoed prompt is not searched for the stop string
        echo_stop = PROMPT[4:10]
        body = _completion(url, temperature=0, max_tokens=30, stop=echo_stop, echo=True)
        assert body["choices"][0]["text"].startswith(PROMPT)
        r = post(url, "/completions", {"model": "tiny", "prompt": PROMPT, "max_tokens": 30, "temperature": 0,
                                       "stop": echo_stop, "echo": True, "stream": True})
        streamed = "".join(json.loads(e)["choices"][0]["text"] for e in sse_events(r)[:-1])
        assert streamed == body["choices"][0]["text"]


def test_temperature_rescaled(normal: str) -> None:
    with _server(fault="temperature_rescaled") as url:
        for seed in range(3):
            assert _texts(_completion(url, temperature=2.0, seed=seed)) == \
                _texts(_completion(normal, temperature=1.0, seed=seed))
        assert any(_texts(_completion(url, temperature=2.0, seed=s)) != _texts(_completion(normal, temperature=2.0, seed=s))
                   for s in range(5))


def test_top_p_ignored(normal: str) -> None:
    with _server(fault="top_p_ignored") as url:
        for seed in range(3):
            assert _texts(_completion(url, top_p=0.05, seed=seed)) == _texts(_completion(normal, top_p=1.0, seed=seed))
        assert any(_texts(_completion(url, top_p=0.05, seed=s)) != _texts(_completion(normal, top_p=0.05, seed=s))
                   for s in range(5))


def test_logit_bias_ignored(normal: str) -> None:
    target = TinyModel().tokenize(" harbour")[0]
    bias = {str(target): 100}
    biased = _texts(_completion(normal, logit_bias=bias, seed=1, max_tokens=4))[0]
    assert biased == TinyModel().token_bytes(target).decode() * 4
    with _server(fault="logit_bias_ignored") as url:
        assert _texts(_completion(url, logit_bias=bias, seed=1)) == _texts(_completion(normal, seed=1))


def test_penalties_count_prompt(normal: str) -> None:
    model = TinyModel()
    prompt = "the ship, the ship, the ship, the ship"
    kw = dict(prompt=prompt, presence_penalty=2.0, frequency_penalty=2.0, temperature=0, max_tokens=12,
              logit_bias=NO_EOS)
    params = SamplingParams(presence_penalty=2.0, frequency_penalty=2.0, temperature=0.0, max_tokens=12,
                            logit_bias={EOS: -100})
    with _server(fault="penalties_count_prompt") as url:
        faulty = _texts(_completion(url, **kw))[0]
    expected = complete(model, prompt, params, penalty_ids=llama_cpp_penalty_ids).choices[0].text
    assert faulty == expected
    assert _texts(_completion(normal, **kw))[0] == complete(model, prompt, params).choices[0].text != faulty


def test_penalties_swapped(normal: str) -> None:
    kw: dict[str, Any] = dict(max_tokens=30, logit_bias=NO_EOS)
    with _server(fault="penalties_swapped") as url:
        for seed in range(3):
            a = _completion(url, presence_penalty=2.0, frequency_penalty=-1.0, seed=seed, **kw)
            b = _completion(normal, presence_penalty=-1.0, frequency_penalty=2.0, seed=seed, **kw)
            assert _texts(a) == _texts(b)
        assert any(_texts(_completion(url, presence_penalty=2.0, frequency_penalty=-1.0, seed=s, **kw))
                   != _texts(_completion(normal, presence_penalty=2.0, frequency_penalty=-1.0, seed=s, **kw))
                   for s in range(5))


def test_best_of_ignored(normal: str) -> None:
    kw = dict(temperature=1.5, max_tokens=10)
    with _server(fault="best_of_ignored") as url:
        for seed in range(3):
            assert _texts(_completion(url, best_of=5, seed=seed, **kw)) == _texts(_completion(normal, seed=seed, **kw))
        assert any(_texts(_completion(normal, best_of=5, seed=s, **kw)) != _texts(_completion(normal, seed=s, **kw))
                   for s in range(5))


def test_n_ignored(normal: str) -> None:
    assert len(_completion(normal, n=3, seed=1)["choices"]) == 3
    with _server(fault="n_ignored") as url:
        body = _completion(url, n=3, seed=1)
        assert len(body["choices"]) == 1
        assert _texts(body) == _texts(_completion(normal, n=1, seed=1))


def test_seed_ignored(normal: str) -> None:
    kw = dict(seed=5, temperature=1.0, max_tokens=20, logit_bias=NO_EOS)
    assert _texts(_completion(normal, **kw)) == _texts(_completion(normal, **kw))
    with _server(fault="seed_ignored") as url:
        assert len({_texts(_completion(url, **kw))[0] for _ in range(4)}) > 1


def test_ranges_clamped(normal: str) -> None:
    assert post(normal, "/completions", {"model": "tiny", "prompt": "x", "temperature": 5}).status_code == 400
    with _server(fault="ranges_clamped") as url:
        assert _texts(_completion(url, temperature=5, top_p=3, seed=2)) == \
            _texts(_completion(normal, temperature=2, top_p=1, seed=2))
        assert len(_completion(url, n=500, best_of=3, max_tokens=1)["choices"]) == 128
        # chat has no best_of: clamping leaves it for the parser's 400, never a 500
        r = post(url, "/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "x"}],
                                            "n": 3, "best_of": 1})
        assert r.status_code == 400 and r.json()["error"]["param"] == "best_of"
    assert clamp_request("completion", {"logit_bias": {"1": 500}, "stop": list("abcdef"), "presence_penalty": -9}) == \
        {"logit_bias": {"1": 100}, "stop": list("abcd"), "presence_penalty": -2.0}
    assert clamp_request("chat", {"top_logprobs": 99, "logprobs": True, "max_completion_tokens": -4}) == \
        {"top_logprobs": 20, "logprobs": True, "max_completion_tokens": 0}


def test_clamp_limits_are_the_spec_ranges() -> None:
    """The limits ranges_clamped clamps into are read from the generated request models' JSON schema;
    they agree with the sampler's own RANGES (held equal to the spec by tests/sampler)."""
    completion, chat = request_limits("completion"), request_limits("chat")
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "n", "best_of", "logprobs"):
        assert completion.numbers[name] == RANGES[name], name
    assert chat.numbers["top_logprobs"] == RANGES["top_logprobs"] and "best_of" not in chat.numbers
    assert completion.values["logit_bias"] == chat.values["logit_bias"] == RANGES["logit_bias"]
    assert completion.items["stop"] == chat.items["stop"] == MAX_STOP
    assert completion.numbers["max_tokens"] == (0, None)


def test_flat_error(normal: str) -> None:
    nested = post(normal, "/completions", {"model": "tiny", "prompt": "x", "n": 0}).json()
    assert set(nested) == {"error"}
    with _server(fault="flat_error") as url:
        r = post(url, "/completions", {"model": "tiny", "prompt": "x", "n": 0})
        assert r.status_code == 400
        assert r.json() == nested["error"]
        r = httpx.get(url + "/models/other")
        assert r.status_code == 404 and r.json()["code"] == "model_not_found"


def test_no_done(normal: str) -> None:
    body = {"model": "tiny", "prompt": PROMPT, "max_tokens": 4, "stream": True}
    assert sse_events(post(normal, "/completions", body))[-1] == "[DONE]"
    with _server(fault="no_done") as url:
        events = sse_events(post(url, "/completions", body))
        assert "[DONE]" not in events
        assert events and all(json.loads(e)["object"] == "text_completion" for e in events)


def test_processed_logprobs(normal: str) -> None:
    kw = dict(logprobs=2, temperature=0.5, seed=3, max_tokens=6)
    raw = _completion(normal, **kw)["choices"][0]["logprobs"]["token_logprobs"]
    with _server(logprobs_mode="processed") as url:
        processed = _completion(url, **kw)["choices"][0]["logprobs"]["token_logprobs"]
    with _server(fault="processed_logprobs") as url:
        faulty = _completion(url, **kw)["choices"][0]["logprobs"]["token_logprobs"]
    assert faulty == processed != raw


# ------------------------------------------------------------------------------ the chat path
MESSAGES = [{"role": "user", "content": "Tell me about the keeper and the ships."}]
TARGET = TinyModel().tokenize(" harbour")[0]

#: fault -> (chat parameters sent to the faulty server, parameters that give the same answer on a
#: correct server): the fault departs on /v1/chat/completions exactly as on /v1/completions.
CHAT_EQUIVALENTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "temperature_rescaled": ({"temperature": 2.0}, {"temperature": 1.0}),
    "top_p_ignored": ({"top_p": 0.05}, {"top_p": 1.0}),
    "logit_bias_ignored": ({"logit_bias": {str(TARGET): 100}}, {"logit_bias": {}}),
    "penalties_swapped": ({"presence_penalty": 2.0, "frequency_penalty": -1.0, "max_tokens": 30},
                          {"presence_penalty": -1.0, "frequency_penalty": 2.0, "max_tokens": 30}),
    "n_ignored": ({"n": 3}, {"n": 1}),
    "ranges_clamped": ({"temperature": 5, "top_p": 3, "logprobs": True, "top_logprobs": 99},
                       {"temperature": 2, "top_p": 1, "logprobs": True, "top_logprobs": 20}),
}


def _chat(url: str, **kw: Any) -> dict[str, Any]:
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 12, "logit_bias": NO_EOS, **kw}
    r = post(url, "/chat/completions", body)
    assert r.status_code == 200, r.text
    return r.json()


def _answers(body: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(c["message"]["content"], c["logprobs"]) for c in body["choices"]]


@pytest.mark.parametrize("fault", sorted(CHAT_EQUIVALENTS))
def test_fault_departs_on_the_chat_path(normal: str, fault: str) -> None:
    faulty_kw, correct_kw = CHAT_EQUIVALENTS[fault]
    with _server(fault=fault) as url:
        for seed in range(3):
            assert _answers(_chat(url, seed=seed, **faulty_kw)) == _answers(_chat(normal, seed=seed, **correct_kw))
        if fault != "ranges_clamped":  # (a correct server refuses those values)
            assert any(_answers(_chat(url, seed=s, **faulty_kw)) != _answers(_chat(normal, seed=s, **faulty_kw))
                       for s in range(5))


def test_stop_leak_on_the_chat_path(normal: str) -> None:
    full = _chat(normal, temperature=0, max_tokens=30)["choices"][0]["message"]["content"]
    stop = full[8:11]
    i = full.find(stop)
    assert _chat(normal, temperature=0, max_tokens=30, stop=[stop])["choices"][0]["message"]["content"] == full[:i]
    with _server(fault="stop_leak") as url:
        choice = _chat(url, temperature=0, max_tokens=30, stop=[stop])["choices"][0]
        assert (choice["message"]["content"], choice["finish_reason"]) == (full[: i + len(stop)], "stop")
        r = post(url, "/chat/completions", {"model": "tiny", "messages": MESSAGES, "max_tokens": 30, "temperature": 0,
                                            "logit_bias": NO_EOS, "stop": stop, "stream": True})
        chunks = [json.loads(e) for e in sse_events(r)[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == full[: i + len(stop)]
        assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"


def test_penalties_count_prompt_on_the_chat_path() -> None:
    """The chat prompt is every message as the template renders it: the fault counts its last tokens."""
    model = TinyModel()
    messages = [{"role": "user", "content": "the ship, the ship, the ship, the ship"}]
    params = SamplingParams(presence_penalty=2.0, frequency_penalty=2.0, temperature=0.0, max_tokens=12,
                            logit_bias={EOS: -100})
    prompt = model.apply_chat_template(messages)
    with _server(fault="penalties_count_prompt") as url:
        faulty = _chat(url, messages=messages, presence_penalty=2.0, frequency_penalty=2.0, temperature=0)
    expected = complete(model, prompt, params, penalty_ids=llama_cpp_penalty_ids).choices[0].text
    assert faulty["choices"][0]["message"]["content"] == expected != complete(model, prompt, params).choices[0].text


def test_wire_faults_on_the_chat_path(normal: str) -> None:
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 4, "stream": True}
    with _server(fault="no_done") as url:
        events = sse_events(post(url, "/chat/completions", body))
        assert "[DONE]" not in events
        assert events and all(json.loads(e)["object"] == "chat.completion.chunk" for e in events)
    with _server(fault="flat_error") as url:
        r = post(url, "/chat/completions", {**body, "top_logprobs": 3})
        assert r.status_code == 400 and r.json()["param"] == "top_logprobs" and "error" not in r.json()
    kw = dict(logprobs=True, top_logprobs=2, temperature=0.5, seed=3, max_tokens=6)
    with _server(logprobs_mode="processed") as url:
        processed = _chat(url, **kw)["choices"][0]["logprobs"]
    with _server(fault="processed_logprobs") as url:
        assert _chat(url, **kw)["choices"][0]["logprobs"] == processed != _chat(normal, **kw)["choices"][0]["logprobs"]


def test_a_new_fault_is_one_fault_object(normal: str) -> None:
    """The seam: a fault made of hooks alone, defined here and not in the FAULTS table, departs on the
    chat path (its answers lose ``system_fingerprint``, whole or streamed) and nowhere else."""

    def no_fingerprint(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if k != "system_fingerprint"} if kind == "chat" else obj

    fault = Fault("chat_fingerprint_dropped", "chat answers omit system_fingerprint", response=no_fingerprint)
    assert "system_fingerprint" in _chat(normal)
    with _server(fault=fault) as url:
        assert "system_fingerprint" not in _chat(url) and "system_fingerprint" in _completion(url)
        r = post(url, "/chat/completions", {"model": "tiny", "messages": MESSAGES, "max_tokens": 3, "stream": True})
        chunks = [json.loads(e) for e in sse_events(r)[:-1]]
        assert chunks and not any("system_fingerprint" in c for c in chunks)
