"""Reading a request body as a JSON object, with OpenAI-shaped errors, in bounded memory and time.

Rules (the limits' values are ``provider.limits``'):

- A body larger than ``max_bytes`` is a 413 ``request_too_large``: refused from its ``Content-Length``
  before a byte is read, or as soon as the bytes read pass ``max_bytes`` (chunked bodies); never
  buffered whole.
- A body whose arrays and objects nest deeper than ``max_depth`` is a 400 ``invalid_json`` naming the
  limit: the depth is measured on the raw bytes (:func:`json_depth`: numpy, linear, no recursion)
  before the JSON parser, whose recursion it bounds, ever sees them. A string never closed is a 400
  ``invalid_json`` too.
- A body that is not valid UTF-8 JSON is a 400 with ``code: "invalid_json"``; a JSON value that is not
  an object is a 400 (``param: None``). FastAPI's own body parsing is never used, so its 422 shape
  never appears.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import numpy as np
from fastapi import Request

from provider.errors import APIError, request_too_large

_QUOTE, _OPEN, _CLOSE = ord('"'), (ord("["), ord("{")), (ord("]"), ord("}"))
#: Bytes measured per numpy pass (bounds the scratch memory of :func:`json_depth`).
_CHUNK = 1 << 16


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def json_depth(raw: bytes) -> int | None:
    """The deepest nesting of arrays and objects in the JSON text ``raw`` (0 for a scalar), counted
    outside strings, in linear time, bounded scratch memory and without recursion; ``None`` when a
    string is never closed (the text cannot be JSON).

    Escaped backslashes go first, then escaped quotes, so every quote left opens or closes a string;
    a bracket counts when an even number of quotes precede it.
    """
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = np.frombuffer(text, np.uint8)
    deepest = level = quotes = 0
    for start in range(0, len(data), _CHUNK):
        chunk = data[start:start + _CHUNK]
        seen = np.cumsum(chunk == _QUOTE, dtype=np.int32) + quotes
        step = (((chunk == _OPEN[0]) | (chunk == _OPEN[1])).view(np.int8)
                - ((chunk == _CLOSE[0]) | (chunk == _CLOSE[1])).view(np.int8))
        levels = np.cumsum(np.where(seen & 1, 0, step), dtype=np.int32) + level
        deepest = max(deepest, int(levels.max()))
        level, quotes = int(levels[-1]), int(seen[-1])
    return None if quotes % 2 else deepest


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, at most ``max_bytes`` of it (413 otherwise, before the rest is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise request_too_large(int(declared), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise request_too_large(None, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The request body parsed as a JSON object (NaN/Infinity rejected as in strict JSON), within the
    size and depth limits."""
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        raise APIError(400, "The request body is empty; send a JSON object.", code="invalid_json")
    depth = json_depth(raw)
    if depth is None:
        raise APIError(400, "We could not parse the JSON body of your request: a string is never closed.",
                       code="invalid_json")
    if depth > max_depth:
        raise APIError(400, f"The JSON body of your request nests {depth} levels deep; this server accepts at "
                       f"most {max_depth} (--max-json-depth).", code="invalid_json")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError(400, f"We could not parse the JSON body of your request: {exc}",
                       code="invalid_json") from None
    if not isinstance(value, dict):
        raise APIError(400, f"The request body must be a JSON object, not {type(value).__name__}.",
                       code="invalid_type")
    return value
