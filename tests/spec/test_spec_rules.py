"""The x-oairef-rules written on the request schemas, and what they mean.

`_holds` below is a small, independent reading of the rule format in docs/INTERFACES.md
(absent or null -> schema default; no default -> `require` holds vacuously, `when` is false); it
lets these tests show that the rules as written accept and reject the documented cases.
"""

from __future__ import annotations

import operator
from typing import Any

import pytest

from codegen.spec import schema_properties

_CMP = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_NO_VALUE = object()


def _value(props: dict[str, Any], body: dict[str, Any], field: str) -> Any:
    value = body.get(field)
    if value is None:
        return props[field].get("default", _NO_VALUE)
    return value


def _holds(props: dict[str, Any], body: dict[str, Any], cond: dict[str, Any], vacuous: bool) -> bool:
    left = _value(props, body, cond["field"])
    if cond["op"] == "keys_token_ids":
        if left is _NO_VALUE or left is None:
            return vacuous
        return all(k.isdigit() and k.isascii() for k in left)
    right = _value(props, body, cond["other"]) if "other" in cond else cond["value"]
    if left is _NO_VALUE or right is _NO_VALUE:
        return vacuous
    if cond["op"] in ("eq", "ne") or (left is not None and right is not None):
        return _CMP[cond["op"]](left, right)
    return vacuous


def violations(spec_doc: dict[str, Any], schema: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule id, param) of every rule the request body breaks."""
    node = spec_doc["components"]["schemas"][schema]
    props = schema_properties(spec_doc, node)
    out = []
    for rule in node["x-oairef-rules"]:
        if "when" in rule and not _holds(props, body, rule["when"], vacuous=False):
            continue
        if not _holds(props, body, rule["require"], vacuous=True):
            out.append((rule["id"], rule["param"]))
    return out


def test_completion_rules_as_written(schemas: dict[str, Any]) -> None:
    rules = {r["id"]: r for r in schemas["CreateCompletionRequest"]["x-oairef-rules"]}
    assert rules["best_of_ge_n"]["require"] == {"field": "best_of", "op": "ge", "other": "n"}
    assert rules["best_of_forbids_stream"]["when"] == {"field": "best_of", "op": "gt", "value": 1}
    assert rules["best_of_forbids_stream"]["require"] == {"field": "stream", "op": "ne", "value": True}
    assert rules["logit_bias_keys_are_token_ids"]["require"] == {
        "field": "logit_bias",
        "op": "keys_token_ids",
    }
    assert {r["param"] for r in rules.values()} == {"best_of", "logit_bias", "stream_options"}


def test_chat_rules_as_written(schemas: dict[str, Any]) -> None:
    rules = {r["id"]: r for r in schemas["CreateChatCompletionRequest"]["x-oairef-rules"]}
    assert set(rules) == {
        "logit_bias_keys_are_token_ids",
        "top_logprobs_requires_logprobs",
        "stream_options_requires_stream",
    }
    assert rules["top_logprobs_requires_logprobs"]["param"] == "top_logprobs"
    assert rules["top_logprobs_requires_logprobs"]["require"] == {
        "field": "logprobs",
        "op": "eq",
        "value": True,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, []),
        ({"n": 3}, []),  # best_of absent: defaults to n
        ({"n": 3, "best_of": 3}, []),
        ({"n": 3, "best_of": 5}, []),
        ({"n": 3, "best_of": 2}, [("best_of_ge_n", "best_of")]),
        ({"best_of": 2, "stream": True}, [("best_of_forbids_stream", "best_of")]),
        ({"best_of": 1, "stream": True}, []),
        ({"best_of": 2, "stream": False}, []),
        ({"logit_bias": {"50256": -100, "0": 5}}, []),
        ({"logit_bias": {"abc": 1}}, [("logit_bias_keys_are_token_ids", "logit_bias")]),
        ({"logit_bias": {"-1": 1}}, [("logit_bias_keys_are_token_ids", "logit_bias")]),
        ({"stream_options": {"include_usage": True}}, [("stream_options_requires_stream", "stream_options")]),
        ({"stream": True, "stream_options": {"include_usage": True}}, []),
    ],
)
def test_completion_rules_judge_bodies(
    spec_doc: dict[str, Any], body: dict[str, Any], expected: list[Any]
) -> None:
    assert violations(spec_doc, "CreateCompletionRequest", body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, []),
        ({"top_logprobs": 3}, [("top_logprobs_requires_logprobs", "top_logprobs")]),
        ({"top_logprobs": 0, "logprobs": False}, [("top_logprobs_requires_logprobs", "top_logprobs")]),
        ({"top_logprobs": 3, "logprobs": True}, []),
        ({"logprobs": True}, []),
        ({"logit_bias": {"1.5": 2}}, [("logit_bias_keys_are_token_ids", "logit_bias")]),
    ],
)
def test_chat_rules_judge_bodies(spec_doc: dict[str, Any], body: dict[str, Any], expected: list[Any]) -> None:
    assert violations(spec_doc, "CreateChatCompletionRequest", body) == expected
