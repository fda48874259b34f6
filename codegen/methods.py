"""Client method paths (``chat.completions.create``): the spec's ``x-oairef-method``, else derived.

Derivation rules (REST conventions, as openai-python names its methods where it has the operation):
- the resource path is the path's literal segments in order, each made a Python identifier
  (lower case, ``-`` and other separators as ``_``, a keyword gets a trailing ``_``); path
  parameters are left out: ``/fine_tuning/jobs/{id}`` -> ``fine_tuning.jobs``.
- the method name comes from the HTTP method: on a collection (the path ends in a literal)
  ``GET`` -> ``list``, ``POST`` -> ``create``; on an item (the path ends in a parameter) ``GET``
  -> ``retrieve``, ``POST``/``PUT``/``PATCH`` -> ``update``; ``DELETE`` -> ``delete``; ``PUT``/``PATCH``
  on a collection -> ``update``.
- a literal segment right after a parameter, with no path below it and no other operation on its
  path, is a method of the resource before it when it is an action or a property of the item: an action when the operationId starts
  with that word (``POST /batches/{id}/cancel``, ``cancelBatch`` -> ``batches.cancel``); for
  ``GET``, a property (``GET /files/{id}/content`` -> ``files.content``), or ``list_<segment>`` when
  the response is a list (``GET /fine_tuning/jobs/{id}/events`` -> ``fine_tuning.jobs.list_events``).
  Otherwise (``POST /uploads/{id}/parts``, ``addUploadPart``) it is a sub-resource as usual.
- clashes are settled in document order, first come first served: a derived path already taken
  by another operation, or that is another operation's resource (or the reverse), or a name every
  resource or the client already has, takes the operationId (snake case) as its method name;
  failing that, ``<method>_<n>`` with the smallest free ``n``; a resource segment that is already
  a method (or a reserved name) gets a trailing ``_``.
Paths given by ``x-oairef-method`` are kept as they are and win every clash.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from codegen.pointers import deref_or_empty
from codegen.spec import iter_operations

#: names a resource or method may not take (attributes of every resource; checked again when rendering)
RESOURCE_RESERVED = frozenset({"with_raw_response", "with_streaming_response"})
#: names a top-level resource may not take (attributes of the clients in ``runtime/_base_client.py``)
CLIENT_RESERVED = frozenset({
    "api_key", "base_url", "organization_id", "project_id", "timeout", "max_retries", "default_headers",
    "default_query", "default_base_url", "user_agent", "http_client", "with_options", "copy", "close",
    "with_raw_response", "with_streaming_response"})
_ITEM_VERBS = {"get": "retrieve", "post": "update", "put": "update", "patch": "update", "delete": "delete"}
_COLLECTION_VERBS = {"get": "list", "post": "create", "put": "update", "patch": "update", "delete": "delete"}

MethodPath = tuple[str, ...]
OperationKey = tuple[str, str]  # (path, lower-case HTTP method)


def identifier(text: str) -> str:
    """``text`` as a lower-case Python identifier (``fine-tunes`` -> ``fine_tunes``, ``class`` -> ``class_``)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    ident = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_") or "x"
    if ident[0].isdigit():
        ident = "_" + ident
    return ident + "_" if keyword.iskeyword(ident) else ident


def operation_words(operation_id: str) -> list[str]:
    """The words of an operationId (``cancelBatch`` -> ``[cancel, batch]``, ``archive-project`` -> ...)."""
    return [w for w in identifier(operation_id).split("_") if w]


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _returns_list(spec: dict[str, Any], op: dict[str, Any]) -> bool:
    """Whether the first 2xx JSON response is an object with a ``data`` array (a list page)."""
    responses = op.get("responses") or {}
    for code in sorted(str(c) for c in responses):
        if not code.startswith("2"):
            continue
        response = deref_or_empty(spec, responses.get(code, responses.get(int(code)) if code.isdigit() else None))
        content = (response or {}).get("content") or {}
        media = next((m for m in content if m == "application/json" or m.endswith("+json")), None)
        schema = deref_or_empty(spec, (content.get(media) or {}).get("schema")) if media else None
        props = _properties(spec, schema)
        data = deref_or_empty(spec, props.get("data"))
        return isinstance(data, dict) and data.get("type") == "array"
    return False


def _properties(spec: dict[str, Any], schema: Any) -> dict[str, Any]:
    schema = deref_or_empty(spec, schema)
    if not isinstance(schema, dict):
        return {}
    props = dict(schema.get("properties") or {})
    for member in schema.get("allOf") or []:
        props.update(_properties(spec, member))
    return props


def derive_method_path(spec: dict[str, Any], path: str, method: str, op: dict[str, Any],
                       all_paths: set[str], *, alone: bool = True) -> MethodPath:
    """The method path the rules above give one operation, before clashes are settled (``alone``:
    the only operation of its path)."""
    segments = [s for s in path.strip("/").split("/") if s]
    literals = [identifier(s) for s in segments if not _is_param(s)] or ["api"]
    words = operation_words(str(op.get("operationId") or ""))
    last = segments[-1] if segments else ""
    after_param = len(segments) >= 2 and not _is_param(last) and _is_param(segments[-2])
    is_leaf = not any(other != path and other.startswith(path.rstrip("/") + "/") for other in all_paths)
    if after_param and is_leaf and alone and len(literals) >= 2:
        name = literals[-1]
        if words and words[0] == name:
            return (*literals[:-1], name)
        if method == "get":
            return (*literals[:-1], f"list_{name}" if _returns_list(spec, op) else name)
    verbs = _ITEM_VERBS if segments and _is_param(last) else _COLLECTION_VERBS
    return (*literals, verbs.get(method, method))


def method_paths(spec: dict[str, Any]) -> dict[OperationKey, MethodPath]:
    """The method path of every operation: ``x-oairef-method`` where given, else derived (clashes settled)."""
    ops = list(iter_operations(spec))
    all_paths = {path for path, _m, _op in ops}
    per_path = {path: sum(1 for p, _m, _op in ops if p == path) for path in all_paths}
    given: dict[OperationKey, MethodPath] = {
        (path, method): tuple(op["x-oairef-method"].split("."))
        for path, method, op in ops if isinstance(op.get("x-oairef-method"), str)}
    taken: set[MethodPath] = set(given.values())
    resources: set[MethodPath] = {p[:i] for p in taken for i in range(1, len(p))}
    out: dict[OperationKey, MethodPath] = {}
    for path, method, op in ops:
        key = (path, method)
        if key in given:
            out[key] = given[key]
            continue
        wanted = derive_method_path(spec, path, method, op, all_paths, alone=per_path[path] == 1)
        resource = list(wanted[:-1])
        if resource and resource[0] in CLIENT_RESERVED:
            resource[0] += "_"
        for i in range(len(resource)):  # a segment that is already a method becomes `<segment>_`
            while resource[i] in RESOURCE_RESERVED or tuple(resource[:i + 1]) in taken:
                resource[i] += "_"
        candidates = [wanted[-1]]
        if op.get("operationId"):
            candidates.append(identifier(str(op["operationId"])))
        chosen: MethodPath | None = None
        for name in candidates + [f"{wanted[-1]}_{n}" for n in range(2, 1000)]:
            attempt = (*resource, name)
            if name not in RESOURCE_RESERVED and attempt not in taken and attempt not in resources:
                chosen = attempt
                break
        if chosen is None:  # pragma: no cover - a thousand clashing operations on one resource
            raise ValueError(f"no free method name for {method.upper()} {path}")
        out[key] = chosen
        taken.add(chosen)
        resources.update(chosen[:i] for i in range(1, len(chosen)))
    return out
