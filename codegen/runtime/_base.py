"""Base class of every generated model, the checker of the spec's ``x-oairef-rules``, dump helpers.

Rules (from the spec's interface notes):
- a rule applies when its ``when`` condition holds (always, without ``when``) and then its
  ``require`` condition must hold, else validation fails with a pydantic ``ValidationError`` whose
  error ``loc`` is ``(param,)`` and whose message is the rule's ``message``;
- a field that is absent or null takes its schema default; a field with no default makes ``when``
  false and ``require`` hold (vacuously), as does a comparison between values of unlike types;
- ``keys_token_ids`` holds when every key of the object is a decimal string of a non-negative integer.

The rules are data registered by the generated ``_rules`` module (``register_rules``), looked up by
model class name. ``to_dict``/``to_json`` have openai-python's names and defaults: API (alias)
names, only the fields that were set, ``mode="python"`` for ``to_dict`` and an indent of 2 for
``to_json``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

#: ``{model class name: {"rules": [...], "defaults": {...}}}``, filled by ``register_rules``
RULES: dict[str, dict[str, Any]] = {}
_ABSENT = object()
_TOKEN_ID = re.compile(r"[0-9]+")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


class ApiModel(BaseModel):
    """Common base: fields are populated by name or alias; ``x-oairef-rules`` are enforced.

    Validators are built on first use (``defer_build``), so importing hundreds of models is cheap.
    """

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    def to_dict(
        self,
        *,
        mode: Literal["json", "python"] = "python",
        use_api_names: bool = True,
        exclude_unset: bool = True,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        warnings: bool = True,
    ) -> dict[str, object]:
        """The model as a dictionary keyed by the API's names, holding only the fields that were set.

        ``mode="json"`` gives JSON-compatible values only; ``use_api_names=False`` keys by attribute name.
        """
        return self.model_dump(mode=mode, by_alias=use_api_names, exclude_unset=exclude_unset,
                               exclude_defaults=exclude_defaults, exclude_none=exclude_none, warnings=warnings)

    def to_json(
        self,
        *,
        indent: int | None = 2,
        use_api_names: bool = True,
        exclude_unset: bool = True,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        warnings: bool = True,
    ) -> str:
        """The model as JSON as the API would send it (indented by ``indent``; ``None`` is compact)."""
        return self.model_dump_json(indent=indent, by_alias=use_api_names, exclude_unset=exclude_unset,
                                    exclude_defaults=exclude_defaults, exclude_none=exclude_none,
                                    warnings=warnings)

    @model_validator(mode="wrap")
    @classmethod
    def _oairef_rules(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        model = handler(data)
        entry = RULES.get(cls.__name__)
        if entry is not None and isinstance(model, BaseModel):
            errors = rule_errors(model, entry)
            if errors:
                raise ValidationError.from_exception_data(cls.__name__, errors)
        return model


def _field_value(model: BaseModel, field: str) -> Any:
    """The value of the JSON property ``field`` of ``model`` (by alias or name), or ``None``."""
    for name, info in type(model).model_fields.items():
        if field in (info.alias, name):
            value = getattr(model, name, None)
            return value.root if isinstance(value, RootModel) else value
    extra = model.__pydantic_extra__ or {}
    return extra.get(field)


def _resolve(model: BaseModel, field: str, defaults: dict[str, Any]) -> Any:
    value = _field_value(model, field)
    if value is None:
        return defaults.get(field, _ABSENT) if field in defaults else _ABSENT
    return value


def _holds(model: BaseModel, cond: dict[str, Any], defaults: dict[str, Any]) -> bool | None:
    """True/False when the condition can be decided, ``None`` when it is vacuous."""
    left = _resolve(model, cond["field"], defaults)
    if left is _ABSENT:
        return None
    if cond["op"] == "keys_token_ids":
        if isinstance(left, BaseModel):
            left = left.model_dump(by_alias=True)
        if not isinstance(left, dict):
            return None
        return all(isinstance(k, str) and _TOKEN_ID.fullmatch(k) is not None for k in left)
    right = _resolve(model, cond["other"], defaults) if "other" in cond else cond["value"]
    if right is _ABSENT:
        return None
    if isinstance(left, bool) != isinstance(right, bool) and cond["op"] in ("eq", "ne"):
        return bool(cond["op"] == "ne")
    try:
        return bool(_COMPARE[cond["op"]](left, right))
    except TypeError:
        return None


def rule_errors(model: BaseModel, entry: dict[str, Any]) -> list[InitErrorDetails]:
    """The rule violations of ``model`` as pydantic error details, in rule order."""
    defaults = entry["defaults"]
    errors: list[InitErrorDetails] = []
    for rule in entry["rules"]:
        when = rule.get("when")
        if when is not None and _holds(model, when, defaults) is not True:
            continue
        if _holds(model, rule["require"], defaults) is False:
            errors.append(InitErrorDetails(
                type=PydanticCustomError("oairef_rule", rule["message"], {"rule": rule["id"]}),
                loc=(rule["param"],),
                input=_field_value(model, rule["param"]),
            ))
    return errors


def register_rules(rules: Mapping[str, dict[str, Any]]) -> None:
    """Make ``rules`` (by model class name) the rules ``ApiModel`` enforces on validation."""
    RULES.update(rules)
