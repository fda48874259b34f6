"""The compile-time measurement runs fresh interpreters and reports every phase (times are never
asserted: the cached run here loads whatever the test run's own numba cache holds)."""

from __future__ import annotations

from benchmarks.compile_time import measure_compile


def test_cached_measurement_reports_each_phase() -> None:
    res = measure_compile(timeout=600, ahead_of_use=False, cold=False)
    assert res["status"] == "ok", res
    assert "cold" not in res and "ahead_of_use" not in res
    for key in ("import_s", "first_call_s", "second_call_s", "first_call_float64_s"):
        assert res["cached"][key] >= 0, key
