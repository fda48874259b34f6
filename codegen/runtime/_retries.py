"""When to retry a request and how long to wait first (shared by the sync and async clients).

Rules (as openai-python): statuses 408, 409, 429 and >= 500 are retried, and an ``x-should-retry``
header of ``true``/``false`` overrides that; the wait is the server's ``retry-after-ms`` or
``Retry-After`` (seconds or an HTTP date) when it lies in (0, 60] s, else 0.5 s doubling per
attempt up to 8 s, less up to 25 % jitter.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({408, 409, 429})


def should_retry(status_code: int, headers: Mapping[str, str]) -> bool:
    """Whether an error status is worth retrying."""
    override = headers.get("x-should-retry")
    if override == "true":
        return True
    if override == "false":
        return False
    return status_code in RETRY_STATUSES or status_code >= 500


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms``, then ``Retry-After``), or ``None``."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            seconds = float(value) / 1000.0
            if math.isfinite(seconds):
                return seconds
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - (time.time() if now is None else now)


def retry_delay(attempt: int, headers: Mapping[str, str] | None, rng: random.Random) -> float:
    """The wait before retry number ``attempt + 1``."""
    asked = retry_after(headers)
    if asked is not None and 0 < asked <= MAX_RETRY_AFTER:
        return asked
    base = min(INITIAL_RETRY_DELAY * 2.0 ** attempt, MAX_RETRY_DELAY)
    return base * (1 - 0.25 * rng.random())
