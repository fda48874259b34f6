"""The tiny model's BPE encoder: merges by rank without rescanning the word (same ids as the plain
rescanning algorithm), and a cache that hostile text cannot grow without bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import TinyModel, bpe


@pytest.fixture(scope="module")
def encoder() -> bpe.Encoder:
    return TinyModel()._enc


def rescanning_merge(sym: list[int], ranks: dict[tuple[int, int], int]) -> list[int]:
    """The rule read literally: rescan the word, merge the leftmost occurrence of the lowest-ranked pair."""
    sym = list(sym)
    while len(sym) > 1:
        best, best_rank = None, len(ranks)
        for k in range(len(sym) - 1):
            r = ranks.get((sym[k], sym[k + 1]))
            if r is not None and r < best_rank:
                best, best_rank = k, r
        if best is None:
            break
        sym[best:best + 2] = [256 + best_rank]
    return sym


#: Letters and pieces the corpus merges a lot (so words go through many merges), plus some non-ASCII.
PIECES = ["e", "t", "h", "the", "ing", "keep", "er", "a", "s", " ", "é", "🙂", "n", "o"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(PIECES), min_size=0, max_size=40).map("".join))
def test_heap_merge_equals_the_rescanning_rule(word: str) -> None:
    enc = TinyModel()._enc
    sym = list(word.encode("utf-8"))
    assert bpe.merge_by_rank(sym, enc.ranks) == rescanning_merge(sym, enc.ranks)


@pytest.mark.parametrize("word", ["keeper" * 300, "the" * 500, "e" * 1001, "ing" * 400])
def test_long_repetitive_words_equal_the_rescanning_rule(encoder: bpe.Encoder, word: str) -> None:
    sym = list(word.encode("utf-8"))
    got = bpe.merge_by_rank(sym, encoder.ranks)
    assert got == rescanning_merge(sym, encoder.ranks)
    assert b"".join(encoder.vocab[i] for i in got) == word.encode("utf-8")
    assert len(got) < 0.7 * len(sym)  # the word really went through hundreds of merges


def test_cache_holds_short_words_only_and_is_bounded() -> None:
    enc = bpe.Encoder([(ord("w"), ord("1"))])
    long_word = "x" * (bpe.CACHE_MAX_CHARS + 1)
    enc.encode(long_word)
    assert enc._cached.cache_info().currsize == 0  # a long pre-token is never cached
    words = [f"w{i}" for i in range(bpe.CACHE_WORDS + 500)]
    enc.encode(" ".join(words))
    info = enc._cached.cache_info()
    assert info.currsize == bpe.CACHE_WORDS and info.misses >= len(words)
