"""Property-based requests generated from ``spec/openai.yaml`` (schemathesis) never make the reference
provider answer 5xx; errors keep OpenAI's shape and successes validate against the response models.

Bounded: ``MAX_EXAMPLES`` valid and as many invalid bodies per operation; generation is capped at a
few tokens per choice so the run stays short.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from server_support import serve

from generated import models as gm

SPEC = Path(__file__).resolve().parents[2] / "spec" / "openai.yaml"
MAX_EXAMPLES = 30
MAX_TOKENS_CAP = 6
OPERATIONS = {"/completions": gm.CreateCompletionResponse, "/chat/completions": gm.CreateChatCompletionResponse}
STREAM_MODELS = {"/completions": gm.CreateCompletionResponse,
                 "/chat/completions": gm.CreateChatCompletionStreamResponse}

schema = schemathesis.openapi.from_path(SPEC)
_COMPONENTS = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
REQUEST_FIELDS = {"/completions": set(_COMPONENTS["CreateCompletionRequest"]["properties"]),
                  "/chat/completions": set(_COMPONENTS["CreateChatCompletionRequest"]["properties"])}
MESSAGE_FIELDS = {"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "function_call"}
PART_FIELDS = {"type", "text", "image_url", "refusal"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve()


def _known_only(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Drop properties the spec does not name. The spec leaves ``additionalProperties`` open, so
    schemathesis adds random keys to "valid" bodies; the provider (like OpenAI) rejects unknown
    parameters, which would turn nearly every positive example into a 400."""
    out = {k: v for k, v in body.items() if k in REQUEST_FIELDS[path]}
    if isinstance(out.get("messages"), list):
        msgs = []
        for m in out["messages"]:
            if isinstance(m, dict):
                m = {k: v for k, v in m.items() if k in MESSAGE_FIELDS}
                if isinstance(m.get("content"), list):
                    m["content"] = [{k: v for k, v in p.items() if k in PART_FIELDS} if isinstance(p, dict) else p
                                    for p in m["content"]]
            msgs.append(m)
        out["messages"] = msgs
    return out


def _bounded(path: str, body: Any, use_served_model: bool, positive: bool) -> Any:
    """Point most bodies at the served model (else nearly all would be 404s) and cap token counts."""
    if not isinstance(body, dict):
        return body
    body = _known_only(path, body) if positive else dict(body)
    if use_served_model:
        body["model"] = "tiny"
    for key in ("max_tokens", "max_completion_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and MAX_TOKENS_CAP < v <= 10**4:
            body[key] = MAX_TOKENS_CAP
    if "messages" in body and body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_completion_tokens"] = MAX_TOKENS_CAP
    return body


def _check(path: str, case: Any, response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code} for {case.body!r}: {response.text[:500]}"
    ctype = response.headers.get("content-type") or ""
    ctype = ctype[0] if isinstance(ctype, list) else ctype  # schemathesis keeps every header value
    if response.status_code >= 400:
        gm.ErrorResponse.model_validate(response.json())
        return
    if ctype.startswith("text/event-stream"):
        events = [ln[6:] for ln in response.text.splitlines() if ln.startswith("data: ")]
        assert events and events[-1] == "[DONE]", response.text[-300:]
        for e in events[:-1]:
            payload = json.loads(e)
            assert "error" not in payload, payload
            STREAM_MODELS[path].model_validate(payload)
    else:
        OPERATIONS[path].model_validate(response.json())


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_generated_requests_never_5xx(server: tuple[str, Any], path: str, mode: GenerationMode) -> None:
    url, _ = server
    op = schema[path]["POST"]

    @given(case=op.as_strategy(generation_mode=mode), served=st.integers(0, 3))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any, served: int) -> None:
        case.body = _bounded(path, case.body, served > 0, mode == GenerationMode.POSITIVE)
        response = case.call(base_url=url, timeout=60)
        _check(path, case, response)

    run()
