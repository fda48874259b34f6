"""The spec's operations as plain data for the client templates.

Rules:
- Every operation needs a method path: its ``x-oairef-method`` or, for a spec written elsewhere,
  the one ``codegen.methods`` derives; a dotted path of Python identifiers with at least two parts
  (``chat.completions.create``); paths are unique and a method never shares its name with a
  sub-resource.
- Request bodies are JSON or multipart; in a lenient reading (a spec written elsewhere) any other
  media type is a raw body, sent as the ``content`` argument (bytes or text) with that media type.
- Path parameters come first (positional), then query parameters, then body properties (all
  keyword-only). Required body properties are required arguments.
- The success response is the lowest 2xx status. ``application/json`` with a ``$ref`` gives a
  model; a JSON ``type: string`` body or any non-JSON, non-SSE media type gives a binary response;
  ``text/event-stream`` adds streaming (chunks typed by its schema) when the request has ``stream``;
  a request with a boolean ``stream`` and no declared event stream streams chunks of the JSON
  response model, built without validation where they do not validate (OpenAI's own spec declares
  no stream for ``/completions``, whose chunks have a null ``finish_reason``).
- A JSON response with ``oneOf``/``anyOf`` of model refs parses into whichever model fits best;
  a ``text/*`` alternative is returned as ``str`` when the server answers with it.
- A GET (or ``list*``) operation whose response model has an array ``data`` is a page; it fetches
  further pages through ``after`` (response ``has_more``; cursor = ``last_id`` or the last item's
  ``id``) or through ``page`` (response ``next_page``).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from codegen.pointers import BrokenRef, child, deref, schema_ref_name
from codegen.pytypes import TypeWriter
from codegen.spec import SpecError, iter_operations

RESERVED_KWARGS = {"extra_headers", "extra_query", "extra_body", "timeout", "self"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONSTRAINT_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "maxLength",
                    "minLength", "maxItems", "minItems")


@dataclass
class Param:
    """One argument of a generated method."""

    name: str
    pyname: str
    location: str  # path | query | body | file | content (the whole raw body)
    annotation: str
    required: bool
    description: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)


@dataclass
class Operation:
    """One client method."""

    method_path: tuple[str, ...]
    operation_id: str
    http_method: str
    path: str
    summary: str
    params: list[Param]
    body_kind: str | None  # json | multipart | raw | None
    request_model: str | None
    response_kind: str  # model | dict | binary | none | page
    response_model: str | None
    streams: bool
    stream_model: str | None
    page_item_model: str | None
    cursor_param: str | None  # query parameter carrying the cursor (after | page) when paginating
    cursor_field: str | None  # response field holding the next cursor (None: last_id / last item id)
    response_union: tuple[str, ...]
    text_alternative: bool
    pointer: str
    media_type: str | None = None  # the request media type of a raw body
    stream_declared: bool = True  # False: the spec declares no event stream; chunks typed by the JSON model

    @property
    def name(self) -> str:
        return self.method_path[-1]

    @property
    def resource_path(self) -> tuple[str, ...]:
        return self.method_path[:-1]

    @property
    def positional(self) -> list[Param]:
        return [p for p in self.params if p.location == "path"]

    @property
    def keyword(self) -> list[Param]:
        return [p for p in self.params if p.location != "path"]


def pyname(name: str, taken: set[str]) -> str:
    """A Python identifier for the wire name ``name`` (``a[]`` -> ``a``), distinct from ``taken``."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name.removesuffix("[]"))
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    while keyword.iskeyword(ident) or ident in RESERVED_KWARGS or ident in taken:
        ident += "_"
    return ident


def _deref_at(spec: dict[str, Any], node: Any, pointer: str) -> Any:
    """``deref(spec, node)``; a broken chain is a ``SpecError`` at ``pointer`` (the node's own ``$ref``)."""
    try:
        return deref(spec, node)
    except BrokenRef as exc:
        if exc.loop:
            raise SpecError(pointer, "reference chain too long") from None
        raise SpecError(child(pointer, "$ref"), f"unresolvable reference {exc.ref!r}") from None


def _object_shape(spec: dict[str, Any], schema: Any, pointer: str) -> tuple[dict[str, Any], list[str]]:
    """(properties, required) of an object schema, merging ``allOf`` members."""
    schema = _deref_at(spec, schema, pointer)
    if not isinstance(schema, dict):
        return {}, []
    props: dict[str, Any] = dict(schema.get("properties") or {})
    required: list[str] = list(schema.get("required") or [])
    for i, member in enumerate(schema.get("allOf") or []):
        p, r = _object_shape(spec, member, child(pointer, "allOf", i))
        props.update(p)
        required.extend(x for x in r if x not in required)
    return props, required


def _description(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    text = node.get("description") or ""
    return text.strip().split("\n\n")[0].replace("\n", " ") if isinstance(text, str) else ""


class OperationReader:
    """Reads operations out of a spec, raising ``SpecError`` at the first fault."""

    def __init__(self, spec: dict[str, Any], model_classes: set[str],
                 method_paths: dict[tuple[str, str], tuple[str, ...]] | None = None, *, strict: bool = True) -> None:
        self.spec = spec
        self.strict = strict
        self.types = TypeWriter(spec, model_classes)
        self.model_classes = model_classes
        self.method_paths = method_paths or {}

    def read_all(self) -> list[Operation]:
        paths = self.spec.get("paths")
        if not isinstance(paths, dict):
            raise SpecError("/paths", "the spec needs a 'paths' mapping")
        ops: list[Operation] = []
        seen: dict[tuple[str, ...], str] = {}
        for path, method, raw in iter_operations(self.spec):
            op_ptr = child("/paths", path, method)
            op = self.read(path, method, raw, paths[path].get("parameters") or [], op_ptr)
            if op.method_path in seen:
                raise SpecError(child(op_ptr, "x-oairef-method"),
                                f"{'.'.join(op.method_path)} is also the method of {seen[op.method_path]}")
            seen[op.method_path] = op_ptr
            ops.append(op)
        resources = {op.method_path[:i] for op in ops for i in range(1, len(op.method_path))}
        for op in ops:
            if op.method_path in resources:
                raise SpecError(child(op.pointer, "x-oairef-method"),
                                f"{'.'.join(op.method_path)} is both a method and a resource")
        return ops

    def read(self, path: str, method: str, op: Any, shared: list[Any], ptr: str) -> Operation:
        if not isinstance(op, dict):
            raise SpecError(ptr, "an operation must be a mapping")
        given = op.get("x-oairef-method")
        derived = self.method_paths.get((path, method))
        if not isinstance(given, str) and derived is None:
            raise SpecError(ptr, "operation has no x-oairef-method (the client method path)")
        dotted = given if isinstance(given, str) else ".".join(derived or ())
        parts = tuple(dotted.split("."))
        if len(parts) < 2 or not all(_IDENT.match(p) and not keyword.iskeyword(p) for p in parts):
            raise SpecError(child(ptr, "x-oairef-method"),
                            f"{dotted!r} must be a dotted path of at least two Python identifiers")
        params = self._parameters(path, shared, op.get("parameters") or [], ptr)
        body_kind, request_model, body_params, media_type = self._body(op.get("requestBody"), ptr,
                                                                       {p.pyname for p in params})
        params.extend(body_params)
        r = self._response(op, ptr, params, method, parts[-1])
        return Operation(
            method_path=parts, operation_id=str(op.get("operationId") or dotted), http_method=method.upper(),
            path=path, summary=str(op.get("summary") or _description(op) or dotted).strip().split("\n")[0],
            params=params, body_kind=body_kind, request_model=request_model, response_kind=r.kind,
            response_model=r.model, streams=r.streams, stream_model=r.stream_model, page_item_model=r.item_model,
            cursor_param=r.cursor_param, cursor_field=r.cursor_field, response_union=r.union,
            text_alternative=r.text_alternative, pointer=ptr, media_type=media_type,
            stream_declared=r.stream_declared,
        )

    def _parameters(self, path: str, shared: list[Any], own: list[Any], ptr: str) -> list[Param]:
        merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        for where, items in (("parameters", shared), ("parameters", own)):
            base = ptr.rsplit("/", 1)[0] if items is shared else ptr
            if not isinstance(items, list):
                raise SpecError(child(base, where), "parameters must be a list")
            for i, raw in enumerate(items):
                p_ptr = child(base, where, i)
                p = _deref_at(self.spec, raw, p_ptr)
                if not isinstance(p, dict) or not isinstance(p.get("name"), str) or p.get("in") not in (
                        "path", "query", "header", "cookie"):
                    raise SpecError(p_ptr, "a parameter needs a string 'name' and 'in' of path/query/header/cookie")
                merged[(p["in"], p["name"])] = (p, p_ptr)
        template_names = re.findall(r"\{([^}]+)\}", path)
        out: list[Param] = []
        taken: set[str] = set()
        for name in template_names:
            if ("path", name) not in merged:
                raise SpecError(child(ptr, "parameters"), f"path parameter {{{name}}} is not declared")
        for (loc, name), (_p, p_ptr) in merged.items():
            if loc == "path" and name not in template_names:
                raise SpecError(p_ptr, f"path parameter {name!r} does not occur in {path}")
        ordered = [merged[("path", n)] for n in template_names] + [
            v for (loc, _), v in merged.items() if loc == "query"]
        for p, _p_ptr in ordered:
            schema = _deref_at(self.spec, p.get("schema") or {}, _p_ptr)
            ident = pyname(p["name"], taken)
            taken.add(ident)
            constraints = {k: schema[k] for k in _CONSTRAINT_KEYS if isinstance(schema, dict) and k in schema}
            out.append(Param(
                name=p["name"], pyname=ident, location=p["in"], annotation=self.types.annotation(schema),
                required=bool(p.get("required")) or p["in"] == "path", description=_description(p),
                constraints=constraints,
            ))
        return out

    def _body(self, body: Any, ptr: str,
              taken: set[str]) -> tuple[str | None, str | None, list[Param], str | None]:
        if body is None:
            return None, None, [], None
        b_ptr = child(ptr, "requestBody")
        body = _deref_at(self.spec, body, b_ptr)
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, dict) or not content:
            raise SpecError(b_ptr, "requestBody needs a non-empty 'content' mapping")
        if "application/json" in content:
            kind, media = "json", "application/json"
        elif "multipart/form-data" in content:
            kind, media = "multipart", "multipart/form-data"
        elif not self.strict:
            media = next(iter(content))
            raw = Param(name="content", pyname=pyname("content", taken), location="content",
                        annotation="bytes | str", required=bool(body.get("required")),
                        description=f"The request body, sent as {media}.")
            return "raw", None, [raw], media
        else:
            raise SpecError(child(b_ptr, "content"), f"unsupported request media type {sorted(content)[0]!r}")
        m_ptr = child(b_ptr, "content", media, "schema")
        schema = (content[media] or {}).get("schema")
        if not isinstance(schema, dict):
            raise SpecError(m_ptr, "the request body needs a schema")
        model = schema_ref_name(schema["$ref"]) if isinstance(schema.get("$ref"), str) else None
        if model is not None and model not in self.model_classes:
            model = None
        props, required = _object_shape(self.spec, schema, m_ptr)
        params: list[Param] = []
        names = set(taken)
        for name, prop in props.items():
            ident = pyname(name, names)
            names.add(ident)
            resolved = _deref_at(self.spec, prop, child(m_ptr, "properties", name))
            is_file = kind == "multipart" and _is_binary(resolved)
            params.append(Param(
                name=name, pyname=ident, location="file" if is_file else "body",
                annotation=self.types.annotation(prop), required=name in required,
                description=_description(resolved),
            ))
        params.sort(key=lambda p: not p.required)
        return kind, model, params, None

    def _response(self, op: dict[str, Any], ptr: str, params: list[Param], method: str, name: str) -> _Response:
        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            raise SpecError(child(ptr, "responses"), "an operation needs responses")
        codes = sorted(str(c) for c in responses if str(c)[:1] == "2")
        if not codes:
            raise SpecError(child(ptr, "responses"), "an operation needs a 2xx response")
        key = next(c for c in responses if str(c) == codes[0])
        r_ptr = child(ptr, "responses", codes[0])
        resp = _deref_at(self.spec, responses[key], r_ptr)
        content = (resp or {}).get("content") or {}
        out = _Response()
        if not content:
            return out
        body_names = {p.name for p in params if p.location == "body"}
        if "text/event-stream" in content and "stream" in body_names:
            out.streams = True
            s_schema = (content["text/event-stream"] or {}).get("schema") or {}
            out.stream_model = self._model_name(s_schema)
        json_media = next((m for m in content if m == "application/json" or m.endswith("+json")), None)
        others = [m for m in content if m != "text/event-stream" and m != json_media]
        if json_media is None:
            out.kind = "binary" if others else "none"
            return out
        out.text_alternative = any(m.startswith("text/") for m in others)
        j_ptr = child(r_ptr, "content", json_media, "schema")
        schema = (content[json_media] or {}).get("schema") or {}
        resolved = _deref_at(self.spec, schema, j_ptr)
        if isinstance(resolved, dict) and resolved.get("type") == "string":
            out.kind = "binary"
            return out
        out.model = self._model_name(schema)
        if out.model is None and isinstance(resolved, dict):
            branches = resolved.get("oneOf") or resolved.get("anyOf") or []
            names = tuple(self._model_name(b) for b in branches)
            if names and all(names):
                out.kind, out.union = "union", tuple(n for n in names if n)
                return out
        if out.model is None:
            out.kind = "dict"
            return out
        if not out.streams and self._has_boolean_stream(params):
            out.streams, out.stream_model, out.stream_declared = True, out.model, False
        props, _ = _object_shape(self.spec, schema, j_ptr)
        data = _deref_at(self.spec, props.get("data"), j_ptr) if "data" in props else None
        is_list = method == "get" or name.startswith("list")
        if is_list and isinstance(data, dict) and data.get("type") == "array":
            out.kind = "page"
            out.item_model = self._model_name(data.get("items") or {})
            query = {p.name for p in params if p.location == "query"}
            if "has_more" in props and "after" in query:
                out.cursor_param = "after"
            elif "next_page" in props and "page" in query:
                out.cursor_param, out.cursor_field = "page", "next_page"
            return out
        out.kind = "model"
        return out

    def _has_boolean_stream(self, params: list[Param]) -> bool:
        """Whether the request body has a ``stream`` argument that may be ``True``."""
        return any(p.name == "stream" and p.location == "body" and "bool" in p.annotation for p in params)

    def _model_name(self, schema: Any) -> str | None:
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        name = schema_ref_name(ref) if isinstance(ref, str) else None
        return name if name in self.model_classes else None


@dataclass
class _Response:
    kind: str = "none"
    model: str | None = None
    streams: bool = False
    stream_model: str | None = None
    stream_declared: bool = True
    item_model: str | None = None
    cursor_param: str | None = None
    cursor_field: str | None = None
    union: tuple[str, ...] = ()
    text_alternative: bool = False


def _is_binary(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("format") == "binary" or schema.get("contentMediaType"):
        return True
    return any(_is_binary(s) for s in (schema.get("anyOf") or []) + (schema.get("oneOf") or []))
