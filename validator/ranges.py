"""The documented request ranges, read from the spec — never restated here.

Rules:
- Every bound comes from the generated request models' JSON schema
  (``generated.models.CreateCompletionRequest`` / ``CreateChatCompletionRequest``
  ``.model_json_schema()``, generated from ``spec/openai.yaml``): a property's ``minimum`` /
  ``maximum`` (``exclusiveMinimum`` / ``exclusiveMaximum`` too), looked up through ``anyOf`` (nullable
  fields) and ``$ref``; the logit_bias values' bounds (the map's ``additionalProperties``); stop's
  ``maxItems``.
- Fields a value needs alongside it come from the spec's ``x-oairef-rules`` (``generated._rules``):
  a rule "when X is set, Y must equal V" makes ``{Y: V}`` a companion of ``X`` (chat's
  ``top_logprobs`` needs ``logprobs: true``).
- Just inside a bound is the bound itself (one unit or 0.01 inside an exclusive one); just outside
  is one unit beyond for an integer range and 0.01 beyond for a number range.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import Any

#: The request schema of each endpoint, by the names the spec gives them.
REQUEST_SCHEMAS = {"completions": "CreateCompletionRequest", "chat": "CreateChatCompletionRequest"}
#: The step "just outside" a number range takes.
NUMBER_STEP = 0.01


@dataclass(frozen=True)
class Bound:
    """One documented numeric range of a request field (either end may be open)."""

    param: str
    minimum: float | None
    maximum: float | None
    integer: bool
    exclusive_min: bool = False
    exclusive_max: bool = False

    @property
    def step(self) -> float:
        return 1 if self.integer else NUMBER_STEP

    def _num(self, v: float) -> float | int:
        return int(v) if self.integer else round(v, 6)

    def inside(self) -> list[float | int]:
        """The values just inside each bound."""
        out = []
        if self.minimum is not None:
            out.append(self._num(self.minimum + (self.step if self.exclusive_min else 0)))
        if self.maximum is not None:
            out.append(self._num(self.maximum - (self.step if self.exclusive_max else 0)))
        return out

    def outside(self) -> list[float | int]:
        """The values just outside each bound."""
        out = []
        if self.minimum is not None:
            out.append(self._num(self.minimum if self.exclusive_min else self.minimum - self.step))
        if self.maximum is not None:
            out.append(self._num(self.maximum if self.exclusive_max else self.maximum + self.step))
        return out

    def contains(self, v: float) -> bool:
        lo_ok = self.minimum is None or (v > self.minimum if self.exclusive_min else v >= self.minimum)
        hi_ok = self.maximum is None or (v < self.maximum if self.exclusive_max else v <= self.maximum)
        return lo_ok and hi_ok


class SpecUnavailable(RuntimeError):
    """The generated models (and so the spec's ranges) cannot be loaded."""


def generated_models() -> ModuleType:
    """``generated.models``; :class:`SpecUnavailable` when it cannot be imported (generated/ is committed:
    absent only in a broken checkout)."""
    try:
        from generated import models
    except ImportError as exc:
        raise SpecUnavailable(f"generated models unavailable: {exc}") from exc
    return models


@functools.cache
def request_schema(endpoint: str) -> dict[str, Any]:
    """The JSON schema of ``endpoint``'s request model."""
    try:
        name = REQUEST_SCHEMAS[endpoint]
    except KeyError:
        raise ValueError(f"unknown endpoint {endpoint!r}; choose one of {sorted(REQUEST_SCHEMAS)}") from None
    cls = getattr(generated_models(), name, None)
    if cls is None:
        raise SpecUnavailable(f"generated.models has no {name}")
    return dict(cls.model_json_schema())


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in node and seen < 32:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SpecUnavailable(f"unsupported $ref {ref!r}")
        node = schema["$defs"][ref[len("#/$defs/"):]]
        seen += 1
    return node


def _alternatives(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    """``node`` and, recursively, the members of its ``anyOf`` / ``oneOf``, with ``$ref`` resolved."""
    node = _resolve(schema, node)
    out = [node]
    for key in ("anyOf", "oneOf"):
        for member in node.get(key, []):
            out += _alternatives(schema, member)
    return out


def _numeric_bound(param: str, alternatives: list[dict[str, Any]]) -> Bound | None:
    for alt in alternatives:
        if alt.get("type") not in ("integer", "number"):
            continue
        lo, hi = alt.get("minimum"), alt.get("maximum")
        xlo, xhi = alt.get("exclusiveMinimum"), alt.get("exclusiveMaximum")
        if lo is None and hi is None and xlo is None and xhi is None:
            continue
        return Bound(param, lo if xlo is None else xlo, hi if xhi is None else xhi, alt["type"] == "integer",
                     exclusive_min=xlo is not None, exclusive_max=xhi is not None)
    return None


@functools.cache
def numeric_bounds(endpoint: str) -> dict[str, Bound]:
    """Every top-level request field of ``endpoint`` with a documented numeric range, by name."""
    schema = request_schema(endpoint)
    out = {}
    for name, prop in sorted(schema.get("properties", {}).items()):
        b = _numeric_bound(name, _alternatives(schema, prop))
        if b is not None:
            out[name] = b
    return out


def bound(endpoint: str, param: str) -> Bound:
    """The documented range of ``param`` on ``endpoint`` (``KeyError`` naming both when it has none)."""
    try:
        return numeric_bounds(endpoint)[param]
    except KeyError:
        raise KeyError(f"the spec gives {endpoint} request field {param!r} no numeric range") from None


@functools.cache
def logit_bias_bound(endpoint: str) -> Bound:
    """The range of a logit_bias value (the map's ``additionalProperties``)."""
    schema = request_schema(endpoint)
    for alt in _alternatives(schema, schema["properties"]["logit_bias"]):
        extra = alt.get("additionalProperties")
        if isinstance(extra, dict):
            b = _numeric_bound("logit_bias", _alternatives(schema, extra))
            if b is not None:
                return b
    raise SpecUnavailable(f"the {endpoint} request schema gives logit_bias values no range")


@functools.cache
def max_stop_strings(endpoint: str) -> int:
    """How many stop strings a request may carry (the array form's ``maxItems``)."""
    schema = request_schema(endpoint)
    for alt in _alternatives(schema, schema["properties"]["stop"]):
        if alt.get("type") == "array" and isinstance(alt.get("maxItems"), int):
            return int(alt["maxItems"])
    raise SpecUnavailable(f"the {endpoint} request schema gives stop no maxItems")


def companions(endpoint: str, param: str) -> dict[str, Any]:
    """Fields the spec's ``x-oairef-rules`` require whenever ``param`` is set (``{field: value}``)."""
    try:
        from generated._rules import RULES
    except ImportError as exc:
        raise SpecUnavailable(f"generated rules unavailable: {exc}") from exc
    out: dict[str, Any] = {}
    for rule in RULES.get(REQUEST_SCHEMAS[endpoint], {}).get("rules", []):
        when, require = rule.get("when") or {}, rule.get("require") or {}
        if when.get("field") == param and require.get("op") == "eq" and "value" in require:
            out[require["field"]] = require["value"]
    return out
