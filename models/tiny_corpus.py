"""The tiny model's training text: a few hand-written paragraphs plus deterministically generated ones.

Everything here is written for this project. The generated part draws sentences from a small grammar
with a fixed seed so the byte-level BPE has enough distinct words to learn ~1,800 merges, and mixes in
accented Latin and CJK words so that some tokens are multi-byte UTF-8 fragments.
"""

from __future__ import annotations

import numpy as np


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


HANDWRITTEN = """\
The lighthouse keeper counted the ships every evening. One, two, three ships passed the rocks before the sun went down.
She wrote each name in a small blue book, and the book was full of names by the end of the summer.
When the wind turned to the north, the sea grew loud and the gulls stayed on the roof of the old house.
The keeper made tea, lit the lamp, and listened to the radio until the weather report was over.
In the morning the harbour was quiet again. The fishermen mended their nets and talked about the storm.
A small café near the harbour sold bread, soup and coffee. The owner, Zoë, spoke French, German and a little Japanese.
Her favourite word was naïve, and her favourite city was München, where she had studied music for two years.
On the wall of the café there was a map of the coast, a clock that ran five minutes late, and a sign that said 日本語 is spoken here.
Prices were written in euros: soup 4 €, bread 2 €, coffee 3 €. Children got a free biscuit and a smile 🙂.
Every Sunday the keeper walked to the café, ordered soup and bread, and read the newspaper from the first page to the last.
The numbers in the newspaper were always the same: the tide at six, the tide at noon, the tide at six again.
"""

NOUNS = _words(
    "ship keeper harbour lamp house book river stone garden window door table letter morning evening "
    "island bridge market train station teacher student doctor farmer baker painter singer village city "
    "mountain forest valley road field tower castle library museum kitchen bottle basket candle mirror "
    "clock map song story question answer number pattern signal engine machine model token sampler "
    "provider server request response parameter temperature probability distribution vocabulary sentence"
)
VERBS = _words(
    "counted watched opened closed painted carried found lost wrote read sang measured sampled returned "
    "followed crossed repaired visited described answered repeated collected remembered forgot built "
    "cleaned tested checked reported compared estimated generated predicted"
)
ADJECTIVES = _words(
    "small old quiet bright dark green blue red warm cold early late happy careful patient curious "
    "strange simple broken golden silver heavy light narrow wide ancient modern random greedy stable"
)
ADVERBS = _words("slowly quickly carefully quietly again always never often rarely suddenly")
SYLLABLES = _words(
    "ka lo mi ra ne to su vi da be ri po ha ze lu mo ta fi gu ne "
    "é ö ü ñ ß ça ré lè kö mü ña "
    "日 本 語 海 山 川 光 風 雨 花 月 星 町 道"
)
CJK_CHARS = "日本語海山川光風雨花月星町道空森火水木金土石音"


def _names(rng: np.random.Generator, count: int) -> list[str]:
    names = []
    for _ in range(count):
        k = int(rng.integers(2, 4))
        parts = [SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), size=k)]
        name = "".join(parts)
        names.append(name[0].upper() + name[1:])
    return names


def _sentence(rng: np.random.Generator, names: list[str]) -> str:
    def pick(words: list[str] | tuple[str, ...]) -> str:
        # Zipf-like preference for the first words of each list, so some words are frequent.
        i = min(int(rng.zipf(1.4)) - 1, len(words) - 1)
        return words[i]

    form = int(rng.integers(0, 6))
    n1, n2 = pick(NOUNS), pick(NOUNS)
    if form == 0:
        return f"The {pick(ADJECTIVES)} {n1} {pick(VERBS)} the {n2}."
    if form == 1:
        return f"{pick(names)} {pick(VERBS)} the {pick(ADJECTIVES)} {n1} {pick(ADVERBS)}."
    if form == 2:
        return f"In the {n1}, {pick(names)} {pick(VERBS)} {int(rng.integers(2, 100))} {n2}s."
    if form == 3:
        cjk = "".join(CJK_CHARS[int(i)] for i in rng.integers(0, len(CJK_CHARS), size=int(rng.integers(2, 5))))
        return f"{pick(names)} wrote {cjk} on the {n1}."
    if form == 4:
        return f"Every {pick(['morning', 'evening', 'day', 'week'])} the {n1} was {pick(ADJECTIVES)} and {pick(ADJECTIVES)}."
    return f"The {n1} and the {n2} were {pick(ADVERBS)} {pick(ADJECTIVES)}."


def build_corpus(seed: int = 20240601, paragraphs: int = 1000) -> list[str]:
    """The training paragraphs (each ends with end-of-text in the model's token stream)."""
    rng = np.random.default_rng(seed)
    names = _names(rng, 400)
    out = [p for p in HANDWRITTEN.split("\n") if p]
    for _ in range(paragraphs):
        k = int(rng.integers(2, 6))
        out.append(" ".join(_sentence(rng, names) for _ in range(k)))
    return out
