"""``x-oairef-rules``: checked here, rendered as data into ``generated/_rules.py``.

A rule is ``{id, param, message, when?, require}``; a condition is ``{field, op, value}``,
``{field, op, other}`` (op in eq ne lt le gt ge) or ``{field, op: keys_token_ids}``. Every field a
rule names must be a property of its schema. For each field the schema default is recorded, so
the generated checker can apply "absent or null takes the default; no default means ``require``
holds vacuously and ``when`` is false".
"""

from __future__ import annotations

from typing import Any

from codegen.pointers import child, resolve_ref
from codegen.spec import SpecError

COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
UNARY_OPS = ("keys_token_ids",)


def _check_condition(cond: Any, props: dict[str, Any], pointer: str) -> dict[str, Any]:
    if not isinstance(cond, dict):
        raise SpecError(pointer, "a rule condition must be a mapping {field, op, value|other}")
    field, op = cond.get("field"), cond.get("op")
    if not isinstance(field, str) or field not in props:
        raise SpecError(child(pointer, "field"), f"field {field!r} is not a property of this schema")
    if op in UNARY_OPS:
        extra = set(cond) - {"field", "op"}
        if extra:
            raise SpecError(pointer, f"op {op} takes no {sorted(extra)[0]!r}")
        return {"field": field, "op": op}
    if op not in COMPARE_OPS:
        raise SpecError(child(pointer, "op"), f"op must be one of {', '.join(COMPARE_OPS + UNARY_OPS)}, got {op!r}")
    if ("value" in cond) == ("other" in cond):
        raise SpecError(pointer, "a comparison needs exactly one of 'value' or 'other'")
    if "other" in cond:
        other = cond["other"]
        if not isinstance(other, str) or other not in props:
            raise SpecError(child(pointer, "other"), f"other {other!r} is not a property of this schema")
        return {"field": field, "op": op, "other": other}
    value = cond["value"]
    if not (value is None or isinstance(value, (bool, int, float, str))):
        raise SpecError(child(pointer, "value"), "value must be a JSON scalar")
    return {"field": field, "op": op, "value": value}


def _fields(conditions: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for cond in conditions:
        for key in ("field", "other"):
            name = cond.get(key)
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def _default_of(spec: dict[str, Any], prop: Any) -> tuple[bool, Any]:
    """(has a default, the default) of a property, following ``$ref`` chains."""
    for _ in range(16):
        if not isinstance(prop, dict):
            return False, None
        if "default" in prop:
            return True, prop["default"]
        ref = prop.get("$ref")
        if not isinstance(ref, str):
            return False, None
        try:
            prop = resolve_ref(spec, ref)
        except KeyError:
            return False, None
    return False, None


def extract_rules(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{schema name: {"rules": [...], "defaults": {field: default}}}`` for every ruled schema."""
    out: dict[str, dict[str, Any]] = {}
    schemas = (spec.get("components") or {}).get("schemas") or {}
    for name, schema in schemas.items():
        if not isinstance(schema, dict) or "x-oairef-rules" not in schema:
            continue
        base = child("/components/schemas", name, "x-oairef-rules")
        raw = schema["x-oairef-rules"]
        if not isinstance(raw, list):
            raise SpecError(base, "x-oairef-rules must be a list of rules")
        props = schema.get("properties") or {}
        rules: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, rule in enumerate(raw):
            ptr = child(base, i)
            if not isinstance(rule, dict):
                raise SpecError(ptr, "a rule must be a mapping")
            for key in ("id", "param", "message"):
                if not isinstance(rule.get(key), str) or not rule[key]:
                    raise SpecError(child(ptr, key), f"rule {key} must be a non-empty string")
            if rule["id"] in seen:
                raise SpecError(child(ptr, "id"), f"duplicate rule id {rule['id']!r}")
            seen.add(rule["id"])
            if rule["param"] not in props:
                raise SpecError(child(ptr, "param"), f"param {rule['param']!r} is not a property of {name}")
            if "require" not in rule:
                raise SpecError(ptr, "a rule needs a 'require' condition")
            unknown = set(rule) - {"id", "param", "message", "when", "require"}
            if unknown:
                raise SpecError(child(ptr, sorted(unknown)[0]), "unknown rule key")
            entry: dict[str, Any] = {"id": rule["id"], "param": rule["param"], "message": rule["message"]}
            if "when" in rule:
                entry["when"] = _check_condition(rule["when"], props, child(ptr, "when"))
            entry["require"] = _check_condition(rule["require"], props, child(ptr, "require"))
            rules.append(entry)
        conds = [c for r in rules for c in (r.get("when"), r["require"]) if c]
        defaults: dict[str, Any] = {}
        for f in _fields(conds):
            found, value = _default_of(spec, props.get(f))
            if found:
                defaults[f] = value
        out[name] = {"rules": rules, "defaults": defaults}
    return out
