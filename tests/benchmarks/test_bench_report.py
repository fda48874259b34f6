"""Reports: target arithmetic, schema strictness, Markdown content, absent peers reported."""

from __future__ import annotations

from typing import Any

import jsonschema
import numpy as np
import pytest

from benchmarks.configs import StepInputs
from benchmarks.report import compile_targets, markdown, targets, targets_table, to_document
from benchmarks.runner import RunOutput, Settings, machine_info, run_plan, simd_summary
from benchmarks.schema import BENCH_SCHEMA


def _row(impl: str, config: str, batch: int, median: float, shape: str = "gaussian", **kw: Any) -> dict[str, Any]:
    return {"impl": impl, "config": config, "vocab": 128_256, "batch": batch, "shape": shape,
            "median_s": median, "iqr_s": 0.0, "roofline_s": 1e-4, "status": "ok", "note": "", **kw}


def test_targets_compute_ratios_and_verdicts() -> None:
    rows = [
        _row("oairef-numba", "top_p", 1, 1e-3, cpu_s=1e-3, loadavg=0.5),
        _row("numpy-textbook", "top_p", 1, 12e-3),
        _row("llama.cpp", "top_p", 1, 1.5e-3),
        _row("oairef-numba", "top_p", 32, 16e-3, cpu_s=30e-3, loadavg=1.25),
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
    assert batch["loadavg"] == [0.5, 1.25]
    md = targets_table({"targets": list(got.values())})
    assert "| 2.00 (per CPU-second 1.07; load 0.5/1.2) | >= 1.7 | yes |" in md


def test_batching_is_judged_against_the_same_rows_one_call_each_when_they_were_timed() -> None:
    # row 0 alone takes 1 ms; the batch's 32 rows take 48 ms one call each (1.5 ms a row) and 20 ms batched
    rows = [
        _row("oairef-numba", "full", 1, 1e-3, cpu_s=1e-3),
        _row("oairef-numba", "full", 32, 20e-3, cpu_s=40e-3, one_at_a_time_s=48e-3, one_at_a_time_cpu_s=48e-3),
    ]
    batch = {t["target"]: t for t in targets(rows)}["B=32 throughput / B=1 throughput"]
    assert batch["value"] == pytest.approx(2.4) and batch["met"] is True
    assert batch["cell_ratio"] == pytest.approx(1.6) and batch["baseline"] == "same rows, one call each"
    assert batch["per_cpu_second_ratio"] == pytest.approx(1.2)
    assert "| 2.40 (per CPU-second 1.20; against the B=1 cell 1.60) | >= 1.7 | yes |" in targets_table(
        {"targets": [batch]})


def test_targets_skip_what_was_not_measured() -> None:
    rows = [_row("oairef-numba", "top_p", 1, 1e-3), _row("numpy-textbook", "top_p", 1, None, status="absent", note="x")]
    names = [t["target"] for t in targets(rows)]
    assert names == ["time / roofline (B=1)"]


def test_roofline_goals_differ_by_config_and_batching_is_judged_for_every_config() -> None:
    rows = [
        _row("oairef-numba", "top_p", 1, 2.6e-4),  # 2.6 rooflines: over top_p's 2.5
        _row("oairef-numba", "full", 1, 2.9e-4),  # 2.9: within full's 3
        _row("oairef-numba", "greedy", 1, 0.5e-4),
        _row("oairef-numba", "greedy", 32, 0.5e-4 * 32 / 1.5),  # 1.5x: under 1.7
        _row("oairef-numba", "temperature", 1, 2e-4, shape="peaked"),
        _row("oairef-numba", "temperature", 32, 2e-4 * 32 / 1.9, shape="peaked"),
    ]
    got = {(t["target"], t["config"], t["shape"]): t for t in targets(rows)}
    roof = "time / roofline (B=1)"
    assert got[(roof, "top_p", "gaussian")]["met"] is False and got[(roof, "top_p", "gaussian")]["goal"] == "<= 2.5"
    assert got[(roof, "full", "gaussian")]["met"] is True and got[(roof, "full", "gaussian")]["goal"] == "<= 3"
    assert (roof, "greedy", "gaussian") not in got  # no roofline goal for greedy
    batch = "B=32 throughput / B=1 throughput"
    assert got[(batch, "greedy", "gaussian")]["value"] == pytest.approx(1.5)
    assert got[(batch, "greedy", "gaussian")]["met"] is False
    assert got[(batch, "temperature", "peaked")]["met"] is True


def test_compile_targets_judge_cold_compile_and_ahead_of_use() -> None:
    assert compile_targets(None) == [] and compile_targets({"status": "error", "note": "x"}) == []
    nc = {"status": "ok",
          "cold": {"loadavg": 0.5, "import_s": 0.4, "first_call_s": 14.0, "first_call_cpu_s": 13.5,
                   "first_call_llvm_cpu_s": 7.0, "functions_compiled": 60, "second_call_s": 1e-4},
          "ahead_of_use": {"loadavg": 0.5, "ready_s": 15.0, "first_request_s": 0.004, "second_request_s": 0.003}}
    got = {t["target"].split(":")[0]: t for t in compile_targets(nc)}
    assert got["cold compile"]["met"] is False and got["cold compile"]["value"] == 14.0
    assert got["ahead of use"]["met"] is True and got["ahead of use"]["ready_s"] == 15.0
    slow = {**nc, "ahead_of_use": {**nc["ahead_of_use"], "first_request_s": 12.0}}
    assert {t["target"].split(":")[0]: t for t in compile_targets(slow)}["ahead of use"]["met"] is False
    doc = to_document(RunOutput(machine=machine_info(1), settings={}, numba_compile=nc))
    md = markdown(doc)
    assert "| cold compile: first call, fresh interpreter, s | - | full | 14.00 (13.5 CPU s) | <= 4 | no |" in md
    assert "server ready 15.0 s after start" in md and "| empty cache | 0.5 | 0.4 | 14 | 13.5 | 7 | 60 |" in md
    assert "first request 4 ms" in md


def test_machine_line_names_the_simd_level_and_the_load() -> None:
    assert simd_summary(["sse4_2", "avx", "avx2", "fma"]) == "AVX2 + FMA, no AVX-512"
    assert simd_summary(["avx2", "avx512f"]) == "AVX-512"
    m = machine_info(2)
    md = markdown(to_document(RunOutput(machine={**m, "loadavg_at_start": [1.5, 1.0, 0.5], "loadavg_at_end": 2.25},
                                        settings={})))
    assert m["simd"] in md and "load average at the start 1.50/1.00/0.50" in md
    assert "load at the end of the timed cells 2.25" in md


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


class _RowSum:
    """Records the rows of every step it prepares; its step sums the prepared logits."""

    name = "rowsum"

    def __init__(self) -> None:
        self.prepared: list[np.ndarray] = []

    def unavailable(self) -> str | None:
        return None

    def skip_reason(self, inputs: StepInputs) -> str | None:
        return None

    def prepare(self, inputs: StepInputs):  # noqa: ANN201
        self.prepared.append(inputs.logits.copy())
        return lambda: inputs.logits.sum(axis=1)


def test_batched_cells_of_named_impls_are_also_timed_one_row_per_call_on_the_same_rows() -> None:
    impl = _RowSum()
    s = Settings(["rowsum", "argmax"], ["full"], [1000], [1, 3], ["gaussian"], budget_s=0.0, min_repeats=1,
                 max_repeats=2, one_at_a_time=("rowsum",))
    out = run_plan(s, [impl, _Argmax()])
    by = {(r["impl"], r["batch"]): r for r in out.results}
    assert by[("rowsum", 3)]["one_at_a_time_s"] > 0 and "one_at_a_time_s" not in by[("rowsum", 1)]
    assert "one_at_a_time_s" not in by[("argmax", 3)]
    batched = next(p for p in impl.prepared if p.shape[0] == 3)
    singles = [p for p in impl.prepared if p.shape[0] == 1][1:]  # after the B = 1 cell's own row
    assert len(singles) == 3
    for r, single in enumerate(singles):
        np.testing.assert_array_equal(single[0], batched[r])


def test_empty_run_document_is_valid() -> None:
    out = RunOutput(machine={"cpu": "x", "cores": 2, "python": "3", "numpy": "2"}, settings={})
    jsonschema.validate(to_document(out), BENCH_SCHEMA)
