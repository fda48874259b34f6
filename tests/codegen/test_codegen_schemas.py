"""Preparing schemas for the models: which side a schema is on, widening, strictness, rule checks."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.rules import extract_rules
from codegen.schemas import classify, prepare_for_models
from codegen.spec import SpecError


def _spec(schemas: dict[str, Any]) -> dict[str, Any]:
    def ref(name: str) -> dict[str, Any]:
        return {"schema": {"$ref": f"#/components/schemas/{name}"}}

    return {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {
            "x-oairef-method": "x.create",
            "requestBody": {"content": {"application/json": ref("Req")}},
            "responses": {"200": {"description": "ok", "content": {"application/json": ref("Resp")}}},
        }}},
        "components": {"schemas": schemas},
    }


SCHEMAS: dict[str, Any] = {
    "Req": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["a", "b"]},
                                             "shared": {"$ref": "#/components/schemas/Shared"},
                                             "n": {"type": "integer", "default": 1}}},
    "Resp": {"type": "object", "properties": {
        "status": {"type": ["string", "null"], "enum": ["ok", "failed", None]},
        "role": {"$ref": "#/components/schemas/Role"},
        "item": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                 "discriminator": {"propertyName": "type"}},
        "nested": {"type": "object", "properties": {"type": {"type": "string", "enum": ["x"]}}},
    }},
    "Shared": {"type": "object", "properties": {"v": {"type": "integer"}}},
    "Role": {"type": "string", "enum": ["user", "assistant"]},
    "Cat": {"type": "object", "properties": {"type": {"type": "string", "enum": ["cat"]}}},
    "Dog": {"type": "object", "properties": {"type": {"type": "string", "enum": ["dog"]}}},
}


def test_classify_puts_schemas_reached_by_both_sides_on_the_response_side() -> None:
    spec = _spec({**SCHEMAS, "Resp": {**SCHEMAS["Resp"], "properties": {
        **SCHEMAS["Resp"]["properties"], "shared": {"$ref": "#/components/schemas/Shared"}}}})
    requests, responses = classify(spec)
    assert requests == {"Req"}
    assert {"Resp", "Shared", "Role", "Cat", "Dog"} <= responses


def test_prepare_makes_requests_strict_and_responses_forward_compatible() -> None:
    prepared = prepare_for_models(_spec(SCHEMAS))["components"]["schemas"]
    assert prepared["Req"]["additionalProperties"] is False
    assert prepared["Req"]["properties"]["kind"]["enum"] == ["a", "b"]  # request enums stay exact
    resp = prepared["Resp"]
    assert resp["additionalProperties"] is True
    assert resp["properties"]["nested"]["additionalProperties"] is True
    assert resp["properties"]["status"]["anyOf"] == [
        {"type": "string", "enum": ["ok", "failed"]}, {"type": "string"}, {"type": "null"}]
    assert resp["properties"]["role"]["anyOf"] == [{"$ref": "#/components/schemas/Role"}, {"type": "string"}]
    # the tag of a discriminated variant stays exact; a same-named property elsewhere is widened
    assert prepared["Cat"]["properties"]["type"]["enum"] == ["cat"]
    assert "anyOf" in resp["properties"]["nested"]["properties"]["type"]
    assert prepared["Role"] == SCHEMAS["Role"]


def _rules_spec(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return _spec({**SCHEMAS, "Req": {**SCHEMAS["Req"], "x-oairef-rules": rules}})


def test_rules_are_extracted_with_defaults() -> None:
    rules = [{"id": "r", "param": "kind", "message": "m", "when": {"field": "n", "op": "gt", "value": 1},
              "require": {"field": "kind", "op": "eq", "value": "a"}}]
    out = extract_rules(_rules_spec(rules))
    assert out["Req"]["defaults"] == {"n": 1}
    assert out["Req"]["rules"][0]["when"] == {"field": "n", "op": "gt", "value": 1}


@pytest.mark.parametrize(("rules", "pointer"), [
    ([{"id": "r", "param": "nope", "message": "m", "require": {"field": "n", "op": "eq", "value": 1}}],
     "/components/schemas/Req/x-oairef-rules/0/param"),
    ([{"id": "r", "param": "n", "message": "m", "require": {"field": "n", "op": "about", "value": 1}}],
     "/components/schemas/Req/x-oairef-rules/0/require/op"),
    ([{"id": "r", "param": "n", "message": "m", "require": {"field": "n", "op": "eq", "other": "zz"}}],
     "/components/schemas/Req/x-oairef-rules/0/require/other"),
    ([{"id": "r", "param": "n", "message": "m", "require": {"field": "n", "op": "eq", "value": 1}},
      {"id": "r", "param": "n", "message": "m", "require": {"field": "n", "op": "eq", "value": 1}}],
     "/components/schemas/Req/x-oairef-rules/1/id"),
    ([{"id": "r", "param": "n", "message": "m"}], "/components/schemas/Req/x-oairef-rules/0"),
])
def test_rule_faults_name_their_pointer(rules: list[dict[str, Any]], pointer: str) -> None:
    with pytest.raises(SpecError) as info:
        extract_rules(_rules_spec(rules))
    assert info.value.pointer == pointer
