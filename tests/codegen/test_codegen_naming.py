"""Inline schemas lifted into named components: the names, and the models generated from them."""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Any

from codegen.modelgen import generate_models, model_class_names
from codegen.naming import lift_inline_schemas, pascal

REF = "#/components/schemas/"


def _spec(schemas: dict[str, Any], paths: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths or {},
            "components": {"schemas": schemas}}


OBJ = {"type": "object", "properties": {"x": {"type": "integer"}}}
SCHEMAS: dict[str, Any] = {
    "Chat": {"type": "object", "properties": {
        "choices": {"type": "array", "items": {"type": "object", "properties": {
            "message": {"type": ["object", "null"], "description": "the message",
                        "properties": {"role": {"type": "string"}}}}}},
        "n_epochs": {"default": "auto", "anyOf": [{"type": "string", "enum": ["auto"]},
                                                  {"type": "integer", "minimum": 1, "maximum": 50}]},
        "part": {"oneOf": [{"type": "object", "properties": {"type": {"type": "string", "enum": ["text"]}}},
                           {"type": "object", "title": "Image part", "properties": {"url": {"type": "string"}}},
                           {"type": "object", "title": "FilePart", "properties": {"file": {"type": "string"}}},
                           {"type": "object", "properties": {"event": {"const": "done"}}}],
                 "discriminator": {"propertyName": "type"}},
        "audio": {"anyOf": [copy.deepcopy(OBJ), {"type": "null"}]},
        "meta": {"type": "object", "additionalProperties": copy.deepcopy(OBJ)},
        "prompt": {"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                             {"type": "array", "items": {"type": "array", "minItems": 1,
                                                         "items": {"type": "integer"}}}]},
    }},
    "ChatAudio": {"type": "string"},  # takes the name the `audio` property would get
    "Event": {"allOf": [{"anyOf": [{"$ref": REF + "Start"}, {"$ref": REF + "Stop"}]},
                        {"type": "object", "properties": {"lane": {"type": "string"}}}]},
    "Start": copy.deepcopy(OBJ),
    "Stop": copy.deepcopy(OBJ),
    "ImageRef": {"type": "object", "properties": {"url": {"type": "string"}, "file": {"type": "string"}},
                 "anyOf": [{"required": ["url"]}, {"required": ["file"]}], "not": {"required": ["url", "file"]}},
}


def test_lifted_names_say_where_the_schema_sits() -> None:
    original = _spec(copy.deepcopy(SCHEMAS))
    lifted = lift_inline_schemas(original)
    assert original == _spec(SCHEMAS)  # the input is not changed
    schemas = lifted["components"]["schemas"]
    chat = schemas["Chat"]["properties"]
    assert chat["choices"]["items"] == {"$ref": REF + "ChatChoicesItem"}
    message = schemas["ChatChoicesItem"]["properties"]["message"]
    assert message == {"description": "the message", "anyOf": [{"$ref": REF + "ChatChoicesItemMessage"}, {"type": "null"}]}
    assert schemas["ChatChoicesItemMessage"]["type"] == "object"  # the null type moved to the site
    assert chat["n_epochs"]["anyOf"][1] == {"$ref": REF + "ChatNEpochsInteger"}
    assert "default" not in schemas["ChatNEpochsInteger"] and chat["n_epochs"]["default"] == "auto"
    assert [m["$ref"].removeprefix(REF) for m in chat["part"]["oneOf"]] == ["ChatPartText", "ChatPartImagePart", "FilePart", "ChatPartDone"]
    assert chat["audio"]["anyOf"][0] == {"$ref": REF + "ChatAudioAlt"}  # ChatAudio was taken
    assert chat["meta"]["additionalProperties"] == {"$ref": REF + "ChatMetaValue"}
    assert [m.get("$ref", "").removeprefix(REF) for m in chat["prompt"]["anyOf"]] == [
        "", "ChatPromptIntegerArray", "ChatPromptIntegerArrayArray"]  # constrained members (or items)
    assert chat["prompt"]["anyOf"][0] == {"type": "string"}  # plain types stay plain
    assert [m["$ref"].removeprefix(REF) for m in schemas["Event"]["anyOf"]] == ["EventStart", "EventStop"]
    assert schemas["EventStart"] == {"allOf": [{"$ref": REF + "Start"}, {"type": "object", "properties": {
        "lane": {"type": "string"}}}]}
    assert "anyOf" not in schemas["ImageRef"] and "not" not in schemas["ImageRef"]
    assert pascal("response.audio.delta") == "ResponseAudioDelta" and pascal("2x") == "N2x"


def test_models_have_no_numbered_classes_and_members_keep_no_union_default(tmp_path: Path) -> None:
    source = generate_models(lift_inline_schemas(_spec(copy.deepcopy(SCHEMAS))))
    names = model_class_names(source)
    assert not [n for n in names if n[-1].isdigit()], sorted(names)
    assert {"ChatChoicesItem", "ChatChoicesItemMessage", "ChatPartText", "FilePart", "EventStart"} <= names
    package = tmp_path / "naming_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_base.py").write_text("from pydantic import BaseModel as ApiModel\n")
    (package / "models.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        module: Any = importlib.import_module("naming_models.models")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("naming_models")]:
            del sys.modules[name]
    assert module.Chat.model_validate({}).n_epochs == "auto"  # the union's default, on the field
    assert module.Chat.model_validate({"n_epochs": 7}).n_epochs.root == 7
    assert module.ChatNEpochsInteger.model_fields["root"].is_required()  # the member has no default
    assert type(module.Chat.model_validate({"part": {"type": "text"}}).part).__name__ == "ChatPartText"
    assert module.Event.model_validate({"x": 1, "lane": "l"}).root.lane == "l"
