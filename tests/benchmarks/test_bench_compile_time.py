"""The compile-time measurement runs fresh interpreters and reports every phase (times are never
asserted: the cached run here loads whatever the test run's own numba cache holds)."""

from __future__ import annotations

from benchmarks.compile_time import measure_compile


def test_cached_measurement_reports_each_phase_and_compiles_nothing_once_cached() -> None:
    measure_compile(timeout=600, ahead_of_use=False, cold=False)  # fills numba's cache if this clone's is empty
    res = measure_compile(timeout=600, ahead_of_use=False, cold=False)
    assert res["status"] == "ok", res
    assert "cold" not in res and "ahead_of_use" not in res
    for key in ("loadavg", "import_s", "first_call_s", "first_call_cpu_s", "first_call_llvm_cpu_s", "second_call_s",
                "first_call_float64_s", "first_call_float64_cpu_s"):
        assert res["cached"][key] >= 0, key
    # every function of the fast path is loaded from the cache, none compiled again (both kernels)
    assert res["cached"]["functions_compiled"] == 0 and res["cached"]["float64_functions_compiled"] == 0
