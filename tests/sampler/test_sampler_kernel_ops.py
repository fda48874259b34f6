"""Each op of the fast path (``sampler/ops/``) against first-principles numpy or the reference.

The kernel tests (``test_sampler_kernels.py``) hold the whole step equal to the reference; these
pin each op's own rule, including the paths a random row rarely takes: subnormal weights, a raw
maximum that a penalty pushes down, a head whose first estimate falls short, exact ties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sampler import SamplingParams
from sampler import kernels as K
from sampler import reference as R
from sampler.ops import exp as E
from sampler.ops import nucleus as N
from sampler.ops import patch as P
from sampler.ops import scan as SC
from sampler.ops import softmax as SM
from sampler.ops import topk as TK
from sampler.ops.greedy import greedy

_NO_IDS, _NO_LPS = np.empty(1, np.int64), np.empty(1)


def _workspace(V: int, cap: int = 64) -> K.Workspace:
    b = K.buffers(V, cap)
    return K._views(b.f64, b.i64, b.slot, b.gflag, V, b.cap)


def _patch(row: np.ndarray, ws: K.Workspace, hist: list[int], params: SamplingParams) -> int:
    n = P.penalties(row, np.asarray(hist, np.int64), params.presence_penalty, params.frequency_penalty, ws.patch)
    ids = np.array(list(params.logit_bias), np.int64)
    vals = np.array(list(params.logit_bias.values()), np.float64)
    return P.logit_bias(row, ids, vals, ws.patch, n)


def _patched_row(row: np.ndarray, ws: K.Workspace, n: int) -> np.ndarray:
    z = row.astype(np.float64)
    z[ws.patch.ids[:n]] = ws.patch.vals[:n]
    return z


def _bins(w: np.ndarray) -> np.ndarray:
    return (np.asarray(w, np.float64).view(np.int64) >> 52).astype(np.int64)


def test_workspace_views_do_not_overlap() -> None:
    V, cap = 1000, 70
    ws = _workspace(V, cap)
    views = [ws.lanes, *ws.patch[2:], *ws.head]
    for i, v in enumerate(views):
        v[:] = i + 1
    for i, v in enumerate(views):
        assert np.all(v == i + 1), i
    assert ws.patch.slot.size >= V and ws.head.ids.size >= V and ws.patch.ids.size >= cap


def test_exp_weight_is_within_an_ulp_of_libm() -> None:
    x = np.concatenate([-np.geomspace(1e-12, 708.0, 20_000), np.linspace(-1.0, 0.0, 5_001)])
    for xi in x:
        w, ok = E.exp_weight(float(xi))
        ref = math.exp(xi)
        assert ok
        assert abs(w - ref) <= 2.3e-16 * ref * (1.0 + 1e-3), xi
    assert E.exp_weight(0.0) == (1.0, True)
    assert E.exp_weight(-np.inf) == (0.0, False)
    assert E.exp_weight(-720.0) == (0.0, False)  # subnormal: left to exp_exact
    assert E.exp_exact(-720.0) == math.exp(-720.0) > 0.0
    assert E.exp_exact(-800.0) == 0.0


def test_exp_term_sums_to_float64_accuracy() -> None:
    x = -np.geomspace(1e-9, 700.0, 30_001)
    err = max(abs(E.exp_term(float(xi)) - math.exp(xi)) / math.exp(xi) for xi in x)
    assert err < 5e-16  # 2 ulp: the documented bound of the degree-10 fit
    assert 0.0 < E.exp_term(-np.inf) < 1e-300


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scan_statuses_max_and_lanes(dtype: type) -> None:
    lanes, sample = np.empty(SC.LANES), np.empty(100)
    z = np.random.default_rng(1).normal(size=1_003).astype(dtype)
    z[[5, 700]] = -np.inf
    status, m = SC.scan(z, lanes, sample)
    assert status == SC.OK and m == float(z.max())
    for c in range(SC.LANES):
        assert lanes[c] == float(z[c::SC.LANES].max())
    np.testing.assert_array_equal(sample[:z.size // SC.LANES], z[:z.size - z.size % SC.LANES:SC.LANES])
    for bad in ([1.0, np.nan, np.inf], [1.0, -np.nan], [np.nan] * 40, [-np.inf, np.nan]):
        assert SC.scan(np.array(bad, dtype), lanes, sample)[0] == SC.ST_NAN, bad
    assert SC.scan(np.array([1.0, np.inf] * 20, dtype), lanes, sample)[0] == SC.ST_POSINF
    assert SC.scan(np.full(40, -np.inf, dtype), lanes, sample)[0] == SC.ST_ALLNEG
    assert SC.scan(np.zeros(0, dtype), lanes, sample)[0] == SC.ST_EMPTY
    assert SC.scan(np.array([-0.0, -1.0], dtype), lanes, sample) == (SC.OK, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_patch_equals_reference_steps_1_and_2(dtype: type) -> None:
    rng = np.random.default_rng(2)
    V = 5_000
    row = (rng.normal(size=V) * 3).astype(dtype)
    top = int(np.argmax(row))
    hist = [top, top, 7, 7, 7, 4_999, 12]  # the raw maximum is penalised: patched_max re-reads the row
    params = SamplingParams(presence_penalty=1.5, frequency_penalty=0.7, logit_bias={12: 4.0, 100: -100.0, 3: 9.0})
    ws = _workspace(V)
    n = _patch(row, ws, hist, params)
    z = _patched_row(row, ws, n)
    ref = R.processed_logits(row, params, hist)
    np.testing.assert_array_equal(z, ref)
    assert P.patched_max(row, float(row.max()), ws.patch, n) == ref.max()
    assert all(P.patched_value(row, ws.patch, j) == ref[j] for j in (top, 7, 12, 3, 0, 4_999))
    assert greedy(row, ref.max(), ws.patch, n) == R.greedy_token(ref)
    P.clear_patch(ws.patch, n)
    assert not ws.patch.slot[:V].any() and not ws.patch.gflag.any()


def test_softmax_shift_is_the_maximum_or_a_close_bound() -> None:
    rng = np.random.default_rng(12)
    V = 4_096
    row = rng.normal(size=V).astype(np.float32)
    top = int(np.argmax(row))
    rmax = float(row.max())
    ws = _workspace(V)
    SC.scan(row, ws.lanes, ws.head.z)
    inv_t = 1.0 / 0.8
    assert P.softmax_shift(row, rmax, ws.lanes, inv_t, ws.patch, 0) == rmax  # nothing patched
    n = _patch(row, ws, [], SamplingParams(logit_bias={top: 40.0}))  # lifted: the patched value
    assert P.softmax_shift(row, rmax, ws.lanes, inv_t, ws.patch, n) == rmax + 40.0
    P.clear_patch(ws.patch, n)
    n = _patch(row, ws, [], SamplingParams(logit_bias={top: -3.0}))  # pushed down a little: rmax bounds it
    true_max = P.patched_max(row, rmax, ws.patch, n)
    shift = P.softmax_shift(row, rmax, ws.lanes, inv_t, ws.patch, n)
    assert shift == rmax > true_max and (shift - true_max) * inv_t <= P.SHIFT_SLACK
    P.clear_patch(ws.patch, n)
    row[top] += 50.0  # 50 above the rest, then pushed down: at T = 0.05 that is 1000 temperatures
    SC.scan(row, ws.lanes, ws.head.z)
    n = _patch(row, ws, [], SamplingParams(logit_bias={top: -100.0}))
    exact = P.patched_max(row, float(row.max()), ws.patch, n)
    assert P.softmax_shift(row, float(row.max()), ws.lanes, 20.0, ws.patch, n) == exact == np.sort(row)[-2]
    P.clear_patch(ws.patch, n)


def test_penalties_off_leave_the_row_unpatched() -> None:
    ws = _workspace(100)
    row = np.arange(100, dtype=np.float32)
    assert P.penalties(row, np.array([1, 2, 3], np.int64), 0.0, 0.0, ws.patch) == 0


def test_greedy_ties_go_to_the_lowest_id_patched_or_not() -> None:
    V = 1_000
    row = np.zeros(V, np.float32)
    row[[40, 500, 900]] = 5.0
    ws = _workspace(V)
    n = _patch(row, ws, [], SamplingParams(logit_bias={10: 5.0, 40: -1.0}))
    zmax = P.patched_max(row, 5.0, ws.patch, n)
    assert zmax == 5.0 and greedy(row, zmax, ws.patch, n) == 10
    P.clear_patch(ws.patch, n)
    n = _patch(row, ws, [], SamplingParams(logit_bias={40: -1.0}))
    assert greedy(row, 5.0, ws.patch, n) == 500
    P.clear_patch(ws.patch, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_sum_and_raw_normaliser_match_numpy(dtype: type) -> None:
    rng = np.random.default_rng(3)
    V = 20_011
    row = (rng.normal(size=V) * 4).astype(dtype)
    row[::97] = -np.inf
    top = int(np.argmax(row))
    params = SamplingParams(presence_penalty=2.0, frequency_penalty=2.0, logit_bias={5: 30.0})
    ws = _workspace(V)
    n = _patch(row, ws, [top, top, 9], params)
    z = _patched_row(row, ws, n)
    zmax = float(z.max())  # bias 30 lifts id 5 above the raw maximum: raw terms are clamped at w <= 1
    for t in (0.05, 0.7, 1.0, 2.0):
        S = SM.softmax_sum(row, zmax, 1.0 / t, ws.patch, n)
        ref = np.exp((z - zmax) / t).sum()
        assert abs(S - ref) <= 1e-13 * ref, t
    raw = SM.raw_normaliser(row, float(row.max()))
    r64 = row.astype(np.float64)
    assert abs(raw - np.exp(r64 - r64.max()).sum()) <= 1e-14 * raw
    P.clear_patch(ws.patch, n)


def _brute(w: np.ndarray, target: float, strict: bool) -> int:
    order = np.lexsort((np.arange(w.size), -w))
    order = order[w[order] > 0.0]
    c = np.cumsum(w[order])
    hit = np.nonzero(c > target if strict else c >= target)[0]
    return int(order[hit[0]] if hit.size else order[-1])


def _weights(row: np.ndarray, zmax: float, t: float) -> np.ndarray:
    inv_t = 1.0 / t
    return np.array([E.exp_weight((float(x) - zmax) * inv_t)[0] for x in row])


@pytest.mark.parametrize("shape", ["spread", "flat", "ties"])
@pytest.mark.parametrize("strict", [False, True])
def test_weighted_pick_equals_a_sort(shape: str, strict: bool) -> None:
    rng = np.random.default_rng(11)
    V = 5_000
    if shape == "spread":
        row = rng.standard_normal(V) * 3.0
    elif shape == "flat":  # one bin holds everything: the radix refinement runs to the end
        row = rng.standard_normal(V) * 1e-3
    else:  # many exact ties: ids ascending must break them
        row = np.round(rng.standard_normal(V) * 2.0, 1)
    t = 0.7
    ws = _workspace(V)
    zmax = float(row.max())
    S = SM.softmax_sum(row, zmax, 1.0 / t, ws.patch, 0)
    hd = ws.head
    m, _ = N.collect(row, zmax, t, 1.0 / t, 0.0, ws.patch, 0, hd, 0, np.inf, _NO_IDS, _NO_LPS)
    assert m == V and list(hd.ids[:m]) == list(range(V))
    w = hd.w[:m].copy()
    N.bin_masses(hd, m)
    for frac in (0.0, 0.1, 0.37, 0.5, 0.9, 0.999):
        tok, prefix, wt = N.weighted_pick(hd, m, frac * S, strict)
        assert tok == _brute(w, frac * S, strict), (shape, frac)
        assert wt == w[tok]


def test_head_is_a_prefix_of_the_order_with_the_needed_mass_and_ids_in_order() -> None:
    rng = np.random.default_rng(4)
    V = 128_256
    row = (rng.standard_normal(V) * 3).astype(np.float32)
    ws = _workspace(V)
    t, zmax = 0.8, float(row.max())
    SC.scan(row, ws.lanes, ws.head.z)
    w = _weights(row, zmax, t)
    S = SM.softmax_sum(row, zmax, 1.0 / t, ws.patch, 0)
    for top_p, u in ((0.9, 0.5), (0.5, 0.99), (1.0, 0.3), (1.0, 0.999), (0.0, 0.7)):
        SC.scan(row, ws.lanes, ws.head.z)
        m, _ = N.head(row, zmax, t, S, top_p, u, 0, ws.lanes, ws.patch, 0, ws.head, 0, _NO_IDS, _NO_LPS)
        ids = ws.head.ids[:m]
        lightest = ws.head.w[:m].min()
        assert list(ids) == list(np.nonzero(w >= lightest)[0])  # every token this heavy, ids ascending
        np.testing.assert_array_equal(ws.head.w[:m], w[ids])
        need = top_p if top_p < 1.0 else u
        assert w[ids].sum() >= need * S
        assert m < V // 10 or need > 0.99  # a head, not the row (0.999 of the mass is half of it here)


def test_head_extends_a_short_estimate() -> None:
    """Two heavy tokens in lane 0 (the second is sampled and counted 32 times) and the bulk of the
    mass off lane 0: the estimate puts 0.9 of the mass in the top bins; the check on exact masses
    extends the head until it holds it."""
    V = 64 * SC.LANES * 4
    rng = np.random.default_rng(5)
    row = (rng.standard_normal(V) * 0.5).astype(np.float64)
    row[0], row[SC.LANES] = 12.0, 11.9
    bulk = np.arange(1, 6_400)
    row[bulk[bulk % SC.LANES != 0]] = 9.5
    ws = _workspace(V)
    zmax = float(row.max())
    SC.scan(row, ws.lanes, ws.head.z)
    S = SM.softmax_sum(row, zmax, 1.0, ws.patch, 0)
    guess = N.guess_floor(row, zmax, 1.0, 0.9, ws.lanes, ws.patch, 0, ws.head)
    w = _weights(row, zmax, 1.0)
    assert w[w >= guess / N.MARGIN].sum() < 0.9 * S  # the first collection is short
    SC.scan(row, ws.lanes, ws.head.z)
    m, _ = N.head(row, zmax, 1.0, S, 0.9, 0.5, 0, ws.lanes, ws.patch, 0, ws.head, 0, _NO_IDS, _NO_LPS)
    assert ws.head.w[:m].sum() >= 0.9 * S
    p = SamplingParams(temperature=1.0, top_p=0.9)
    for u in (0.01, 0.5, 0.99):
        assert K.sample_next(row, p, [], u) == R.sample_reference(row, p, [], u)


def test_processed_top_k_reaches_subnormal_weights() -> None:
    """top_p = 1 keeps every positive token: a processed top-5 over a row with two normal weights
    takes the head down to every token, subnormal weights (from libm) included."""
    V = 4_000
    row = np.full(V, -1e6)
    row[[0, 2, 3]] = 0.0, -705.0, -735.0  # weights 1, ~1e-306, ~1e-319 (subnormal)
    p = SamplingParams(temperature=1.0)
    full = K.sample_batch_full(row[None], [p], [[]], [0.3], 5, mode="processed")
    ref = R.top_k_logprobs(R.processed_logprobs(row, p), 5)
    assert list(full.top_ids[0][:3]) == [i for i, _ in ref] == [0, 2, 3]
    np.testing.assert_allclose(full.top_logprobs[0][:3], [v for _, v in ref], rtol=0, atol=1e-9)
    assert list(full.top_ids[0][3:]) == [-1, -1]


def test_raw_top_k_threshold_and_pass() -> None:
    rng = np.random.default_rng(6)
    row = rng.normal(size=10_000).astype(np.float32)
    row[[3, 77]] = row.max() + 1.0  # a tie at the top: id order
    lanes = np.empty(SC.LANES)
    SC.scan(row, lanes, np.empty(row.size))
    for k in (1, 5, 20):
        thr = TK.raw_threshold(lanes, k)
        assert np.count_nonzero(row >= thr) >= k
        ids, vals = np.empty(k, np.int64), np.empty(k)
        assert TK.top_raw(row, k, thr, ids, vals, np.empty(row.size, np.int64)) == k
        ref = R.top_k_logprobs(row.astype(np.float64), k)
        assert [i for i, _ in ref] == list(ids) and list(ids[:2]) == [3, 77][:k]
    assert TK.raw_threshold(lanes, SC.LANES + 1) == -np.inf


def test_insert_top_breaks_ties_by_id_in_any_arrival_order() -> None:
    ids, vals = np.empty(3, np.int64), np.empty(3)
    m = 0
    for j, v in ((9, 1.0), (2, 1.0), (5, 2.0), (1, 0.5), (4, 1.0)):
        m = TK.insert_top(ids, vals, m, 3, j, v)
    assert list(ids) == [5, 2, 4] and list(vals) == [2.0, 1.0, 1.0]


def test_softmax_sum_when_the_patched_ids_held_all_the_mass() -> None:
    """Every id pushed far down: replacing the raw terms would cancel to nothing; the untouched sum
    is taken on its own (found by the hypothesis test: S came out 0)."""
    V = 5_000
    row = np.full(V, -30.0, np.float32)
    row[:40] = 0.0
    ws = _workspace(V)
    n = _patch(row, ws, [], SamplingParams(logit_bias={i: -100.0 for i in range(40)}))
    z = _patched_row(row, ws, n)
    for t in (2.0, 0.5):
        S = SM.softmax_sum(row, 0.0, 1.0 / t, ws.patch, n)
        ref = np.exp(z / t).sum()
        assert abs(S - ref) <= 1e-13 * ref, t
    P.clear_patch(ws.patch, n)


def test_one_cache_stamp_for_every_fast_path_function() -> None:
    from sampler.ops import cache

    assert cache.install() and cache.install()
    from numba.core.caching import CacheImpl

    assert CacheImpl._locator_classes.count(cache.FastPathLocator) == 1
    loc = cache.FastPathLocator.from_function(N.collect.py_func, N.__file__)
    assert loc is not None and loc.get_source_stamp() == cache.fingerprint()
    assert loc.get_cache_path()  # numba's own choice of place, delegated
    assert cache.FastPathLocator.from_function(R.check_logits, R.__file__) is None
    assert K._sample_rows._cache._impl.locator.get_source_stamp() == cache.fingerprint()
