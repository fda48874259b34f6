"""Reports: target arithmetic, schema strictness, Markdown content, absent peers reported."""

from __future__ import annotations

from typing import Any

import jsonschema
import numpy as np
import pytest

from benchmarks.configs import StepInputs
from benchmarks.report import markdown, targets, to_document
from benchmarks.runner import RunOutput, Settings, run_plan
from benchmarks.schema import BENCH_SCHEMA


def _row(impl: str, config: str, batch: int, median: float, shape: str = "gaussian", **kw: Any) -> dict[str, Any]:
    return {"impl": impl, "config": config, "vocab": 128_256, "batch": batch, "shape": shape,
            "median_s": median, "iqr_s": 0.0, "roofline_s": 1e-4, "status": "ok", "note": "", **kw}


def test_targets_compute_ratios_and_verdicts() -> None:
    rows = [
        _row("oairef-numba", "top_p", 1, 1e-3, cpu_s=1e-3),
        _row("numpy-textbook", "top_p", 1, 12e-3),
        _row("llama.cpp", "top_p", 1, 1.5e-3),
        _row("oairef-numba", "top_p", 32, 16e-3, cpu_s=30e-3),
    ]
    got = {t["target"]: t for t in targets(rows)}
    assert got["speed-up over numpy-textbook (B=1)"]["value"] == pytest.approx(12.0)
    assert got["speed-up over numpy-textbook (B=1)"]["met"] is True
    assert got["speed-up over llama.cpp (B=1)"]["value"] == pytest.approx(1.5)
    assert got["speed-up over llama.cpp (B=1)"]["met"] is False
    assert got["time / roofline (B=1)"]["value"] == pytest.approx(10.0)
    assert got["time / roofline (B=1)"]["met"] is False
    batch = got["B=32 throughput / B=1 throughput"]
    assert batch["value"] == pytest.approx(2.0) and batch["met"] is True
    assert batch["per_cpu_second_ratio"] == pytest.approx(32 * 1e-3 / 30e-3)


def test_targets_skip_what_was_not_measured() -> None:
    rows = [_row("oairef-numba", "top_p", 1, 1e-3), _row("numpy-textbook", "top_p", 1, None, status="absent", note="x")]
    names = [t["target"] for t in targets(rows)]
    assert names == ["time / roofline (B=1)"]


def test_schema_rejects_rows_without_numbers_or_reasons() -> None:
    doc = {"machine": {"cpu": "x", "cores": 2, "python": "3", "numpy": "2"}, "results": [_row("a", "full", 1, 1e-3)]}
    jsonschema.validate(doc, BENCH_SCHEMA)
    bad_ok = {**doc, "results": [_row("a", "full", 1, None)]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_ok, BENCH_SCHEMA)
    bad_absent = {**doc, "results": [_row("a", "full", 1, None, status="absent", note="")]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_absent, BENCH_SCHEMA)
    bad_config = {**doc, "results": [_row("a", "nucleus", 1, 1e-3)]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_config, BENCH_SCHEMA)


class _Missing:
    """An implementation whose package is not installed."""

    name = "not-installed"

    def unavailable(self) -> str | None:
        return "package frobnicate not installed"

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs):  # noqa: ANN201 - never called
        raise AssertionError("an absent implementation must not be prepared")


class _Argmax:
    name = "argmax"

    def unavailable(self) -> str | None:
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs):  # noqa: ANN201
        return lambda: np.argmax(inputs.logits, axis=1)


def test_absent_impl_is_reported_not_dropped() -> None:
    s = Settings(["argmax", "not-installed"], ["greedy"], [1000], [1, 2], ["gaussian"], budget_s=0.0,
                 min_repeats=1, max_repeats=2)
    out = run_plan(s, [_Argmax(), _Missing()])
    doc = to_document(out)
    jsonschema.validate(doc, BENCH_SCHEMA)
    absent = [r for r in doc["results"] if r["impl"] == "not-installed"]
    assert [r["batch"] for r in absent] == [1, 2]
    assert all(r["status"] == "absent" and "frobnicate" in r["note"] for r in absent)
    assert any("not-installed: absent" in n for n in doc["notes"])
    ok = [r for r in doc["results"] if r["impl"] == "argmax"]
    assert all(r["status"] == "ok" and r["median_s"] > 0 and r["roofline_ratio"] > 0 for r in ok)
    md = markdown(doc)
    assert "| gaussian | greedy | 1000 | 2 |" in md and "absent" in md


def test_empty_run_document_is_valid() -> None:
    out = RunOutput(machine={"cpu": "x", "cores": 2, "python": "3", "numpy": "2"}, settings={})
    jsonschema.validate(to_document(out), BENCH_SCHEMA)
