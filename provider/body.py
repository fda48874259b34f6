"""Reading a request body as a JSON object, with OpenAI-shaped 400s.

Rules: a body that is not valid UTF-8 JSON is a 400 with ``code: "invalid_json"``; a JSON value
that is not an object is a 400 (``param: None``). FastAPI's own body parsing is never used, so its
422 shape never appears.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from provider.errors import APIError


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body parsed as a JSON object (NaN/Infinity rejected as in strict JSON)."""
    raw = await request.body()
    if not raw.strip():
        raise APIError(400, "The request body is empty; send a JSON object.", code="invalid_json")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError(400, f"We could not parse the JSON body of your request: {exc}",
                       code="invalid_json") from None
    if not isinstance(value, dict):
        raise APIError(400, f"The request body must be a JSON object, not {type(value).__name__}.",
                       code="invalid_type")
    return value
