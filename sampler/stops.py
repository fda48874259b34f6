"""Stop-string matching on decoded completion text, across token boundaries, with streaming hold-back.

Rules (``../shared/SEMANTICS.md``, Stopping):
- stop strings are matched on the completion's decoded text only, never the prompt;
- generation halts at the token that completes a match; the text ends just before the earliest
  occurrence of any (completed) stop string;
- streaming never emits part of a stop string: the longest tail of the text that is a proper prefix
  of some stop string is held back until later text resolves it.
"""

from __future__ import annotations


class StopMatcher:
    """Finds stop strings in growing text, looking only at the part that could hold a new match."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.longest = max((len(s) for s in self.stops), default=0)

    def find(self, text: str, previous_len: int) -> int | None:
        """The earliest stop occurrence in ``text``, given none was complete in ``text[:previous_len]``."""
        if not self.stops:
            return None
        start = max(0, previous_len - self.longest + 1)
        best: int | None = None
        for s in self.stops:
            i = text.find(s, start)
            if i >= 0 and (best is None or i < best):
                best = i
        return best

    def holdback(self, text: str) -> int:
        """How many trailing characters of ``text`` could still begin a stop string."""
        keep = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(text)), keep, -1):
                if text.endswith(s[:k]):
                    keep = k
                    break
        return keep
