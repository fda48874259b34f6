"""Server-sent events: a decoder and the typed ``Stream``/``AsyncStream`` returned for ``stream=True``.

Rules (the SSE format and the OpenAI streaming convention):
- lines end with CRLF, LF or CR; ``field: value`` lines build an event, a blank line dispatches
  it; ``data`` lines join with newlines; lines starting with ``:`` are comments;
- ``data: [DONE]`` ends the stream; an ``error`` event, or a data object carrying ``error``,
  raises ``APIError`` with the server's message; every other event is parsed as one typed chunk;
- bytes are decoded as they arrive (chunked or close-delimited bodies alike);
- the HTTP connection is closed when iteration finishes, fails, stops early (``break``: at once
  for ``Stream``, on the event loop's next turn for ``AsyncStream``), or the stream is used as a
  (sync or async) context manager and the block exits.
"""

from __future__ import annotations

import codecs
import json
import re
import typing
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
import requests
import urllib3
from pydantic import BaseModel, ValidationError

from ._errors import APIConnectionError, APIError, APIResponseValidationError, APITimeoutError, redact

T = TypeVar("T")
_EOL = re.compile(r"[\r\n]")


@dataclass
class ServerSentEvent:
    """One dispatched event."""

    event: str | None
    data: str
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental SSE decoder: ``feed`` raw bytes (split anywhere, even inside a character), then ``flush``."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event: str | None = None
        self._data: list[str] = []
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by ``chunk``."""
        self._buffer += self._decoder.decode(chunk)
        return self._dispatch(final=False)

    def flush(self) -> list[ServerSentEvent]:
        """The events left when the body ends (an unterminated last event is still delivered)."""
        self._buffer += self._decoder.decode(b"", final=True)
        events = self._dispatch(final=True)
        if self._data:
            events.append(self._make())
            self._event, self._data = None, []
        return events

    def _make(self) -> ServerSentEvent:
        return ServerSentEvent(event=self._event, data="\n".join(self._data), id=self._last_id, retry=self._retry)

    def _lines(self, final: bool) -> Iterator[str]:
        while True:
            match = _EOL.search(self._buffer)
            if match is None:
                if final and self._buffer:
                    line, self._buffer = self._buffer, ""
                    yield line
                return
            cut = match.start()
            if self._buffer[cut] == "\r" and cut + 1 == len(self._buffer) and not final:
                return  # a CR at the end may be the first half of CRLF
            line = self._buffer[:cut]
            step = 2 if self._buffer[cut] == "\r" and self._buffer[cut + 1:cut + 2] == "\n" else 1
            self._buffer = self._buffer[cut + step:]
            yield line

    def _dispatch(self, final: bool) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        for line in self._lines(final):
            if line == "":
                if self._data or self._event is not None:
                    events.append(self._make())
                self._event, self._data = None, []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
            elif name == "id" and "\0" not in value:
                self._last_id = value
            elif name == "retry" and value.isdigit():
                self._retry = int(value)
        return events


def iter_events(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Decode SSE events from raw byte chunks."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Decode SSE events from raw byte chunks arriving asynchronously."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event


def iter_body(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: per HTTP chunk, or per socket read for close-delimited bodies.

    (``iter_content(None)`` would wait for the whole of a close-delimited body.)
    """
    raw = response.raw
    if getattr(raw, "chunked", False) or not hasattr(raw, "read1"):
        yield from response.iter_content(chunk_size=None)
        return
    while True:
        data = raw.read1(65536, decode_content=True)
        if not data:
            return
        yield data


class _EventReader:
    """What both stream kinds do with one event: stop, raise, or return the parsed chunk."""

    def __init__(self, status_code: int, parse: Callable[[Any], Any], secret: str | None) -> None:
        self.status_code = status_code
        self.parse = parse
        self.secret = secret

    def refuse_json(self, content_type: str, body: str) -> None:
        if content_type.startswith("application/json"):
            raise APIResponseValidationError(
                "asked for a stream but the server answered with a JSON body",
                status_code=self.status_code, body=redact(body[:1000], self.secret))

    def read(self, sse: ServerSentEvent) -> tuple[bool, Any]:
        """``(done, chunk)`` for one event; raises ``APIError`` for an error event."""
        if sse.data.startswith("[DONE]"):
            return True, None
        if sse.event == "error":
            raise _error_event(sse.data, self.secret)
        try:
            payload = json.loads(sse.data)
        except ValueError:
            raise APIResponseValidationError(
                f"stream event is not JSON: {sse.data[:200]!r}", status_code=self.status_code) from None
        if isinstance(payload, dict) and payload.get("error") is not None and sse.event in (None, "message"):
            raise _error_event(sse.data, self.secret)
        return False, self.parse(payload)


class Stream(Generic[T]):
    """An iterator of typed chunks from a streamed response (``requests``); also a context manager."""

    def __init__(self, response: requests.Response, parse: Callable[[Any], T], secret: str | None) -> None:
        self.response = response
        self._reader = _EventReader(response.status_code, parse, secret)
        self._iterator = self._events()
        self._closed = False

    def _events(self) -> Iterator[T]:
        try:
            if self.response.headers.get("content-type", "").startswith("application/json"):
                self._reader.refuse_json("application/json", self.response.text)
            for sse in iter_events(iter_body(self.response)):
                done, chunk = self._reader.read(sse)
                if done:
                    return
                yield chunk
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            raise APITimeoutError() from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise APIConnectionError(f"Connection error while reading the stream: {type(exc).__name__}") from None
        finally:
            self.close()

    def __iter__(self) -> Iterator[T]:
        try:
            yield from self._iterator
        finally:
            self.close()

    def __next__(self) -> T:
        return next(self._iterator)

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection (idempotent)."""
        if not self._closed:
            self._closed = True
            self.response.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"Stream(status_code={self.response.status_code}, closed={self._closed})"


class AsyncStream(Generic[T]):
    """An async iterator of typed chunks from a streamed response (``httpx``); also an async context manager."""

    def __init__(self, response: httpx.Response, parse: Callable[[Any], T], secret: str | None) -> None:
        self.response = response
        self._reader = _EventReader(response.status_code, parse, secret)
        self._iterator = self._events()
        self._closed = False

    async def _events(self) -> AsyncIterator[T]:
        try:
            if self.response.headers.get("content-type", "").startswith("application/json"):
                body = await self.response.aread()
                self._reader.refuse_json("application/json", body.decode("utf-8", errors="replace"))
            async for sse in aiter_events(self.response.aiter_bytes()):
                done, chunk = self._reader.read(sse)
                if done:
                    return
                yield chunk
        except httpx.TimeoutException:
            raise APITimeoutError() from None
        except (httpx.TransportError, httpx.StreamError, OSError) as exc:
            raise APIConnectionError(f"Connection error while reading the stream: {type(exc).__name__}") from None
        finally:
            await self.close()

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            async for chunk in self._iterator:
                yield chunk
        finally:
            await self.close()

    async def __anext__(self) -> T:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP connection (idempotent)."""
        if not self._closed:
            self._closed = True
            await self.response.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"AsyncStream(status_code={self.response.status_code}, closed={self._closed})"


def _error_event(data: str, secret: str | None) -> APIError:
    try:
        body = redact(json.loads(data), secret)
    except ValueError:
        body = redact(data, secret)
    err = body.get("error") if isinstance(body, dict) else None
    info = err if isinstance(err, dict) else body if isinstance(body, dict) else {}
    message = info.get("message") if isinstance(info.get("message"), str) else str(body)[:500]
    return APIError(f"stream error: {message}", body=body, type=info.get("type"),
                    param=info.get("param"), code=info.get("code"))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation names (through ``Annotated``, unions and ``list``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(m for m in _models_in(arg) if m not in found)
    return found


def construct(model: type[BaseModel], data: Any) -> Any:
    """``data`` built into ``model`` without validation, nested objects into the models their fields
    name (a union takes the first model that validates, else its first model); other values as they are."""
    if not isinstance(data, dict):
        return data
    values: dict[str, Any] = {}
    known: set[str] = set()
    for name, info in model.model_fields.items():
        key = info.alias or name
        known.add(key)
        if key in data:
            values[name] = _construct_value(info.annotation, data[key])
    values.update({k: v for k, v in data.items() if k not in known})
    return model.model_construct(**values)


def _construct_value(annotation: Any, value: Any) -> Any:
    if isinstance(value, list):
        args = typing.get_args(annotation)
        inner = next((a for a in args if typing.get_origin(a) is list), None) if typing.get_origin(annotation) is not list \
            else annotation
        item = typing.get_args(inner)[0] if inner is not None and typing.get_args(inner) else Any
        return [_construct_value(item, v) for v in value]
    if not isinstance(value, dict):
        return value
    candidates = _models_in(annotation)
    for candidate in candidates:
        try:
            return candidate.model_validate(value)
        except ValidationError:
            continue
    return construct(candidates[0], value) if candidates else value


def model_parser(model: type[BaseModel] | None, status_code: int, *, lenient: bool = False) -> Callable[[Any], Any]:
    """A function turning one decoded chunk into ``model`` (or leaving it a dict without a model).

    A chunk that does not validate is an ``APIResponseValidationError``, unless ``lenient`` (chunks
    the spec does not describe, typed by the operation's JSON response model): then it is built
    without validation, as openai-python builds every response.
    """
    def parse(payload: Any) -> Any:
        if model is None:
            return payload
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            if lenient:
                return construct(model, payload)
            raise APIResponseValidationError(
                f"stream chunk does not match {model.__name__}: {exc.error_count()} error(s): "
                f"{exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}",
                status_code=status_code, body=payload) from None
    return parse
