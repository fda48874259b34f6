"""Method paths derived from paths and operationIds (specs without ``x-oairef-method``)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from codegen.methods import identifier, method_paths

OK = {"200": {"description": "ok"}}
LIST = {"200": {"description": "ok", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"data": {"type": "array", "items": {"type": "object"}}}}}}}}


def _op(op_id: str | None = None, responses: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"responses": responses or OK, **extra}
    if op_id is not None:
        op["operationId"] = op_id
    return op


def _derive(paths: dict[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    spec = {"openapi": "3.1.0", "paths": paths}
    return {key: ".".join(value) for key, value in method_paths(spec).items()}


def test_identifiers() -> None:
    assert [identifier(t) for t in ("fine-tunes", "audit_logs", "class", "2fa", "listAssistants")] == [
        "fine_tunes", "audit_logs", "class_", "_2fa", "list_assistants"]


def test_collection_and_item_verbs() -> None:
    got = _derive({
        "/chat/completions": {"get": _op("listChat"), "post": _op("createChat")},
        "/chat/completions/{id}": {"get": _op("getChat"), "post": _op("modifyChat"), "delete": _op("deleteChat")},
        "/fine-tunes/{id}/events/{event}": {"put": _op("replaceEvent"), "patch": _op("patchEvent")},
    })
    assert got == {
        ("/chat/completions", "get"): "chat.completions.list",
        ("/chat/completions", "post"): "chat.completions.create",
        ("/chat/completions/{id}", "get"): "chat.completions.retrieve",
        ("/chat/completions/{id}", "post"): "chat.completions.update",
        ("/chat/completions/{id}", "delete"): "chat.completions.delete",
        ("/fine-tunes/{id}/events/{event}", "put"): "fine_tunes.events.update",
        ("/fine-tunes/{id}/events/{event}", "patch"): "fine_tunes.events.patch_event",  # update was taken
    }


def test_actions_properties_and_sub_resources_after_a_parameter() -> None:
    got = _derive({
        "/batches/{id}/cancel": {"post": _op("cancelBatch")},
        "/projects/{id}/archive": {"post": _op("archive-project")},
        "/files/{id}/content": {"get": _op("downloadFile")},
        "/jobs/{id}/events": {"get": _op("listJobEvents", LIST)},
        "/uploads/{id}/parts": {"post": _op("addUploadPart")},
        "/threads/{id}/messages": {"get": _op("listMessages", LIST), "post": _op("createMessage")},
        "/threads/{id}/messages/{mid}": {"get": _op("getMessage")},
        "/stores/{id}/retention": {"get": _op("getRetention"), "post": _op("setRetention")},
    })
    assert got[("/batches/{id}/cancel", "post")] == "batches.cancel"
    assert got[("/projects/{id}/archive", "post")] == "projects.archive"
    assert got[("/files/{id}/content", "get")] == "files.content"
    assert got[("/jobs/{id}/events", "get")] == "jobs.list_events"
    assert got[("/uploads/{id}/parts", "post")] == "uploads.parts.create"
    assert got[("/threads/{id}/messages", "get")] == "threads.messages.list"  # not a leaf
    assert got[("/threads/{id}/messages/{mid}", "get")] == "threads.messages.retrieve"
    assert got[("/stores/{id}/retention", "get")] == "stores.retention.list"  # two operations: a resource
    assert got[("/stores/{id}/retention", "post")] == "stores.retention.create"


def test_clashes_are_settled_in_document_order_and_given_paths_win() -> None:
    got = _derive({
        "/models": {"get": _op("listModels")},
        "/models/": {"get": _op("listModelsAgain")},
        "/items": {"get": _op("anything", **{"x-oairef-method": "models.list_models_again"})},
        "/close": {"get": _op("closeIt")},
        "/things/with_raw_response": {"post": _op("raw")},
    })
    assert got[("/models", "get")] == "models.list"
    assert got[("/items", "get")] == "models.list_models_again"  # given: kept
    assert got[("/models/", "get")] == "models.list_2"  # list and its operationId both taken
    assert got[("/close", "get")] == "close_.list"  # a client attribute
    assert got[("/things/with_raw_response", "post")] == "things.with_raw_response_.create"


def test_a_method_never_shares_its_path_with_a_resource() -> None:
    got = _derive({
        "/a/{id}/b": {"get": _op("getB")},  # would be the method a.b ...
        "/a/{id}/b/{bid}/c": {"get": _op("getC")},  # ... but b is a resource here
    })
    assert got[("/a/{id}/b", "get")] == "a.b.list"
    assert got[("/a/{id}/b/{bid}/c", "get")] == "a.b.c"
    paths = set(got.values())
    assert all(p.rsplit(".", 1)[0] not in paths for p in paths)


def test_reserved_names_cover_every_public_attribute_of_the_clients_and_resources() -> None:
    from codegen.methods import CLIENT_RESERVED, RESOURCE_RESERVED
    from generated import AsyncOpenAI, OpenAI
    from generated.resources import AsyncModels, Models

    resources = {n for n, v in vars(OpenAI).items() if isinstance(v, cached_property)} - RESOURCE_RESERVED
    assert {"chat", "completions", "models", "organization"} <= resources
    for cls in (OpenAI, AsyncOpenAI):
        public = {n for klass in cls.__mro__[1:] if klass is not object for n in vars(klass) if not n.startswith("_")}
        assert public - CLIENT_RESERVED == set(), cls
        assert {"with_raw_response", "with_streaming_response"} <= set(vars(cls))
    assert resources & CLIENT_RESERVED == set()
    for cls in (Models, AsyncModels):
        methods = {"delete", "list", "retrieve"}
        assert {n for n in vars(cls) if not n.startswith("_")} - methods <= RESOURCE_RESERVED


def test_clashes_are_settled_in_document_order() -> None:
    """PUT and PATCH on one item both derive ``update``: the operation written first keeps it."""
    got = _derive({"/things/{id}": {"patch": _op("patchThing"), "put": _op("replaceThing")}})
    assert got == {("/things/{id}", "patch"): "things.update", ("/things/{id}", "put"): "things.replace_thing"}
