"""``POST /v1/completions`` against the contract, through the official ``openai`` client and the
generated one: echo + logprobs, seeds, stop, n/best_of, several prompts, streaming, usage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from server_support import client, post, serve, sse_events

import generated
from generated import models as gm
from sampler import reference

PROMPT = "The keeper counted the ships"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve()


def _create(url: str, **kw: Any) -> dict[str, Any]:
    """A completion through the official client, checked against the generated response model."""
    out = client(url).completions.create(model="tiny", **kw)
    body = out.model_dump(exclude_unset=True)
    gm.CreateCompletionResponse.model_validate(body)
    return body


def test_echo_with_logprobs_reports_raw_model_logprobs(server: tuple[str, Any]) -> None:
    url, app = server
    model = app.state.oairef.model
    body = _create(url, prompt=PROMPT, echo=True, logprobs=3, max_tokens=6, seed=11, temperature=1.3,
                   logit_bias={"0": 5})
    ch = body["choices"][0]
    lp = ch["logprobs"]
    ids = model.tokenize(PROMPT)
    assert ch["text"].startswith(PROMPT)
    assert "".join(lp["tokens"]) == ch["text"]
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert lp["text_offset"][0] == 0
    assert lp["text_offset"] == list(np.cumsum([0] + [len(t) for t in lp["tokens"][:-1]]))
    # every reported logprob is the raw log-softmax of the model's logits (not temperature/bias-shaped):
    # prompt positions have known ids; the first generated token is found by its text
    for pos in range(1, len(ids) + 1):
        raw = reference.raw_logprobs(model.logits(ids[:pos]))
        if pos < len(ids):
            assert lp["token_logprobs"][pos] == pytest.approx(float(raw[ids[pos]]), abs=1e-5)
        else:
            text = lp["tokens"][pos]
            same_text = [t for t in range(model.vocab_size) if model.token_bytes(t).decode("utf-8", "replace") == text]
            assert any(float(raw[t]) == pytest.approx(lp["token_logprobs"][pos], abs=1e-5) for t in same_text)
        top = lp["top_logprobs"][pos]
        assert 3 <= len(top) <= 4
        best3 = sorted(raw, reverse=True)[:3]
        assert sorted(top.values(), reverse=True)[:3] == pytest.approx(best3, abs=1e-5)
    assert body["usage"]["prompt_tokens"] == len(ids)


def test_text_offset_without_echo_starts_at_prompt_length(server: tuple[str, Any]) -> None:
    url, _ = server
    body = _create(url, prompt=PROMPT, logprobs=0, max_tokens=5, seed=3)
    lp = body["choices"][0]["logprobs"]
    assert lp["text_offset"][0] == len(PROMPT)
    assert all(len(t) == 1 for t in lp["top_logprobs"])  # k = 0: just the chosen token
    assert "".join(lp["tokens"]) == body["choices"][0]["text"]


def test_echo_with_zero_max_tokens_scores_the_prompt(server: tuple[str, Any]) -> None:
    url, app = server
    body = _create(url, prompt=PROMPT, echo=True, logprobs=1, max_tokens=0)
    ch = body["choices"][0]
    assert ch["text"] == PROMPT and ch["finish_reason"] == "length"
    assert len(ch["logprobs"]["tokens"]) == len(app.state.oairef.model.tokenize(PROMPT))
    assert body["usage"]["completion_tokens"] == 0


def test_same_seed_same_body_different_seeds_differ(server: tuple[str, Any]) -> None:
    url, _ = server
    kw = dict(prompt=PROMPT, max_tokens=24, temperature=1.0, logprobs=2, n=2)
    a, b = _create(url, seed=1234, **kw), _create(url, seed=1234, **kw)
    for d in (a, b):
        d.pop("id"), d.pop("created")
    assert a == b
    texts = {_create(url, seed=s, **kw)["choices"][0]["text"] for s in range(5)}
    assert len(texts) > 1


def test_greedy_is_the_argmax_chain(server: tuple[str, Any]) -> None:
    url, app = server
    model = app.state.oairef.model
    body = _create(url, prompt=PROMPT, max_tokens=8, temperature=0)
    ids = model.tokenize(PROMPT)
    out: list[int] = []
    for _ in range(8):
        z = model.logits(ids + out)
        t = int(np.argmax(z))
        if t == model.eos_token_id:
            break
        out.append(t)
    assert body["choices"][0]["text"] == b"".join(model.token_bytes(t) for t in out).decode("utf-8", "replace")


def test_stop_cuts_before_the_earliest_stop_string(server: tuple[str, Any]) -> None:
    url, _ = server
    full = _create(url, prompt=PROMPT, max_tokens=30, temperature=0)["choices"][0]["text"]
    assert len(full) > 12
    stop_a, stop_b = full[8:11], full[4:6]  # the earlier occurrence wins, whatever the list order
    cut = min(full.find(stop_a), full.find(stop_b))
    body = _create(url, prompt=PROMPT, max_tokens=30, temperature=0, stop=[stop_a, stop_b], logprobs=0)
    ch = body["choices"][0]
    assert ch["text"] == full[:cut] and ch["finish_reason"] == "stop"
    assert stop_a not in ch["text"] and stop_b not in ch["text"]
    assert all(off - len(PROMPT) < cut for off in ch["logprobs"]["text_offset"])


def test_n_returns_candidates_in_seed_order(server: tuple[str, Any]) -> None:
    url, _ = server
    kw = dict(prompt=PROMPT, max_tokens=10, seed=77, logprobs=0)
    three = _create(url, n=3, **kw)["choices"]
    assert [c["index"] for c in three] == [0, 1, 2]
    one = _create(url, n=1, **kw)["choices"]
    assert one[0]["text"] == three[0]["text"]  # candidate i draws from SeedSequence([seed, i])


def test_best_of_returns_the_highest_mean_logprob_candidates(server: tuple[str, Any]) -> None:
    url, _ = server
    kw = dict(prompt=PROMPT, max_tokens=10, seed=5, logprobs=0, temperature=1.5)
    cands = _create(url, n=5, best_of=5, **kw)["choices"]

    def score(c: dict[str, Any]) -> float:
        lps = c["logprobs"]["token_logprobs"]
        return float(np.mean(lps)) if lps else 0.0

    ranked = sorted(range(5), key=lambda i: (-score(cands[i]), i))
    best = _create(url, n=2, best_of=5, **kw)["choices"]
    assert [c["index"] for c in best] == [0, 1]
    assert [c["text"] for c in best] == [cands[i]["text"] for i in ranked[:2]]
    usage = client(url).completions.create(model="tiny", n=2, best_of=5, **kw).usage
    assert usage is not None and usage.completion_tokens == sum(
        len(c["logprobs"]["tokens"]) + (c["finish_reason"] == "stop") for c in cands)


def test_several_prompts_index_and_usage(server: tuple[str, Any]) -> None:
    url, app = server
    model = app.state.oairef.model
    prompts = ["The keeper", "In the morning"]
    body = _create(url, prompt=prompts, n=2, max_tokens=4, seed=9)
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["usage"]["prompt_tokens"] == sum(len(model.tokenize(p)) for p in prompts)
    single = _create(url, prompt=prompts[1], n=2, max_tokens=4, seed=9)
    assert [c["text"] for c in body["choices"][2:]] == [c["text"] for c in single["choices"]]
    ids = model.tokenize(prompts[0])
    by_ids = _create(url, prompt=ids, n=2, max_tokens=4, seed=9)
    assert [c["text"] for c in by_ids["choices"]] == [c["text"] for c in body["choices"][:2]]
    nested = _create(url, prompt=[ids, model.tokenize(prompts[1])], n=2, max_tokens=4, seed=9)
    assert [c["text"] for c in nested["choices"]] == [c["text"] for c in body["choices"]]


def _stream(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = post(url, "/completions", {**body, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for c in chunks:
        gm.CreateCompletionResponse.model_validate(c)
    return chunks


def test_streaming_equals_non_streaming(server: tuple[str, Any]) -> None:
    url, _ = server
    body = dict(model="tiny", prompt=PROMPT, max_tokens=25, n=2, seed=21, logprobs=2, stop=[" the", "."],
                echo=True)
    whole = _create(url, **{k: v for k, v in body.items() if k != "model"})
    chunks = _stream(url, body)
    assert len({c["id"] for c in chunks}) == 1
    for ch in whole["choices"]:
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == ch["index"]]
        assert "".join(m["text"] for m in mine) == ch["text"]
        assert [m["finish_reason"] for m in mine][-1] == ch["finish_reason"]
        assert all(m["finish_reason"] is None for m in mine[:-1])
        toks = [t for m in mine if m["logprobs"] for t in m["logprobs"]["tokens"]]
        assert toks == ch["logprobs"]["tokens"]


def test_stream_include_usage(server: tuple[str, Any]) -> None:
    url, _ = server
    body = dict(model="tiny", prompt=PROMPT, max_tokens=6, seed=2)
    whole = _create(url, prompt=PROMPT, max_tokens=6, seed=2)
    chunks = _stream(url, {**body, "stream_options": {"include_usage": True}})
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])
    plain = _stream(url, body)
    assert all("usage" not in c for c in plain)


def test_official_client_streams(server: tuple[str, Any]) -> None:
    url, _ = server
    whole = _create(url, prompt=PROMPT, max_tokens=12, seed=8)
    text = "".join(c.choices[0].text for c in client(url).completions.create(
        model="tiny", prompt=PROMPT, max_tokens=12, seed=8, stream=True) if c.choices)
    assert text == whole["choices"][0]["text"]


def test_generated_client_round_trip(server: tuple[str, Any]) -> None:
    url, _ = server
    gen = generated.OpenAI(base_url=url, api_key="unused", max_retries=0)
    out = gen.completions.create(model="tiny", prompt=PROMPT, max_tokens=7, seed=4, logprobs=1)
    official = _create(url, prompt=PROMPT, max_tokens=7, seed=4, logprobs=1)
    assert out.choices[0].text == official["choices"][0]["text"]
    assert [m.id for m in gen.models.list()] == ["tiny"]
    chat = gen.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hello"}],
                                       max_completion_tokens=5, seed=1)
    assert chat.choices[0].message.role == "assistant"
    streamed = list(gen.completions.create(model="tiny", prompt=PROMPT, max_tokens=7, seed=4, logprobs=1, stream=True,
                                           stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in streamed if c.choices) == out.choices[0].text
    assert streamed[-1].usage is not None and streamed[-1].usage.completion_tokens == out.usage.completion_tokens
    with pytest.raises(generated.NotFoundError):
        gen.completions.create(model="not-served", prompt="x")


def test_processed_logprobs_mode_reports_the_sampled_distribution() -> None:
    from sampler import SamplingParams
    from sampler.reference import processed_logprobs

    for url, app in serve(logprobs_mode="processed"):
        model = app.state.oairef.model
        ids = model.tokenize(PROMPT)
        for top_p in (0.3, 0.95):
            body = _create(url, prompt=PROMPT, max_tokens=1, logprobs=5, top_p=top_p, temperature=1.5, seed=1)
            top = body["choices"][0]["logprobs"]["top_logprobs"][0]
            expected = processed_logprobs(model.logits(ids), SamplingParams(top_p=top_p, temperature=1.5))
            # only tokens the sampler could draw (probability > 0) are listed
            best = [x for x in sorted(expected, reverse=True)[:5] if np.isfinite(x)]
            assert sorted(top.values(), reverse=True) == pytest.approx(best, abs=1e-5)
            assert all(v <= 0 for v in top.values())
        chat = client(url).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                                   max_tokens=3, logprobs=True, top_logprobs=20, top_p=0.2, seed=2)
        assert chat.choices[0].logprobs is not None


def test_chosen_token_is_listed_under_its_text(server: tuple[str, Any]) -> None:
    url, _ = server
    seen_fragment = False
    for seed in range(6):
        body = _create(url, prompt="Zoë smiled 🙂 and said", max_tokens=20, logprobs=1, seed=seed, temperature=1.5,
                       echo=True)
        lp = body["choices"][0]["logprobs"]
        assert "".join(lp["tokens"]) == body["choices"][0]["text"]
        for tok, chosen, top in zip(lp["tokens"][1:], lp["token_logprobs"][1:], lp["top_logprobs"][1:], strict=True):
            assert top[tok] == pytest.approx(chosen, abs=1e-9)
            seen_fragment |= tok == ""
    assert seen_fragment  # "ë" and "🙂" are split across byte-level tokens


def test_absent_or_null_fields_take_the_spec_defaults(server: tuple[str, Any]) -> None:
    """max_tokens 16, temperature 1, top_p 1, penalties 0, n 1 (the generated models' defaults, from the
    spec): absent, null and explicit defaults give the same answer."""
    url, _ = server
    no_eos = {"2048": -100}
    fields = {"max_tokens": 16, "temperature": 1, "top_p": 1, "presence_penalty": 0, "frequency_penalty": 0, "n": 1}
    answers = []
    for given in ({}, dict.fromkeys(fields), fields):
        r = post(url, "/completions", {"model": "tiny", "prompt": PROMPT, "seed": 5, "logit_bias": no_eos, **given})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["usage"]["completion_tokens"] == 16 and len(body["choices"]) == 1
        answers.append(body["choices"][0]["text"])
    assert answers[0] == answers[1] == answers[2]
