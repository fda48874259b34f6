"""Every operation the seed documents name, and what each operation must carry.

The seeds (../shared/seeds/) name 92 distinct operations: the Japanese reference page lists 84
(its "fine-tuning" group is the fine_tuning/jobs API; "delete fine-tuned model" appears under both
fine-tuning and models, and "create project service account" under both project users and service
accounts — each counted once), and the Chinese page adds the legacy edits (1), fine-tunes (5) and
engines (2). Paths are relative to the server URL `https://api.openai.com/v1`.
"""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest

from codegen.spec import iter_operations, resolve_pointer

#: (HTTP method, path, x-oairef-method) — the complete operation table, grouped as in the seeds.
OPERATIONS: list[tuple[str, str, str]] = [
    # completions, chat, models
    ("POST", "/completions", "completions.create"),
    ("POST", "/chat/completions", "chat.completions.create"),
    ("GET", "/models", "models.list"),
    ("GET", "/models/{model}", "models.retrieve"),
    ("DELETE", "/models/{model}", "models.delete"),
    # audio, embeddings, images, moderations
    ("POST", "/audio/speech", "audio.speech.create"),
    ("POST", "/audio/transcriptions", "audio.transcriptions.create"),
    ("POST", "/audio/translations", "audio.translations.create"),
    ("POST", "/embeddings", "embeddings.create"),
    ("POST", "/images/generations", "images.generate"),
    ("POST", "/images/edits", "images.edit"),
    ("POST", "/images/variations", "images.create_variation"),
    ("POST", "/moderations", "moderations.create"),
    # files, uploads, batches
    ("GET", "/files", "files.list"),
    ("POST", "/files", "files.create"),
    ("GET", "/files/{file_id}", "files.retrieve"),
    ("DELETE", "/files/{file_id}", "files.delete"),
    ("GET", "/files/{file_id}/content", "files.content"),
    ("POST", "/uploads", "uploads.create"),
    ("POST", "/uploads/{upload_id}/parts", "uploads.parts.create"),
    ("POST", "/uploads/{upload_id}/complete", "uploads.complete"),
    ("GET", "/batches", "batches.list"),
    ("POST", "/batches", "batches.create"),
    ("GET", "/batches/{batch_id}", "batches.retrieve"),
    ("POST", "/batches/{batch_id}/cancel", "batches.cancel"),
    # fine-tuning jobs
    ("GET", "/fine_tuning/jobs", "fine_tuning.jobs.list"),
    ("POST", "/fine_tuning/jobs", "fine_tuning.jobs.create"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}", "fine_tuning.jobs.retrieve"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel", "fine_tuning.jobs.cancel"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events", "fine_tuning.jobs.list_events"),
    # legacy (deprecated): fine-tunes, edits, engines
    ("GET", "/fine-tunes", "fine_tunes.list"),
    ("POST", "/fine-tunes", "fine_tunes.create"),
    ("GET", "/fine-tunes/{fine_tune_id}", "fine_tunes.retrieve"),
    ("POST", "/fine-tunes/{fine_tune_id}/cancel", "fine_tunes.cancel"),
    ("GET", "/fine-tunes/{fine_tune_id}/events", "fine_tunes.list_events"),
    ("POST", "/edits", "edits.create"),
    ("GET", "/engines", "engines.list"),
    ("GET", "/engines/{engine_id}", "engines.retrieve"),
    # assistants, threads, messages (v1)
    ("GET", "/assistants", "beta.assistants.list"),
    ("POST", "/assistants", "beta.assistants.create"),
    ("GET", "/assistants/{assistant_id}", "beta.assistants.retrieve"),
    ("POST", "/assistants/{assistant_id}", "beta.assistants.update"),
    ("DELETE", "/assistants/{assistant_id}", "beta.assistants.delete"),
    ("GET", "/assistants/{assistant_id}/files", "beta.assistants.files.list"),
    ("POST", "/assistants/{assistant_id}/files", "beta.assistants.files.create"),
    ("DELETE", "/assistants/{assistant_id}/files/{file_id}", "beta.assistants.files.delete"),
    ("POST", "/threads", "beta.threads.create"),
    ("GET", "/threads/{thread_id}", "beta.threads.retrieve"),
    ("POST", "/threads/{thread_id}", "beta.threads.update"),
    ("DELETE", "/threads/{thread_id}", "beta.threads.delete"),
    ("GET", "/threads/{thread_id}/messages", "beta.threads.messages.list"),
    ("POST", "/threads/{thread_id}/messages", "beta.threads.messages.create"),
    ("GET", "/threads/{thread_id}/messages/{message_id}", "beta.threads.messages.retrieve"),
    ("POST", "/threads/{thread_id}/messages/{message_id}", "beta.threads.messages.update"),
    ("GET", "/threads/{thread_id}/messages/{message_id}/files", "beta.threads.messages.files.list"),
    (
        "GET",
        "/threads/{thread_id}/messages/{message_id}/files/{file_id}",
        "beta.threads.messages.files.retrieve",
    ),
    # organization: invites, users, projects
    ("GET", "/organization/invites", "organization.invites.list"),
    ("POST", "/organization/invites", "organization.invites.create"),
    ("GET", "/organization/invites/{invite_id}", "organization.invites.retrieve"),
    ("DELETE", "/organization/invites/{invite_id}", "organization.invites.delete"),
    ("GET", "/organization/users", "organization.users.list"),
    ("GET", "/organization/users/{user_id}", "organization.users.retrieve"),
    ("POST", "/organization/users/{user_id}", "organization.users.update"),
    ("GET", "/organization/projects", "organization.projects.list"),
    ("POST", "/organization/projects", "organization.projects.create"),
    ("GET", "/organization/projects/{project_id}", "organization.projects.retrieve"),
    ("POST", "/organization/projects/{project_id}", "organization.projects.update"),
    ("POST", "/organization/projects/{project_id}/archive", "organization.projects.archive"),
    # organization: project users, service accounts, API keys, rate limits
    ("GET", "/organization/projects/{project_id}/users", "organization.projects.users.list"),
    ("POST", "/organization/projects/{project_id}/users", "organization.projects.users.create"),
    ("GET", "/organization/projects/{project_id}/users/{user_id}", "organization.projects.users.retrieve"),
    ("POST", "/organization/projects/{project_id}/users/{user_id}", "organization.projects.users.update"),
    ("DELETE", "/organization/projects/{project_id}/users/{user_id}", "organization.projects.users.delete"),
    (
        "GET",
        "/organization/projects/{project_id}/service_accounts",
        "organization.projects.service_accounts.list",
    ),
    (
        "POST",
        "/organization/projects/{project_id}/service_accounts",
        "organization.projects.service_accounts.create",
    ),
    (
        "GET",
        "/organization/projects/{project_id}/service_accounts/{service_account_id}",
        "organization.projects.service_accounts.retrieve",
    ),
    (
        "DELETE",
        "/organization/projects/{project_id}/service_accounts/{service_account_id}",
        "organization.projects.service_accounts.delete",
    ),
    ("GET", "/organization/projects/{project_id}/api_keys", "organization.projects.api_keys.list"),
    (
        "GET",
        "/organization/projects/{project_id}/api_keys/{key_id}",
        "organization.projects.api_keys.retrieve",
    ),
    (
        "DELETE",
        "/organization/projects/{project_id}/api_keys/{key_id}",
        "organization.projects.api_keys.delete",
    ),
    ("GET", "/organization/projects/{project_id}/rate_limits", "organization.projects.rate_limits.list"),
    (
        "POST",
        "/organization/projects/{project_id}/rate_limits/{rate_limit_id}",
        "organization.projects.rate_limits.update",
    ),
    # organization: audit logs, the nine usage/cost reports
    ("GET", "/organization/audit_logs", "organization.audit_logs.list"),
    ("GET", "/organization/usage/completions", "organization.usage.completions"),
    ("GET", "/organization/usage/embeddings", "organization.usage.embeddings"),
    ("GET", "/organization/usage/moderations", "organization.usage.moderations"),
    ("GET", "/organization/usage/images", "organization.usage.images"),
    ("GET", "/organization/usage/audio_speeches", "organization.usage.audio_speeches"),
    ("GET", "/organization/usage/audio_transcriptions", "organization.usage.audio_transcriptions"),
    ("GET", "/organization/usage/vector_stores", "organization.usage.vector_stores"),
    ("GET", "/organization/usage/code_interpreter_sessions", "organization.usage.code_interpreter_sessions"),
    ("GET", "/organization/costs", "organization.costs"),
]

#: operations openai-python (the installed `openai` package) has; the rest follow its style.
SDK_METHODS = [
    m
    for _v, _p, m in OPERATIONS
    if not m.startswith(("organization.", "fine_tunes.", "edits.", "engines.")) and ".files." not in m
]

DEPRECATED_PREFIXES = ("fine_tunes.", "edits.", "engines.")
ERROR_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "404": "NotFound",
    "429": "RateLimited",
    "500": "InternalServerError",
}


def _ops(spec_doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.upper(), p): op for p, m, op in iter_operations(spec_doc)}


def test_operation_table_has_92_distinct_entries() -> None:
    assert len(OPERATIONS) == 92
    assert len({(v, p) for v, p, _m in OPERATIONS}) == 92
    assert len({m for _v, _p, m in OPERATIONS}) == 92


def test_spec_has_exactly_the_operation_table(spec_doc: dict[str, Any]) -> None:
    ops = _ops(spec_doc)
    assert sorted(ops) == sorted((v, p) for v, p, _m in OPERATIONS)


@pytest.mark.parametrize(("verb", "path", "method"), OPERATIONS, ids=[m for _v, _p, m in OPERATIONS])
def test_operation_contract(spec_doc: dict[str, Any], verb: str, path: str, method: str) -> None:
    op = _ops(spec_doc)[(verb, path)]
    assert op["x-oairef-method"] == method
    assert re.fullmatch(r"[a-z][A-Za-z0-9]+", op["operationId"]), op["operationId"]
    assert len(op["tags"]) == 1 and op["tags"][0] in {t["name"] for t in spec_doc["tags"]}
    assert op["summary"].strip()
    codes = op["responses"]
    ok = [c for c in codes if c.startswith("2")]
    assert ok, "no 2xx response"
    assert codes[ok[0]]["content"], "2xx response without content"
    for code, name in ERROR_RESPONSES.items():
        assert codes[code] == {"$ref": f"#/components/responses/{name}"}
    # a body can be too large exactly when the operation takes one
    assert codes.get("413") == ({"$ref": "#/components/responses/PayloadTooLarge"} if "requestBody" in op else None)
    assert bool(op.get("deprecated")) == method.startswith(DEPRECATED_PREFIXES)
    # every {name} in the path is a declared path parameter
    item = spec_doc["paths"][path]
    params = [
        resolve_pointer(spec_doc, p["$ref"][1:]) if "$ref" in p else p
        for p in item.get("parameters", []) + op.get("parameters", [])
    ]
    declared = {p["name"] for p in params if p["in"] == "path"}
    assert declared == set(re.findall(r"\{(\w+)\}", path))
    if verb in ("POST",) and "requestBody" in op:
        assert set(op["requestBody"]["content"]) <= {"application/json", "multipart/form-data"}


def test_operation_ids_and_methods_unique(spec_doc: dict[str, Any]) -> None:
    ops = list(iter_operations(spec_doc))
    assert len({op["operationId"] for _p, _m, op in ops}) == len(ops) == 92
    assert len({op["x-oairef-method"] for _p, _m, op in ops}) == 92


def test_sdk_method_paths_exist_in_openai_python() -> None:
    """Where openai-python has the operation, the x-oairef-method is its exact attribute path."""
    client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert len(SDK_METHODS) == 43
    for dotted in SDK_METHODS:
        obj: Any = client
        for part in dotted.split("."):
            obj = getattr(obj, part)
        assert callable(obj), dotted


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/audio/transcriptions", "CreateTranscriptionRequest"),
        ("/audio/translations", "CreateTranslationRequest"),
        ("/images/edits", "CreateImageEditRequest"),
        ("/images/variations", "CreateImageVariationRequest"),
        ("/files", "CreateFileRequest"),
        ("/uploads/{upload_id}/parts", "AddUploadPartRequest"),
    ],
)
def test_uploads_are_multipart_with_binary_parts(spec_doc: dict[str, Any], path: str, schema: str) -> None:
    content = spec_doc["paths"][path]["post"]["requestBody"]["content"]
    assert list(content) == ["multipart/form-data"]
    assert content["multipart/form-data"]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
    props = spec_doc["components"]["schemas"][schema]["properties"]
    assert any(p.get("format") == "binary" for p in props.values())


@pytest.mark.parametrize(
    ("verb", "path", "chunk"),
    [
        ("post", "/completions", "CreateCompletionResponse"),
        ("post", "/chat/completions", "CreateChatCompletionStreamResponse"),
        ("get", "/fine-tunes/{fine_tune_id}/events", "FineTuneEvent"),
    ],
)
def test_streams_declare_event_stream(spec_doc: dict[str, Any], verb: str, path: str, chunk: str) -> None:
    content = spec_doc["paths"][path][verb]["responses"]["200"]["content"]
    assert "application/json" in content
    assert content["text/event-stream"]["schema"] == {"$ref": f"#/components/schemas/{chunk}"}


@pytest.mark.parametrize(
    ("path", "media"), [("/audio/speech", "audio/mpeg"), ("/files/{file_id}/content", None)]
)
def test_binary_responses(spec_doc: dict[str, Any], path: str, media: str | None) -> None:
    verb = "post" if path == "/audio/speech" else "get"
    content = spec_doc["paths"][path][verb]["responses"]["200"]["content"]
    assert content["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    if media:
        assert content[media]["schema"]["format"] == "binary"


def test_cursor_lists_have_pagination(spec_doc: dict[str, Any]) -> None:
    """List operations with cursors take limit/after and answer {object: list, data, has_more}."""
    checked = 0
    for path, verb, op in iter_operations(spec_doc):
        method = op["x-oairef-method"]
        if (
            verb != "get"
            or not method.endswith((".list", ".list_events"))
            or method.startswith(DEPRECATED_PREFIXES)
        ):
            continue
        if path == "/models":  # the models list is not paginated
            continue
        names = {
            resolve_pointer(spec_doc, p["$ref"][1:])["name"] if "$ref" in p else p["name"]
            for p in op.get("parameters", [])
        }
        assert {"limit", "after"} <= names, path
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        schema = resolve_pointer(spec_doc, ref[1:])
        assert schema["properties"]["object"]["enum"] == ["list"], path
        assert {"data", "has_more"} <= set(schema["properties"]), path
        checked += 1
    assert checked == 16
