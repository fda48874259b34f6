"""Property-based requests generated from ``spec/openai.yaml`` (schemathesis) against every operation the
reference provider serves: schemathesis' own ``not_a_server_error``, ``status_code_conformance`` and
``response_schema_conformance`` checks hold, errors keep OpenAI's shape, and successes (streamed ones
chunk by chunk) validate against the generated response models.

The server answers to every model name the spec enumerates (``--served-model-name``), and three cases
in four are pinned to one of them, so generated requests reach the sampler instead of stopping at a
404 (the test holds that valid ones are answered 200, and that 404s stay a minority; runs here answer
5-16 of 30 valid cases with 200, the others mostly 400 for integers written ``1.0``, which the
provider's strict request models refuse by design). Bounded: ``MAX_EXAMPLES`` valid
and as many invalid cases per generation operation, ``MODELS_EXAMPLES`` per models operation, a fixed
seed (derandomized), generation capped at a few tokens per choice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from server_support import serve

from generated import models as gm

SPEC = Path(__file__).resolve().parents[2] / "spec" / "openai.yaml"
MAX_EXAMPLES = 30
MODELS_EXAMPLES = 15
MAX_TOKENS_CAP = 6
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_path(SPEC)
_COMPONENTS = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
REQUEST_FIELDS = {"/completions": set(_COMPONENTS["CreateCompletionRequest"]["properties"]),
                  "/chat/completions": set(_COMPONENTS["CreateChatCompletionRequest"]["properties"])}
#: Every model name the spec enumerates for completions and chat: the server answers to all of them.
SERVED = tuple(name for req in ("CreateCompletionRequest", "CreateChatCompletionRequest")
               for branch in _COMPONENTS[req]["properties"]["model"]["anyOf"] for name in branch.get("enum", []))
MESSAGE_FIELDS = {"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "function_call"}
PART_FIELDS = {"type", "text", "image_url", "refusal"}
#: Each served operation: the generated model its JSON success validates against, and its stream's.
OPERATIONS: dict[tuple[str, str], tuple[type[Any], type[Any] | None]] = {
    ("POST", "/completions"): (gm.CreateCompletionResponse, gm.CreateCompletionResponse),
    ("POST", "/chat/completions"): (gm.CreateChatCompletionResponse, gm.CreateChatCompletionStreamResponse),
    ("GET", "/models"): (gm.ListModelsResponse, None),
    ("GET", "/models/{model}"): (gm.Model, None),
    ("DELETE", "/models/{model}"): (gm.DeleteModelResponse, None),
}
#: Statuses answered and seconds spent per test; summarised at the end of the module (pytest -s).
TALLY: dict[str, tuple[Counter[int], float]] = {}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    yield from serve(served_model_names=SERVED)
    if TALLY:
        total = sum(sum(c.values()) for c, _ in TALLY.values())
        print(f"\nschemathesis: {total} cases in {sum(s for _, s in TALLY.values()):.1f} s; "
              + "; ".join(f"{k}: {dict(c)} ({s:.1f} s)" for k, (c, s) in TALLY.items()))


def test_served_names_come_from_the_spec() -> None:
    assert "gpt-3.5-turbo-instruct" in SERVED and "gpt-4o-mini" in SERVED and len(set(SERVED)) == len(SERVED)


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


def _bounded(path: str, body: Any, model: str | None, positive: bool) -> Any:
    """Pin the body to a served model (``None``: keep the generated one) and cap token counts."""
    if not isinstance(body, dict):
        return body
    body = _known_only(path, body) if positive else dict(body)
    if model is not None:
        body["model"] = model
    for key in ("max_tokens", "max_completion_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and MAX_TOKENS_CAP < v <= 10**4:
            body[key] = MAX_TOKENS_CAP
    if "messages" in body and body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_completion_tokens"] = MAX_TOKENS_CAP
    return body


def _check_body(method: str, path: str, response: Any) -> None:
    """Beyond schemathesis' checks: errors in OpenAI's shape, streams chunk by chunk, no 5xx."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    ctype = response.headers.get("content-type") or ""
    ctype = ctype[0] if isinstance(ctype, list) else ctype  # schemathesis keeps every header value
    if response.status_code >= 400:
        gm.ErrorResponse.model_validate(response.json())
        return
    json_model, stream_model = OPERATIONS[(method, path)]
    if ctype.startswith("text/event-stream"):
        assert stream_model is not None
        events = [ln[6:] for ln in response.text.splitlines() if ln.startswith("data: ")]
        assert events and events[-1] == "[DONE]", response.text[-300:]
        for e in events[:-1]:
            payload = json.loads(e)
            assert "error" not in payload, payload
            stream_model.model_validate(payload)
    else:
        json_model.model_validate(response.json())


def _run(server: tuple[str, Any], method: str, path: str, mode: GenerationMode, examples: int,
         prepare: Callable[[Any, str | None], None]) -> Counter[int]:
    """Run ``examples`` generated cases of one operation; the statuses answered."""
    url, _ = server
    op = schema[path][method]
    statuses: Counter[int] = Counter()
    start = time.monotonic()

    @given(case=op.as_strategy(generation_mode=mode), pick=st.integers(0, 4 * len(SERVED) - 1))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any, pick: int) -> None:
        # three cases in four go to a served name; the fourth keeps what schemathesis generated
        prepare(case, SERVED[pick % len(SERVED)] if pick < 3 * len(SERVED) else None)
        response = case.call(base_url=url, timeout=60)
        statuses[response.status_code] += 1
        _check_body(method, path, response)
        case.validate_response(response, checks=CHECKS)

    run()
    TALLY[f"{method} {path} {mode.value}"] = (statuses, time.monotonic() - start)
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/completions", "/chat/completions"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_generation_operations(server: tuple[str, Any], path: str, mode: GenerationMode) -> None:
    def prepare(case: Any, model: str | None) -> None:
        case.body = _bounded(path, case.body, model, mode == GenerationMode.POSITIVE)

    statuses = _run(server, "POST", path, mode, MAX_EXAMPLES, prepare)
    if mode == GenerationMode.POSITIVE:  # pinned to served names, valid requests reach the sampler
        assert statuses[200] >= 1 and statuses[404] < MAX_EXAMPLES // 2, statuses


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [("GET", "/models"), ("GET", "/models/{model}"),
                                              ("DELETE", "/models/{model}")])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_models_operations(server: tuple[str, Any], method: str, path: str, mode: GenerationMode) -> None:
    def prepare(case: Any, model: str | None) -> None:
        if model is not None and "{model}" in path and isinstance(case.path_parameters, dict):
            case.path_parameters["model"] = model

    statuses = _run(server, method, path, mode, MODELS_EXAMPLES, prepare)
    assert sum(statuses.values()) > 0
