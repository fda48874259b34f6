"""The clients' core: configuration, checking and building requests, sending with retries, parsing results.

Rules (as openai-python):
- ``api_key``, ``base_url``, ``organization``, ``project`` default to ``OPENAI_API_KEY``,
  ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``; a missing key is an error.
  ``default_headers`` go with every request, ``default_query`` into every query string.
- arguments are checked against the spec before sending (ranges, enums, maxItems and the spec's
  rules); a violation raises ``InvalidRequestParameterError`` naming the parameter.
- a request is retried up to ``max_retries`` times (default 2) on connection errors, timeouts and
  the statuses ``_retries`` names, after the wait it computes; other errors raise at once.
- the API key is never logged, shown in a repr, or included in an error.
- ``SyncAPIClient`` sends with ``requests`` (an injected ``http_client`` is a ``requests.Session``);
  ``AsyncAPIClient`` with ``httpx`` (an injected ``http_client`` is an ``httpx.AsyncClient``). An
  injected HTTP client is shared by ``with_options`` copies and never closed by this client.
- query values: ``True``/``False`` are sent as ``true``/``false``, ``None`` is left out, a list
  repeats the parameter.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union
from urllib.parse import quote

import httpx
import requests
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from typing_extensions import Self

from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    InvalidRequestParameterError,
    OpenAIError,
    redact,
    status_error,
)
from ._files import BinaryResponse, multipart_parts
from ._pagination import AsyncPage, AsyncPaginator, Page
from ._response import APIResponse, AsyncAPIResponse, LegacyAPIResponse, response_mode
from ._retries import retry_delay, should_retry
from ._streaming import AsyncStream, Stream, model_parser
from ._types import NOT_GIVEN, NotGiven, OperationSpec, Timeout

log = logging.getLogger(__name__.rpartition(".")[0] or __name__)

DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
_PATH_PARAM = re.compile(r"\{([^}]+)\}")


@dataclass
class PreparedRequest:
    """One checked request, ready to send (and to resend on retries)."""

    method: str
    url: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    content: bytes | None = None
    parts: list[tuple[str, tuple[Any, ...]]] | None = None
    streaming: bool = False
    replay: dict[str, Any] = field(default_factory=dict)  # the call's arguments, to fetch further pages


def _query_pairs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            pairs.append((name, ("true" if item else "false") if isinstance(item, bool) else str(item)))
    return pairs


def constraint_problem(value: Any, rule: Mapping[str, Any]) -> str | None:
    """What is wrong with a query value under the spec's ``rule`` (range, enum, length), or ``None``."""
    if "enum" in rule and value not in rule["enum"]:
        return f"must be one of {', '.join(repr(v) for v in rule['enum'])}, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            return f"must be >= {rule['minimum']}, got {value!r}"
        if "maximum" in rule and value > rule["maximum"]:
            return f"must be <= {rule['maximum']}, got {value!r}"
        if "exclusiveMinimum" in rule and value <= rule["exclusiveMinimum"]:
            return f"must be > {rule['exclusiveMinimum']}, got {value!r}"
        if "exclusiveMaximum" in rule and value >= rule["exclusiveMaximum"]:
            return f"must be < {rule['exclusiveMaximum']}, got {value!r}"
    if isinstance(value, str):
        if "maxLength" in rule and len(value) > rule["maxLength"]:
            return f"must be at most {rule['maxLength']} characters"
        if "minLength" in rule and len(value) < rule["minLength"]:
            return f"must be at least {rule['minLength']} characters"
    if isinstance(value, (list, tuple)):
        if "maxItems" in rule and len(value) > rule["maxItems"]:
            return f"must have at most {rule['maxItems']} items"
        if "minItems" in rule and len(value) < rule["minItems"]:
            return f"must have at least {rule['minItems']} items"
    return None


@functools.cache
def _union_adapter(models: tuple[type[BaseModel], ...]) -> TypeAdapter[Any]:
    union: Any = Union[models]  # noqa: UP007 - a runtime union of classes
    return TypeAdapter(union)


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not isinstance(v, NotGiven)}


class BaseClient:
    """Configuration and everything about a call that does not depend on the HTTP library."""

    #: set by the generated client classes
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    user_agent: ClassVar[str] = "oairef-generated"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise OpenAIError(
                "The api_key client option must be set either by passing api_key to the client "
                "or by setting the OPENAI_API_KEY environment variable")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise InvalidRequestParameterError("max_retries", f"must be an integer >= 0, got {max_retries!r}")
        self._api_key = api_key
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or self.default_base_url).rstrip("/")
        self.organization_id = organization if organization is not None else os.environ.get("OPENAI_ORG_ID")
        self.project_id = project if project is not None else os.environ.get("OPENAI_PROJECT_ID")
        self.timeout: Timeout = DEFAULT_TIMEOUT if isinstance(timeout, NotGiven) else timeout
        self.max_retries = max_retries
        self.default_headers: dict[str, str] = dict(default_headers or {})
        self.default_query: dict[str, object] = dict(default_query or {})
        self._random = random.Random()

    @property
    def api_key(self) -> str:
        """The API key (never part of a repr, log line or error)."""
        return self._api_key

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_url={self.base_url!r}, organization={self.organization_id!r}, "
                f"project={self.project_id!r}, max_retries={self.max_retries})")

    def _options(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this client (``with_options`` starts from these)."""
        return {"api_key": self._api_key, "organization": self.organization_id, "project": self.project_id,
                "base_url": self.base_url, "timeout": self.timeout, "max_retries": self.max_retries,
                "default_headers": self.default_headers, "default_query": self.default_query}

    def _copy_options(self, options: Mapping[str, Any], http_client: Any) -> dict[str, Any]:
        current = self._options()
        unknown = set(options) - set(current) - {"http_client", "set_default_headers", "set_default_query"}
        if unknown:
            raise TypeError(f"unknown client option {sorted(unknown)[0]!r}")
        merged = {**current, **{k: v for k, v in options.items() if k in current}}
        merged["default_headers"] = {**self.default_headers, **(options.get("default_headers") or {})}
        merged["default_query"] = {**self.default_query, **(options.get("default_query") or {})}
        if options.get("set_default_headers") is not None:
            merged["default_headers"] = dict(options["set_default_headers"])
        if options.get("set_default_query") is not None:
            merged["default_query"] = dict(options["set_default_query"])
        merged["http_client"] = options.get("http_client") or http_client
        return merged

    # -- building requests -------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }
        if self.organization_id:
            headers["OpenAI-Organization"] = self.organization_id
        if self.project_id:
            headers["OpenAI-Project"] = self.project_id
        headers.update(self.default_headers)
        headers.update(extra or {})
        return headers

    @staticmethod
    def _check_query(op: OperationSpec, query: Mapping[str, Any]) -> None:
        for name, value in query.items():
            rule = op.query_constraints.get(name)
            if not rule or value is None:
                continue
            problem = constraint_problem(value, rule)
            if problem:
                raise InvalidRequestParameterError(name, problem)

    @staticmethod
    def _validate(model: type[BaseModel], body: Mapping[str, Any]) -> None:
        try:
            model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = first.get("loc") or ()
            param = str(loc[0]) if loc else "body"
            where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
            detail = f" (at {param}{where})" if where else ""
            raise InvalidRequestParameterError(param, f"{first['msg']}{detail}") from None

    @staticmethod
    def _path(op: OperationSpec, values: Mapping[str, Any]) -> str:
        for name, value in values.items():
            if isinstance(value, NotGiven) or value is None or str(value) == "":
                raise InvalidRequestParameterError(name, f"expected a non-empty value for `{name}`")
        return _PATH_PARAM.sub(lambda m: quote(str(values[m.group(1)]), safe=""), op.path)

    def _prepare(
        self,
        op: OperationSpec,
        *,
        path: Mapping[str, Any],
        query: Mapping[str, Any],
        body: Mapping[str, Any],
        files: Mapping[str, Any],
        extra_headers: Mapping[str, str] | None,
        extra_query: Mapping[str, Any] | None,
        extra_body: Mapping[str, Any] | None,
    ) -> PreparedRequest:
        """Check the arguments and build the request; nothing is sent."""
        url = self.base_url + self._path(op, path)
        params = _given(query)
        self._check_query(op, params)
        payload = to_jsonable_python(_given(body), by_alias=True)
        uploads = _given(files)
        if op.request_model is not None:
            placeholder = {name: b"" for name in uploads}
            self._validate(op.request_model, {**payload, **placeholder})
        payload.update(extra_body or {})
        streaming = op.streams and payload.get("stream") is True
        headers = self._headers(extra_headers)
        if streaming:
            headers["Accept"] = "text/event-stream"
        request = PreparedRequest(
            method=op.method, url=url, headers=headers, streaming=streaming,
            params=_query_pairs({**self.default_query, **params, **(extra_query or {})}),
        )
        if op.body_kind == "json":
            try:
                request.content = json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
            except ValueError as exc:  # NaN/inf, which JSON cannot carry
                raise InvalidRequestParameterError("body", f"not representable as JSON: {exc}") from None
            request.headers.setdefault("Content-Type", "application/json")
        elif op.body_kind == "multipart":
            request.parts = multipart_parts(payload, uploads)
        elif op.body_kind == "raw":
            content = uploads.get("content", b"")
            request.content = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            request.headers.setdefault("Content-Type", op.media_type or "application/octet-stream")
        return request

    # -- parsing responses ---------------------------------------------------------------------

    def _parse(self, op: OperationSpec, response: Any) -> Any:
        """The result of a (fully read) response: a model, a dict, text, bytes or ``None``."""
        if op.response_kind == "none":
            return None
        if op.response_kind == "binary":
            return BinaryResponse(response.content, status_code=response.status_code,
                                  headers=response.headers, encoding=response.encoding)
        content_type = response.headers.get("content-type", "")
        if op.text_alternative and content_type.startswith("text/"):
            return response.text
        try:
            data = response.json()
        except ValueError:
            raise APIResponseValidationError(
                f"expected a JSON response, got {response.headers.get('content-type')!r}",
                status_code=response.status_code, body=response.text[:1000]) from None
        parsed: Any = data
        if op.response_model is not None:
            try:
                parsed = op.response_model.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise APIResponseValidationError(
                    f"response does not match {op.response_model.__name__}: {first['msg']} at {first['loc']}",
                    status_code=response.status_code, body=data) from None
        if op.response_union:
            try:
                parsed = _union_adapter(op.response_union).validate_python(data)
            except ValidationError as exc:
                raise APIResponseValidationError(
                    f"response matches none of {', '.join(m.__name__ for m in op.response_union)}: "
                    f"{exc.errors()[0]['msg']}", status_code=response.status_code, body=data) from None
        return parsed

    def _error_body(self, content: bytes) -> Any:
        try:
            return json.loads(content) if content else None
        except ValueError:
            return content.decode("utf-8", errors="replace")

    def _retry_wait(self, attempt: int, headers: Mapping[str, str] | None, method: str, url: str, why: str) -> float:
        delay = retry_delay(attempt, headers, self._random)
        log.info("Retrying %s %s in %.3f seconds after %s (retry %d of %d)", method, url, delay, why,
                 attempt + 1, self.max_retries)
        return delay

    @staticmethod
    def _next_page_args(request: PreparedRequest, op: OperationSpec, cursor: str) -> dict[str, Any]:
        args = dict(request.replay)
        args["query"] = {**args["query"], str(op.cursor_param): cursor}
        return args


class SyncAPIClient(BaseClient):
    """A synchronous client (``requests``)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: requests.Session | None = None,
        http_session: requests.Session | None = None,
    ) -> None:
        super().__init__(api_key=api_key, organization=organization, project=project, base_url=base_url,
                         timeout=timeout, max_retries=max_retries, default_headers=default_headers,
                         default_query=default_query)
        given = http_client if http_client is not None else http_session
        if given is not None and not isinstance(given, requests.Session):
            raise InvalidRequestParameterError("http_client", f"must be a requests.Session, got {type(given).__name__}")
        self._owns_http_client = given is None
        self._session: requests.Session = given if given is not None else requests.Session()

    @property
    def http_client(self) -> requests.Session:
        return self._session

    def with_options(self, **options: Any) -> Self:
        """A copy of this client with some options changed (``default_headers``/``default_query`` are
        merged into the current ones, ``set_default_headers``/``set_default_query`` replace them);
        it shares the HTTP session."""
        if "http_session" in options:
            options["http_client"] = options.pop("http_session")
        return type(self)(**self._copy_options(options, self._session))

    copy = with_options

    def close(self) -> None:
        """Close the HTTP session (unless it was injected)."""
        if self._owns_http_client:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, op: OperationSpec, *, path: Mapping[str, Any], query: Mapping[str, Any],
              body: Mapping[str, Any], files: Mapping[str, Any], extra_headers: Mapping[str, str] | None,
              extra_query: Mapping[str, Any] | None, extra_body: Mapping[str, Any] | None,
              timeout: Timeout | NotGiven) -> Any:
        """Check the arguments, send the request (with retries) and return what the call mode asks for."""
        replay = {"path": path, "query": query, "body": body, "files": files, "extra_headers": extra_headers,
                  "extra_query": extra_query, "extra_body": extra_body, "timeout": timeout}
        request = self._prepare(op, path=path, query=query, body=body, files=files, extra_headers=extra_headers,
                                extra_query=extra_query, extra_body=extra_body)
        request.replay = replay
        mode = response_mode()
        response, retries = self._send(request, self.timeout if isinstance(timeout, NotGiven) else timeout,
                                       stream=request.streaming or mode == "streamed")

        def parse() -> Any:
            return self._result(op, request, response)

        if mode == "raw":
            return LegacyAPIResponse(response, parse, retries_taken=retries)
        if mode == "streamed":
            return APIResponse(response, parse, retries_taken=retries)
        return parse()

    def _result(self, op: OperationSpec, request: PreparedRequest, response: requests.Response) -> Any:
        if request.streaming:
            parser = model_parser(op.stream_model, response.status_code, lenient=not op.stream_declared)
            return Stream(response, parser, self._api_key)
        try:
            parsed = self._parse(op, response)
        finally:
            response.close()
        if op.response_kind != "page":
            return parsed

        def fetch(cursor: str) -> Any:
            return self._call(op, **self._next_page_args(request, op, cursor))

        return Page(parsed, fetch if op.cursor_param else None, cursor_field=op.cursor_field)

    def _send(self, request: PreparedRequest, timeout: Timeout, *, stream: bool) -> tuple[requests.Response, int]:
        kwargs: dict[str, Any] = {"params": request.params or None, "headers": request.headers,
                                  "timeout": timeout, "stream": stream}
        if request.parts is not None:
            kwargs["files"] = request.parts
        elif request.content is not None:
            kwargs["data"] = request.content
        for attempt in range(self.max_retries + 1):
            last = attempt >= self.max_retries
            log.debug("HTTP request: %s %s", request.method, request.url)
            try:
                response = self._session.request(request.method, request.url, **kwargs)
            except requests.Timeout:
                if last:
                    raise APITimeoutError() from None
                time.sleep(self._retry_wait(attempt, None, request.method, request.url, "timeout"))
                continue
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if last:
                    raise APIConnectionError(f"Connection error: {type(exc).__name__}") from None
                time.sleep(self._retry_wait(attempt, None, request.method, request.url, "connection error"))
                continue
            except (requests.RequestException, ValueError) as exc:  # a bad URL or header: retrying cannot help
                raise APIConnectionError(
                    f"Request not sent: {type(exc).__name__}: {redact(str(exc), self._api_key)}") from None
            log.debug("HTTP response: %s %s %d", request.method, request.url, response.status_code)
            if response.status_code < 400:
                return response, attempt
            if not last and should_retry(response.status_code, response.headers):
                response.close()
                time.sleep(self._retry_wait(attempt, response.headers, request.method, request.url,
                                            f"status {response.status_code}"))
                continue
            raise self._status_error(response)
        raise APIConnectionError("retries exhausted")  # pragma: no cover - the loop always returns or raises

    def _status_error(self, response: requests.Response) -> Exception:
        try:
            content = response.content
        except requests.RequestException:
            content = b""
        finally:
            response.close()
        return status_error(response.status_code, self._error_body(content), response.headers, self._api_key,
                            response)


def _httpx_timeout(timeout: Timeout | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, tuple):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(timeout)


class AsyncAPIClient(BaseClient):
    """An asynchronous client (``httpx.AsyncClient``)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key=api_key, organization=organization, project=project, base_url=base_url,
                         timeout=timeout, max_retries=max_retries, default_headers=default_headers,
                         default_query=default_query)
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise InvalidRequestParameterError(
                "http_client", f"must be an httpx.AsyncClient, got {type(http_client).__name__}")
        self._owns_http_client = http_client is None
        self._http: httpx.AsyncClient = http_client if http_client is not None else httpx.AsyncClient()

    @property
    def http_client(self) -> httpx.AsyncClient:
        return self._http

    def with_options(self, **options: Any) -> Self:
        """A copy of this client with some options changed (as the sync client's); it shares the HTTP client."""
        return type(self)(**self._copy_options(options, self._http))

    copy = with_options

    async def close(self) -> None:
        """Close the HTTP client (unless it was injected)."""
        if self._owns_http_client:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, op: OperationSpec, *, path: Mapping[str, Any], query: Mapping[str, Any],
                    body: Mapping[str, Any], files: Mapping[str, Any], extra_headers: Mapping[str, str] | None,
                    extra_query: Mapping[str, Any] | None, extra_body: Mapping[str, Any] | None,
                    timeout: Timeout | NotGiven) -> Any:
        """Check the arguments, send the request (with retries) and return what the call mode asks for."""
        replay = {"path": path, "query": query, "body": body, "files": files, "extra_headers": extra_headers,
                  "extra_query": extra_query, "extra_body": extra_body, "timeout": timeout}
        request = self._prepare(op, path=path, query=query, body=body, files=files, extra_headers=extra_headers,
                                extra_query=extra_query, extra_body=extra_body)
        request.replay = replay
        mode = response_mode()
        response, retries = await self._send(request, self.timeout if isinstance(timeout, NotGiven) else timeout,
                                             stream=request.streaming or mode == "streamed")

        def parse() -> Any:
            return self._result(op, request, response)

        if mode == "streamed":
            return AsyncAPIResponse(response, parse, retries_taken=retries, read_before_parse=not request.streaming)
        if mode == "raw":
            return LegacyAPIResponse(response, parse, retries_taken=retries)
        return parse()

    def _paginate(self, op: OperationSpec, **call: Any) -> AsyncPaginator[Any]:
        """What an async list method returns: nothing is sent until it is awaited or iterated."""
        def first_page() -> Awaitable[Any]:
            return self._call(op, **call)
        return AsyncPaginator(first_page)

    def _result(self, op: OperationSpec, request: PreparedRequest, response: httpx.Response) -> Any:
        if request.streaming:
            parser = model_parser(op.stream_model, response.status_code, lenient=not op.stream_declared)
            return AsyncStream(response, parser, self._api_key)
        parsed = self._parse(op, response)
        if op.response_kind != "page":
            return parsed

        fetch: Callable[[str], Awaitable[Any]] = functools.partial(self._fetch_page, op, request)
        return AsyncPage(parsed, fetch if op.cursor_param else None, cursor_field=op.cursor_field)

    async def _fetch_page(self, op: OperationSpec, request: PreparedRequest, cursor: str) -> Any:
        return await self._call(op, **self._next_page_args(request, op, cursor))

    async def _send(self, request: PreparedRequest, timeout: Timeout | httpx.Timeout, *,
                    stream: bool) -> tuple[httpx.Response, int]:
        try:
            built = self._http.build_request(
                request.method, request.url, params=list(request.params), headers=request.headers,
                content=request.content if request.parts is None else None, files=request.parts,
                timeout=_httpx_timeout(timeout))
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, TypeError) as exc:
            raise APIConnectionError(
                f"Request not sent: {type(exc).__name__}: {redact(str(exc), self._api_key)}") from None
        for attempt in range(self.max_retries + 1):
            last = attempt >= self.max_retries
            log.debug("HTTP request: %s %s", request.method, request.url)
            try:
                response = await self._http.send(built, stream=stream)
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
                raise APIConnectionError(
                    f"Request not sent: {type(exc).__name__}: {redact(str(exc), self._api_key)}") from None
            except httpx.TimeoutException:
                if last:
                    raise APITimeoutError() from None
                await asyncio.sleep(self._retry_wait(attempt, None, request.method, request.url, "timeout"))
                continue
            except httpx.TransportError as exc:
                if last:
                    raise APIConnectionError(f"Connection error: {type(exc).__name__}") from None
                await asyncio.sleep(self._retry_wait(attempt, None, request.method, request.url, "connection error"))
                continue
            log.debug("HTTP response: %s %s %d", request.method, request.url, response.status_code)
            if response.status_code < 400:
                return response, attempt
            if not last and should_retry(response.status_code, response.headers):
                await response.aclose()
                await asyncio.sleep(self._retry_wait(attempt, response.headers, request.method, request.url,
                                                     f"status {response.status_code}"))
                continue
            raise await self._status_error(response)
        raise APIConnectionError("retries exhausted")  # pragma: no cover - the loop always returns or raises

    async def _status_error(self, response: httpx.Response) -> Exception:
        try:
            content = await response.aread()
        except httpx.HTTPError:
            content = b""
        finally:
            await response.aclose()
        return status_error(response.status_code, self._error_body(content), response.headers, self._api_key,
                            response)
