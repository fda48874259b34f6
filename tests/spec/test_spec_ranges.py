"""The documented ranges, defaults, length limits and enums, one table row per rule.

Each row is (schema, dotted property path, JSON-schema keyword, expected value) and reads like
the sentence in the docs it transcribes ("temperature: between 0 and 2, defaults to 1").
`$ref`s along the path are followed, and `anyOf`/`oneOf` members are searched for the keyword.
"""

from __future__ import annotations

from typing import Any

import pytest

from codegen.spec import resolve_pointer

CMPL = "CreateCompletionRequest"
CHAT = "CreateChatCompletionRequest"

RANGES: list[tuple[str, str, str, Any]] = [
    # completions sampling parameters
    (CMPL, "temperature", "minimum", 0),
    (CMPL, "temperature", "maximum", 2),
    (CMPL, "temperature", "default", 1),
    (CMPL, "top_p", "minimum", 0),
    (CMPL, "top_p", "maximum", 1),
    (CMPL, "top_p", "default", 1),
    (CMPL, "n", "minimum", 1),
    (CMPL, "n", "maximum", 128),
    (CMPL, "n", "default", 1),
    (CMPL, "best_of", "minimum", 1),
    (CMPL, "best_of", "maximum", 20),
    (CMPL, "logprobs", "minimum", 0),
    (CMPL, "logprobs", "maximum", 5),
    (CMPL, "logprobs", "default", None),
    (CMPL, "presence_penalty", "minimum", -2),
    (CMPL, "presence_penalty", "maximum", 2),
    (CMPL, "presence_penalty", "default", 0),
    (CMPL, "frequency_penalty", "minimum", -2),
    (CMPL, "frequency_penalty", "maximum", 2),
    (CMPL, "frequency_penalty", "default", 0),
    (CMPL, "max_tokens", "default", 16),
    (CMPL, "max_tokens", "minimum", 0),
    (CMPL, "echo", "default", False),
    (CMPL, "stream", "default", False),
    (CMPL, "suffix", "default", None),
    (CMPL, "stop", "maxItems", 4),
    (CMPL, "stop", "default", None),
    (CMPL, "logit_bias", "default", None),
    (CMPL, "logit_bias.*", "minimum", -100),
    (CMPL, "logit_bias.*", "maximum", 100),
    (CMPL, "stream_options.include_usage", "type", "boolean"),
    (CMPL, "seed", "type", ["integer", "null"]),
    (CMPL, "user", "type", "string"),
    # chat sampling parameters
    (CHAT, "temperature", "minimum", 0),
    (CHAT, "temperature", "maximum", 2),
    (CHAT, "temperature", "default", 1),
    (CHAT, "top_p", "minimum", 0),
    (CHAT, "top_p", "maximum", 1),
    (CHAT, "top_p", "default", 1),
    (CHAT, "n", "minimum", 1),
    (CHAT, "n", "maximum", 128),
    (CHAT, "n", "default", 1),
    (CHAT, "presence_penalty", "minimum", -2),
    (CHAT, "presence_penalty", "maximum", 2),
    (CHAT, "presence_penalty", "default", 0),
    (CHAT, "frequency_penalty", "minimum", -2),
    (CHAT, "frequency_penalty", "maximum", 2),
    (CHAT, "frequency_penalty", "default", 0),
    (CHAT, "logprobs", "default", False),
    (CHAT, "top_logprobs", "minimum", 0),
    (CHAT, "top_logprobs", "maximum", 20),
    (CHAT, "stop", "maxItems", 4),
    (CHAT, "stream", "default", False),
    (CHAT, "logit_bias.*", "minimum", -100),
    (CHAT, "logit_bias.*", "maximum", 100),
    (CHAT, "stream_options.include_usage", "type", "boolean"),
    (CHAT, "messages", "minItems", 1),
    # legacy edits
    ("CreateEditRequest", "temperature", "maximum", 2),
    ("CreateEditRequest", "top_p", "maximum", 1),
    ("CreateEditRequest", "n", "default", 1),
    ("CreateEditRequest", "input", "default", ""),
    # images
    ("CreateImageRequest", "prompt", "maxLength", 1000),
    ("CreateImageRequest", "n", "minimum", 1),
    ("CreateImageRequest", "n", "maximum", 10),
    ("CreateImageRequest", "n", "default", 1),
    ("CreateImageRequest", "size", "default", "1024x1024"),
    (
        "CreateImageRequest",
        "size",
        "enum",
        ["256x256", "512x512", "1024x1024", "1792x1024", "1024x1792", None],
    ),
    ("CreateImageRequest", "response_format", "enum", ["url", "b64_json", None]),
    ("CreateImageRequest", "response_format", "default", "url"),
    ("CreateImageEditRequest", "prompt", "maxLength", 1000),
    ("CreateImageEditRequest", "n", "maximum", 10),
    ("CreateImageEditRequest", "size", "enum", ["256x256", "512x512", "1024x1024", None]),
    ("CreateImageEditRequest", "image", "format", "binary"),
    ("CreateImageVariationRequest", "n", "minimum", 1),
    ("CreateImageVariationRequest", "n", "maximum", 10),
    ("CreateImageVariationRequest", "size", "default", "1024x1024"),
    ("CreateImageVariationRequest", "response_format", "default", "url"),
    # audio
    ("CreateTranscriptionRequest", "response_format", "enum", ["json", "text", "srt", "verbose_json", "vtt"]),
    ("CreateTranscriptionRequest", "response_format", "default", "json"),
    ("CreateTranscriptionRequest", "temperature", "minimum", 0),
    ("CreateTranscriptionRequest", "temperature", "maximum", 1),
    ("CreateTranscriptionRequest", "temperature", "default", 0),
    ("CreateTranslationRequest", "response_format", "enum", ["json", "text", "srt", "verbose_json", "vtt"]),
    ("CreateTranslationRequest", "temperature", "default", 0),
    ("CreateSpeechRequest", "response_format", "enum", ["mp3", "opus", "aac", "flac", "wav", "pcm"]),
    ("CreateSpeechRequest", "voice", "enum", ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]),
    ("CreateSpeechRequest", "speed", "minimum", 0.25),
    ("CreateSpeechRequest", "speed", "maximum", 4),
    ("CreateSpeechRequest", "input", "maxLength", 4096),
    # files, embeddings, moderations
    ("CreateFileRequest", "purpose", "enum", ["assistants", "batch", "fine-tune", "vision"]),
    ("CreateUploadRequest", "purpose", "enum", ["assistants", "batch", "fine-tune", "vision"]),
    ("CreateEmbeddingRequest", "encoding_format", "enum", ["float", "base64"]),
    ("CreateModerationRequest", "model", "default", "text-moderation-latest"),
    ("CreateBatchRequest", "completion_window", "enum", ["24h"]),
    # fine-tuning
    ("CreateFineTuneRequest", "suffix", "maxLength", 40),
    ("CreateFineTuneRequest", "n_epochs", "default", 4),
    ("CreateFineTuneRequest", "model", "default", "curie"),
    ("CreateFineTuneRequest", "prompt_loss_weight", "default", 0.01),
    ("CreateFineTuneRequest", "compute_classification_metrics", "default", False),
    ("CreateFineTuningJobRequest", "suffix", "maxLength", 64),
    ("CreateFineTuningJobRequest", "hyperparameters.n_epochs", "maximum", 50),
    ("CreateFineTuningJobRequest", "hyperparameters.batch_size", "maximum", 256),
    # assistants (v1)
    ("CreateAssistantRequest", "name", "maxLength", 256),
    ("CreateAssistantRequest", "description", "maxLength", 512),
    ("CreateAssistantRequest", "instructions", "maxLength", 32768),
    ("CreateAssistantRequest", "tools", "maxItems", 128),
    ("CreateAssistantRequest", "file_ids", "maxItems", 20),
    ("CreateMessageRequest", "file_ids", "maxItems", 10),
    ("CreateMessageRequest", "role", "enum", ["user"]),
]

_MISSING = object()


def _deref(doc: dict[str, Any], node: Any) -> Any:
    for _ in range(16):
        if isinstance(node, dict) and "$ref" in node:
            node = resolve_pointer(doc, node["$ref"][1:])
        else:
            return node
    raise AssertionError("reference loop")


def _candidates(doc: dict[str, Any], node: Any) -> list[dict[str, Any]]:
    """The node and, recursively, its anyOf/oneOf members (each dereferenced)."""
    node = _deref(doc, node)
    out = [node]
    for key in ("anyOf", "oneOf"):
        for member in node.get(key, []):
            out.extend(_candidates(doc, member))
    return out


def _lookup(doc: dict[str, Any], schema: str, path: str, keyword: str) -> Any:
    nodes = [doc["components"]["schemas"][schema]]
    for part in path.split("."):
        nxt = []
        for cand in (c for n in nodes for c in _candidates(doc, n)):
            if part == "*" and isinstance(cand.get("additionalProperties"), dict):
                nxt.append(cand["additionalProperties"])
            elif part in cand.get("properties", {}):
                nxt.append(cand["properties"][part])
        assert nxt, f"{schema}.{path}: no property {part!r}"
        nodes = nxt
    for node in nodes:
        for cand in _candidates(doc, node):
            if keyword in cand:
                return cand[keyword]
    return _MISSING


@pytest.mark.parametrize(("schema", "path", "keyword", "expected"), RANGES, ids=lambda v: str(v))
def test_documented_range(
    spec_doc: dict[str, Any], schema: str, path: str, keyword: str, expected: Any
) -> None:
    found = _lookup(spec_doc, schema, path, keyword)
    assert found is not _MISSING, f"{schema}.{path} has no {keyword}"
    assert found == expected
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert type(found) in (int, float)


def test_best_of_has_no_schema_default(schemas: dict[str, Any]) -> None:
    """best_of defaults to n: a fixed default of 1 would make the best_of >= n rule reject n > 1."""
    assert "default" not in schemas[CMPL]["properties"]["best_of"]


def test_completion_logprobs_object_fields(schemas: dict[str, Any]) -> None:
    props = schemas["CompletionLogprobs"]["properties"]
    assert set(props) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}
    assert props["text_offset"]["items"] == {"type": "integer"}


def test_chat_logprobs_object_fields(schemas: dict[str, Any]) -> None:
    token = schemas["ChatCompletionTokenLogprob"]
    assert set(token["required"]) == {"token", "logprob", "bytes", "top_logprobs"}
    assert token["properties"]["top_logprobs"]["items"] == {
        "$ref": "#/components/schemas/ChatCompletionTopLogprob"
    }
    assert set(schemas["ChatCompletionTopLogprob"]["required"]) == {"token", "logprob", "bytes"}
    assert schemas["ChatCompletionChoiceLogprobs"]["properties"]["content"]["items"] == {
        "$ref": "#/components/schemas/ChatCompletionTokenLogprob"
    }


def test_chat_message_roles(spec_doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    mapping = schemas["ChatCompletionRequestMessage"]["discriminator"]["mapping"]
    assert set(mapping) == {"system", "user", "assistant", "tool", "function"}
    for role, ref in mapping.items():
        assert resolve_pointer(spec_doc, ref[1:])["properties"]["role"]["enum"] == [role]


@pytest.mark.parametrize(
    ("schema", "obj", "finish"),
    [
        ("CreateCompletionResponse", "text_completion", {"stop", "length", "content_filter", None}),
        (
            "CreateChatCompletionResponse",
            "chat.completion",
            {"stop", "length", "tool_calls", "content_filter", "function_call"},
        ),
        (
            "CreateChatCompletionStreamResponse",
            "chat.completion.chunk",
            {"stop", "length", "tool_calls", "content_filter", "function_call", None},
        ),
    ],
)
def test_response_object_and_finish_reasons(
    schemas: dict[str, Any], schema: str, obj: str, finish: set[Any]
) -> None:
    props = schemas[schema]["properties"]
    assert props["object"]["enum"] == [obj]
    assert set(props["choices"]["items"]["properties"]["finish_reason"]["enum"]) == finish
    assert {"id", "created", "model", "choices"} <= set(schemas[schema]["required"])
