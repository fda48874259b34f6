"""Every field the seed pages document is in the spec, under the same name, request and response.

The sets below are transcribed from ../shared/seeds/ (the Japanese completions page and the
Chinese reference page); the spec may carry more fields (from the API reference of the same era)
but never fewer, and the required ones are required.
"""

from __future__ import annotations

from typing import Any

import pytest

from codegen.spec import resolve_pointer

SEED_FIELDS: list[tuple[str, set[str], set[str]]] = [
    # (schema, documented fields, of which required)
    (
        "CreateCompletionRequest",
        {
            "model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream", "logprobs",
            "echo", "stop", "presence_penalty", "frequency_penalty", "best_of", "logit_bias", "user",
        },
        {"model", "prompt"},
    ),
    ("CreateCompletionResponse", {"id", "object", "created", "model", "choices", "usage"}, {"id", "object", "created", "model", "choices"}),
    ("CompletionUsage", {"prompt_tokens", "completion_tokens", "total_tokens"}, {"prompt_tokens", "completion_tokens", "total_tokens"}),
    (
        "CreateChatCompletionRequest",
        {
            "model", "messages", "temperature", "top_p", "n", "stream", "stop", "max_tokens",
            "presence_penalty", "frequency_penalty", "logit_bias", "user",
        },
        {"model", "messages"},
    ),
    ("CreateEditRequest", {"model", "input", "instruction", "n", "temperature", "top_p"}, {"model", "instruction"}),
    ("CreateImageRequest", {"prompt", "n", "size", "response_format", "user"}, {"prompt"}),
    ("CreateImageEditRequest", {"image", "mask", "prompt", "n", "size", "response_format", "user"}, {"image", "prompt"}),
    ("CreateImageVariationRequest", {"image", "n", "size", "response_format", "user"}, {"image"}),
    ("CreateEmbeddingRequest", {"model", "input", "user"}, {"model", "input"}),
    (
        "CreateTranscriptionRequest",
        {"file", "model", "prompt", "response_format", "temperature", "language"},
        {"file", "model"},
    ),
    ("CreateTranslationRequest", {"file", "model", "prompt", "response_format", "temperature"}, {"file", "model"}),
    ("CreateFileRequest", {"file", "purpose"}, {"file", "purpose"}),
    (
        "CreateFineTuneRequest",
        {
            "training_file", "validation_file", "model", "n_epochs", "batch_size", "learning_rate_multiplier",
            "prompt_loss_weight", "compute_classification_metrics", "classification_n_classes",
            "classification_positive_class", "classification_betas", "suffix",
        },
        {"training_file"},
    ),
    ("CreateModerationRequest", {"input", "model"}, {"input"}),
]  # fmt: skip


@pytest.mark.parametrize(("schema", "fields", "required"), SEED_FIELDS, ids=[s for s, _f, _r in SEED_FIELDS])
def test_seed_fields_present(
    schemas: dict[str, Any], schema: str, fields: set[str], required: set[str]
) -> None:
    node = schemas[schema]
    assert fields <= set(node["properties"]), sorted(fields - set(node["properties"]))
    assert set(node.get("required", [])) & fields == required


def test_completion_choice_fields(schemas: dict[str, Any]) -> None:
    choice = schemas["CreateCompletionResponse"]["properties"]["choices"]["items"]
    assert set(choice["properties"]) == {"text", "index", "logprobs", "finish_reason"}


def test_seed_path_parameters(spec_doc: dict[str, Any]) -> None:
    """The path parameter names the seed gives: model, file_id, fine_tune_id, engine_id."""

    def names(path: str) -> set[str]:
        params = spec_doc["paths"][path].get("parameters", [])
        return {(resolve_pointer(spec_doc, p["$ref"][1:]) if "$ref" in p else p)["name"] for p in params}

    assert names("/models/{model}") == {"model"}
    assert names("/files/{file_id}") == {"file_id"}
    assert names("/files/{file_id}/content") == {"file_id"}
    assert names("/fine-tunes/{fine_tune_id}") == {"fine_tune_id"}
    assert names("/engines/{engine_id}") == {"engine_id"}
    events = spec_doc["paths"]["/fine-tunes/{fine_tune_id}/events"]["get"]["parameters"]
    assert events == [
        {
            "name": "stream",
            "in": "query",
            "required": False,
            "description": events[0]["description"],
            "schema": {"type": "boolean", "default": False},
        }
    ]
