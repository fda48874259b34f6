"""A small byte-level BPE: training (incremental pair counts) and encoding.

Rules: text is split into pre-tokens (an optional leading space + a run of letters/digits, a run of
punctuation, or whitespace); each pre-token's UTF-8 bytes start as ids 0..255 and merges are applied
by rank. Training repeatedly merges the most frequent adjacent pair (ties: the smallest pair of ids),
so it is deterministic. Merges never cross pre-token boundaries, but they do cross UTF-8 character
boundaries, so some tokens are fragments of multi-byte characters.
"""

from __future__ import annotations

import functools
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


#: The encoder caches the ids of at most this many distinct pre-tokens (least recently used evicted).
CACHE_WORDS = 16_384
#: Pre-tokens longer than this many characters are never cached (hostile text must not fill memory).
CACHE_MAX_CHARS = 64


def merge_by_rank(sym: list[int], ranks: dict[tuple[int, int], int]) -> list[int]:
    """Apply merges to the byte ids ``sym`` of one pre-token: while some adjacent pair has a rank, merge
    the occurrence of the lowest-ranked pair that lies furthest left (merge ``r`` makes id ``256 + r``).

    A heap of candidate pairs over a linked list of symbols: O(n log n) in the pre-token's length (a
    rescan of the whole word per merge would be quadratic, minutes for a 30 kB word).
    """
    n = len(sym)
    if n < 2:
        return list(sym)
    syms = list(sym)
    nxt = list(range(1, n + 1))  # n: no next symbol
    prv = list(range(-1, n - 1))
    alive = [True] * n
    heap: list[tuple[int, int, int, int]] = []  # (rank, position, left id, right id)
    for k in range(n - 1):
        r = ranks.get((syms[k], syms[k + 1]))
        if r is not None:
            heap.append((r, k, syms[k], syms[k + 1]))
    heapq.heapify(heap)
    while heap:
        r, k, a, b = heapq.heappop(heap)
        j = nxt[k] if alive[k] else n
        if j >= n or syms[k] != a or syms[j] != b:
            continue  # stale: one side was merged away since this pair was pushed
        syms[k] = 256 + r
        alive[j] = False
        nxt[k] = nxt[j]
        if nxt[k] < n:
            prv[nxt[k]] = k
        left = prv[k]
        if left >= 0:
            lr = ranks.get((syms[left], syms[k]))
            if lr is not None:
                heapq.heappush(heap, (lr, left, syms[left], syms[k]))
        if nxt[k] < n:
            rr = ranks.get((syms[k], syms[nxt[k]]))
            if rr is not None:
                heapq.heappush(heap, (rr, k, syms[k], syms[nxt[k]]))
    return [syms[k] for k in range(n) if alive[k]]


class Encoder:
    """Applies learned merges by rank (:func:`merge_by_rank`); keeps a bounded cache of short pre-tokens."""

    def __init__(self, merges: list[tuple[int, int]]) -> None:
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        for a, b in merges:
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cached = functools.lru_cache(maxsize=CACHE_WORDS)(self._merge_word)

    def _merge_word(self, word: str) -> tuple[int, ...]:
        return tuple(merge_by_rank(list(word.encode("utf-8")), self.ranks))

    def encode_word(self, word: str) -> list[int]:
        """Ids of one pre-token."""
        if len(word) <= CACHE_MAX_CHARS:
            return list(self._cached(word))
        return merge_by_rank(list(word.encode("utf-8")), self.ranks)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``: its pre-tokens' ids in order."""
        ids: list[int] = []
        for w in pretokenize(text):
            ids.extend(self.encode_word(w))
        return ids
