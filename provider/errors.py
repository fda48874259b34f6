"""OpenAI-shaped errors for the reference provider.

Rules:
- Every error the server answers has the body
  ``{"error": {"message": str, "type": str, "param": str | None, "code": str | None}}``
  (OpenAI's shape) — never FastAPI's 422 ``{"detail": [...]}``.
- A value outside a documented range, a broken rule, malformed JSON or a body of the wrong type is
  HTTP 400, ``type: "invalid_request_error"``, naming the parameter in ``param`` where there is one.
- Unknown model: 404, ``code: "model_not_found"``. Unknown route: 404. Wrong method: 405.
- Missing or wrong API key (only when the server has keys): 401, ``code: "invalid_api_key"``.
- A body larger than the server takes: 413, ``code: "request_too_large"`` (:func:`request_too_large`).
  Overload (``provider.slots``): 429 with a ``Retry-After`` header.
- A client that went away while its body was read gets no answer (499 in the log, never a 500).
- Anything unexpected is still answered in this shape (500, ``type: "server_error"``); the tests
  hold that no request reaches it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sampler import ContextLengthExceeded, InvalidParameter

log = logging.getLogger("oairef.serve")

#: The status logged for a request whose client went away (nginx's convention; nobody receives it).
CLIENT_GONE = 499
#: Rewrites an error body before it is sent (a test fault's hook, ``provider.faults``).
ErrorShaper = Callable[[dict[str, Any]], dict[str, Any]]


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


class APIError(Exception):
    """An error the server answers with its status and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def to_dict(self) -> dict[str, Any]:
        """The inner error object."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def body(self) -> dict[str, Any]:
        """OpenAI's error body: ``{"error": {...}}``."""
        return {"error": self.to_dict()}


def invalid(param: str | None, message: str, code: str | None = "invalid_value") -> APIError:
    """A 400 ``invalid_request_error`` naming ``param``."""
    return APIError(400, message, param=param, code=code)


def from_invalid_parameter(exc: InvalidParameter, fields: Mapping[str, str] = MappingProxyType({})) -> APIError:
    """A 400 for the sampler's ``InvalidParameter(param, message)``: "Invalid value for 'param': ...".

    ``fields`` renames a sampler parameter to the request field it came from (chat's ``prompt`` is its
    ``messages``); a ``ContextLengthExceeded`` has ``code: "context_length_exceeded"``, as OpenAI's.
    """
    param = fields.get(exc.param, exc.param)
    code = "context_length_exceeded" if isinstance(exc, ContextLengthExceeded) else "invalid_value"
    return invalid(param, f"Invalid value for '{param}': {exc.message}", code=code)


def request_too_large(size: int | None, limit: int) -> APIError:
    """The 413 for a body of ``size`` bytes (``None``: more than ``limit`` were read) over ``limit``."""
    got = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return APIError(413, f"The request body is {got}; this server accepts at most {limit} bytes "
                    "(--max-body-bytes).", code="request_too_large")


def model_not_found(model: str) -> APIError:
    """The 404 OpenAI answers for a model it does not serve."""
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def _loc_param(loc: Sequence[Any]) -> str | None:
    """The request parameter a pydantic error location names: its first string part after ``body``.

    ``("body", "messages", 0, "role")`` names ``messages``; ``("temperature",)`` names ``temperature``.
    """
    parts = [p for p in loc if p != "body"]
    for part in parts:
        if isinstance(part, str):
            return part
    return None


#: pydantic error types that say a value broke a constraint (not merely "wrong union branch type");
#: among the errors of a union, one of these is the one worth reporting.
_SPECIFIC = ("less_than", "less_than_equal", "greater_than", "greater_than_equal", "too_long", "too_short",
             "value_error", "assertion_error", "missing", "extra_forbidden", "finite_number",
             "multiple_of", "union_tag_invalid", "enum")


_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
#: Labels pydantic puts in a location for the branch of a union, not field names.
_BRANCH_LABELS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "system", "user",
                            "assistant", "tool", "function", "developer"})


def _location(loc: Sequence[Any]) -> str:
    """``messages[0].content``-style path: the parameter, list indices and field names (pydantic's
    union-branch labels dropped)."""
    parts = [p for p in loc if p != "body"]
    param = _loc_param(parts)
    if param is None:
        return ""
    out = param
    for p in parts[parts.index(param) + 1:]:
        if isinstance(p, int):
            out += f"[{p}]"
        elif isinstance(p, str) and _FIELD.match(p) and p not in _BRANCH_LABELS:
            out += f".{p}"
    return out


def _describe(err: dict[str, Any]) -> str:
    """One readable sentence for one pydantic error (keeps the range pydantic states)."""
    loc = _location(err.get("loc", ()))
    msg = str(err.get("msg", "invalid value"))
    value = err.get("input")
    shown = ""
    if value is not None and not isinstance(value, dict | list):
        shown = f" (got {json.dumps(value) if isinstance(value, str) else value!r})"
    return f"Invalid value for '{loc}': {msg}{shown}" if loc else f"Invalid request: {msg}{shown}"


def from_validation_errors(errors: Sequence[dict[str, Any]]) -> APIError:
    """A 400 for a list of pydantic errors; names the parameter of the first one.

    The first error is the one reported (message and ``param``); the count of the others is added.
    """
    if not errors:
        return invalid(None, "Invalid request body.")
    first = errors[0]
    param = _loc_param(first.get("loc", ()))
    same = [e for e in errors if _loc_param(e.get("loc", ())) == param]
    specific = [e for e in same if e.get("type") in _SPECIFIC]
    if specific:
        first = specific[0]
    message = _describe(first)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return invalid(param, message)


def from_pydantic(exc: ValidationError) -> APIError:
    """A 400 for a pydantic ``ValidationError`` raised by a generated request model."""
    return from_validation_errors(exc.errors(include_url=False))


def install_error_handlers(app: FastAPI, shaper: ErrorShaper = _as_is) -> None:
    """Answer every error of ``app`` in OpenAI's shape (``shaper`` may rewrite the body)."""

    def respond(err: APIError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer", **err.headers} if err.status == 401 else err.headers
        return JSONResponse(shaper(err.body()), status_code=err.status, headers=headers or None)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return respond(exc)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(from_validation_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        return respond(from_pydantic(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            err = APIError(404, f"Unknown request URL: {request.method} {request.url.path}.",
                           code="unknown_url")
        elif exc.status_code == 405:
            err = APIError(405, f"Method {request.method} is not allowed for {request.url.path}.",
                           code="method_not_allowed")
        else:
            err = APIError(exc.status_code, str(exc.detail))
        return respond(err)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return respond(APIError(500, f"Internal server error: {type(exc).__name__}", type="server_error"))
