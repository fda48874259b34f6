"""Pages of list endpoints, sync and async.

Rules: a page wraps the list response model (its fields are readable on the page); iterating a
page yields items across every following page, requested while ``has_more`` is true with the
cursor parameter set to the response's cursor field (``next_page``) or, for ``after`` cursors, to
``last_id`` or else the last item's ``id``. A cursor that repeats is a provider fault
(``APIError``), and at most ``MAX_PAGES`` pages are fetched. An async list call returns an
``AsyncPaginator``: ``await`` it for the first page, or ``async for`` over it for every item.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ._errors import APIError

T = TypeVar("T")
MAX_PAGES = 100_000


def _item_id(item: Any) -> Any:
    if isinstance(item, BaseModel):
        return getattr(item, "id", None)
    if isinstance(item, dict):
        return item.get("id")
    return None


class _PageBase(Generic[T]):
    """What sync and async pages share: the response, its items and the next cursor."""

    def __init__(self, response: Any, *, can_fetch: bool, cursor_field: str | None = None) -> None:
        self.response = response
        self._can_fetch = can_fetch
        self._cursor_field = cursor_field

    def _get(self, name: str) -> Any:
        if isinstance(self.response, dict):
            return self.response.get(name)
        return getattr(self.response, name, None)

    @property
    def data(self) -> list[T]:
        return list(self._get("data") or [])

    @property
    def has_more(self) -> bool:
        return bool(self._get("has_more"))

    def next_cursor(self) -> str | None:
        """The cursor of the next page, or ``None`` when there is none."""
        if not self._can_fetch or not self.has_more:
            return None
        if self._cursor_field is not None:
            value = self._get(self._cursor_field)
            return str(value) if value not in (None, "") else None
        last = self._get("last_id")
        if last is None and self.data:
            last = _item_id(self.data[-1])
        return str(last) if last is not None else None

    def has_next_page(self) -> bool:
        return self.next_cursor() is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "response":
            raise AttributeError(name)
        return getattr(self.response, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self.data)}, has_more={self.has_more})"


class _CursorGuard:
    """Refuses a repeating cursor and more than ``MAX_PAGES`` pages."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def check(self, cursor: str) -> None:
        if cursor in self.seen:
            raise APIError(f"pagination cursor {cursor!r} repeated; the provider's list is not advancing")
        if len(self.seen) >= MAX_PAGES:
            raise APIError(f"more than {MAX_PAGES} pages")
        self.seen.add(cursor)


class Page(_PageBase[T]):
    """One page of a list endpoint; iterate it to get every item of every page."""

    def __init__(self, response: Any, fetch: Callable[[str], Page[T]] | None, *,
                 cursor_field: str | None = None) -> None:
        super().__init__(response, can_fetch=fetch is not None, cursor_field=cursor_field)
        self._fetch = fetch

    def get_next_page(self) -> Page[T]:
        cursor = self.next_cursor()
        if cursor is None or self._fetch is None:
            raise StopIteration("no next page")
        return self._fetch(cursor)

    def iter_pages(self) -> Iterator[Page[T]]:
        """This page and every following one."""
        page: Page[T] = self
        guard = _CursorGuard()
        while True:
            yield page
            cursor = page.next_cursor()
            if cursor is None:
                return
            guard.check(cursor)
            page = page.get_next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(_PageBase[T]):
    """One page of a list endpoint of the async client; ``async for`` over it for every item of every page."""

    def __init__(self, response: Any, fetch: Callable[[str], Awaitable[AsyncPage[T]]] | None, *,
                 cursor_field: str | None = None) -> None:
        super().__init__(response, can_fetch=fetch is not None, cursor_field=cursor_field)
        self._fetch = fetch

    async def get_next_page(self) -> AsyncPage[T]:
        cursor = self.next_cursor()
        if cursor is None or self._fetch is None:
            raise StopAsyncIteration("no next page")
        return await self._fetch(cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page and every following one."""
        page: AsyncPage[T] = self
        guard = _CursorGuard()
        while True:
            yield page
            cursor = page.next_cursor()
            if cursor is None:
                return
            guard.check(cursor)
            page = await page.get_next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPaginator(Generic[T]):
    """What an async list method returns: awaitable (the first ``AsyncPage``) and async-iterable (every item).

    Nothing is sent until it is awaited or iterated.
    """

    def __init__(self, first_page: Callable[[], Awaitable[AsyncPage[T]]]) -> None:
        self._first_page = first_page

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first_page().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first_page()
        async for item in page:
            yield item
