"""The spec as a document: valid OpenAPI 3.1, every $ref resolves, no 3.0-style `nullable`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from codegen.spec import resolve_pointer


def _walk(node: Any, pointer: str = ""):
    """Yield (pointer, key, value) for every mapping entry in the document."""
    stack = [(node, pointer)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                child = f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"
                yield child, key, value
                stack.append((value, child))
        elif isinstance(current, list):
            stack.extend((item, f"{where}/{i}") for i, item in enumerate(current))


def test_spec_is_valid_openapi_3_1(spec_path: Path) -> None:
    doc, _base_uri = read_from_filename(str(spec_path))
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises OpenAPIValidationError on any violation


def test_loader_returns_same_document_as_plain_yaml(spec_path: Path, spec_doc: dict[str, Any]) -> None:
    assert spec_doc == yaml.load(
        spec_path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )


def test_every_ref_resolves(spec_doc: dict[str, Any]) -> None:
    refs = [(p, v) for p, k, v in _walk(spec_doc) if k == "$ref" and isinstance(v, str)]
    assert len(refs) > 500  # the spec shares errors, parameters and schemas by reference
    for pointer, ref in refs:
        assert ref.startswith("#/"), f"{pointer}: non-local $ref {ref}"
        target = resolve_pointer(spec_doc, ref[1:])
        assert isinstance(target, dict), f"{pointer}: {ref} does not point at an object"


def test_every_component_schema_is_referenced(spec_doc: dict[str, Any]) -> None:
    refs = {v for _p, k, v in _walk(spec_doc) if k == "$ref" and isinstance(v, str)}
    unused = [
        name for name in spec_doc["components"]["schemas"] if f"#/components/schemas/{name}" not in refs
    ]
    assert unused == []


def test_no_nullable_keyword_anywhere(spec_doc: dict[str, Any], spec_path: Path) -> None:
    offenders = [p for p, k, _v in _walk(spec_doc) if k == "nullable" and p.split("/")[-2] != "properties"]
    assert offenders == []
    assert "nullable:" not in spec_path.read_text(encoding="utf-8")


def test_nullables_use_3_1_type_lists(schemas: dict[str, Any]) -> None:
    # a few fields the docs call nullable (default null)
    assert schemas["CreateCompletionRequest"]["properties"]["logprobs"]["type"] == ["integer", "null"]
    assert schemas["CreateCompletionRequest"]["properties"]["suffix"]["type"] == ["string", "null"]
    assert schemas["Error"]["properties"]["param"]["type"] == ["string", "null"]
    assert schemas["ChatCompletionResponseMessage"]["properties"]["content"]["type"] == ["string", "null"]


def test_error_schema_matches_documented_envelope(spec_doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    assert schemas["ErrorResponse"]["required"] == ["error"]
    assert schemas["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/Error"}
    assert set(schemas["Error"]["required"]) == {"message", "type", "param", "code"}
    for name in ("BadRequest", "Unauthorized", "NotFound", "PayloadTooLarge", "RateLimited", "InternalServerError"):
        content = spec_doc["components"]["responses"][name]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
