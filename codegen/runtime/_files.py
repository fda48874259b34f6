"""Multipart uploads and binary responses.

Rules: an upload may be a path (``str`` or ``os.PathLike``), ``bytes``, a binary file object, or a
``(filename, content[, mime type])`` tuple; its bytes are read once, so retries resend the same
content. Form fields: booleans as ``true``/``false``, arrays as repeated ``name[]`` fields (a name already ending in ``[]`` keeps it), objects
as ``name[key]`` fields, ``None`` omitted. Binary responses are read fully.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._errors import InvalidRequestParameterError

UploadTuple = tuple[str, bytes, str]


def _read_content(value: Any, param: str) -> tuple[bytes, str | None]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), None
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise InvalidRequestParameterError(param, f"cannot read file {str(path)!r}: {exc.strerror}") from None
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidRequestParameterError(param, "file object must return bytes from read()")
        name = getattr(value, "name", None)
        return bytes(data), os.path.basename(name) if isinstance(name, str) else None
    raise InvalidRequestParameterError(
        param, f"expected a path, bytes, a file object or a (name, content, mime) tuple, got {type(value).__name__}")


def read_upload(value: Any, param: str) -> UploadTuple:
    """``(filename, bytes, mime type)`` for any accepted upload form."""
    name: str | None = None
    mime: str | None = None
    if isinstance(value, tuple):
        if len(value) not in (2, 3):
            raise InvalidRequestParameterError(param, "an upload tuple is (name, content) or (name, content, mime)")
        name = value[0]
        mime = value[2] if len(value) == 3 else None
        content, guessed = _read_content(value[1], param)
        name = name or guessed
    else:
        content, name = _read_content(value, param)
    name = name or "upload"
    mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, content, mime


def _form_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_fields(name: str, value: Any) -> Iterator[tuple[str, str]]:
    """``(field name, text)`` pairs for one non-file multipart value."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, sub in value.items():
            yield from form_fields(f"{name}[{key}]", sub)
    elif isinstance(value, (list, tuple)):
        item_name = name if name.endswith("[]") else f"{name}[]"
        for sub in value:
            yield from form_fields(item_name, sub)
    else:
        yield name, _form_scalar(value)


class BinaryResponse:
    """A non-JSON response body (audio, file content): ``content``, ``text``, ``write_to_file``."""

    def __init__(self, content: bytes, *, status_code: int, headers: Mapping[str, str], encoding: str | None) -> None:
        self.content = content
        self.status_code = status_code
        self.headers = dict(headers)
        self._encoding = encoding

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type") or self.headers.get("Content-Type")

    @property
    def text(self) -> str:
        return self.content.decode(self._encoding or "utf-8", errors="replace")

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        for start in range(0, len(self.content), max(1, chunk_size)):
            yield self.content[start:start + chunk_size]

    def write_to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the body to ``path`` (created or truncated)."""
        Path(path).write_bytes(self.content)

    def __repr__(self) -> str:
        return f"BinaryResponse(status_code={self.status_code}, content_type={self.content_type!r}, bytes={len(self.content)})"


def multipart_parts(fields: Mapping[str, Any], uploads: Mapping[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """The multipart parts of a request: form fields as ``(name, (None, text))``, then uploads as
    ``(name, (filename, bytes, mime type))`` (the ``files=`` form both ``requests`` and ``httpx`` take)."""
    parts: list[tuple[str, tuple[Any, ...]]] = []
    for name, value in fields.items():
        parts.extend((field, (None, text)) for field, text in form_fields(name, value))
    for name, value in uploads.items():
        parts.append((name, read_upload(value, name)))
    return parts
