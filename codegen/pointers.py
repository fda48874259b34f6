"""RFC 6901 JSON pointers and `$ref` resolution inside one OpenAPI document.

Rules: a pointer is built from path segments with ``~`` escaped as ``~0`` and ``/`` as ``~1``; only
local references (``#/...``) are resolved; a chain of references is followed at most
``MAX_REF_CHAIN`` links; a reference that leads nowhere (or a chain longer than that: a loop) is a
fault of the spec, reported by the caller with the pointer of the ``$ref`` itself.
"""

from __future__ import annotations

from typing import Any

#: how many ``$ref`` links ``deref`` follows before calling the chain a loop
MAX_REF_CHAIN = 16


class BrokenRef(KeyError):
    """A ``$ref`` chain that leads nowhere: ``ref`` names no node, or (``loop``) the chain is longer
    than ``MAX_REF_CHAIN`` links."""

    def __init__(self, ref: str, *, loop: bool = False) -> None:
        super().__init__(ref)
        self.ref = ref
        self.loop = loop


def escape(segment: object) -> str:
    """One pointer segment, escaped as RFC 6901 requires (``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return str(segment).replace("~", "~0").replace("/", "~1")


def join(*segments: object) -> str:
    """The pointer made of ``segments`` (``join("paths", "/models")`` -> ``/paths/~1models``)."""
    return "".join("/" + escape(s) for s in segments)


def child(pointer: str, *segments: object) -> str:
    """``pointer`` extended by ``segments``."""
    return pointer + join(*segments)


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """The node at ``pointer`` in ``doc`` (``""`` is the root); ``KeyError`` when it does not exist."""
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    node = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(pointer)
    return node


def resolve_ref(spec: dict[str, Any], ref: str) -> Any:
    """The node a local ``$ref`` (``#`` + a pointer) names; ``KeyError`` when it names nothing."""
    if not ref.startswith("#"):
        raise KeyError(ref)
    try:
        return resolve_pointer(spec, ref[1:])
    except KeyError:
        raise KeyError(ref) from None


def deref(spec: dict[str, Any], node: Any) -> Any:
    """``node`` with its chain of ``$ref`` followed to the first node that is not a reference;
    ``BrokenRef`` when a link names nothing or the chain is longer than ``MAX_REF_CHAIN``."""
    for _ in range(MAX_REF_CHAIN):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        ref = node["$ref"]
        try:
            node = resolve_ref(spec, ref)
        except KeyError:
            raise BrokenRef(ref) from None
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        raise BrokenRef(node["$ref"], loop=True)
    return node


def deref_or_empty(spec: dict[str, Any], node: Any) -> Any:
    """``deref(spec, node)``, or ``{}`` where the chain is broken (for readers that skip what the
    spec checks report)."""
    try:
        return deref(spec, node)
    except BrokenRef:
        return {}


def schema_ref_name(ref: str) -> str | None:
    """The component name of ``#/components/schemas/NAME``, else ``None``."""
    prefix = "#/components/schemas/"
    if ref.startswith(prefix) and "/" not in ref[len(prefix):]:
        return ref[len(prefix):].replace("~1", "/").replace("~0", "~")
    return None
