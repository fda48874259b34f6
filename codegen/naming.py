"""Class names for inline schemas: each one that becomes a model class is lifted into a named component.

datamodel-code-generator names an inline class after its property alone and numbers repeats
(``Choice1``, ``Content3``); it also copies a union's ``default`` into the classes it makes of the
union's members. Lifting those schemas into components first avoids both. Rules:
- lifted: inline object schemas (with ``properties``, or an ``allOf``) found as a property, an
  array's ``items``, an object's ``additionalProperties`` or a member of ``anyOf``/``oneOf``, inside
  a component schema or an operation's request or response body; and members of ``anyOf``/``oneOf``
  that carry a constraint (``minimum``, ``maxItems``, ... or constrained items), which become
  classes too. Nothing else is (plain types stay plain).
- a lifted schema is named after where it sits: ``<Parent><Property>`` for a property,
  ``<Parent>Item`` for items, ``<Parent>Value`` for additionalProperties; the one member of a union
  beside ``null`` is ``<Parent>``; another union member takes its ``title`` when that is an
  identifier (``BetaResponseAudioWsDelta``), else ``<Parent><Tag>`` where its discriminating
  property (the union's discriminator, else ``type``, ``event`` or the first property) has a
  single value, else ``<Parent><Title>``, else ``<Parent><Kind>`` (``String``, ``Integer``,
  ``IntegerArray``, ``Object``, ...). A request or response body is ``<OperationId>Request`` /
  ``<OperationId>Response``. Words are joined in PascalCase.
- ``allOf: [{anyOf: [A, B, ...]}, X]`` is distributed into ``anyOf: [allOf [A, X], allOf [B, X], ...]``,
  each variant named ``<Parent><A>`` (the generator would number them); an object's alternatives
  that only list ``required`` fields ("give one of these") are dropped from the models, leaving
  that check to the server.
- a name already taken (a component, or an earlier lift) gets ``Alt`` before it is numbered: a
  number is the last resort.
- the lifted component keeps the schema; the site keeps what describes the use (``description``,
  ``default``, ``deprecated``, examples) beside a ``$ref``; a null type moves to the site as
  ``anyOf: [{$ref}, {type: "null"}]``.
The input spec is not changed; a new document is returned. Names are a function of the spec only.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from codegen.spec import iter_operations

_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                "maxLength", "pattern", "minItems", "maxItems", "uniqueItems")
_SITE_KEYS = ("description", "default", "deprecated", "example", "examples", "readOnly", "writeOnly")
_PREFIX = "#/components/schemas/"


def pascal(text: str) -> str:
    """``text`` in PascalCase with only letters and digits (``response.audio.delta`` -> ``ResponseAudioDelta``)."""
    words = re.findall(r"[A-Za-z0-9]+", str(text))
    out = "".join(w[:1].upper() + w[1:] for w in words)
    return out if out and not out[0].isdigit() else f"N{out}"


def _is_object_class(node: Any) -> bool:
    if not isinstance(node, dict) or "$ref" in node:
        return False
    if isinstance(node.get("properties"), dict) and node["properties"]:
        return True
    return isinstance(node.get("allOf"), list) and bool(node["allOf"]) and not node.get("anyOf") \
        and not node.get("oneOf")


def _is_constrained(node: Any) -> bool:
    if not isinstance(node, dict) or "$ref" in node:
        return False
    if any(k in node for k in _CONSTRAINTS):
        return True
    items = node.get("items")
    return isinstance(items, dict) and (_is_constrained(items) or _is_object_class(items))


def _types(node: dict[str, Any]) -> list[str]:
    declared = node.get("type")
    types = declared if isinstance(declared, list) else [declared] if isinstance(declared, str) else []
    return [t for t in types if t != "null"]


def _kind(node: Any, depth: int = 0) -> str:
    """A short name for a schema's shape: ``String``, ``IntegerArray``, ``Object`` ..."""
    if not isinstance(node, dict) or depth > 4:
        return "Value"
    types = _types(node)
    if "array" in types or ("items" in node and not types):
        items = node.get("items")
        inner = "" if isinstance(items, dict) and "$ref" in items else _kind(items, depth + 1)
        return inner + "Array"
    if len(types) == 1:
        return pascal(types[0])
    if "properties" in node or "allOf" in node:
        return "Object"
    return "Value"


def _tag(node: dict[str, Any], discriminator: str | None) -> str | None:
    """The single value of the member's discriminating property, if it has one."""
    props = node.get("properties") or {}
    names = [n for n in (discriminator, "type", "event") if n] + [n for n in props if n not in ("type", "event")]
    for name in names:
        prop = props.get(name)
        if not isinstance(prop, dict):
            continue
        if "const" in prop and isinstance(prop["const"], str):
            return prop["const"]
        values = [v for v in prop.get("enum") or [] if v is not None]
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
    return None


class _Lifter:
    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas
        self.taken: set[str] = set(schemas)
        self.lifted: dict[str, Any] = {}

    def unique(self, name: str) -> str:
        for candidate in (name, name + "Alt"):
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate
        n = 2
        while f"{name}{n}" in self.taken:
            n += 1
        self.taken.add(f"{name}{n}")
        return f"{name}{n}"

    def lift(self, node: dict[str, Any], name: str) -> dict[str, Any]:
        """Move ``node`` into a component called ``name`` (made unique); return the site that replaces it."""
        final = self.unique(name)
        schema = {k: v for k, v in node.items() if k not in ("default", "example", "examples", "deprecated")}
        site: dict[str, Any] = {k: node[k] for k in _SITE_KEYS if k in node}
        nullable = False
        declared = schema.get("type")
        if isinstance(declared, list) and "null" in declared:
            rest = [t for t in declared if t != "null"]
            schema["type"] = rest[0] if len(rest) == 1 else rest
            nullable = True
        self.lifted[final] = schema
        self.walk(schema, final)
        ref = {"$ref": _PREFIX + final}
        if nullable:
            return {**site, "anyOf": [ref, {"type": "null"}]}
        return {**site, **ref}

    def walk(self, node: Any, parent: str) -> None:
        """Lift what must be lifted below ``node`` (a schema named ``parent``), in place."""
        if not isinstance(node, dict):
            return
        _drop_required_alternatives(node)
        self.distribute(node, parent)
        props = node.get("properties")
        if isinstance(props, dict):
            for prop_name, prop in list(props.items()):
                props[prop_name] = self.child(prop, parent + pascal(prop_name))
        items = node.get("items")
        if isinstance(items, dict):
            node["items"] = self.child(items, parent + "Item")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            node["additionalProperties"] = self.child(extra, parent + "Value")
        for key in ("anyOf", "oneOf"):
            members = node.get(key)
            if isinstance(members, list):
                disc = node.get("discriminator")
                disc_name = disc.get("propertyName") if isinstance(disc, dict) else None
                alone = sum(1 for m in members if m != {"type": "null"}) == 1
                node[key] = [self.member(m, parent, disc_name, alone) for m in members]
        for member in node.get("allOf") or []:
            self.walk(member, parent)

    def distribute(self, node: dict[str, Any], parent: str) -> None:
        """``allOf: [{anyOf: [A, B]}, X]`` -> ``anyOf: [<Parent><A> = allOf [A, X], <Parent><B> = ...]``, in place."""
        parts = node.get("allOf")
        if not isinstance(parts, list) or "properties" in node or "anyOf" in node or "oneOf" in node:
            return
        unions = [m for m in parts if isinstance(m, dict) and set(m) & {"anyOf", "oneOf"}
                  and set(m) <= {"anyOf", "oneOf", "discriminator", "description", "title"}]
        if len(unions) != 1:
            return
        union = unions[0]
        key = "anyOf" if "anyOf" in union else "oneOf"
        rest = [m for m in parts if m is not union]
        variants = []
        for branch in union[key]:
            if not isinstance(branch, dict):
                return
            if isinstance(branch.get("$ref"), str):
                name = parent + pascal(branch["$ref"].rsplit("/", 1)[-1])
            else:
                name = parent + (pascal(branch["title"]) if isinstance(branch.get("title"), str) else _kind(branch))
            variants.append(self.lift({"allOf": [branch, *copy.deepcopy(rest)]}, name))
        del node["allOf"]
        node[key] = variants
        if "discriminator" in union:
            node["discriminator"] = union["discriminator"]

    def child(self, node: Any, name: str) -> Any:
        if _is_object_class(node):
            return self.lift(node, name)
        self.walk(node, name)
        return node

    def member(self, node: Any, parent: str, discriminator: str | None, alone: bool) -> Any:
        if not isinstance(node, dict) or not (_is_object_class(node) or _is_constrained(node)):
            self.walk(node, parent)
            return node
        if alone:  # the one member beside null: it is what the parent names
            return self.lift(node, parent)
        title = node.get("title")
        if isinstance(title, str) and pascal(title) not in self.taken and re.fullmatch(r"[A-Za-z0-9_]+", title):
            return self.lift(node, pascal(title))
        tag = _tag(node, discriminator)
        if tag is not None:
            return self.lift(node, parent + pascal(tag))
        if isinstance(title, str):
            return self.lift(node, parent + pascal(title))
        return self.lift(node, parent + _kind(node))


def _drop_required_alternatives(node: dict[str, Any]) -> None:
    """An object's ``anyOf``/``oneOf`` of bare ``required`` lists ("one of these fields") is left to
    the server: the generator would otherwise make one class per alternative."""
    if not isinstance(node.get("properties"), dict):
        return
    for key in ("anyOf", "oneOf"):
        members = node.get(key)
        if isinstance(members, list) and members and all(
                isinstance(m, dict) and set(m) <= {"required", "not", "description", "title"} for m in members):
            del node[key]
    if isinstance(node.get("not"), dict) and set(node["not"]) <= {"required"}:
        del node["not"]


def _operation_name(path: str, method: str, op: dict[str, Any]) -> str:
    op_id = op.get("operationId")
    return pascal(op_id) if isinstance(op_id, str) and op_id else pascal(f"{method} {path}")


def lift_inline_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` in which every inline schema that becomes a class is a named component."""
    doc = copy.deepcopy(spec)
    components = doc.setdefault("components", {})
    if not isinstance(components, dict):
        return doc
    schemas = components.setdefault("schemas", {})
    if not isinstance(schemas, dict):
        return doc
    lifter = _Lifter(schemas)
    for name, schema in list(schemas.items()):
        lifter.walk(schema, pascal(name))
    for path, method, op in iter_operations(doc):
        base = _operation_name(path, method, op)
        body = op.get("requestBody")
        for media in ((body or {}).get("content") or {}).values() if isinstance(body, dict) else []:
            if isinstance(media, dict) and _is_object_class(media.get("schema")):
                media["schema"] = lifter.lift(media["schema"], base + "Request")
        for code, response in (op.get("responses") or {}).items():
            if not (str(code).startswith("2") and isinstance(response, dict)):
                continue
            for media in (response.get("content") or {}).values():
                if isinstance(media, dict) and _is_object_class(media.get("schema")):
                    media["schema"] = lifter.lift(media["schema"], base + "Response")
    schemas.update(lifter.lifted)
    return doc
