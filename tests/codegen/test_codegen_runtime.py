"""Pure parts of the generated runtime: SSE decoding, retry delays, redaction."""

from __future__ import annotations

import email.utils
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from generated._errors import redact
from generated._retries import retry_after, retry_delay
from generated._streaming import iter_events

STREAM = (
    "event: message\r\ndata: {\"a\": \"caf\u00e9 \u2028 \u4e16\"}\r\n\r\n"
    ": a comment\n\n"
    "data: line one\ndata: line two\n\n"
    "id: 7\rretry: 1500\rdata: cr only\r\r"
    "event: error\ndata: {\"error\": {\"message\": \"x\"}}\n\n"
    "data: [DONE]\n\n"
).encode()
EXPECTED = [
    ("message", "{\"a\": \"caf\u00e9 \u2028 \u4e16\"}", None),
    (None, "line one\nline two", None),
    (None, "cr only", "7"),
    ("error", "{\"error\": {\"message\": \"x\"}}", "7"),
    (None, "[DONE]", "7"),
]


def _decode(chunks: list[bytes]) -> list[tuple[str | None, str, str | None]]:
    return [(e.event, e.data, e.id) for e in iter_events(chunks)]


def test_sse_decoding_of_every_line_ending_and_field() -> None:
    assert _decode([STREAM]) == EXPECTED


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_sse_decoding_does_not_depend_on_how_bytes_are_split(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert _decode(chunks) == EXPECTED


def test_unterminated_final_event_is_still_delivered() -> None:
    assert _decode([b"data: tail"]) == [(None, "tail", None)]


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "soon"}) is None
    now = 1_700_000_000.0
    assert retry_after({"retry-after": email.utils.formatdate(now + 30, usegmt=True)}, now=now) == 30.0
    assert retry_after({}) is None


def test_retry_delay_backoff_caps_and_ignores_unreasonable_waits() -> None:
    rng = random.Random(0)
    for attempt in range(8):
        base = min(0.5 * 2 ** attempt, 8.0)
        for _ in range(20):
            delay = retry_delay(attempt, None, rng)
            assert 0.75 * base <= delay <= base
    assert retry_delay(0, {"retry-after": "61"}, rng) <= 0.5  # above 60 s: back off normally
    assert retry_delay(0, {"retry-after": "0"}, rng) <= 0.5
    assert retry_delay(3, {"retry-after": "60"}, rng) == 60.0


def test_redact_walks_nested_bodies() -> None:
    body = {"error": {"message": "key sk-abc leaked", "list": ["sk-abc", 1]}}
    assert redact(body, "sk-abc") == {"error": {"message": "key *** leaked", "list": ["***", 1]}}
