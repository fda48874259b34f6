"""Timing machinery: call counts, statistics consistency, roofline as the faster of two passes."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.timing import _numba_exp_sum, measure, roofline


def test_measure_warms_up_then_repeats_within_bounds() -> None:
    calls: list[int] = []
    # zero budget: the first call already took more than half of it, so no second warm-up
    t = measure(lambda: calls.append(1), budget_s=0.0, min_repeats=4, max_repeats=10)
    assert t.repeats == 4 and len(calls) == 1 + 4
    calls.clear()
    # ample budget: first call + second warm-up, then repeats up to max_repeats
    t = measure(lambda: calls.append(1), budget_s=10.0, min_repeats=1, max_repeats=7)
    assert t.repeats == 7 and len(calls) == 2 + 7
    assert 0 <= t.min_s <= t.median_s and t.iqr_s >= 0 and t.first_s >= 0 and t.cpu_s >= 0


@pytest.mark.parametrize(("lo", "hi"), [(0, 5), (3, 2)])
def test_measure_rejects_bad_repeat_bounds(lo: int, hi: int) -> None:
    with pytest.raises(ValueError, match="min_repeats"):
        measure(lambda: None, budget_s=0.1, min_repeats=lo, max_repeats=hi)


def test_the_roofline_times_single_exp_passes_that_compute_what_they_claim() -> None:
    """Both passes are timed (numba is a dependency), and the numba pass really sums exp over the whole
    row: a pass that skipped work would make the roofline, and every ratio against it, wrong."""
    x = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)
    r = roofline(x, budget_s=0.01)
    assert set(r) == {"np_exp_s", "numba_exp_sum_s", "roofline_s"} and all(v > 0 for v in r.values())
    kernel = _numba_exp_sum()
    assert kernel is not None
    assert kernel(x.reshape(-1)) == pytest.approx(float(np.exp(x.astype(np.float64)).sum()), rel=1e-3)
