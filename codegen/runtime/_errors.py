"""The errors this client raises.

Hierarchy (as openai-python): ``OpenAIError`` > ``APIError`` > ``APIStatusError`` (one subclass
per status family), ``APIConnectionError`` > ``APITimeoutError``, ``APIResponseValidationError``;
``InvalidRequestParameterError`` is raised before anything is sent when an argument breaks the spec.
No error message, attribute or repr ever contains the API key: text from the server is redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class OpenAIError(Exception):
    """Root of every error raised by this client."""


class InvalidRequestParameterError(OpenAIError, ValueError):
    """An argument breaks a documented constraint; nothing was sent.

    ``param`` names the offending parameter (as the API would), ``message`` says what is wrong.
    """

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"Invalid value for '{param}': {message}")
        self.param = param
        self.message = message


class APIError(OpenAIError):
    """An error reported by, or while talking to, the API."""

    def __init__(self, message: str, *, body: Any = None, type: str | None = None,
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.body = body
        self.type = type
        self.param = param
        self.code = code


class APIResponseValidationError(APIError):
    """The response did not match the spec's schema (or was not JSON)."""

    def __init__(self, message: str, *, status_code: int, body: Any = None) -> None:
        super().__init__(message, body=body)
        self.status_code = status_code


class APIConnectionError(APIError):
    """The request could not be sent or the response could not be read."""

    def __init__(self, message: str = "Connection error.") -> None:
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(self, message: str = "Request timed out.") -> None:
        super().__init__(message)


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status."""

    def __init__(self, message: str, *, status_code: int, body: Any = None, type: str | None = None,
                 param: str | None = None, code: str | None = None, request_id: str | None = None,
                 response: Any = None) -> None:
        super().__init__(message, body=body, type=type, param=param, code=code)
        self.status_code = status_code
        self.request_id = request_id
        self.response = response  # the HTTP response (requests.Response or httpx.Response), body read

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    """400"""


class AuthenticationError(APIStatusError):
    """401"""


class PermissionDeniedError(APIStatusError):
    """403"""


class NotFoundError(APIStatusError):
    """404"""


class ConflictError(APIStatusError):
    """409"""


class UnprocessableEntityError(APIStatusError):
    """422"""


class RateLimitError(APIStatusError):
    """429"""


class InternalServerError(APIStatusError):
    """500 and above"""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def redact(value: Any, secret: str | None) -> Any:
    """``value`` with every occurrence of ``secret`` (as is, stripped, or repr-escaped) in its strings
    replaced by ``***``."""
    if not secret:
        return value
    if isinstance(value, str):
        for form in sorted({secret, secret.strip(), repr(secret)[1:-1]} - {""}, key=len, reverse=True):
            value = value.replace(form, "***")
        return value
    if isinstance(value, Mapping):
        return {redact(k, secret): redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


def status_error(status_code: int, body: Any, headers: Mapping[str, str], secret: str | None,
                 response: Any = None) -> APIStatusError:
    """The ``APIStatusError`` subclass for ``status_code`` with the fields of an OpenAI error body.

    As in openai-python, ``body`` is the body's ``error`` object when it has one, else the whole
    (decoded) body; the message is ``Error code: <status> - <error message>``.
    """
    body = redact(body, secret)
    err = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(err, Mapping) and isinstance(err.get("message"), str):
        message = f"Error code: {status_code} - {err['message']}"
    elif isinstance(body, str) and body:
        message = f"Error code: {status_code} - {body[:500]}"
    else:
        message = f"Error code: {status_code}"
    info = err if isinstance(err, Mapping) else {}
    cls = _BY_STATUS.get(status_code, InternalServerError if status_code >= 500 else APIStatusError)
    return cls(message, status_code=status_code, body=err if err is not None else body, type=_text(info.get("type")),
               param=_text(info.get("param")), code=_text(info.get("code")),
               request_id=headers.get("x-request-id"), response=response)
