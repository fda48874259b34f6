"""The completion engine's rules: stop, stream == non-stream, best_of, echo, logprobs, seeds, usage."""

from __future__ import annotations

import codecs
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sampler_testing import ScriptedModel

from models import TinyModel
from sampler import (
    ContextLengthExceeded,
    GenerationCancelled,
    InvalidParameter,
    SamplingParams,
    complete,
    stream_complete,
)
from sampler import reference as R
from sampler.engine import generation_budget, longest_token_bytes, most_prompt_tokens, prompt_count


@pytest.fixture(scope="module")
def tiny() -> TinyModel:
    return TinyModel()


def streamed(model: Any, prompt: Any, params: SamplingParams, **kw: Any) -> tuple[dict[int, str], dict[int, list], dict[int, str | None], Any]:
    s = stream_complete(model, prompt, params, **kw)
    texts: dict[int, str] = {}
    entries: dict[int, list] = {}
    finish: dict[int, str | None] = {}
    for d in s:
        assert finish.get(d.index) is None, "no delta after a choice finished"
        texts[d.index] = texts.get(d.index, "") + d.text
        entries.setdefault(d.index, []).extend(d.logprobs or [])
        finish[d.index] = d.finish_reason
    return texts, entries, finish, s


def test_seed_determinism_and_seed_streams(tiny: TinyModel) -> None:
    p = SamplingParams(temperature=1.0, max_tokens=24, n=3, seed=42, logprobs=2)
    a = complete(tiny, "The keeper", p)
    b = complete(tiny, "The keeper", p)
    assert a == b
    c = complete(tiny, "The keeper", SamplingParams(temperature=1.0, max_tokens=24, n=3, seed=43, logprobs=2))
    assert [ch.text for ch in a.choices] != [ch.text for ch in c.choices]
    # candidate i draws from SeedSequence([seed, i]): choice 0 of n=3 equals the n=1 choice
    one = complete(tiny, "The keeper", SamplingParams(temperature=1.0, max_tokens=24, seed=42, logprobs=2))
    assert one.choices[0].text == a.choices[0].text


def test_uniforms_come_from_the_documented_generator() -> None:
    flat = ScriptedModel(b"", margin=0.0)  # every logit 0: the draw is floor(u * 257)
    p = SamplingParams(max_tokens=3, n=4, seed=987)
    out = complete(flat, "", p)
    for i, ch in enumerate(out.choices):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([987, i])))
        expect = [int(rng.random() * 257) for _ in range(3)]
        generated = expect if 256 not in expect else expect[: expect.index(256)]
        assert ch.token_ids == generated


def test_stop_across_token_boundaries_and_hold_back(tiny: TinyModel) -> None:
    base = SamplingParams(temperature=0.0, max_tokens=40, logit_bias={tiny.eos_token_id: -100})
    free = complete(tiny, "The keeper", base).choices[0]
    ids = free.token_ids
    pieces = [tiny.token_bytes(t).decode("utf-8") for t in ids]
    assert "".join(pieces) == free.text
    # a stop string made of the last 2 characters of token i-1 and the first 2 of token i
    for i in range(1, len(pieces)):
        start = len("".join(pieces[:i]))
        stop = free.text[start - 2 : start + 2]
        if len(pieces[i - 1]) >= 2 and len(pieces[i]) >= 2 and free.text.find(stop) == start - 2:
            break
    else:
        pytest.fail("no suitable token boundary in the greedy text")
    cut = start - 2
    p = SamplingParams(temperature=0.0, max_tokens=40, logit_bias={tiny.eos_token_id: -100}, stop=["zzzz", stop], logprobs=1)
    got = complete(tiny, "The keeper", p).choices[0]
    assert got.text == free.text[:cut]
    assert got.finish_reason == "stop"
    assert len(got.token_ids) == i  # tokens whose text starts before the cut
    assert [e.token_id for e in got.logprobs or []] == ids[:i]
    texts, entries, finish, _ = streamed(tiny, "The keeper", p)
    assert texts[0] == got.text and finish[0] == "stop"
    assert entries[0] == got.logprobs
    # never emitted: any part of the stop string beyond the returned text
    s = stream_complete(tiny, "The keeper", p)
    so_far = ""
    for d in s:
        so_far += d.text
        assert free.text.startswith(so_far) and len(so_far) <= cut


def test_stop_never_matches_the_prompt(tiny: TinyModel) -> None:
    p = SamplingParams(temperature=0.0, max_tokens=5, stop="keeper", echo=True, logit_bias={tiny.eos_token_id: -100})
    ch = complete(tiny, "The keeper", p).choices[0]
    assert ch.text.startswith("The keeper") and len(ch.token_ids) >= 1


def test_multibyte_characters_split_across_tokens() -> None:
    text = "a日本語b"
    model = ScriptedModel(text.encode("utf-8"))
    p = SamplingParams(max_tokens=20, logprobs=0, stop="本")
    ch = complete(model, "", p).choices[0]
    assert ch.text == "a日"
    assert ch.finish_reason == "stop"
    assert [e.text for e in ch.logprobs or []] == ["a", "", "", "日"]
    assert [e.text_offset for e in ch.logprobs or []] == [0, 1, 1, 1]
    ch2 = complete(model, "", SamplingParams(max_tokens=20)).choices[0]
    assert ch2.text == text and ch2.finish_reason == "stop"
    texts, _, _, _ = streamed(model, "", SamplingParams(max_tokens=20, stop=["語b!"]))
    assert texts[0] == text
    # a character cut by max_tokens is flushed as U+FFFD, not dropped or crashed on
    assert complete(model, "", SamplingParams(max_tokens=3)).choices[0].text == "a\ufffd"


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.9, top_p=0.9, max_tokens=30, n=3, seed=1, stop=[" the", "."], logprobs=3),
        SamplingParams(temperature=1.2, max_tokens=25, n=2, seed=5, echo=True, logprobs=1, stop="ship"),
        SamplingParams(temperature=0.0, max_tokens=12, seed=2, stop=["zz"], presence_penalty=1.0),
        SamplingParams(temperature=1.0, max_tokens=20, n=2, seed=9, stop=["日", "é", "ing"], logprobs=0, logprobs_mode="processed"),
    ],
)
def test_stream_equals_non_stream(tiny: TinyModel, params: SamplingParams) -> None:
    prompts = ["The keeper", "日本"]
    full = complete(tiny, prompts, params)
    texts, entries, finish, s = streamed(tiny, prompts, params)
    assert sorted(texts) == [c.index for c in full.choices]
    for ch in full.choices:
        assert texts[ch.index] == ch.text
        assert finish[ch.index] == ch.finish_reason
        if params.logprobs is not None:
            assert entries[ch.index] == ch.logprobs
    assert s.prompt_tokens == full.prompt_tokens and s.completion_tokens == full.completion_tokens


def test_best_of_picks_highest_mean_logprob(tiny: TinyModel) -> None:
    common: dict[str, Any] = {"temperature": 1.0, "max_tokens": 12, "seed": 123}
    all4 = complete(tiny, "The keeper", SamplingParams(n=4, **common))
    scores = [c.mean_logprob for c in all4.choices]
    for c in all4.choices:
        assert c.mean_logprob == pytest.approx(np.mean(_raw_lps(tiny, "The keeper", c.token_ids)), abs=1e-9)
    best2 = complete(tiny, "The keeper", SamplingParams(n=2, best_of=4, **common))
    order = sorted(range(4), key=lambda i: (-scores[i], i))[:2]
    assert [c.text for c in best2.choices] == [all4.choices[i].text for i in order]
    assert [c.index for c in best2.choices] == [0, 1]
    assert best2.completion_tokens == all4.completion_tokens  # every candidate counts
    # best_of == n never reorders: choice i is candidate i
    same = complete(tiny, "The keeper", SamplingParams(n=4, best_of=4, **common))
    assert [c.text for c in same.choices] == [c.text for c in all4.choices]


def _raw_lps(model: TinyModel, prompt: str, ids: list[int]) -> list[float]:
    ctx = model.tokenize(prompt)
    out = []
    for t in ids:
        out.append(float(R.raw_logprobs(model.logits(ctx))[t]))
        ctx = [*ctx, t]
    return out


def test_logprobs_top_k_plus_chosen_and_offsets(tiny: TinyModel) -> None:
    prompt = "The keeper"
    p = SamplingParams(temperature=1.5, max_tokens=15, seed=8, logprobs=2, logit_bias={tiny.eos_token_id: -100})
    ch = complete(tiny, prompt, p).choices[0]
    assert ch.logprobs is not None and len(ch.logprobs) == len(ch.token_ids) == 15
    ctx = tiny.tokenize(prompt)
    offset = len(prompt)
    saw_extra = False
    for e in ch.logprobs:
        raw = R.raw_logprobs(tiny.logits(ctx))
        assert e.logprob == pytest.approx(raw[e.token_id], abs=1e-9)
        top = R.top_k_logprobs(raw, 2)
        assert e.top is not None and len(e.top) <= 3
        assert [t for t, _ in e.top[:2]] == [t for t, _ in top]
        np.testing.assert_allclose([v for _, v in e.top[:2]], [v for _, v in top], atol=1e-9)
        assert e.token_id in [t for t, _ in e.top]
        saw_extra |= len(e.top) == 3
        assert e.text_offset == offset and e.bytes == tiny.token_bytes(e.token_id)
        offset += len(e.text)
        ctx = [*ctx, e.token_id]
    assert saw_extra  # at T=1.5 some chosen tokens fall outside the top 2


def test_echo_logprobs_start_with_null_and_max_tokens_zero_scores(tiny: TinyModel) -> None:
    prompt = "The keeper made tea"
    ids = tiny.tokenize(prompt)
    out = complete(tiny, prompt, SamplingParams(echo=True, max_tokens=0, logprobs=1))
    ch = out.choices[0]
    assert ch.text == prompt and ch.token_ids == [] and ch.finish_reason == "length"
    assert out.completion_tokens == 0 and out.prompt_tokens == len(ids)
    assert ch.logprobs is not None and [e.token_id for e in ch.logprobs] == ids
    assert ch.logprobs[0].logprob is None and ch.logprobs[0].top is None
    for i in range(1, len(ids)):
        assert ch.logprobs[i].logprob == pytest.approx(R.raw_logprobs(tiny.logits(ids[:i]))[ids[i]], abs=1e-9)
    assert [e.text_offset for e in ch.logprobs] == [0, *np.cumsum([len(e.text) for e in ch.logprobs])[:-1].tolist()]
    gen = complete(tiny, prompt, SamplingParams(echo=True, max_tokens=3, logprobs=0, seed=1)).choices[0]
    assert gen.text.startswith(prompt) and gen.logprobs is not None and len(gen.logprobs) == len(ids) + len(gen.token_ids)
    assert gen.logprobs[len(ids)].text_offset == len(prompt)


def test_max_tokens_eos_and_context(tiny: TinyModel) -> None:
    no_eos = {tiny.eos_token_id: -100}
    ch = complete(tiny, "The", SamplingParams(max_tokens=7, logit_bias=no_eos, seed=0)).choices[0]
    assert len(ch.token_ids) == 7 and ch.finish_reason == "length"
    out = complete(tiny, "The", SamplingParams(max_tokens=7, logit_bias={tiny.eos_token_id: 100}))
    assert out.choices[0].text == "" and out.choices[0].finish_reason == "stop" and out.completion_tokens == 1
    with pytest.raises(InvalidParameter) as info:
        complete(tiny, "The keeper", SamplingParams(max_tokens=tiny.n_ctx))
    assert info.value.param == "max_tokens"
    small = ScriptedModel(b"x" * 100, n_ctx=10)
    rest = complete(small, "abc", SamplingParams(max_tokens=None))
    assert rest.choices[0].text == "x" * 7 and rest.choices[0].finish_reason == "length"
    with pytest.raises(InvalidParameter) as info:
        complete(small, "a" * 11, SamplingParams(max_tokens=None))
    assert info.value.param == "prompt"


def test_context_check() -> None:
    """One context check: the prompt must fit (and, with max_tokens None, leave a token to generate);
    prompt + max_tokens must fit. Every failure is a ContextLengthExceeded naming the parameter."""
    small = ScriptedModel(b"x" * 100, n_ctx=10)
    assert generation_budget(3, None, 10) == 7 and generation_budget(3, 7, 10) == 7
    assert generation_budget(10, 0, 10) == 0
    for prompt_tokens, max_tokens, param in [(11, 0, "prompt"), (10, None, "prompt"), (4, 7, "max_tokens")]:
        with pytest.raises(ContextLengthExceeded) as info:
            generation_budget(prompt_tokens, max_tokens, 10)
        assert info.value.param == param and isinstance(info.value, InvalidParameter)
    with pytest.raises(ContextLengthExceeded) as info:
        complete(small, "a" * 10, SamplingParams(max_tokens=None))
    assert info.value.param == "prompt"
    scored = complete(small, "a" * 10, SamplingParams(max_tokens=0, echo=True))
    assert scored.choices[0].text == "a" * 10 and scored.completion_tokens == 0
    with pytest.raises(InvalidParameter) as info:
        stream_complete(small, [[1, 2], [3, 257]], SamplingParams())
    assert (info.value.param, info.value.message) == ("prompt", "token id 257 is outside the vocabulary [0, 257)")
    with pytest.raises(InvalidParameter) as info:
        complete(small, "ab", SamplingParams(logit_bias={257: 1.0}))
    assert (info.value.param, info.value.message) == ("logit_bias", "token id 257 is outside the vocabulary [0, 257)")


def test_several_prompts_index_and_usage(tiny: TinyModel) -> None:
    prompts: list[Any] = ["The keeper", tiny.tokenize("日本"), "A"]
    out = complete(tiny, [prompts[0], prompts[2]], SamplingParams(n=2, max_tokens=4, seed=3))
    assert [c.index for c in out.choices] == [0, 1, 2, 3]
    assert out.prompt_tokens == len(tiny.tokenize("The keeper")) + len(tiny.tokenize("A"))
    assert out.completion_tokens == sum(len(c.token_ids) + (c.finish_reason == "stop") for c in out.choices)
    assert out.total_tokens == out.prompt_tokens + out.completion_tokens
    ids_out = complete(tiny, [prompts[1], tiny.tokenize("A")], SamplingParams(max_tokens=2, echo=True, seed=1))
    assert ids_out.choices[0].text.startswith("日本")
    single = complete(tiny, prompts[1], SamplingParams(max_tokens=2, seed=1))
    assert single.prompt_tokens == len(prompts[1])


@pytest.mark.parametrize(
    ("prompt", "params", "param"),
    [
        ([], SamplingParams(), "prompt"),
        ([1, "a"], SamplingParams(), "prompt"),
        ([10**6], SamplingParams(), "prompt"),
        ([[1, 2], [-1]], SamplingParams(), "prompt"),
        ("x", SamplingParams(logit_bias={10**6: 1}), "logit_bias"),
    ],
)
def test_bad_requests_name_the_parameter(tiny: TinyModel, prompt: Any, params: SamplingParams, param: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        complete(tiny, prompt, params)
    assert info.value.param == param


def test_streaming_rules(tiny: TinyModel) -> None:
    with pytest.raises(InvalidParameter) as info:
        stream_complete(tiny, "x", SamplingParams(n=1, best_of=2))
    assert info.value.param == "best_of"
    s = stream_complete(tiny, "The", SamplingParams(max_tokens=500, logit_bias={tiny.eos_token_id: -100}, seed=1))
    first = next(iter(s))
    assert first.index == 0
    s.close()
    assert list(s) == []
    assert s.completion_tokens < 500


def test_cancellation(tiny: TinyModel) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(GenerationCancelled):
        complete(tiny, "The", SamplingParams(max_tokens=50, logit_bias={tiny.eos_token_id: -100}), cancelled=cancelled)


def test_penalties_count_what_the_policy_returns() -> None:
    """By default the generated ids only (the contract); a policy that also counts the prompt (as
    llama.cpp's server does) penalises the prompt's tokens from the first step on."""
    model = ScriptedModel(b"aaaa", margin=1.0)
    a = ord("a")
    p = SamplingParams(temperature=0.0, presence_penalty=2.0, max_tokens=2)
    assert complete(model, "aa", p).choices[0].token_ids == [a, 0]  # the generated "a" is penalised
    calls: list[tuple[list[int], list[int]]] = []

    def with_prompt(prompt_ids: Any, generated_ids: Any) -> list[int]:
        calls.append((list(prompt_ids), list(generated_ids)))
        return [*prompt_ids, *generated_ids]

    assert complete(model, "aa", p, penalty_ids=with_prompt).choices[0].token_ids == [0, 1]
    assert calls == [([a, a], []), ([a, a], [0])]
    streamed = stream_complete(model, "aa", p, penalty_ids=with_prompt)
    assert "".join(d.text for d in streamed) == "\x00\x01"


def _oracle(script: bytes, stops: list[str], max_tokens: int) -> tuple[str, str]:
    """Expected (text, finish_reason) for the scripted model, from first principles: after each
    generated byte, decode what is complete; halt at the first step where a stop string occurs."""
    n = min(max_tokens, len(script))
    stops = [s for s in stops if s]
    for i in range(1, n + 1):
        text, _ = codecs.utf_8_decode(script[:i], "replace", False)
        hits = [text.find(s) for s in stops if s in text]
        if hits:
            return text[: min(hits)], "stop"
    text = script[:n].decode("utf-8", errors="replace")
    hits = [text.find(s) for s in stops if s in text]
    if hits:
        return text[: min(hits)], "stop"
    return text, "length" if max_tokens <= len(script) else "stop"


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("abé日 \n")), max_size=24),
    stops=st.lists(st.text(alphabet=st.sampled_from(list("abé日 \n")), min_size=1, max_size=3), max_size=4),
    max_tokens=st.integers(0, 40),
)
def test_stop_and_stream_property(text: str, stops: list[str], max_tokens: int) -> None:
    script = text.encode("utf-8")
    model = ScriptedModel(script)
    p = SamplingParams(max_tokens=max_tokens, stop=stops, logprobs=0)
    want_text, want_finish = _oracle(script, stops, max_tokens)
    ch = complete(model, "", p).choices[0]
    assert (ch.text, ch.finish_reason) == (want_text, want_finish)
    texts, entries, finish, _ = streamed(model, "", p)
    assert texts.get(0, "") == ch.text and finish[0] == ch.finish_reason
    assert entries[0] == ch.logprobs
    for s in stops:
        assert s not in ch.text


class CountingTiny(TinyModel):
    """The tiny model, counting how much text it was asked to tokenize."""

    def __init__(self) -> None:
        super().__init__()
        self.tokenized = 0

    def tokenize(self, text: str) -> list[int]:
        self.tokenized += len(text)
        return super().tokenize(text)


def test_a_prompt_beyond_any_context_is_refused_untokenized() -> None:
    """No token of the tiny model is longer than L bytes, so more than n_ctx * L bytes cannot fit: the
    prompt is refused (context_length_exceeded naming prompt) before a byte of it is tokenized."""
    model = CountingTiny()
    longest = longest_token_bytes(model)
    assert longest == max(len(model.token_bytes(t)) for t in range(model.vocab_size))
    limit = model.n_ctx * longest
    for text in ("the keeper " * 200_000, "é" * (limit // 2 + 1), "x" * (limit + 1)):
        with pytest.raises(ContextLengthExceeded) as info:
            complete(model, text, SamplingParams(max_tokens=1))
        assert info.value.param == "prompt" and "at least" in info.value.message
        with pytest.raises(ContextLengthExceeded):
            complete(model, ["ok", text], SamplingParams(max_tokens=1))
    assert model.tokenized == 3 * len("ok")  # only the first prompt of each list
    # at the bound the text is tokenized, and the exact count decides
    with pytest.raises(ContextLengthExceeded) as info:
        complete(model, "x" * limit, SamplingParams(max_tokens=1))
    assert info.value.param == "prompt" and "at least" not in info.value.message
    assert model.tokenized == 3 * len("ok") + limit


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=300))
def test_the_untokenized_bound_never_refuses_a_prompt_that_fits(text: str) -> None:
    """The bound's premise on the tiny model: a text of B bytes has at least ceil(B / L) tokens."""
    model = TinyModel()
    ids = model.tokenize(text)
    assert len(ids) * longest_token_bytes(model) >= len(text.encode("utf-8"))


def test_token_id_prompts_longer_than_the_context_are_refused_before_each_id_is_checked() -> None:
    small = ScriptedModel(b"x" * 100, n_ctx=10)
    with pytest.raises(ContextLengthExceeded) as info:
        complete(small, [1] * 10 + [10**9], SamplingParams(max_tokens=0))
    assert info.value.param == "prompt" and "11 tokens" in info.value.message
    with pytest.raises(InvalidParameter) as info:  # within the context, each id is checked
        complete(small, [1] * 8 + [10**9], SamplingParams(max_tokens=0))
    assert "outside the vocabulary" in info.value.message


@pytest.mark.parametrize(("prompt", "count"), [("a", 1), ("", 1), (["a", "b", "c"], 3), ([1, 2, 3], 1),
                                               ([[1], [2, 3]], 2), ([], 1)])
def test_prompt_count_is_the_number_of_prompts_generated(tiny: TinyModel, prompt: Any, count: int) -> None:
    assert prompt_count(prompt) == count
    if prompt != []:
        assert len(complete(tiny, prompt, SamplingParams(max_tokens=1)).choices) == count


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=4))
def test_most_prompt_tokens_bounds_the_tokens_of_texts(texts: list[str]) -> None:
    model = TinyModel()
    assert most_prompt_tokens(texts, 2048) >= sum(len(model.tokenize(t)) for t in texts)
    assert most_prompt_tokens(texts[0], 2048) >= len(model.tokenize(texts[0]))


def test_most_prompt_tokens_counts_ids_and_caps_each_prompt_at_the_context() -> None:
    assert most_prompt_tokens([5, 6, 7], 10) == 3
    assert most_prompt_tokens([[5, 6], [7] * 30], 10) == 2 + 10
    assert most_prompt_tokens("é" * 100, 10) == 10 and most_prompt_tokens("ab", 10) == 3
    assert most_prompt_tokens(["ab", [1]], 10) == 4 and most_prompt_tokens([], 10) == 0
