"""The lenient loader (specs written elsewhere): 3.0 forms upgraded, our own rules kept where they matter."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.cli import main
from codegen.spec import SpecError, load_spec, upgrade_to_3_1

ROOT = Path(__file__).resolve().parents[2]


def _spec(schemas: dict[str, Any], *, version: str = "3.0.3", op: dict[str, Any] | None = None) -> dict[str, Any]:
    operation = op if op is not None else {
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}},
    }
    return {"openapi": version, "info": {"title": "elsewhere", "version": "1"},
            "paths": {"/things": {"post": operation}}, "components": {"schemas": schemas}}


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "elsewhere.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


THING: dict[str, Any] = {"type": "object", "properties": {
    "plain": {"type": "string", "nullable": True},
    "listed": {"type": ["integer"], "nullable": True},
    "picked": {"type": "string", "enum": ["a", "b"], "nullable": True},
    "either": {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
    "ref": {"$ref": "#/components/schemas/Other", "nullable": True},
    "ref_30": {"allOf": [{"$ref": "#/components/schemas/Other"}, {"nullable": True}]},
    "composed": {"allOf": [{"$ref": "#/components/schemas/Other"}, {"type": "object"}], "nullable": True},
    "not_null": {"type": "string", "nullable": False},
    "above": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
    "below": {"type": "number", "maximum": 1, "exclusiveMaximum": False},
    "nullable": {"type": "boolean"},  # a property that happens to be called "nullable"
}}
OTHER = {"type": "object", "properties": {"x": {"type": "integer"}}}


def test_3_0_forms_become_3_1() -> None:
    doc = _spec({"Thing": copy.deepcopy(THING), "Other": OTHER})
    upgrade_to_3_1(doc)
    props = doc["components"]["schemas"]["Thing"]["properties"]
    other = {"$ref": "#/components/schemas/Other"}
    assert props["plain"] == {"type": ["string", "null"]}
    assert props["listed"] == {"type": ["integer", "null"]}
    assert props["picked"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert props["either"] == {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}
    assert props["ref"] == {"anyOf": [other, {"type": "null"}]}
    assert props["ref_30"] == {"anyOf": [other, {"type": "null"}]}
    assert props["composed"] == {"anyOf": [{"allOf": [other, {"type": "object"}]}, {"type": "null"}]}
    assert props["not_null"] == {"type": "string"}
    assert props["above"] == {"type": "number", "exclusiveMinimum": 0}
    assert props["below"] == {"type": "number", "maximum": 1}
    assert props["nullable"] == {"type": "boolean"}


def test_lenient_load_accepts_3_0_without_operation_ids_and_generates(tmp_path: Path) -> None:
    doc = _spec({"Thing": copy.deepcopy(THING), "Other": OTHER})
    path = _write(tmp_path, doc)
    loaded = load_spec(path, strict=False)
    assert "nullable" not in yaml.safe_dump(loaded["components"]["schemas"]["Thing"]["properties"]["plain"])
    with pytest.raises(SpecError) as strict:
        load_spec(path)
    assert strict.value.pointer == "/openapi"
    out = tmp_path / "pkg"
    assert main(["--spec", str(path), "--out", str(out), "--quiet"]) == 0  # lenient: not our spec
    assert "def create(" in (out / "resources" / "things.py").read_text(encoding="utf-8")
    assert main(["--spec", str(path), "--out", str(out), "--check", "--quiet"]) == 2  # --check is strict
    assert main(["--spec", str(path), "--out", str(out), "--check", "--no-strict", "--quiet"]) == 0


@pytest.mark.parametrize(("mutate", "pointer", "words"), [
    (lambda d: d["components"]["schemas"]["Thing"]["properties"]["plain"].update(nullable="yes"),
     "/components/schemas/Thing/properties/plain/nullable", "true or false"),
    (lambda d: d["components"]["schemas"]["Thing"]["properties"]["above"].pop("minimum"),
     "/components/schemas/Thing/properties/above/exclusiveMinimum", "needs a `minimum`"),
    (lambda d: d["components"]["schemas"]["Thing"]["properties"]["ref"].update({"$ref": "#/components/schemas/Gone"}),
     "/components/schemas/Thing/properties/ref/$ref", "unresolvable"),
    (lambda d: d.update(openapi="2.0"), "/openapi", "3.0.x or 3.1.x"),
    (lambda d: d["paths"]["/things"]["post"].update({"x-oairef-method": "Not A Path"}),
     "/paths/~1things/post/x-oairef-method", "dotted"),
    (lambda d: d["paths"]["/things"]["post"].update(responses={"400": {"description": "no"}}),
     "/paths/~1things/post/responses", "2xx"),
])
def test_lenient_load_still_names_the_pointer_of_a_fault(tmp_path: Path, mutate: Any, pointer: str,
                                                         words: str) -> None:
    doc = _spec({"Thing": copy.deepcopy(THING), "Other": OTHER})
    mutate(doc)
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, doc), strict=False)
    assert info.value.pointer == pointer
    assert words in info.value.message


def test_lenient_raw_request_bodies_are_sent_as_content(tmp_path: Path) -> None:
    op = {"operationId": "sendSdp",
          "requestBody": {"required": True, "content": {"application/sdp": {"schema": {"type": "string"}}}},
          "responses": {"201": {"description": "ok", "content": {"application/sdp": {"schema": {"type": "string"}}}}}}
    path = _write(tmp_path, _spec({"Other": OTHER}, op=op))
    out = tmp_path / "pkg"
    assert main(["--spec", str(path), "--out", str(out), "--quiet"]) == 0
    source = (out / "resources" / "things.py").read_text(encoding="utf-8")
    assert "content: bytes | str," in source and "media_type='application/sdp'" in source
    assert main(["--spec", str(path), "--out", str(tmp_path / "strict"), "--strict", "--quiet"]) == 2


def test_our_own_spec_is_read_strictly_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load((ROOT / "spec" / "openai.yaml").read_text(encoding="utf-8"))
    doc["components"]["schemas"]["Model"]["properties"]["id"]["nullable"] = True
    broken = _write(tmp_path, doc)
    assert main(["--spec", str(broken), "--out", str(tmp_path / "a"), "--strict", "--quiet"]) == 2
    assert "/components/schemas/Model/properties/id/nullable" in capsys.readouterr().err
    assert main(["--spec", str(broken), "--out", str(tmp_path / "b"), "--quiet"]) == 0  # another file: lenient
