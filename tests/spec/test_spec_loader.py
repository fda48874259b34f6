"""codegen.spec.load_spec: malformed specs are reported with the JSON pointer of the fault."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.spec import SpecError, escape_pointer_token, iter_operations, load_spec, resolve_pointer

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ERR = {"400": {"$ref": "#/components/responses/BadRequest"}}


def _minimal() -> dict[str, Any]:
    """A small valid spec in the house style, for mutation."""
    ok = {
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "post": {
                    "operationId": "createThing",
                    "x-oairef-method": "things.create",
                    "responses": {"200": ok, **ERR},
                },
                "get": {
                    "operationId": "listThings",
                    "x-oairef-method": "things.list",
                    "responses": {"200": ok},
                },
            }
        },
        "components": {
            "responses": {"BadRequest": {"description": "bad"}},
            "schemas": {
                "Req": {
                    "type": "object",
                    "properties": {
                        "n": {"type": "integer", "default": 1},
                        "best_of": {"type": ["integer", "null"]},
                        "logit_bias": {"type": "object"},
                    },
                    "x-oairef-rules": [
                        {
                            "id": "best_of_ge_n",
                            "param": "best_of",
                            "message": "best_of must be >= n",
                            "require": {"field": "best_of", "op": "ge", "other": "n"},
                        },
                        {
                            "id": "ids",
                            "param": "logit_bias",
                            "message": "keys are token ids",
                            "when": {"field": "n", "op": "gt", "value": 0},
                            "require": {"field": "logit_bias", "op": "keys_token_ids"},
                        },
                    ],
                }
            },
        },
    }


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        doc if isinstance(doc, str) else yaml.dump(doc, Dumper=_DUMPER, sort_keys=False), encoding="utf-8"
    )
    return path


def _rule(doc: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return doc["components"]["schemas"]["Req"]["x-oairef-rules"][i]


RULES = "/components/schemas/Req/x-oairef-rules"
POST = "/paths/~1things/post"

MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("no operationId", lambda d: d["paths"]["/things"]["post"].pop("operationId"), POST, "operationId"),
    (
        "no x-oairef-method",
        lambda d: d["paths"]["/things"]["post"].pop("x-oairef-method"),
        POST,
        "x-oairef-method",
    ),
    (
        "no 2xx",
        lambda d: d["paths"]["/things"]["post"]["responses"].pop("200"),
        POST + "/responses",
        "2xx",
    ),
    (
        "duplicate x-oairef-method",
        lambda d: d["paths"]["/things"]["get"].update({"x-oairef-method": "things.create"}),
        "/paths/~1things/get/x-oairef-method",
        "duplicate x-oairef-method",
    ),
    (
        "duplicate operationId",
        lambda d: d["paths"]["/things"]["get"].update({"operationId": "createThing"}),
        "/paths/~1things/get/operationId",
        "duplicate operationId",
    ),
    (
        "malformed x-oairef-method",
        lambda d: d["paths"]["/things"]["get"].update({"x-oairef-method": "Things List"}),
        "/paths/~1things/get/x-oairef-method",
        "dotted",
    ),
    (
        "method path is another's resource",
        lambda d: d["paths"]["/things"]["get"].update({"x-oairef-method": "things"}),
        "/paths/~1things/get/x-oairef-method",
        "resource",
    ),
    (
        "unresolvable $ref",
        lambda d: d["paths"]["/things"]["post"]["responses"]["200"]["content"]["application/json"].update(
            {"schema": {"$ref": "#/components/schemas/Missing"}}
        ),
        POST + "/responses/200/content/application~1json/schema/$ref",
        "unresolvable",
    ),
    (
        "external $ref",
        lambda d: d["paths"]["/things"]["post"]["responses"].update({"400": {"$ref": "other.yaml#/x"}}),
        POST + "/responses/400/$ref",
        "local",
    ),
    (
        "nullable",
        lambda d: d["components"]["schemas"]["Req"]["properties"]["n"].update({"nullable": True}),
        "/components/schemas/Req/properties/n/nullable",
        "nullable",
    ),
    ("openapi 3.0", lambda d: d.update({"openapi": "3.0.3"}), "/openapi", "3.1"),
    (
        "rule: unknown op",
        lambda d: _rule(d)["require"].update({"op": "gte"}),
        RULES + "/0/require/op",
        "unknown op",
    ),
    (
        "rule: unknown field",
        lambda d: _rule(d, 1)["when"].update({"field": "bestof"}),
        RULES + "/1/when/field",
        "unknown field 'bestof'",
    ),
    (
        "rule: unknown other",
        lambda d: _rule(d)["require"].update({"other": "m"}),
        RULES + "/0/require/other",
        "unknown field 'm'",
    ),
    (
        "rule: value and other",
        lambda d: _rule(d)["require"].update({"value": 3}),
        RULES + "/0/require",
        "exactly one",
    ),
    (
        "rule: keys_token_ids with value",
        lambda d: _rule(d, 1)["require"].update({"value": 1}),
        RULES + "/1/require",
        "keys_token_ids",
    ),
    ("rule: no require", lambda d: _rule(d).pop("require"), RULES + "/0", "require"),
    ("rule: param unknown", lambda d: _rule(d).update({"param": "bestof"}), RULES + "/0/param", "bestof"),
    ("rule: empty message", lambda d: _rule(d).update({"message": " "}), RULES + "/0/message", "message"),
    (
        "rule: duplicate id",
        lambda d: _rule(d, 1).update({"id": "best_of_ge_n"}),
        RULES + "/1/id",
        "duplicate",
    ),
    ("rule: unknown key", lambda d: _rule(d).update({"expr": "best_of >= n"}), RULES + "/0/expr", "unknown"),
    (
        "rule: list value",
        lambda d: _rule(d, 1)["when"].update({"value": [1]}),
        RULES + "/1/when/value",
        "scalar",
    ),
    (
        "rule: ordering a non-numeric field",
        lambda d: _rule(d, 1)["when"].update({"field": "logit_bias"}),
        RULES + "/1/when",
        "numeric",
    ),
    (
        "rule: ordering against a boolean",
        lambda d: _rule(d, 1)["when"].update({"value": True}),
        RULES + "/1/when/value",
        "compares numbers",
    ),
    (
        "rules not a list",
        lambda d: d["components"]["schemas"]["Req"].update({"x-oairef-rules": {"id": "x"}}),
        RULES,
        "list",
    ),
]


def test_minimal_spec_loads(tmp_path: Path) -> None:
    assert load_spec(_write(tmp_path, _minimal())) == _minimal()


@pytest.mark.parametrize(("name", "mutate", "pointer", "fragment"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_fault_is_named_by_pointer(
    tmp_path: Path, name: str, mutate: Callable[[dict[str, Any]], None], pointer: str, fragment: str
) -> None:
    doc = _minimal()
    mutate(doc)
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, doc))
    assert info.value.pointer == pointer
    assert fragment in info.value.message
    assert pointer in str(info.value)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    text = "openapi: 3.1.0\ninfo:\n  title: t\n  version: [1\npaths: {}\n"
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, text))
    assert info.value.pointer == ""
    assert "YAML syntax error" in info.value.message
    assert "line 5" in info.value.message


def test_duplicate_key_is_a_fault(tmp_path: Path) -> None:
    text = yaml.safe_dump(_minimal(), sort_keys=False).replace(
        "  version: '1'\n", "  version: '1'\n  title: u\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, text))
    assert info.value.pointer == "/info/title"
    assert "duplicate key 'title'" in info.value.message


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "absent.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, "- 1\n- 2\n"))
    assert info.value.pointer == ""


def test_spec_error_is_value_error() -> None:
    err = SpecError("/a~1b", "boom")
    assert isinstance(err, ValueError)
    assert (err.pointer, err.message) == ("/a~1b", "boom")


def test_pointer_helpers_round_trip() -> None:
    doc = {"a/b": {"c~d": [10, 20]}}
    pointer = "/" + escape_pointer_token("a/b") + "/" + escape_pointer_token("c~d") + "/1"
    assert pointer == "/a~1b/c~0d/1"
    assert resolve_pointer(doc, pointer) == 20
    with pytest.raises(KeyError):
        resolve_pointer(doc, "/a~1b/missing")


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (
            lambda d: d["paths"]["/chat/completions"]["post"].pop("operationId"),
            "/paths/~1chat~1completions/post",
        ),
        (
            lambda d: d["components"]["schemas"]["CreateCompletionRequest"]["x-oairef-rules"][0][
                "require"
            ].update({"other": "num_choices"}),
            "/components/schemas/CreateCompletionRequest/x-oairef-rules/0/require/other",
        ),
        (
            lambda d: d["paths"]["/models/{model}"]["delete"].update({"x-oairef-method": "models.list"}),
            "/paths/~1models~1{model}/delete/x-oairef-method",
        ),
    ],
)
def test_faults_in_the_real_spec_are_located(
    tmp_path: Path, spec_doc: dict[str, Any], mutate: Callable[[dict[str, Any]], None], pointer: str
) -> None:
    doc = copy.deepcopy(spec_doc)
    mutate(doc)
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, doc))
    assert info.value.pointer == pointer


def test_iter_operations_walks_in_document_order() -> None:
    doc = _minimal()
    doc["paths"]["/a"] = {"parameters": [], "delete": {"responses": {}}, "get": {"responses": {}}}
    assert [(p, m) for p, m, _op in iter_operations(doc)] == [
        ("/things", "post"), ("/things", "get"), ("/a", "delete"), ("/a", "get")]
    assert list(iter_operations({"openapi": "3.1.0"})) == []


@pytest.mark.parametrize(("paths", "pointer", "fragment"), [
    (["/things"], "/paths", "paths must be a mapping"),
    ({"/things": ["get"]}, "/paths/~1things", "path item must be a mapping"),
    ({"/things": {"get": "listThings"}}, "/paths/~1things/get", "operation must be a mapping"),
])
def test_iter_operations_names_a_malformed_operation(paths: Any, pointer: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        list(iter_operations({"paths": paths}))
    assert info.value.pointer == pointer
    assert fragment in info.value.message
