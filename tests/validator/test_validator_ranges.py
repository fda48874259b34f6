"""The validator's range matrix comes from the spec: every bound in spec/openai.yaml, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from validator import ranges
from validator.checks.errors import _cases

SPEC = Path(__file__).resolve().parents[2] / "spec" / "openai.yaml"


def _spec_bounds(schema_name: str) -> dict[str, tuple[Any, Any]]:
    """(minimum, maximum) of every top-level property of ``schema_name`` with one, read from the YAML."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    props = spec["components"]["schemas"][schema_name]["properties"]
    out = {}
    for name, prop in props.items():
        if "minimum" in prop or "maximum" in prop:
            out[name] = (prop.get("minimum"), prop.get("maximum"))
    return out


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_numeric_bounds_are_the_spec_s(endpoint: str) -> None:
    want = _spec_bounds(ranges.REQUEST_SCHEMAS[endpoint])
    got = {k: (b.minimum, b.maximum) for k, b in ranges.numeric_bounds(endpoint).items()}
    assert got == want


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_every_bound_has_a_case_inside_and_outside(endpoint: str) -> None:
    cases = _cases(endpoint)
    for param, (lo, hi) in _spec_bounds(ranges.REQUEST_SCHEMAS[endpoint]).items():
        values = {(fields[param], inside) for p, fields, inside in cases if p == param}
        for edge in (lo, hi):
            if edge is None:
                continue
            assert (edge, True) in values, (param, edge)
            assert any(not inside and (v < lo if lo is not None and v < edge else v > edge)
                       for v, inside in values), (param, edge)


def test_top_logprobs_carries_the_field_the_spec_rules_require() -> None:
    assert ranges.companions("chat", "top_logprobs") == {"logprobs": True}
    rows = [fields for p, fields, _ in _cases("chat") if p == "top_logprobs"]
    assert rows and all(f["logprobs"] is True for f in rows)


def test_logit_bias_and_stop_limits_are_the_spec_s() -> None:
    schemas = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]
    (stop_max,) = [alt["maxItems"] for alt in schemas["StopConfiguration"]["oneOf"] if "maxItems" in alt]
    (values,) = [alt["additionalProperties"] for alt in schemas["LogitBias"]["anyOf"] if "additionalProperties" in alt]
    for ep in ("completions", "chat"):
        assert ranges.max_stop_strings(ep) == stop_max
        b = ranges.logit_bias_bound(ep)
        assert (b.minimum, b.maximum) == (values["minimum"], values["maximum"])
        stops = [(len(f["stop"]), inside) for p, f, inside in _cases(ep) if p == "stop"]
        assert sorted(stops) == [(stop_max, True), (stop_max + 1, False)]


def test_bound_arithmetic() -> None:
    b = ranges.Bound("x", 0, 2, integer=False)
    assert b.inside() == [0, 2] and b.outside() == [-0.01, 2.01]
    i = ranges.Bound("n", 1, None, integer=True, exclusive_min=True)
    assert i.inside() == [2] and i.outside() == [1] and i.contains(2) and not i.contains(1)
    with pytest.raises(KeyError, match="no numeric range"):
        ranges.bound("chat", "seed")


def test_the_validator_reads_the_same_logprobs_modes_as_the_sampler() -> None:
    """The validator keeps its own copy (it never imports the sampler); both read SEMANTICS.md."""
    from sampler.params import LOGPROBS_MODES as sampler_modes
    from validator.rules import LOGPROBS_MODES as validator_modes

    assert validator_modes == sampler_modes
