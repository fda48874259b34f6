"""Load ``spec/openai.yaml`` and check the rules oairef's spec must keep.

``load_spec(path)`` returns the parsed document as plain dicts/lists. Before returning it checks,
and reports the first fault as ``SpecError(pointer, message)`` where ``pointer`` is the RFC 6901
JSON pointer of the offending node (``""`` is the document root):

- the file is YAML (syntax errors name their line and column), a mapping, with no duplicate keys,
  declaring ``openapi: 3.1.x``;
- ``nullable`` is never used (OpenAPI 3.0 style); nullables are ``type: [T, "null"]``;
- every ``$ref`` is a local ``#/...`` pointer that resolves inside the document;
- every operation has a string ``operationId`` (unique), an ``x-oairef-method`` (a dotted
  lower-case path such as ``chat.completions.create``, unique, and never the resource prefix of
  another operation's path) and at least one 2xx response;
- every ``x-oairef-rules`` list follows docs/INTERFACES.md: each rule has a unique ``id``, a
  ``param`` and ``message``, a ``require`` condition and optionally a ``when`` condition; a
  condition is ``{field, op, value}`` or ``{field, op, other}`` with ``op`` in
  ``eq ne lt le gt ge``, or ``{field, op: keys_token_ids}``; every field, ``other`` and ``param``
  names a property of the schema the rules sit on, and ``lt le gt ge`` compare numeric fields
  with numbers.

The checks read the document only; nothing in the spec is ever evaluated as code.

``load_spec(path, strict=False)`` is for specs written elsewhere (OpenAI's own, say): it accepts
``openapi: 3.0.x`` as well as ``3.1.x`` and rewrites the 3.0 forms into 3.1 before checking —
``nullable: true`` becomes a null type (``type: [T, "null"]``, ``null`` added to an ``enum``, a
``{type: "null"}`` member added to ``anyOf``/``oneOf``, a ``$ref`` or ``allOf`` wrapped as
``anyOf: [..., {type: "null"}]``, and ``allOf: [X, {nullable: true}]`` read as "X or null"),
``nullable: false`` is dropped, and a boolean
``exclusiveMinimum``/``exclusiveMaximum`` takes the value of ``minimum``/``maximum``. Operations
then need no ``operationId`` or ``x-oairef-method`` (the method path is derived, see
``codegen.methods``); the ones given must still be well formed and unique, every operation still
needs a 2xx response, every ``$ref`` must still resolve and any ``x-oairef-rules`` are checked as above.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from codegen.pointers import child, resolve_pointer
from codegen.pointers import escape as escape_pointer_token

__all__ = [
    "COMPARISON_OPS",
    "HTTP_METHODS",
    "RULE_OPS",
    "SpecError",
    "check_spec",
    "check_spec_lenient",
    "escape_pointer_token",
    "iter_operations",
    "load_spec",
    "resolve_pointer",
    "schema_properties",
    "upgrade_to_3_1",
]

HTTP_METHODS: tuple[str, ...] = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
COMPARISON_OPS: frozenset[str] = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
RULE_OPS: frozenset[str] = COMPARISON_OPS | {"keys_token_ids"}
_METHOD_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
_RULE_KEYS = frozenset({"id", "param", "message", "when", "require"})
_CONDITION_KEYS = frozenset({"field", "op", "value", "other"})
#: libyaml's loader when PyYAML was built with it (about 10x faster), else the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(ValueError):
    """A fault in the spec, located by the RFC 6901 JSON pointer ``pointer``."""

    def __init__(self, pointer: str, message: str) -> None:
        self.pointer = pointer
        self.message = message
        where = repr(pointer) if pointer else "'' (the document root)"
        super().__init__(f"spec error at JSON pointer {where}: {message}")


# ---------------------------------------------------------------------------------------- parsing


def _parse(text: str) -> Any:
    """Parse YAML text; duplicate mapping keys are faults (PyYAML would silently keep the last)."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise SpecError("", "the spec is empty")
        _check_duplicate_keys(root, "")
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise SpecError("", f"YAML syntax error at {where}: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise SpecError("", f"YAML error: {exc}") from exc
    finally:
        loader.dispose()


def _check_duplicate_keys(node: yaml.Node, pointer: str) -> None:
    stack: list[tuple[yaml.Node, str]] = [(node, pointer)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                key = str(key_node.value)
                if key in seen:
                    raise SpecError(
                        child(where, key),
                        f"duplicate key {key!r} (line {key_node.start_mark.line + 1})",
                    )
                seen.add(key)
                stack.append((value_node, child(where, key)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, child(where, i)) for i, item in enumerate(current.value))


# ---------------------------------------------------------------------------------------- checks


def _walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any, str | None]]:
    """Yield ``(pointer, value, key)`` for every node, depth first, in document order."""
    stack: list[tuple[str, Any, str | None]] = [(pointer, node, None)]
    while stack:
        where, value, key = stack.pop()
        yield where, value, key
        if isinstance(value, dict):
            stack.extend((child(where, k), v, str(k)) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((child(where, i), v, None) for i, v in reversed(list(enumerate(value))))


def _check_no_nullable_and_refs(doc: dict[str, Any], *, nullable_allowed: bool = False) -> None:
    for pointer, value, _key in _walk(doc):
        if not isinstance(value, dict):
            continue
        parent_is_properties = pointer.endswith("/properties")
        if "nullable" in value and not parent_is_properties and not nullable_allowed:
            raise SpecError(
                child(pointer, "nullable"),
                '`nullable` is OpenAPI 3.0 style; write `type: [<type>, "null"]` instead',
            )
        if "$ref" in value and not parent_is_properties:
            ref = value["$ref"]
            where = child(pointer, "$ref")
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SpecError(where, f"only local '#/...' references are supported, got {ref!r}")
            try:
                resolve_pointer(doc, ref[1:])
            except KeyError:
                raise SpecError(where, f"unresolvable $ref {ref!r}") from None


def iter_operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(path, method, operation)`` for every operation under ``paths``, in document order
    (a path item's keys in ``HTTP_METHODS`` are its operations). A ``paths``, path item or operation
    that is not a mapping is a ``SpecError``; the one walk every reader of operations uses."""
    paths = doc.get("paths")
    if paths is None:
        return
    if not isinstance(paths, dict):
        raise SpecError("/paths", "paths must be a mapping")
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise SpecError(child("/paths", path), "a path item must be a mapping")
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            if not isinstance(op, dict):
                raise SpecError(child("/paths", path, method), "an operation must be a mapping")
            yield path, method, op


def _check_operations(doc: dict[str, Any], *, strict: bool = True) -> None:
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise SpecError("/paths", "the spec must define at least one path")
    operation_ids: dict[str, str] = {}
    methods: dict[str, str] = {}
    for path, method, op in iter_operations(doc):
        where = child("/paths", path, method)
        op_id = op.get("operationId")
        if op_id is None and not strict:
            op_id = f"{method.upper()} {path}"
        elif not isinstance(op_id, str) or not op_id:
            raise SpecError(where, f"operation {method.upper()} {path} has no operationId")
        elif op_id in operation_ids:
            raise SpecError(
                child(where, "operationId"),
                f"duplicate operationId {op_id!r} (also at {operation_ids[op_id]})",
            )
        operation_ids[op_id] = where
        dotted = op.get("x-oairef-method")
        if dotted is None and not strict:
            pass
        elif dotted is None:
            raise SpecError(where, f"operation {op_id} has no x-oairef-method")
        elif not isinstance(dotted, str) or not _METHOD_PATH.match(dotted):
            raise SpecError(
                child(where, "x-oairef-method"),
                f"x-oairef-method must be a dotted lower-case method path, got {dotted!r}",
            )
        elif dotted in methods:
            raise SpecError(
                child(where, "x-oairef-method"),
                f"duplicate x-oairef-method {dotted!r} (also at {methods[dotted]})",
            )
        else:
            methods[dotted] = where
        responses = op.get("responses")
        if not isinstance(responses, dict):
            raise SpecError(where, f"operation {op_id} has no responses")
        if not any(re.fullmatch(r"2(\d\d|XX)", str(code)) for code in responses):
            raise SpecError(child(where, "responses"), f"operation {op_id} has no 2xx response")
    for dotted, where in methods.items():
        parts = dotted.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in methods:
                raise SpecError(
                    child(methods[prefix], "x-oairef-method"),
                    f"x-oairef-method {prefix!r} is also the resource of {dotted!r} (at {where})",
                )


def schema_properties(doc: dict[str, Any], schema: Any, _depth: int = 0) -> dict[str, Any]:
    """The properties of ``schema``, following ``$ref`` and merging ``allOf`` members."""
    if not isinstance(schema, dict) or _depth > 32:
        return {}
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        try:
            target = resolve_pointer(doc, schema["$ref"][1:])
        except KeyError:
            return {}
        return schema_properties(doc, target, _depth + 1)
    props: dict[str, Any] = {}
    for member in schema.get("allOf") or []:
        props.update(schema_properties(doc, member, _depth + 1))
    if isinstance(schema.get("properties"), dict):
        props.update(schema["properties"])
    return props


def _is_numeric(schema: Any) -> bool:
    """True when a property schema's ``type`` (or, lacking one, any anyOf/oneOf member's) is numeric."""
    if not isinstance(schema, dict):
        return False
    declared = schema.get("type")
    if declared is not None:
        types = declared if isinstance(declared, list) else [declared]
        return bool({"integer", "number"} & set(types))
    return any(_is_numeric(m) for key in ("anyOf", "oneOf") for m in schema.get(key, []))


def _check_condition(cond: Any, where: str, props: dict[str, Any]) -> None:
    if not isinstance(cond, dict):
        raise SpecError(where, "a condition must be a mapping {field, op, value|other}")
    unknown = sorted(set(cond) - _CONDITION_KEYS)
    if unknown:
        raise SpecError(child(where, unknown[0]), f"unknown condition key {unknown[0]!r}")
    field = cond.get("field")
    if not isinstance(field, str):
        raise SpecError(where, "a condition needs a `field` naming a schema property")
    if field not in props:
        raise SpecError(child(where, "field"), f"unknown field {field!r}: not a property of the schema")
    op = cond.get("op")
    if op not in RULE_OPS:
        raise SpecError(child(where, "op"), f"unknown op {op!r}; expected one of {sorted(RULE_OPS)}")
    has_value, has_other = "value" in cond, "other" in cond
    if op == "keys_token_ids":
        if has_value or has_other:
            raise SpecError(where, "op keys_token_ids takes neither `value` nor `other`")
        return
    if has_value == has_other:
        raise SpecError(where, f"op {op} needs exactly one of `value` or `other`")
    if has_other:
        other = cond["other"]
        if not isinstance(other, str) or other not in props:
            raise SpecError(child(where, "other"), f"unknown field {other!r}: not a property of the schema")
    elif isinstance(cond["value"], (dict, list)):
        raise SpecError(child(where, "value"), "`value` must be a scalar (number, string, boolean or null)")
    if op in ("lt", "le", "gt", "ge"):
        value = cond.get("value", 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(child(where, "value"), f"op {op} compares numbers; got value {value!r}")
        for name in (field, cond.get("other")):
            if name is not None and not _is_numeric(props[name]):
                raise SpecError(where, f"op {op} needs a numeric field; {name!r} is not integer/number")


def _check_rules(doc: dict[str, Any]) -> None:
    for pointer, value, _key in _walk(doc):
        if not isinstance(value, dict) or "x-oairef-rules" not in value:
            continue
        where = child(pointer, "x-oairef-rules")
        rules = value["x-oairef-rules"]
        if not isinstance(rules, list):
            raise SpecError(where, "x-oairef-rules must be a list of rules")
        props = schema_properties(doc, value)
        if not props:
            raise SpecError(where, "x-oairef-rules must sit on a schema with properties")
        ids: set[str] = set()
        for i, rule in enumerate(rules):
            rule_at = child(where, i)
            if not isinstance(rule, dict):
                raise SpecError(rule_at, "a rule must be a mapping")
            unknown = sorted(set(rule) - _RULE_KEYS)
            if unknown:
                raise SpecError(child(rule_at, unknown[0]), f"unknown rule key {unknown[0]!r}")
            rule_id = rule.get("id")
            if not isinstance(rule_id, str) or not rule_id:
                raise SpecError(rule_at, "a rule needs a non-empty string `id`")
            if rule_id in ids:
                raise SpecError(child(rule_at, "id"), f"duplicate rule id {rule_id!r}")
            ids.add(rule_id)
            param = rule.get("param")
            if not isinstance(param, str) or param not in props:
                raise SpecError(child(rule_at, "param"), f"param {param!r} is not a property of the schema")
            message = rule.get("message")
            if not isinstance(message, str) or not message.strip():
                raise SpecError(child(rule_at, "message"), "a rule needs a non-empty `message`")
            if "require" not in rule:
                raise SpecError(rule_at, "a rule needs a `require` condition")
            _check_condition(rule["require"], child(rule_at, "require"), props)
            if "when" in rule:
                _check_condition(rule["when"], child(rule_at, "when"), props)


def check_spec(doc: Any) -> None:
    """Run every check in this module's docstring on a parsed document; raise ``SpecError``."""
    if not isinstance(doc, dict):
        raise SpecError("", "the spec must be a YAML mapping")
    version = doc.get("openapi")
    if not isinstance(version, str) or not version.startswith("3.1"):
        raise SpecError("/openapi", f"expected an OpenAPI 3.1.x document, got openapi: {version!r}")
    _check_no_nullable_and_refs(doc)
    _check_operations(doc)
    _check_rules(doc)


def _null_type(node: dict[str, Any], where: str) -> None:
    """Rewrite one schema's 3.0 ``nullable`` in place into the 3.1 null type (see the module docstring)."""
    flag = node.pop("nullable")
    if not isinstance(flag, bool):
        raise SpecError(child(where, "nullable"), f"`nullable` must be true or false, got {flag!r}")
    if not flag:
        return
    declared = node.get("type")
    if isinstance(declared, str):
        node["type"] = [declared, "null"]
    elif isinstance(declared, list) and "null" not in declared:
        declared.append("null")
    if isinstance(node.get("enum"), list) and None not in node["enum"]:
        node["enum"].append(None)
    if declared is not None:
        return
    for key in ("anyOf", "oneOf"):
        members = node.get(key)
        if isinstance(members, list):
            if {"type": "null"} not in members:
                members.append({"type": "null"})
            return
    if "$ref" in node:
        node["anyOf"] = [{"$ref": node.pop("$ref")}, {"type": "null"}]
    elif isinstance(node.get("allOf"), list):
        parts = node.pop("allOf")
        node["anyOf"] = [parts[0] if len(parts) == 1 else {"allOf": parts}, {"type": "null"}]


def _exclusive_bound(node: dict[str, Any], where: str) -> None:
    """Rewrite 3.0 boolean ``exclusiveMinimum``/``exclusiveMaximum`` into 3.1 numbers, in place."""
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = node.get(exclusive)
        if not isinstance(flag, bool):
            continue
        if flag and bound not in node:
            raise SpecError(child(where, exclusive), f"`{exclusive}: true` needs a `{bound}`")
        del node[exclusive]
        if flag:
            node[exclusive] = node.pop(bound)


def upgrade_to_3_1(doc: dict[str, Any]) -> None:
    """Rewrite the OpenAPI 3.0 schema forms of ``doc`` into their 3.1 equivalents, in place."""
    for pointer, value, _key in _walk(doc):
        if not isinstance(value, dict) or pointer.endswith("/properties"):
            continue
        parts = value.get("allOf")
        if isinstance(parts, list):  # allOf: [X, {nullable: true}] is the 3.0 way to say "X or null"
            flags = [m for m in parts if isinstance(m, dict) and m and set(m) <= {"nullable", "description"}]
            if flags and len(flags) < len(parts):
                value["allOf"] = [m for m in parts if m not in flags]
                if any(m.get("nullable") is True for m in flags) and "nullable" not in value:
                    value["nullable"] = True
        if "nullable" in value:
            _null_type(value, pointer)
        _exclusive_bound(value, pointer)


def check_spec_lenient(doc: Any) -> None:
    """The checks for a spec written elsewhere, upgrading its 3.0 forms in place (see the module
    docstring); faults are located in the document as written."""
    if not isinstance(doc, dict):
        raise SpecError("", "the spec must be a YAML mapping")
    version = doc.get("openapi")
    if not isinstance(version, str) or not (version.startswith("3.0") or version.startswith("3.1")):
        raise SpecError("/openapi", f"expected an OpenAPI 3.0.x or 3.1.x document, got openapi: {version!r}")
    _check_no_nullable_and_refs(doc, nullable_allowed=True)
    _check_operations(doc, strict=False)
    _check_rules(doc)
    upgrade_to_3_1(doc)


def load_spec(path: str | Path, *, strict: bool = True) -> dict[str, Any]:
    """Read, parse and check the spec at ``path``; return it as plain Python data.

    ``strict`` (oairef's own spec, and ``oairef codegen --check``) applies every rule of this
    module; ``strict=False`` accepts a spec written elsewhere, upgraded from 3.0 forms first.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError("", f"cannot read spec {path}: {exc}") from exc
    doc = _parse(text)
    if strict:
        check_spec(doc)
        return doc
    check_spec_lenient(doc)
    return doc
