"""Generation slots: at most ``limit`` generations run at once, at most ``queue`` more wait, the rest
are told to come back later.

Rules:

- :meth:`GenerationSlots.acquire` returns a :class:`Slot` at once while fewer than ``limit`` are held
  and nobody waits; otherwise the request waits its turn (first come, first served) if fewer than
  ``queue`` are waiting, else it is a 429 ``rate_limit_exceeded`` with ``Retry-After`` (seconds).
- A waiting request whose client goes away leaves the queue (``acquire`` returns ``None``).
- ``Slot.release()`` (idempotent) hands the slot to the longest waiting request, or frees it.
- Everything runs on the server's event loop (no locks): routes acquire before generating and release
  when the generation ends, however it ends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from provider.errors import APIError

#: How often (seconds) a waiting request checks whether its client is still there.
QUEUE_POLL_S = 0.05


def overloaded(limit: int, queue: int, retry_after_s: int) -> APIError:
    """The 429 answered when every slot is held and the queue is full."""
    return APIError(
        429,
        f"The server is busy: {limit} generation(s) are running and {queue} more are waiting "
        f"(--max-concurrency, --max-queue). Retry after {retry_after_s} s.",
        type="requests", code="rate_limit_exceeded", headers={"Retry-After": str(retry_after_s)})


class Slot:
    """One held generation slot; :meth:`release` gives it back (once, however often it is called)."""

    def __init__(self, owner: GenerationSlots) -> None:
        self._owner: GenerationSlots | None = owner

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._hand_over()


class GenerationSlots:
    """``limit`` slots and a queue of at most ``queue`` waiters (module docstring)."""

    def __init__(self, limit: int, queue: int, retry_after_s: int) -> None:
        self.limit = limit
        self.queue = queue
        self.retry_after_s = retry_after_s
        self.running = 0
        self.rejected = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, gone: Callable[[], Awaitable[bool]]) -> Slot | None:
        """A slot, after waiting for one if need be; ``None`` if ``gone()`` turned true while waiting;
        429 if the queue is full."""
        if self.running < self.limit and not self._waiters:
            self.running += 1
            return Slot(self)
        if len(self._waiters) >= self.queue:
            self.rejected += 1
            raise overloaded(self.limit, self.queue, self.retry_after_s)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        handed = False
        try:
            while True:
                await asyncio.wait({turn}, timeout=QUEUE_POLL_S)
                if turn.done():
                    handed = True
                    break
                if await gone():
                    break
        finally:
            if not handed:
                if turn.done() and not turn.cancelled():  # handed over while we were leaving: pass it on
                    self._hand_over()
                else:
                    turn.cancel()
                    if turn in self._waiters:
                        self._waiters.remove(turn)
        return Slot(self) if handed else None

    def _hand_over(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes on: ``running`` is unchanged
                return
        self.running -= 1
