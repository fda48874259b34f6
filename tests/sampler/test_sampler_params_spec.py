"""SamplingParams' ranges equal spec/openai.yaml's, so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sampler.params import MAX_STOP, MIN_MAX_TOKENS, RANGES

SPEC = Path(__file__).resolve().parents[2] / "spec" / "openai.yaml"


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.fail(f"{SPEC} is missing: the spec must exist for its ranges to be compared")
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]


def _resolve(schemas: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _bounds(schemas: dict[str, Any], node: dict[str, Any]) -> tuple[float | None, float | None]:
    """minimum/maximum of a property, looking through $ref and anyOf/oneOf variants."""
    node = _resolve(schemas, node)
    lo, hi = node.get("minimum"), node.get("maximum")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            slo, shi = _bounds(schemas, sub)
            lo = slo if lo is None else lo
            hi = shi if hi is None else hi
    return lo, hi


COMPLETION = ["temperature", "top_p", "presence_penalty", "frequency_penalty", "n", "best_of", "logprobs"]
CHAT = ["temperature", "top_p", "presence_penalty", "frequency_penalty", "n", "top_logprobs"]


@pytest.mark.parametrize(
    ("schema", "param"),
    [("CreateCompletionRequest", p) for p in COMPLETION] + [("CreateChatCompletionRequest", p) for p in CHAT],
)
def test_numeric_ranges_match_spec(schemas: dict[str, Any], schema: str, param: str) -> None:
    prop = schemas[schema]["properties"][param]
    assert _bounds(schemas, prop) == pytest.approx(RANGES[param]), f"{schema}.{param}"


@pytest.mark.parametrize("schema", ["CreateCompletionRequest", "CreateChatCompletionRequest"])
def test_logit_bias_stop_and_max_tokens_match_spec(schemas: dict[str, Any], schema: str) -> None:
    props = schemas[schema]["properties"]
    bias = _resolve(schemas, props["logit_bias"])
    values = bias.get("additionalProperties")
    if values is None:
        for sub in bias.get("anyOf", []) + bias.get("oneOf", []):
            values = _resolve(schemas, sub).get("additionalProperties") or values
    assert isinstance(values, dict)
    assert _bounds(schemas, values) == pytest.approx(RANGES["logit_bias"])
    stop = _resolve(schemas, props["stop"])
    max_items = [_resolve(schemas, s).get("maxItems") for s in stop.get("oneOf", []) + stop.get("anyOf", [])]
    max_items.append(stop.get("maxItems"))
    assert MAX_STOP in max_items
    assert _bounds(schemas, props["max_tokens"])[0] == MIN_MAX_TOKENS
