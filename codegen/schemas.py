"""Which component schemas are requests and which are responses, and how each is generated.

Rules:
- A component schema is a *response* schema when a success or error response body (JSON or
  event stream) reaches it through ``$ref`` chains; a *request* schema when a request body reaches
  it. A schema on both sides is treated as a response schema (responses must never fail to parse).
- Object schemas of request-only components refuse unknown fields; every other object schema
  (responses, and inline objects below them) keeps unknown fields (``additionalProperties: true``
  unless the spec says otherwise).
- Inside response schemas every string enum is widened to "one of the documented values or any
  string", so a provider adding a new value never breaks parsing; the tag property of a component
  that is a variant of a discriminated union stays exact (pydantic picks the variant by it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from codegen.pointers import deref_or_empty, schema_ref_name
from codegen.spec import iter_operations


def iter_refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` string anywhere below ``node``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from iter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_refs(value)


def _closure(spec: dict[str, Any], roots: list[Any]) -> set[str]:
    """Component schema names reachable from ``roots`` through ``$ref``."""
    schemas = spec.get("components", {}).get("schemas", {}) or {}
    found: set[str] = set()
    stack = [r for root in roots for r in iter_refs(root)]
    while stack:
        name = schema_ref_name(stack.pop())
        if name is None or name in found or name not in schemas:
            continue
        found.add(name)
        stack.extend(iter_refs(schemas[name]))
    return found


def request_and_response_roots(spec: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The request-body and response-body media schemas of every operation."""
    requests: list[Any] = []
    responses: list[Any] = []
    for _path, _method, op in iter_operations(spec):
        body = deref_or_empty(spec, op.get("requestBody"))
        if isinstance(body, dict):
            for media in (body.get("content") or {}).values():
                if isinstance(media, dict):
                    requests.append(media.get("schema"))
        for resp in (op.get("responses") or {}).values():
            resp = deref_or_empty(spec, resp)
            if isinstance(resp, dict):
                for media in (resp.get("content") or {}).values():
                    if isinstance(media, dict):
                        responses.append(media.get("schema"))
    return requests, responses


def classify(spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(request schema names, response schema names); a name on both sides is a response."""
    req_roots, resp_roots = request_and_response_roots(spec)
    responses = _closure(spec, resp_roots)
    requests = _closure(spec, req_roots) - responses
    return requests, responses


def discriminated_properties(spec: dict[str, Any]) -> dict[str, set[str]]:
    """``{component name: property names}`` that tag a discriminated union the component is in."""
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if isinstance(disc, dict) and isinstance(disc.get("propertyName"), str):
                targets = [b.get("$ref") for key in ("oneOf", "anyOf") for b in node.get(key) or []
                           if isinstance(b, dict)]
                targets += [t for t in (disc.get("mapping") or {}).values() if isinstance(t, str)]
                for ref in targets:
                    name = schema_ref_name(ref) if isinstance(ref, str) else None
                    if name is not None:
                        found.setdefault(name, set()).add(disc["propertyName"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def _is_string_enum(node: dict[str, Any]) -> bool:
    values = node.get("enum")
    return isinstance(values, list) and bool(values) and all(isinstance(v, str) or v is None for v in values)


def _prepare(node: Any, response: bool, ctx: _Ctx, exact: bool = False,
             tags: frozenset[str] = frozenset()) -> Any:
    """A copy of ``node`` made forward-compatible (``response``) or strict (request side).

    Response side: object nodes keep unknown fields and string enums (and refs to enum components)
    accept any string. Request side: object nodes refuse unknown fields. Nodes that state
    ``additionalProperties`` themselves keep it.
    """
    if isinstance(node, list):
        return [_prepare(v, response, ctx) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = schema_ref_name(ref)
        if response and name in ctx.enum_components and not exact:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**rest, "anyOf": [{"$ref": ref}, {"type": "string"}]}
        return copy.deepcopy(node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {p: _prepare(s, response, ctx, p in tags) for p, s in value.items()}
        elif key in ("enum", "const", "default", "example", "examples", "discriminator", "x-oairef-rules"):
            out[key] = copy.deepcopy(value)
        else:
            out[key] = _prepare(value, response, ctx)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = response
    if response and _is_string_enum(out) and not exact:
        values = [v for v in out["enum"] if v is not None]
        types = out.get("type")
        nullable = None in out["enum"] or (isinstance(types, list) and "null" in types)
        keep = {k: v for k, v in out.items() if k not in ("enum", "type")}
        branches: list[dict[str, Any]] = [{"type": "string", "enum": values}, {"type": "string"}]
        if nullable:
            branches.append({"type": "null"})
        return {**keep, "anyOf": branches}
    return out


class _Ctx:
    """What ``_prepare`` needs to know about the whole spec."""

    def __init__(self, enum_components: set[str]) -> None:
        self.enum_components = enum_components


def prepare_for_models(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's component schemas as handed to datamodel-code-generator."""
    schemas: dict[str, Any] = dict((spec.get("components") or {}).get("schemas") or {})
    requests, _responses = classify(spec)
    enum_components = {n for n, s in schemas.items() if isinstance(s, dict) and _is_string_enum(s)}
    ctx = _Ctx(enum_components)
    tags = discriminated_properties(spec)
    prepared = {
        name: (copy.deepcopy(schema) if name in enum_components
               else _prepare(schema, name not in requests, ctx, False, frozenset(tags.get(name, ()))))
        for name, schema in schemas.items()
    }
    return {
        "openapi": spec.get("openapi", "3.1.0"),
        "info": spec.get("info") or {"title": "api", "version": "0"},
        "paths": {},
        "components": {"schemas": prepared},
    }
