"""RFC 6901 JSON pointers and `$ref` resolution inside one OpenAPI document.

Rules: a pointer is built from path segments with ``~`` escaped as ``~0`` and ``/`` as ``~1``; only
local references (``#/...``) are resolved; a reference that leads nowhere is a fault of the spec,
reported by the caller with the pointer of the ``$ref`` itself.
"""

from __future__ import annotations

from typing import Any


def escape(segment: str | int) -> str:
    """One pointer segment, escaped as RFC 6901 requires."""
    return str(segment).replace("~", "~0").replace("/", "~1")


def join(*segments: str | int) -> str:
    """The pointer made of ``segments`` (``join("paths", "/models")`` -> ``/paths/~1models``)."""
    return "".join("/" + escape(s) for s in segments)


def child(pointer: str, *segments: str | int) -> str:
    """``pointer`` extended by ``segments``."""
    return pointer + join(*segments)


def resolve_ref(spec: dict[str, Any], ref: str) -> Any:
    """The node a local ``$ref`` names; ``KeyError`` when it names nothing."""
    if not ref.startswith("#"):
        raise KeyError(ref)
    node: Any = spec
    path = ref[1:]
    if not path:
        return node
    for raw in path.split("/")[1:]:
        seg = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and seg in node:
            node = node[seg]
        elif isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
            node = node[int(seg)]
        else:
            raise KeyError(ref)
    return node


def schema_ref_name(ref: str) -> str | None:
    """The component name of ``#/components/schemas/NAME``, else ``None``."""
    prefix = "#/components/schemas/"
    if ref.startswith(prefix) and "/" not in ref[len(prefix):]:
        return ref[len(prefix):].replace("~1", "/").replace("~0", "~")
    return None
