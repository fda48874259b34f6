"""Python annotations (as source text) for the keyword arguments of generated client methods.

Rules: a ``$ref`` to an object component becomes ``models.Name | dict[str, Any]`` (callers may pass
either); a ``$ref`` to anything else is expanded in place; string enums and ``const`` become
``Literal[...]``; ``format: binary`` becomes ``FileInput``; unions are flattened and deduplicated in
order; a cycle or anything unrecognised becomes ``Any``.
"""

from __future__ import annotations

from typing import Any

from codegen.pointers import resolve_ref, schema_ref_name

_PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


class TypeWriter:
    """Turns schemas into annotation text, knowing which model classes exist."""

    def __init__(self, spec: dict[str, Any], model_classes: set[str]) -> None:
        self.spec = spec
        self.model_classes = model_classes

    def annotation(self, schema: Any) -> str:
        """The annotation text for ``schema``."""
        return _join(self._parts(schema, frozenset()))

    def _parts(self, schema: Any, seen: frozenset[str]) -> list[str]:
        if not isinstance(schema, dict) or not schema:
            return ["Any"]
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self._ref_parts(ref, seen)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                out: list[str] = []
                for sub in schema[key]:
                    out.extend(self._parts(sub, seen))
                types = schema.get("type")
                if isinstance(types, list) and "null" in types:
                    out.append("None")
                return out
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            return self._parts(schema["allOf"][0], seen)
        if "const" in schema:
            return [f"Literal[{schema['const']!r}]"]
        types = schema.get("type")
        type_list = types if isinstance(types, list) else [types] if isinstance(types, str) else []
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            values = [v for v in schema["enum"] if v is not None]
            out = [f"Literal[{', '.join(repr(v) for v in values)}]"] if values else []
            if None in schema["enum"] or "null" in type_list:
                out.append("None")
            return out or ["Any"]
        if not type_list:
            return ["dict[str, Any]"] if "properties" in schema else ["Any"]
        out = []
        for t in type_list:
            out.append(self._single(t, schema, seen))
        return out

    def _single(self, type_name: str, schema: dict[str, Any], seen: frozenset[str]) -> str:
        if type_name == "string" and schema.get("format") == "binary":
            return "FileInput"
        if type_name in _PRIMITIVES:
            return _PRIMITIVES[type_name]
        if type_name == "array":
            return f"Sequence[{_join(self._parts(schema.get('items'), seen))}]"
        if type_name == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra and "properties" not in schema:
                return f"Mapping[str, {_join(self._parts(extra, seen))}]"
            return "Mapping[str, Any]"
        return "Any"

    def _ref_parts(self, ref: str, seen: frozenset[str]) -> list[str]:
        name = schema_ref_name(ref)
        if name is None or name in seen:
            return ["Any"]
        try:
            target = resolve_ref(self.spec, ref)
        except KeyError:
            return ["Any"]
        if isinstance(target, dict) and "properties" in target and name in self.model_classes:
            return [f"models.{name}", "Mapping[str, Any]"]
        return self._parts(target, seen | {name})


def _join(parts: list[str]) -> str:
    unique: list[str] = []
    for p in parts:
        if p == "Any":
            return "Any"
        if p not in unique:
            unique.append(p)
    # models first, then the plain-mapping alternative, then None: reads best
    for last in ("Mapping[str, Any]", "None"):
        if last in unique:
            unique = [p for p in unique if p != last] + [last]
    return " | ".join(unique) if unique else "Any"
