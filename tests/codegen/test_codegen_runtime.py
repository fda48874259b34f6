"""The hand-written runtime tested where it is written (``codegen/runtime/``), without HTTP:
SSE and line decoding, retry delays, redaction, query encoding, constraint checks, pages and the
async paginator, the rule registry and the dump helpers; and its copies in ``generated/``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from codegen.modelgen import HEADER
from codegen.runtime._base import ApiModel, register_rules
from codegen.runtime._base_client import _query_pairs, constraint_problem
from codegen.runtime._errors import APIError, redact, status_error
from codegen.runtime._pagination import AsyncPage, AsyncPaginator, Page
from codegen.runtime._response import _LineSplitter
from codegen.runtime._retries import retry_after, retry_delay, should_retry
from codegen.runtime._streaming import aiter_events, iter_events

ROOT = Path(__file__).resolve().parents[2]

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


def test_async_sse_decoding_matches_the_sync_decoder() -> None:
    async def chunks() -> Any:
        for i in range(0, len(STREAM), 7):
            yield STREAM[i:i + 7]

    async def decode() -> list[tuple[str | None, str, str | None]]:
        return [(e.event, e.data, e.id) async for e in aiter_events(chunks())]

    assert asyncio.run(decode()) == EXPECTED


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["a", "bc", "\r", "\n", "\r\n", "é", ""]), max_size=20),
       st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_lines_split_at_crlf_lf_cr_however_the_text_arrives(pieces: list[str], cuts: list[int]) -> None:
    text = "".join(pieces)
    points = [0, *sorted(c for c in cuts if c <= len(text)), len(text)]
    splitter = _LineSplitter()
    lines: list[str] = []
    for a, b in zip(points, points[1:], strict=False):
        lines += splitter.feed(text[a:b])
    lines += splitter.flush()
    expected = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if expected and expected[-1] == "":
        expected.pop()
    assert lines == expected


def test_should_retry_statuses_and_override() -> None:
    assert [s for s in (400, 401, 404, 408, 409, 422, 429, 500, 503) if should_retry(s, {})] == [408, 409, 429, 500, 503]
    assert should_retry(400, {"x-should-retry": "true"})
    assert not should_retry(503, {"x-should-retry": "false"})


def test_status_error_body_is_the_error_object_as_in_openai_python() -> None:
    body = {"error": {"message": "no sk-abc", "type": "invalid_request_error", "param": "n", "code": "c"}}
    err = status_error(400, body, {"x-request-id": "req_1"}, "sk-abc")
    assert err.body == {"message": "no ***", "type": "invalid_request_error", "param": "n", "code": "c"}
    assert (err.message, err.param, err.code, err.request_id) == ("Error code: 400 - no ***", "n", "c", "req_1")
    plain = status_error(502, "bad gateway", {}, None)
    assert plain.body == "bad gateway" and plain.message == "Error code: 502 - bad gateway"


def test_query_values_encode_booleans_drop_none_and_repeat_lists() -> None:
    assert _query_pairs({"a": True, "b": False, "c": None, "d": [1, "x", None], "e": 2.5}) == [
        ("a", "true"), ("b", "false"), ("d", "1"), ("d", "x"), ("e", "2.5")]


@pytest.mark.parametrize(("value", "rule", "problem"), [
    (0, {"minimum": 1}, "must be >= 1"), (101, {"maximum": 100}, "must be <= 100"),
    (0, {"exclusiveMinimum": 0}, "must be > 0"), ("x", {"enum": ["asc", "desc"]}, "must be one of"),
    ("abcd", {"maxLength": 3}, "at most 3 characters"), ([1, 2], {"maxItems": 1}, "at most 1 items"),
    (True, {"minimum": 5}, None), (5, {"minimum": 1, "maximum": 10}, None),
])
def test_query_constraints(value: Any, rule: dict[str, Any], problem: str | None) -> None:
    found = constraint_problem(value, rule)
    assert (found is None) if problem is None else (found is not None and problem in found)


def _pages(n: int, per: int, *, repeat_at: int | None = None) -> list[dict[str, Any]]:
    pages = []
    for p in range(n):
        data = [{"id": f"i{p}-{k}"} for k in range(per)]
        last = f"i{p}-{per - 1}" if repeat_at is None or p < repeat_at else "i0-0"
        pages.append({"data": data, "has_more": p < n - 1, "last_id": last})
    return pages


def test_sync_page_iterates_every_page_and_refuses_a_repeating_cursor() -> None:
    pages = _pages(3, 2)
    by_cursor = {p["last_id"]: pages[i + 1] for i, p in enumerate(pages[:-1])}

    def fetch(cursor: str) -> Page[Any]:
        return Page(by_cursor[cursor], fetch)

    assert [item["id"] for item in Page(pages[0], fetch)] == [f"i{p}-{k}" for p in range(3) for k in range(2)]
    looping = _pages(3, 1, repeat_at=1)
    with pytest.raises(APIError, match="repeated"):
        list(Page(looping[0], lambda cursor: Page(looping[1], lambda c: Page(looping[1], None))))
    assert list(Page({"data": [1, 2], "has_more": True}, None)) == [1, 2]  # no fetch: one page


def test_async_paginator_awaits_the_first_page_and_iterates_every_item() -> None:
    pages = _pages(3, 2)
    sent: list[str | None] = []

    def first_page() -> Awaitable[AsyncPage[Any]]:
        return fetch(None)

    async def fetch(cursor: str | None) -> AsyncPage[Any]:
        sent.append(cursor)
        index = 0 if cursor is None else int(cursor[1]) + 1
        return AsyncPage(pages[index], fetch)

    async def run() -> tuple[list[str], list[str], bool]:
        paginator: AsyncPaginator[Any] = AsyncPaginator(first_page)
        first = await paginator
        items = [item["id"] async for item in paginator]
        page_ids = [p.data[0]["id"] async for p in first.iter_pages()]
        return items, page_ids, first.has_next_page()

    items, page_ids, more = asyncio.run(run())
    assert items == [f"i{p}-{k}" for p in range(3) for k in range(2)]
    assert page_ids == ["i0-0", "i1-0", "i2-0"]
    assert more
    assert sent[:4] == [None, None, "i0-1", "i1-1"]


def test_async_paginator_sends_nothing_until_used() -> None:
    calls: list[int] = []

    async def first() -> AsyncPage[Any]:
        calls.append(1)
        return AsyncPage({"data": []}, None)

    make: Callable[[], Awaitable[AsyncPage[Any]]] = first
    AsyncPaginator(make)
    assert calls == []


class _Item(ApiModel):
    item_id: str = Field(alias="itemId")
    count: int = 0
    note: str | None = None


def test_to_dict_and_to_json_have_openai_pythons_defaults() -> None:
    item = _Item.model_validate({"itemId": "a", "note": None})
    assert item.to_dict() == {"itemId": "a", "note": None}  # API names, only what was set
    assert item.to_dict(use_api_names=False, exclude_unset=False) == {"item_id": "a", "count": 0, "note": None}
    assert item.to_dict(exclude_none=True) == {"itemId": "a"}
    assert item.to_json() == '{\n  "itemId": "a",\n  "note": null\n}'
    assert json.loads(item.to_json(indent=None)) == {"itemId": "a", "note": None}


class _Ruled(ApiModel):
    low: int = 0
    high: int = 0


def test_registered_rules_apply_to_their_model_by_name() -> None:
    _Ruled.model_validate({"low": 5, "high": 1})  # no rules registered yet
    register_rules({"_Ruled": {"rules": [{"id": "order", "param": "high", "message": "high must be >= low",
                                          "require": {"field": "high", "op": "ge", "other": "low"}}],
                               "defaults": {}}})
    with pytest.raises(ValidationError) as info:
        _Ruled.model_validate({"low": 5, "high": 1})
    assert info.value.errors()[0]["loc"] == ("high",)
    assert _Ruled.model_validate({"low": 1, "high": 5}).high == 5


def test_generated_runtime_modules_are_the_runtime_sources_below_the_header() -> None:
    sources = sorted(p for p in (ROOT / "codegen" / "runtime").glob("_*.py") if not p.name.startswith("__"))
    assert {p.name for p in sources} >= {"_base.py", "_base_client.py", "_errors.py", "_files.py",
                                          "_pagination.py", "_response.py", "_streaming.py", "_types.py"}
    for source in sources:
        copy = ROOT / "generated" / source.name
        assert copy.read_text(encoding="utf-8") == f"{HEADER}\n{source.read_text(encoding='utf-8')}", source.name
