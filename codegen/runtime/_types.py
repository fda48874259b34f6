"""Small shared types: the "argument not given" sentinel, file inputs, timeouts, operation descriptors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import BaseModel


class NotGiven:
    """Marks an argument the caller did not pass (distinct from ``None``, which is sent as null)."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()

#: The content of an upload: raw bytes, a binary file object, or a path.
FileContent = bytes | IO[bytes] | os.PathLike[str] | str
#: An upload: content alone, or ``(filename, content)`` / ``(filename, content, mime type)``.
FileInput = FileContent | tuple[str | None, FileContent] | tuple[str | None, FileContent, str | None]
#: Seconds for the whole request, ``(connect, read)`` seconds, or ``None`` for no limit.
Timeout = float | tuple[float, float] | None


@dataclass(frozen=True)
class OperationSpec:
    """What the client needs to know about one operation of the spec.

    ``body_kind`` is ``json``, ``multipart``, ``raw`` (the ``content`` argument sent as is with
    ``media_type``) or ``None``; ``response_kind`` is ``model``, ``dict``, ``union``, ``page``,
    ``binary`` or ``none``.
    """

    method: str
    path: str
    body_kind: str | None = None
    media_type: str | None = None
    request_model: type[BaseModel] | None = None
    response_kind: str = "model"
    response_model: type[BaseModel] | None = None
    streams: bool = False
    stream_model: type[BaseModel] | None = None
    stream_declared: bool = True  # False: chunks typed by the JSON response model, built leniently
    page_item_model: type[BaseModel] | None = None
    cursor_param: str | None = None
    cursor_field: str | None = None
    response_union: tuple[type[BaseModel], ...] = ()
    text_alternative: bool = False
    query_constraints: dict[str, dict[str, Any]] = field(default_factory=dict)
