"""The numba fast path equals the reference: same token for the same u, same reported logprobs.

Sums are accumulated in a different order, so a comparison is skipped only when ``u`` or ``top_p`` lies
within 1e-9 of a cumulative boundary, or two probabilities differ by less than 1e-12 (relative) without
being equal - the contract's allowance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sampler import InvalidLogits, InvalidParameter, SamplingParams, kernels, sample_batch, sample_next
from sampler import reference as R
from sampler.kernels import sample_batch_full
from sampler.params import check_logit_bias_ids

EPS = 1e-9


def ambiguous(logits: np.ndarray, params: SamplingParams, hist: Sequence[int], u: float) -> bool:
    """True when float rounding may legitimately separate the fast path from the reference."""
    if params.greedy:
        return False
    z = R.processed_logits(logits, params, hist)
    p = R.apply_temperature(z, params.temperature)
    ps = p[R.nucleus_order(p)]
    q = R.next_token_distribution(logits, params, hist)
    kept = int(np.count_nonzero(q))
    head = ps[: kept + 1]  # order only matters inside the nucleus and at its edge
    d = -np.diff(head)
    if np.any((d > 0) & (d < 1e-12 * head[:-1])):
        return True
    if params.top_p < 1.0 and np.any(np.abs(np.cumsum(ps) - params.top_p) < EPS):
        return True
    cq = np.cumsum(q[R.nucleus_order(q)])[: kept - 1]  # the last boundary is the total: not a choice
    return bool(np.any(np.abs(cq - u) < EPS))


def check_equal(logits: np.ndarray, params: SamplingParams, hist: Sequence[int], u: float) -> bool:
    if ambiguous(logits, params, hist, u):
        return False
    fast = sample_next(logits, params, hist, u)
    ref = R.sample_reference(logits, params, hist, u)
    assert fast == ref, (logits.tolist(), logits.dtype, dict(params.logit_bias), params.temperature, params.top_p, params.presence_penalty, params.frequency_penalty, list(hist), u)
    return True


VALUES = st.one_of(
    st.integers(-3, 3).map(float),
    st.floats(-30, 30, allow_nan=False, allow_infinity=False),
    st.sampled_from([-np.inf, 1e30, -1e30, 1e-300, -1e-300, 88.0, -745.0, 3e38, -3e38]),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, SamplingParams, list[int], float]:
    V = draw(st.integers(1, 64))
    vals = draw(st.lists(VALUES, min_size=V, max_size=V))
    z = np.array(vals, np.float64)
    if np.all(np.isneginf(z)):
        z[draw(st.integers(0, V - 1))] = draw(st.floats(-5, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    with np.errstate(over="ignore"):
        z = z.astype(dtype)
    if np.all(np.isneginf(z)) or np.any(np.isposinf(z)):
        z = np.clip(np.nan_to_num(z, posinf=1e30), -1e30, None).astype(dtype)
    # subnormal temperatures too: 1 / T overflows there (a NaN weight once crashed the process)
    temperature = draw(st.one_of(st.sampled_from([0.0, 5e-324, 1e-310, 1e-6, 0.05, 0.7, 1.0, 1.5, 2.0]),
                                 st.floats(0.0, 2.0)))
    top_p = draw(st.sampled_from([0.0, 1e-9, 0.1, 0.5, 0.9, 0.999, 1.0]))
    pen = st.sampled_from([-2.0, -0.5, 0.0, 0.5, 2.0])
    bias_keys = st.integers(0, V - 1)
    bias = draw(st.dictionaries(bias_keys, st.sampled_from([-100.0, -1.0, 0.5, 100.0]), max_size=3))
    hist = draw(st.lists(st.integers(0, V - 1), max_size=12))
    params = SamplingParams(
        temperature=temperature, top_p=top_p, presence_penalty=draw(pen), frequency_penalty=draw(pen), logit_bias=bias
    )
    u = draw(st.one_of(st.floats(0.0, 1.0, exclude_max=True), st.sampled_from([0.0, 0.5, float(np.nextafter(1.0, 0.0))])))
    return z, params, hist, u


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_fast_path_equals_reference(case: tuple[np.ndarray, SamplingParams, list[int], float]) -> None:
    z, params, hist, u = case
    check_equal(z, params, hist, u)


def test_random_logits_are_mostly_unambiguous_and_equal() -> None:
    """A seeded sweep, so the equality above is known to be exercised, not skipped as ambiguous."""
    rng = np.random.default_rng(2024)
    compared = 0
    trials = 1500
    for _ in range(trials):
        V = int(rng.integers(1, 400))
        z = rng.normal(size=V) * float(rng.choice([0.1, 1.0, 10.0, 100.0]))
        if rng.random() < 0.3:
            z = np.round(z)
        if rng.random() < 0.2:
            z[rng.random(V) < 0.3] = -np.inf
            z[int(rng.integers(0, V))] = 0.0
        params = SamplingParams(
            temperature=float(rng.choice([0.0, 0.01, 0.7, 1.0, 2.0])),
            top_p=float(rng.choice([0.0, 0.3, 0.9, 1.0])),
            presence_penalty=float(rng.choice([0.0, 1.5])),
            logit_bias={int(rng.integers(0, V)): float(rng.choice([-100.0, 3.0]))},
        )
        hist = [int(x) for x in rng.integers(0, V, size=5)]
        compared += check_equal(z.astype(rng.choice([np.float32, np.float64])), params, hist, float(rng.random()))
    assert compared >= 0.9 * trials


@pytest.mark.parametrize("V", [1, 2, 3, 31, 32, 33, 1000, 50_000, 262_144])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_path_equals_reference_across_vocab_sizes(V: int, dtype: type) -> None:
    rng = np.random.default_rng(V)
    z = (rng.standard_normal(V) * 3).astype(dtype)
    z[rng.random(V) < 0.05] = -np.inf
    if np.all(np.isneginf(z)):
        z[0] = 0
    compared = 0
    configs = [
        SamplingParams(temperature=0.8, top_p=0.9),
        SamplingParams(temperature=2.0, top_p=1.0),
        SamplingParams(temperature=0.05, top_p=0.5, presence_penalty=2.0, frequency_penalty=-2.0, logit_bias={V - 1: 100.0}),
        SamplingParams(temperature=1.0, top_p=0.999, logit_bias={0: -100.0}),
        SamplingParams(temperature=0.0, top_p=0.3),
    ]
    hist = [int(x) for x in rng.integers(0, V, size=20)]
    for params in configs:
        for u in (0.0, 0.31, 0.77, float(np.nextafter(1.0, 0.0))):
            compared += check_equal(z, params, hist, u)
    assert compared >= 15


def test_ties_flat_and_coarse_logits() -> None:
    for V in (5, 100, 4096, 70_000):
        z = np.zeros(V, np.float32)
        # all equal: the draw is floor(u * kept) in id order
        assert sample_next(z, SamplingParams(), [], 0.5 + 0.25 / V) == V // 2
        assert sample_next(z, SamplingParams(top_p=0.5 + 0.5 / V), [], 0.999) == R.sample_reference(
            z, SamplingParams(top_p=0.5 + 0.5 / V), [], 0.999
        )
        z2 = np.round(np.random.default_rng(V).normal(size=V)).astype(np.float64)
        for u in (0.013, 0.5, 0.987):
            for top_p in (0.33, 0.9):
                check_equal(z2, SamplingParams(top_p=top_p), [], u)


@pytest.mark.parametrize("V", [4, 8, 64])
def test_exact_boundaries_agree(V: int) -> None:
    """Equal logits make every cumulative boundary exact: both sides must treat them identically."""
    z = np.zeros(V, np.float32)
    for k in range(1, V):
        u = k / V
        assert sample_next(z, SamplingParams(), [], u) == k == R.sample_reference(z, SamplingParams(), [], u)
        below = float(np.nextafter(u, 0.0))
        assert sample_next(z, SamplingParams(), [], below) == k - 1 == R.sample_reference(z, SamplingParams(), [], below)
        # top_p exactly at a prefix mass keeps that prefix (cumulative >= top_p)
        p = SamplingParams(top_p=k / V)
        assert sample_next(z, p, [], 0.999999) == k - 1 == R.sample_reference(z, p, [], 0.999999)


def test_greedy_argmax_ties_and_bias() -> None:
    z = np.array([1.0, 7.0, 7.0, -np.inf, 7.0], np.float32)
    p = SamplingParams(temperature=0.0)
    assert sample_next(z, p, [], 0.9) == 1
    assert sample_next(z, SamplingParams(temperature=0.0, logit_bias={1: -1.0}), [], 0.0) == 2
    assert sample_next(z, SamplingParams(temperature=0.0, logit_bias={3: 100.0}), [], 0.0) == 1
    assert sample_next(z, SamplingParams(temperature=0.0, presence_penalty=1.0), [1, 2], 0.0) == 4


def test_top_p_zero_and_v_one() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=5000)
    assert sample_next(z, SamplingParams(top_p=0.0), [], 0.99) == int(np.argmax(z))
    assert sample_next(np.array([-3.0], np.float32), SamplingParams(temperature=2.0), [], 0.7) == 0


@pytest.mark.parametrize(
    ("row", "needle"),
    [([0.0, np.nan, 1.0], "NaN"), ([-np.inf, -np.inf], "-inf"), ([1.0, np.inf], r"\+inf")],
)
def test_bad_logits_raise_in_both_forms(row: list[float], needle: str) -> None:
    for dtype in (np.float32, np.float64):
        z = np.array(row, dtype)
        with pytest.raises(InvalidLogits, match=needle):
            sample_next(z, SamplingParams(), [], 0.5)
        good = np.zeros_like(z)
        with pytest.raises(InvalidLogits, match=needle):
            sample_batch(np.stack([good, z]), [SamplingParams()] * 2, [[], []], [0.1, 0.2])


def test_bias_id_outside_vocab_names_logit_bias() -> None:
    with pytest.raises(InvalidParameter) as info:
        sample_next(np.zeros(10), SamplingParams(logit_bias={10: 1.0}), [], 0.5)
    assert info.value.param == "logit_bias"


def test_float32_is_read_in_place() -> None:
    z = np.random.default_rng(0).normal(size=(3, 100)).astype(np.float32)
    before = z.copy()
    sample_batch(z, [SamplingParams(presence_penalty=1, logit_bias={3: 5})] * 3, [[1, 2], [], [3]], [0.1, 0.5, 0.9])
    assert np.array_equal(z, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_rows_are_independent_and_match_reference(dtype: type) -> None:
    rng = np.random.default_rng(7)
    B, V, k = 12, 3000, 5
    z = (rng.standard_normal((B, V)) * 4).astype(dtype)
    z[:, ::97] = -np.inf
    params = [
        SamplingParams(
            temperature=float(rng.choice([0.0, 0.3, 1.0, 1.7])),
            top_p=float(rng.choice([0.0, 0.5, 0.9, 1.0])),
            presence_penalty=float(rng.uniform(-2, 2)),
            frequency_penalty=float(rng.uniform(-2, 2)),
            logit_bias={int(rng.integers(0, V)): float(rng.uniform(-100, 100))},
        )
        for _ in range(B)
    ]
    hists = [[int(x) for x in rng.integers(0, V, size=int(rng.integers(0, 30)))] for _ in range(B)]
    us = rng.random(B)
    tokens, chosen, top_ids, top_lps = sample_batch(z, params, hists, us, k, parallel=False)
    assert top_ids.shape == (B, k) and top_lps.shape == (B, k)
    # the threaded path (rows taken by the pooled threads from an atomic counter, per-thread scratch) gives identical results
    par = sample_batch(z, params, hists, us, k, parallel=True)
    for a, b in zip(par, (tokens, chosen, top_ids, top_lps), strict=True):
        assert np.array_equal(a, b)
    for r in range(B):
        if not ambiguous(z[r], params[r], hists[r], float(us[r])):
            assert tokens[r] == R.sample_reference(z[r], params[r], hists[r], float(us[r]))
        raw = R.raw_logprobs(z[r])
        assert chosen[r] == pytest.approx(raw[tokens[r]], abs=1e-9)
        ref_top = R.top_k_logprobs(raw, k)
        assert [t for t, _ in ref_top] == top_ids[r].tolist()
        np.testing.assert_allclose(top_lps[r], [v for _, v in ref_top], atol=1e-9)


def test_processed_mode_matches_reference() -> None:
    rng = np.random.default_rng(11)
    z = rng.standard_normal((4, 500)) * 3
    params = [
        SamplingParams(temperature=0.7, top_p=0.8),
        SamplingParams(temperature=1.3, top_p=1.0, logit_bias={4: 6.0}),
        SamplingParams(temperature=0.0),
        SamplingParams(temperature=0.2, top_p=0.3, presence_penalty=1.0),
    ]
    hists: list[list[int]] = [[], [], [], [int(np.argmax(z[3]))]]
    us = np.array([0.2, 0.6, 0.4, 0.9])
    tokens, raw, chosen, top_ids, top_lps = sample_batch_full(z, params, hists, us, 6, mode="processed")
    for r in range(4):
        proc = R.processed_logprobs(z[r], params[r], hists[r])
        assert chosen[r] == pytest.approx(proc[tokens[r]], abs=1e-9)
        assert raw[r] == pytest.approx(R.raw_logprobs(z[r])[tokens[r]], abs=1e-9)
        ref_top = R.top_k_logprobs(proc, 6)
        valid = top_ids[r] >= 0
        assert [t for t, _ in ref_top] == top_ids[r][valid].tolist()
        np.testing.assert_allclose(top_lps[r][valid], [v for _, v in ref_top], atol=1e-9)


def test_batch_argument_errors() -> None:
    z = np.zeros((2, 4))
    with pytest.raises(ValueError, match="one per row"):
        sample_batch(z, [SamplingParams()], [[], []], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sample_batch(z, [SamplingParams()] * 2, [[], []], [0.1, 1.0])
    with pytest.raises(InvalidLogits, match="two-dimensional"):
        sample_batch(np.zeros(4), [SamplingParams()], [[]], [0.1])


def test_check_logit_bias_ids_is_the_one_owner_of_the_id_rule() -> None:
    check_logit_bias_ids({0: 1.0, 9: -1.0}, 10)
    with pytest.raises(InvalidParameter, match=r"token id 10 is outside the vocabulary \[0, 10\)") as info:
        check_logit_bias_ids({3: 1.0, 10: 2.0}, 10)
    assert info.value.param == "logit_bias"
    with pytest.raises(InvalidParameter, match="token id 7"):
        sample_batch(np.zeros((2, 7)), [SamplingParams(), SamplingParams(logit_bias={7: 1.0})], [[], []], [0.1, 0.2])


def test_history_ids_outside_the_vocabulary_name_the_row() -> None:
    with pytest.raises(ValueError, match=r"generated ids must lie in \[0, 5\) \(row 1\)"):
        sample_batch(np.zeros((2, 5)), [SamplingParams(presence_penalty=1.0)] * 2, [[0, 4], [5]], [0.1, 0.2])


def test_results_are_named_tuples_that_still_unpack() -> None:
    z = np.random.default_rng(3).normal(size=(2, 50))
    full = sample_batch_full(z, [SamplingParams(top_p=0.9)] * 2, [[], []], [0.3, 0.6], 3)
    tokens, raw, chosen, top_ids, top_lps = full
    assert tokens is full.tokens and raw is full.raw_logprobs and chosen is full.logprobs
    assert top_ids is full.top_ids and top_lps is full.top_logprobs
    short = sample_batch(z, [SamplingParams(top_p=0.9)] * 2, [[], []], [0.3, 0.6], 3)
    assert np.array_equal(short.tokens, tokens) and np.array_equal(short.logprobs, raw)


def test_threads_take_rows_one_at_a_time_and_agree_with_one_thread() -> None:
    rng = np.random.default_rng(8)
    B, V = 9, 2_000
    z = (rng.standard_normal((B, V)) * 3).astype(np.float32)
    params = [SamplingParams(temperature=float(t), top_p=0.9, presence_penalty=0.5) for t in rng.choice([0, 0.5, 1.2], B)]
    hists = [[int(x) for x in rng.integers(0, V, size=10)] for _ in range(B)]
    us = rng.random(B)
    one = sample_batch_full(z, params, hists, us, 4, parallel=False)
    many = sample_batch_full(z, params, hists, us, 4, parallel=True)
    for a, b in zip(one, many, strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_batches_of_two_big_rows_go_to_the_threads_and_small_work_stays_on_one() -> None:
    several = numba.get_num_threads() > 1
    assert kernels.use_parallel(2, 128_256, None) is several  # 256k logits: worth the hand-off
    assert kernels.use_parallel(8, 128_256, None) is several
    assert kernels.use_parallel(2, 32_000, None) is False  # 64k logits: the hand-off costs more
    assert kernels.use_parallel(1, 10**6, None) is False
    assert kernels.use_parallel(1, 10, True) is True and kernels.use_parallel(64, 10**6, False) is False


def test_warm_up_compiles_the_float32_kernel_once_per_process() -> None:
    t = kernels.warm_up_in_background()
    assert t is not None and t is kernels.warm_up_in_background()
    assert kernels.wait_for_warm_up(timeout=900)
    assert not t.is_alive()
    assert numba.float32 in {sig[0].dtype for sig in kernels._sample_rows.signatures}


def _run(code: str, **env: str) -> str:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root), **env}, check=True)
    return proc.stdout.strip()


def test_no_import_starts_a_warm_up() -> None:
    """Importing the sampler (or anything that imports it: models, peers) never compiles: a process
    that never samples burns no CPU on the kernel."""
    code = ("import threading, sampler, sampler.kernels as k, models, peers.llama_cpp_python; "
            "print(len(k._WARMING), sorted(t.name for t in threading.enumerate()))")
    assert _run(code) == "0 ['MainThread']"


def test_warm_up_can_be_turned_off() -> None:
    code = "import sampler.kernels as k; print(k.warm_up_in_background(), k.wait_for_warm_up(0.0))"
    assert _run(code, **{kernels.WARM_UP_ENV: "0"}) == "None True"


def test_float64_logits_that_are_float32_values_use_the_float32_kernel() -> None:
    """Narrowing such logits is exact, so the float32 kernel's answer is the contract's; the float64
    kernel is compiled only for logits that need it (here, in a fresh process, never)."""
    code = """
import numpy as np
from sampler import SamplingParams, kernels
z = (np.random.default_rng(3).standard_normal((3, 5000)) * 3).astype(np.float32)
z[:, ::50] = -np.inf
p = [SamplingParams(temperature=0.7, top_p=0.9, presence_penalty=0.5, logit_bias={1: 3.0})] * 3
a = kernels.sample_batch_full(z.astype(np.float64), p, [[1, 2], [], [7]], [0.2, 0.5, 0.9], 4)
b = kernels.sample_batch_full(z, p, [[1, 2], [], [7]], [0.2, 0.5, 0.9], 4)
print(all(np.array_equal(x, y) for x, y in zip(a, b)), sorted(str(s[0].dtype) for s in kernels._sample_rows.signatures))
"""
    assert _run(code, **{kernels.WARM_UP_ENV: "0"}) == "True ['float32']"


def test_kernel_logits_narrows_only_exactly() -> None:
    f32 = np.array([[1.5, -np.inf, np.nan, float(np.float32(3e38)), -0.0]], np.float64)
    assert kernels.kernel_logits(f32).dtype == np.float32
    for bad in (0.1, 1e39, 1e-46):  # not a float32 value: rounded, out of range, below the subnormals
        row = f32.copy()
        row[0, 0] = bad
        assert kernels.kernel_logits(row) is row
    f = np.zeros((2, 3), np.float32)
    assert kernels.kernel_logits(f) is f


@pytest.mark.parametrize("temperature", [5e-324, 1e-310, 2.2e-308])
@pytest.mark.parametrize("V", [1, 3, 5000, 128_256])
def test_a_subnormal_temperature_is_greedy_among_the_tied_maxima_as_in_the_reference(temperature: float,
                                                                                    V: int) -> None:
    """1 / T overflows below ~5.6e-309: the kernel once took inf x 0 = NaN for the maximum's weight, drew
    from an empty head and read outside the row (a segfault through ``oairef serve``)."""
    rng = np.random.default_rng(V)
    z = rng.standard_normal(V).astype(np.float32)
    tied = [0] if V < 3 else [1, V - 1]
    z[tied] = z.max() + 1.0
    params = SamplingParams(temperature=temperature)
    for u in (0.0, 0.3, 0.7, float(np.nextafter(1.0, 0.0))):
        assert sample_next(z, params, [], u) == R.sample_reference(z, params, [], u) in tied


@pytest.mark.parametrize("V", [1, 2, 3, 4, 31, 33])
@pytest.mark.parametrize("mode", ["raw", "processed"])
def test_top_k_larger_than_the_vocabulary_lists_every_token(V: int, mode: str) -> None:
    """k = 5 (or 20 on chat) over fewer tokens: every token, in the reference's order (the scan's unused
    lanes once held NaN and the raw list came back empty)."""
    z = np.random.default_rng(V).standard_normal(V).astype(np.float32)
    params = SamplingParams(temperature=0.8)
    out = sample_batch_full(z[None, :], [params], [[]], [0.5], top_k=20, mode=mode)
    lp = R.raw_logprobs(z) if mode == "raw" else R.processed_logprobs(z, params)
    want = R.top_k_logprobs(lp, 20)
    got = [(int(i), float(v)) for i, v in zip(out[3][0], out[4][0], strict=True) if i >= 0]
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-12, atol=1e-12)


@st.composite
def large_cases(draw: st.DrawFn) -> tuple[np.ndarray, SamplingParams, list[int], float, str, int]:
    """Rows of V >= 2048, where the head is estimated from a sample of the row (``guess_floor``) before it
    is collected: gaussian, scaled or peaked, with tied maxima at times, float32 as models give them."""
    V = draw(st.integers(2048, 20_000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = rng.standard_normal(V) * draw(st.sampled_from([0.3, 1.0, 3.0, 10.0]))
    if draw(st.booleans()):
        z[rng.integers(0, V, size=draw(st.integers(1, 4)))] += draw(st.sampled_from([5.0, 12.0, 40.0]))
    if draw(st.booleans()):
        z[rng.integers(0, V, size=2)] = z.max()
    z = z.astype(np.float32)
    temperature = draw(st.one_of(st.sampled_from([0.0, 1e-310, 0.05, 0.7, 1.0, 2.0]), st.floats(0.01, 2.0)))
    pen = st.sampled_from([-2.0, 0.0, 0.7, 2.0])
    bias = draw(st.dictionaries(st.integers(0, V - 1), st.sampled_from([-100.0, -3.0, 2.5, 100.0]), max_size=8))
    params = SamplingParams(temperature=temperature, top_p=draw(st.sampled_from([0.05, 0.5, 0.9, 0.999, 1.0])),
                            presence_penalty=draw(pen), frequency_penalty=draw(pen), logit_bias=bias)
    hist = draw(st.lists(st.integers(0, V - 1), max_size=64))
    u = draw(st.floats(0.0, 1.0, exclude_max=True))
    return z, params, hist, u, draw(st.sampled_from(["raw", "processed"])), draw(st.sampled_from([0, 1, 5, 20]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(large_cases())
def test_large_rows_give_the_reference_token_logprobs_and_top_k(
        case: tuple[np.ndarray, SamplingParams, list[int], float, str, int]) -> None:
    """At the sizes models have: the token, its raw and in-mode logprobs, and the top-k list (ids and
    values) all as the reference gives them (the sampled-head path is otherwise only met by sweeps)."""
    z, params, hist, u, mode, k = case
    if ambiguous(z, params, hist, u):
        event("ambiguous: skipped")
        return
    event("compared")
    out = sample_batch_full(z[None, :], [params], [hist], [u], top_k=k, mode=mode)
    tok = R.sample_reference(z, params, hist, u)
    assert int(out.tokens[0]) == tok
    raw = R.raw_logprobs(z)
    in_mode = raw if mode == "raw" else R.processed_logprobs(z, params, hist)
    np.testing.assert_allclose([out.raw_logprobs[0], out.logprobs[0]], [raw[tok], in_mode[tok]], rtol=1e-9, atol=1e-9)
    want = R.top_k_logprobs(in_mode, k)
    got = [(int(i), float(v)) for i, v in zip(out.top_ids[0], out.top_logprobs[0], strict=True) if i >= 0]
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-9, atol=1e-9)
