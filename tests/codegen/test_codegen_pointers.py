"""codegen.pointers: the one owner of JSON pointers and of following ``$ref`` chains."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.pointers import MAX_REF_CHAIN, BrokenRef, child, deref, deref_or_empty, resolve_ref

SPEC: dict[str, Any] = {
    "components": {
        "responses": {"Ok": {"$ref": "#/components/responses/Real"}, "Real": {"description": "ok"}},
        "schemas": {"a/b": {"type": "string"}, "Loop": {"$ref": "#/components/schemas/Loop"},
                    "Dangling": {"$ref": "#/components/schemas/Nowhere"}},
    },
}


def test_child_escapes_each_segment() -> None:
    assert child("/paths", "/files/{id}", "get") == "/paths/~1files~1{id}/get"
    assert child("", "a~b", 0) == "/a~0b/0"


def test_resolve_ref_reads_the_pointer_after_the_hash() -> None:
    assert resolve_ref(SPEC, "#/components/schemas/a~1b") == {"type": "string"}
    assert resolve_ref(SPEC, "#") is SPEC
    for bad in ("#components", "components/schemas", "#/components/nothing"):
        with pytest.raises(KeyError):
            resolve_ref(SPEC, bad)


def test_deref_follows_the_whole_chain() -> None:
    assert deref(SPEC, {"$ref": "#/components/responses/Ok"}) == {"description": "ok"}
    plain = {"type": "object"}
    assert deref(SPEC, plain) is plain
    assert deref(SPEC, None) is None


def test_deref_names_the_link_that_leads_nowhere() -> None:
    with pytest.raises(BrokenRef) as info:
        deref(SPEC, {"$ref": "#/components/schemas/Dangling"})
    assert info.value.ref == "#/components/schemas/Nowhere" and not info.value.loop
    assert deref_or_empty(SPEC, {"$ref": "#/components/schemas/Dangling"}) == {}


def test_deref_calls_a_chain_longer_than_the_limit_a_loop() -> None:
    with pytest.raises(BrokenRef) as info:
        deref(SPEC, {"$ref": "#/components/schemas/Loop"})
    assert info.value.loop
    chain: dict[str, Any] = {"components": {"x": {f"n{i}": {"$ref": f"#/components/x/n{i + 1}"}
                                                  for i in range(MAX_REF_CHAIN)}}}
    chain["components"]["x"][f"n{MAX_REF_CHAIN}"] = {"type": "integer"}
    assert deref(chain, {"$ref": "#/components/x/n1"}) == {"type": "integer"}  # MAX_REF_CHAIN links
    with pytest.raises(BrokenRef):
        deref(chain, {"$ref": "#/components/x/n0"})  # one more
