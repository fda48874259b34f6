"""A small byte-level BPE: training (incremental pair counts) and encoding.

Rules: text is split into pre-tokens (an optional leading space + a run of letters/digits, a run of
punctuation, or whitespace); each pre-token's UTF-8 bytes start as ids 0..255 and merges are applied
by rank. Training repeatedly merges the most frequent adjacent pair (ties: the smallest pair of ids),
so it is deterministic. Merges never cross pre-token boundaries, but they do cross UTF-8 character
boundaries, so some tokens are fragments of multi-byte characters.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

PRETOKEN = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+")


def pretokenize(text: str) -> list[str]:
    """Split ``text`` into pre-tokens; their concatenation is ``text``."""
    return PRETOKEN.findall(text)


def _pairs(sym: list[int]) -> Iterable[tuple[int, int]]:
    return zip(sym, sym[1:], strict=False)


def train(texts: Iterable[str], n_merges: int) -> list[tuple[int, int]]:
    """Learn up to ``n_merges`` merges; merge ``i`` creates token id ``256 + i``."""
    freq: Counter[str] = Counter()
    for t in texts:
        freq.update(pretokenize(t))
    words = [list(w.encode("utf-8")) for w in sorted(freq)]
    counts = [freq[w] for w in sorted(freq)]
    pair_count: Counter[tuple[int, int]] = Counter()
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for i, sym in enumerate(words):
        for p in _pairs(sym):
            pair_count[p] += counts[i]
            where[p].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue
        new = 256 + len(merges)
        merges.append(pair)
        changed: set[tuple[int, int]] = set()
        for i in sorted(where.pop(pair, set())):
            sym = words[i]
            for p in _pairs(sym):
                pair_count[p] -= counts[i]
                changed.add(p)
            out: list[int] = []
            k = 0
            while k < len(sym):
                if k + 1 < len(sym) and sym[k] == pair[0] and sym[k + 1] == pair[1]:
                    out.append(new)
                    k += 2
                else:
                    out.append(sym[k])
                    k += 1
            words[i] = out
            for p in _pairs(out):
                pair_count[p] += counts[i]
                where[p].add(i)
                changed.add(p)
        pair_count.pop(pair, None)
        for p in changed:
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_count.pop(p, None)
    return merges


class Encoder:
    """Applies learned merges by rank; caches each pre-token's ids."""

    def __init__(self, merges: list[tuple[int, int]]) -> None:
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        for a, b in merges:
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache: dict[str, list[int]] = {}

    def encode_word(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        sym = list(word.encode("utf-8"))
        ranks = self.ranks
        while len(sym) > 1:
            best = None
            best_rank = len(ranks)
            for k in range(len(sym) - 1):
                r = ranks.get((sym[k], sym[k + 1]))
                if r is not None and r < best_rank:
                    best, best_rank = k, r
            if best is None:
                break
            sym[best : best + 2] = [256 + best_rank]
        if len(self._cache) < 200_000:
            self._cache[word] = sym
        return list(sym)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for w in pretokenize(text):
            ids.extend(self.encode_word(w))
        return ids
