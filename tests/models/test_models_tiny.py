"""TinyModel: vocabulary, round trips, determinism, peakedness, chat template, load_model."""

from __future__ import annotations

import numpy as np
import pytest

from models import TinyModel, load_model
from sampler import Model, SamplingParams, next_token_distribution


@pytest.fixture(scope="module")
def tiny() -> TinyModel:
    return TinyModel()


def test_vocabulary(tiny: TinyModel) -> None:
    assert tiny.vocab_size >= 2000
    assert tiny.eos_token_id == tiny.vocab_size - 1
    assert tiny.token_bytes(tiny.eos_token_id) == b""
    lengths = [len(tiny.token_bytes(i)) for i in range(tiny.vocab_size - 1)]
    assert sum(1 for n in lengths if n >= 3) > 500  # many multi-byte tokens
    fragments = 0
    for i in range(tiny.vocab_size - 1):
        try:
            tiny.token_bytes(i).decode("utf-8")
        except UnicodeDecodeError:
            fragments += 1
    assert fragments > 10  # some tokens end inside a multi-byte character
    assert len({tiny.token_bytes(i) for i in range(tiny.vocab_size - 1)}) == tiny.vocab_size - 1
    assert isinstance(tiny, Model)


@pytest.mark.parametrize("text", ["The keeper counted the ships.", "Zoë ate café soup in München 🙂", "日本語 is spoken here", " \n\t x", ""])
def test_tokenize_round_trips(tiny: TinyModel, text: str) -> None:
    ids = tiny.tokenize(text)
    assert b"".join(tiny.token_bytes(i) for i in ids).decode("utf-8") == text
    if len(text) > 10:
        assert len(ids) < len(text.encode("utf-8"))  # merges actually compress


def test_logits_are_deterministic_and_finite(tiny: TinyModel) -> None:
    ids = tiny.tokenize("The lighthouse keeper")
    a = tiny.logits(ids)
    b = TinyModel().logits(list(ids))
    assert a.shape == (tiny.vocab_size,) and a.dtype == np.float32
    assert np.array_equal(a, b) and np.all(np.isfinite(a))
    assert not np.array_equal(a, tiny.logits(ids[:-1]))
    assert np.all(np.isfinite(tiny.logits([])))


def test_distributions_are_peaked(tiny: TinyModel) -> None:
    text = "The keeper made tea, lit the lamp, and listened to the radio until the weather report was over."
    ids = tiny.tokenize(text)
    kept = []
    for i in range(1, len(ids)):
        q = next_token_distribution(tiny.logits(ids[:i]), SamplingParams(top_p=0.9), [])
        kept.append(np.count_nonzero(q))
    assert np.median(kept) < 0.02 * tiny.vocab_size
    # and the corpus continuation is usually the most likely token
    hits = sum(int(np.argmax(tiny.logits(ids[:i])) == ids[i]) for i in range(1, len(ids)))
    assert hits > 0.5 * (len(ids) - 1)


def test_chat_template(tiny: TinyModel) -> None:
    text = tiny.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    )
    assert text == "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n"


def test_load_model() -> None:
    assert isinstance(load_model("tiny"), TinyModel)
    with pytest.raises(ValueError, match="unknown model .gpt-5.: use .tiny., .smollm2. or a path"):
        load_model("gpt-5")
