"""``.with_raw_response`` and ``.with_streaming_response``: the HTTP response beside the parsed result.

Rules (openai-python's surface):
- a method called through ``with_raw_response`` returns a ``LegacyAPIResponse``: ``headers``,
  ``status_code``, ``http_response``, ``request_id``, ``retries_taken``, ``content``/``text``/``json()``
  and ``parse()`` (the result the plain call returns: a model, a ``Stream``, a page, ...). Its body
  has been read, unless the call asked for ``stream=True``. Error statuses still raise.
- a method called through ``with_streaming_response`` returns a context manager; entering it sends
  the request and gives an ``APIResponse`` (``AsyncAPIResponse`` for the async client) whose body
  has not been read: ``iter_bytes``/``iter_text``/``iter_lines`` read it as it arrives, ``read``,
  ``text``, ``json`` and ``parse`` read it whole. Leaving the block closes the connection.
- lines split at CRLF, LF or CR, without the line ends; text is decoded incrementally with the
  response's charset (UTF-8 when it names none).
- which form a call returns is carried by a context variable set only around that call, so pages
  fetched later by iterating a parsed page are plain calls again.
"""

from __future__ import annotations

import codecs
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, cast

import httpx

from ._streaming import iter_body

if TYPE_CHECKING:
    import requests

P = ParamSpec("P")
R = TypeVar("R")
_ResponseT = TypeVar("_ResponseT", bound="APIResponse[Any]")
_AsyncResponseT = TypeVar("_AsyncResponseT", bound="AsyncAPIResponse[Any]")

ResponseMode = Literal["parsed", "raw", "streamed"]
_MODE: ContextVar[ResponseMode] = ContextVar("oairef_response_mode", default="parsed")


def response_mode() -> ResponseMode:
    """How the current call should return: the parsed result, a raw response, or a streamed response."""
    return _MODE.get()


def _charset(headers: Any) -> str:
    content_type = headers.get("content-type") or ""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value.strip('"'):
            name = value.strip('"')
            try:
                return codecs.lookup(name).name
            except LookupError:
                break
    return "utf-8"


class _LineSplitter:
    """Splits text arriving in chunks into lines (CRLF, LF or CR), without the line ends."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        lines: list[str] = []
        while True:
            cut = min((i for i in (self._buffer.find("\r"), self._buffer.find("\n")) if i >= 0), default=-1)
            if cut < 0:
                return lines
            if self._buffer[cut] == "\r" and cut + 1 == len(self._buffer):
                return lines  # may be the first half of CRLF
            step = 2 if self._buffer[cut:cut + 2] == "\r\n" else 1
            lines.append(self._buffer[:cut])
            self._buffer = self._buffer[cut + step:]

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return [rest.removesuffix("\r")] if rest else []


def _decode_text(chunks: Iterable[bytes], encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


class _ResponseInfo:
    """Status, headers and request facts of an HTTP response (``requests`` or ``httpx``)."""

    http_response: Any

    @property
    def headers(self) -> Any:
        """The response headers (case-insensitive mapping)."""
        return self.http_response.headers

    @property
    def status_code(self) -> int:
        return int(self.http_response.status_code)

    @property
    def url(self) -> str:
        return str(self.http_response.url)

    @property
    def method(self) -> str:
        return str(self.http_response.request.method)

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header, when the server sent one."""
        value = self.headers.get("x-request-id")
        return str(value) if value is not None else None


class LegacyAPIResponse(_ResponseInfo, Generic[R]):
    """What ``with_raw_response`` calls return (sync and async clients alike)."""

    def __init__(self, http_response: Any, parse: Callable[[], R], *, retries_taken: int = 0) -> None:
        self.http_response = http_response
        self.retries_taken = retries_taken
        self._parse = parse
        self._parsed: list[R] = []

    def parse(self) -> R:
        """The result the plain call would have returned (computed once)."""
        if not self._parsed:
            self._parsed.append(self._parse())
        return self._parsed[0]

    @property
    def content(self) -> bytes:
        return bytes(self.http_response.content)

    @property
    def text(self) -> str:
        return str(self.http_response.text)

    def json(self) -> Any:
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<LegacyAPIResponse [{self.status_code}] {self.method} {self.url}>"


class APIResponse(_ResponseInfo, Generic[R]):
    """The unread response of a sync ``with_streaming_response`` call (``http_response`` is a ``requests.Response``)."""

    def __init__(self, http_response: requests.Response, parse: Callable[[], R], *, retries_taken: int = 0) -> None:
        self.http_response = http_response
        self.retries_taken = retries_taken
        self._parse = parse
        self._parsed: list[R] = []

    def parse(self) -> R:
        """Read the body (unless the call streams) and return the parsed result (computed once)."""
        if not self._parsed:
            self._parsed.append(self._parse())
        return self._parsed[0]

    def read(self) -> bytes:
        return bytes(self.http_response.content)

    def text(self) -> str:
        return self.read().decode(_charset(self.headers), errors="replace")

    def json(self) -> Any:
        return json.loads(self.read())

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body as it arrives (or in ``chunk_size`` pieces)."""
        chunks = iter_body(self.http_response) if chunk_size is None else self.http_response.iter_content(chunk_size)
        for chunk in chunks:
            if chunk:
                yield chunk

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        yield from _decode_text(self.iter_bytes(chunk_size), _charset(self.headers))

    def iter_lines(self) -> Iterator[str]:
        splitter = _LineSplitter()
        for text in self.iter_text():
            yield from splitter.feed(text)
        yield from splitter.flush()

    def close(self) -> None:
        """Close the HTTP connection (idempotent)."""
        self.http_response.close()

    @property
    def is_closed(self) -> bool:
        return bool(getattr(self.http_response.raw, "closed", True))

    def __repr__(self) -> str:
        return f"<APIResponse [{self.status_code}] {self.method} {self.url}>"


class AsyncAPIResponse(_ResponseInfo, Generic[R]):
    """The unread response of an async ``with_streaming_response`` call (``http_response`` is an ``httpx.Response``)."""

    def __init__(self, http_response: httpx.Response, parse: Callable[[], R], *, retries_taken: int = 0,
                 read_before_parse: bool = True) -> None:
        self.http_response = http_response
        self.retries_taken = retries_taken
        self._parse = parse
        self._read_before_parse = read_before_parse
        self._parsed: list[R] = []

    async def parse(self) -> R:
        """Read the body (unless the call streams) and return the parsed result (computed once)."""
        if not self._parsed:
            if self._read_before_parse:
                await self.http_response.aread()
            self._parsed.append(self._parse())
        return self._parsed[0]

    async def read(self) -> bytes:
        return bytes(await self.http_response.aread())

    async def text(self) -> str:
        return (await self.read()).decode(_charset(self.headers), errors="replace")

    async def json(self) -> Any:
        return json.loads(await self.read())

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives (or in ``chunk_size`` pieces)."""
        async for chunk in self.http_response.aiter_bytes(chunk_size):
            if chunk:
                yield chunk

    async def iter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder(_charset(self.headers))(errors="replace")
        async for chunk in self.iter_bytes(chunk_size):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def iter_lines(self) -> AsyncIterator[str]:
        splitter = _LineSplitter()
        async for text in self.iter_text():
            for line in splitter.feed(text):
                yield line
        for line in splitter.flush():
            yield line

    async def close(self) -> None:
        """Close the HTTP connection (idempotent)."""
        await self.http_response.aclose()

    @property
    def is_closed(self) -> bool:
        return bool(self.http_response.is_closed)

    def __repr__(self) -> str:
        return f"<AsyncAPIResponse [{self.status_code}] {self.method} {self.url}>"


class ResponseContextManager(Generic[_ResponseT]):
    """Sends the request on ``__enter__``; closes the response on ``__exit__``."""

    def __init__(self, send: Callable[[], _ResponseT]) -> None:
        self._send = send
        self._response: _ResponseT | None = None

    def __enter__(self) -> _ResponseT:
        self._response = self._send()
        return self._response

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.close()


class AsyncResponseContextManager(Generic[_AsyncResponseT]):
    """Sends the request on ``__aenter__``; closes the response on ``__aexit__``."""

    def __init__(self, send: Callable[[], Awaitable[_AsyncResponseT]]) -> None:
        self._send = send
        self._response: _AsyncResponseT | None = None

    async def __aenter__(self) -> _AsyncResponseT:
        self._response = await self._send()
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await self._response.close()


def to_raw_response_wrapper(func: Callable[P, R]) -> Callable[P, LegacyAPIResponse[R]]:
    """``func`` returning a ``LegacyAPIResponse`` instead of its parsed result."""
    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> LegacyAPIResponse[R]:
        token = _MODE.set("raw")
        try:
            return cast("LegacyAPIResponse[R]", func(*args, **kwargs))
        finally:
            _MODE.reset(token)
    return wrapped


def async_to_raw_response_wrapper(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[LegacyAPIResponse[R]]]:
    """Async ``func`` returning a ``LegacyAPIResponse`` instead of its parsed result."""
    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> LegacyAPIResponse[R]:
        token = _MODE.set("raw")
        try:
            return cast("LegacyAPIResponse[R]", await func(*args, **kwargs))
        finally:
            _MODE.reset(token)
    return wrapped


def to_streamed_response_wrapper(func: Callable[P, R]) -> Callable[P, ResponseContextManager[APIResponse[R]]]:
    """``func`` returning a context manager around its unread ``APIResponse``."""
    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseContextManager[APIResponse[R]]:
        def send() -> APIResponse[R]:
            token = _MODE.set("streamed")
            try:
                return cast("APIResponse[R]", func(*args, **kwargs))
            finally:
                _MODE.reset(token)
        return ResponseContextManager(send)
    return wrapped


def async_to_streamed_response_wrapper(
        func: Callable[P, Awaitable[R]]) -> Callable[P, AsyncResponseContextManager[AsyncAPIResponse[R]]]:
    """Async ``func`` returning an async context manager around its unread ``AsyncAPIResponse``."""
    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> AsyncResponseContextManager[AsyncAPIResponse[R]]:
        async def send() -> AsyncAPIResponse[R]:
            token = _MODE.set("streamed")
            try:
                return cast("AsyncAPIResponse[R]", await func(*args, **kwargs))
            finally:
                _MODE.reset(token)
        return AsyncResponseContextManager(send)
    return wrapped
