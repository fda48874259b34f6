"""The numba fast path: the contract of ``reference.py`` without sorting the vocabulary.

Per row (``V`` logits, float32 or float64 read in place, arithmetic in float64); the passes over V
live in :mod:`sampler.kernel_passes`:

1. :func:`scan`: count NaN/+inf (error), raw max (16-lane vectorised); all ``-inf`` is an error;
2. penalties and ``logit_bias`` touch only the ids in the history / the bias map (sparse). Only then
   is the row copied (widened) into a float64 scratch ``z``; an untouched row is never copied;
3. ``T == 0``: argmax, ties to the lowest id. Otherwise one fused pass, block by block (4,096 entries):
   ``w = exp((z - max) / T)`` (vectorised polynomial exp, written as float64) and, while the block
   is in L1, the mass of ``w`` per IEEE exponent (2,048-bin histogram, 8 interleaved copies); the
   normaliser ``S`` is the sum of the bins. The raw log-sum-exp (reported logprobs) is a second,
   store-free exp pass, skipped when ``T == 1`` and the row is untouched;
4. the top_p cut and the inverse-CDF draw are both *weighted selections* in the order
   (``w`` desc, id asc): "the first token whose prefix mass reaches a target". ``w >= 0``, so the
   IEEE-754 bit patterns of ``w`` order like the values: the histogram gives the bin where the
   prefix mass crosses the target (:func:`find_bin`), the bin's members are gathered
   (:func:`gather2`: the cut's bin and the draw's predicted bin in one pass, each group of 16
   entries first tested vectorised), then refined 8 mantissa bits at a time (radix select) and at
   most 32 survivors insertion-sorted (:func:`refine`). All decisions use the exact float64 ``w``.
   Unlike llama.cpp's bucket sort it never sorts the kept set, and unlike pivot bisection
   (FlashInfer) it needs one histogram instead of ~32 mass passes;
5. top-k logprobs by an insertion selection (k <= 20), ties by id, groups pre-tested vectorised.

Floating-point sums are accumulated in a different order than numpy's (and ``w`` is within
~1e-14 relative of numpy's exp), so the fast path may differ from the reference only when ``u``
(or ``top_p``) lies within ~1e-12 of a cumulative boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
from numba import config, get_num_threads, get_thread_id, njit, prange

from .errors import InvalidLogits, InvalidParameter
from .kernel_passes import (
    GROUP,
    HCOPIES,
    NEXP,
    find_bin,
    gather2,
    lanes_max,
    numerators,
    raw_sum,
    refine,
    scan,
)
from .params import SamplingParams

_SMALL = 32
#: default smallest batch sent to the parallel kernel
PARALLEL_MIN_BATCH = 4
#: ... and the smallest number of logits (B * V) worth the parallel kernel
PARALLEL_MIN_WORK = 1 << 20
_NEXP = NEXP

OK, ST_NAN, ST_POSINF, ST_ALLNEG, ST_BIAS_ID, ST_HIST_ID, ST_EMPTY = 0, 1, 2, 3, 4, 5, 6
_MESSAGES = {
    ST_NAN: "logits contain NaN",
    ST_POSINF: "logits contain +inf",
    ST_ALLNEG: "every logit is -inf: no token can be drawn",
    ST_EMPTY: "logits are empty",
}


@njit(cache=True)
def _before(w: np.ndarray, a: int, b: int) -> bool:
    """True when token ``a`` precedes ``b`` in the nucleus order (w desc, id asc)."""
    return w[a] > w[b] or (w[a] == w[b] and a < b)


@njit(cache=True)
def _exponent_histogram(w: np.ndarray, cnt: np.ndarray, mass: np.ndarray) -> None:
    """Count and mass of the positive ``w`` per IEEE-754 exponent (``bits >> 52``; ``w >= 0``).

    Stand-alone form (profiling); the sampler builds the mass histogram inside
    :func:`kernel_passes.numerators`."""
    bits = w.view(np.uint64)
    cnt[:] = 0
    mass[:] = 0.0
    for j in range(w.size):
        x = w[j]
        if x > 0.0:
            b = bits[j] >> np.uint64(52)
            cnt[b] += 1
            mass[b] += x


@njit(cache=True)
def _crossing(
    w: np.ndarray, cnt: np.ndarray, mass: np.ndarray, target: float, strict: bool, cand: np.ndarray
) -> tuple[int, float]:
    """The first token in (w desc, id asc) order whose prefix mass reaches ``target``.

    "Reaches" is ``>=`` (top_p cut) or ``>`` when ``strict`` (inverse CDF). ``cnt``/``mass`` are the
    exponent histogram of ``w``. Tokens with ``w == 0`` are never returned; if the total mass never
    reaches the target (rounding), the last positive token is returned. Returns
    ``(token, prefix mass through the token)``.
    """
    b, cum = find_bin(mass, target, strict)
    m, _ = gather2(w, b, -1, cand, cand)
    return refine(w, cand, m, cum, target, strict)


@njit(cache=True)
def _insert_top(ids: np.ndarray, vals: np.ndarray, m: int, k: int, j: int, v: float) -> int:
    """Insert ``(j, v)`` into the descending top list (ids ascending within ties); returns new size."""
    if m == k and not v > vals[m - 1]:
        return m
    p = m - 1 if m < k else m - 2
    while p >= 0 and vals[p] < v:
        ids[p + 1] = ids[p]
        vals[p + 1] = vals[p]
        p -= 1
    ids[p + 1] = j
    vals[p + 1] = v
    return m + 1 if m < k else m


@njit(cache=True)
def _first_equal(a: np.ndarray, v: float) -> int:
    """The first index ``j`` with ``a[j] == v`` (``v`` is known to occur)."""
    j = 0
    while a[j] != v:
        j += 1
    return j


@njit(cache=True)
def _top_raw(row: np.ndarray, k: int, top_ids: np.ndarray, top_lps: np.ndarray) -> int:
    """The ``k`` largest finite entries of ``row`` (desc, ids asc within ties) into ``top_ids`` /
    ``top_lps``; returns how many. Groups of ``GROUP`` entries are first tested (vectorised) against
    the admission threshold; only groups with a candidate are walked."""
    n = row.size
    m = 0
    thr = -np.inf
    q = n - n % GROUP
    for i in range(0, q, GROUP):
        hit = 0
        for c in range(GROUP):
            hit += row[i + c] > thr
        if hit:
            for j in range(i, i + GROUP):
                v = float(row[j])
                if v > -np.inf and (m < k or v > top_lps[m - 1]):
                    m = _insert_top(top_ids, top_lps, m, k, j, v)
            thr = top_lps[m - 1] if m == k else -np.inf
    for j in range(q, n):
        v = float(row[j])
        if v > -np.inf and (m < k or v > top_lps[m - 1]):
            m = _insert_top(top_ids, top_lps, m, k, j, v)
    return m


@njit(cache=True)
def _sample_row(
    row: np.ndarray,
    temperature: float,
    top_p: float,
    presence: float,
    frequency: float,
    hist: np.ndarray,
    bias_ids: np.ndarray,
    bias_vals: np.ndarray,
    u: float,
    k: int,
    processed: bool,
    need_lp: bool,
    top_ids: np.ndarray,
    top_lps: np.ndarray,
    ws_z: np.ndarray,
    ws_e: np.ndarray,
    ibuf: np.ndarray,
) -> tuple[int, int, float, float]:
    """One sampling step; returns ``(status, token, chosen raw logprob, chosen logprob in mode)``.

    Fills ``top_ids``/``top_lps`` (length >= k) with the top-k in the requested mode, padding with
    id -1 / ``-inf`` when fewer than ``k`` tokens have a finite log-probability. With ``need_lp``
    false and ``k == 0`` the raw normaliser is skipped and the chosen logprobs are NaN.
    ``ws_z``/``ws_e`` (float64) and ``ibuf`` (int64) are caller-owned scratch of length >= V, reused
    across calls: fresh megabyte buffers would cost more in page faults than the sampling itself.
    """
    V = row.size
    for i in range(k):
        top_ids[i] = -1
        top_lps[i] = -np.inf
    if V == 0:
        return ST_EMPTY, -1, 0.0, 0.0
    rmax, bad = scan(row)
    if bad:
        for j in range(V):
            if row[j] != row[j]:
                return ST_NAN, -1, 0.0, 0.0
        return ST_POSINF, -1, 0.0, 0.0
    if rmax == -np.inf:
        return ST_ALLNEG, -1, 0.0, 0.0
    ibuf = ibuf[:V]
    z = ws_z[:V]
    touched = False
    # 1. penalties, from the generated history only (sparse: counts kept in the int scratch at the
    #    history's ids only, so the cost is O(len(history)), never O(V)). Only a row that is modified
    #    is copied (widened) into the float64 scratch ``z``; otherwise every pass reads ``row``.
    if hist.size > 0 and (presence != 0.0 or frequency != 0.0):
        for i in range(hist.size):
            t = hist[i]
            if t < 0 or t >= V:
                return ST_HIST_ID, -1, 0.0, 0.0
            ibuf[t] = 0
        touched = True
    for i in range(bias_ids.size):
        t = bias_ids[i]
        if t < 0 or t >= V:
            return ST_BIAS_ID, -1, 0.0, 0.0
        touched = True
    if touched:
        for j in range(V):
            z[j] = row[j]
        if hist.size > 0 and (presence != 0.0 or frequency != 0.0):
            for i in range(hist.size):
                ibuf[hist[i]] += 1
            for i in range(hist.size):
                t = hist[i]
                c = ibuf[t]
                if c > 0:
                    z[t] = z[t] - (float(c) * frequency + presence)
                    ibuf[t] = 0  # applied once per distinct id
        # 2. logit_bias
        for i in range(bias_ids.size):
            t = bias_ids[i]
            z[t] = z[t] + bias_vals[i]
    zmax = lanes_max(z) if touched else rmax
    need_raw = need_lp or k > 0
    tmp = np.empty(HCOPIES * 1024, np.float64)
    w = ws_e[:V]
    rsum = 1.0
    Wk = 1.0
    cut = -1
    if temperature == 0.0:
        # 3. greedy: argmax, ties to the lowest id (the first entry equal to the maximum)
        tok = _first_equal(z, zmax) if touched else _first_equal(row, zmax)
    else:
        # 3. softmax numerators w (float64) and their exponent histogram, one fused pass
        mass = np.empty(NEXP, np.float64)
        if touched:
            S = numerators(z, zmax, temperature, w, mass, tmp)
        else:
            S = numerators(row, zmax, temperature, w, mass, tmp)
        if need_raw and not touched and temperature == 1.0:
            rsum = S
            need_raw = False
        c2 = ws_z.view(np.int64)[:V]  # z is no longer needed: second candidate buffer
        # 4. top_p cut: the first token whose prefix mass reaches top_p * S; 5. inverse CDF: the
        # first token whose prefix mass exceeds u * Wk. The draw's bin is predicted from the cut's
        # bin so that both bins' candidates are gathered in one pass (re-gathered if mispredicted).
        gathered = -1
        m2 = 0
        if top_p < 1.0:
            tgt = top_p * S
            bc, cb = find_bin(mass, tgt, False)
            lo, _ = find_bin(mass, u * cb, True)
            hi, _ = find_bin(mass, u * (cb + mass[bc]), True)
            if lo == hi:
                m1, m2 = gather2(w, bc, lo, ibuf, c2)
                gathered = lo
            else:
                m1, _ = gather2(w, bc, -1, ibuf, c2)
            cut, Wk = refine(w, ibuf, m1, cb, tgt, False)
        else:
            Wk = S
        target = u * Wk
        bd, cd = find_bin(mass, target, True)
        if bd != gathered:
            m2, _ = gather2(w, bd, -1, c2, ibuf)
        tok, _ = refine(w, c2, m2, cd, target, True)
        if cut >= 0 and _before(w, cut, tok):
            tok = cut
    if need_raw:
        rsum = raw_sum(row, rmax, tmp)
    if not (need_lp or k > 0):
        return OK, tok, np.nan, np.nan
    lrs = np.log(rsum)
    chosen_raw = float(row[tok]) - rmax - lrs
    chosen_mode = chosen_raw
    if processed:
        chosen_mode = 0.0 if temperature == 0.0 else np.log(w[tok]) - np.log(Wk)
    if k > 0:
        m = 0
        if not processed:
            m = _top_raw(row, k, top_ids, top_lps)
            for i in range(m):
                top_lps[i] = top_lps[i] - rmax - lrs
        elif temperature == 0.0:
            top_ids[0] = tok
            top_lps[0] = 0.0
        else:
            for j in range(V):
                v = w[j]
                if v > 0.0 and (m < k or v > top_lps[m - 1]) and (cut < 0 or j == cut or _before(w, j, cut)):
                    m = _insert_top(top_ids, top_lps, m, k, j, v)
            lw = np.log(Wk)
            for i in range(m):
                top_lps[i] = np.log(top_lps[i]) - lw
    return OK, tok, chosen_raw, chosen_mode


@njit(cache=True, parallel=True)
def _sample_rows_parallel(
    logits2d: np.ndarray,
    temps: np.ndarray,
    top_ps: np.ndarray,
    pres: np.ndarray,
    freq: np.ndarray,
    hist_ptr: np.ndarray,
    hist_ids: np.ndarray,
    bias_ptr: np.ndarray,
    bias_ids: np.ndarray,
    bias_vals: np.ndarray,
    us: np.ndarray,
    k: int,
    processed: bool,
    need_lp: bool,
    ws_f: np.ndarray,
    ws_i: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows in parallel (``prange``); each row has its own parameters, history (CSR) and bias (CSR)."""
    B = logits2d.shape[0]
    status = np.zeros(B, np.int64)
    tokens = np.zeros(B, np.int64)
    raw = np.zeros(B, np.float64)
    mode = np.zeros(B, np.float64)
    kk = max(k, 1)
    top_ids = np.full((B, kk), -1, np.int64)
    top_lps = np.full((B, kk), -np.inf, np.float64)
    for r in prange(B):
        t = get_thread_id()
        st, tok, cr, cm = _sample_row(
            logits2d[r],
            temps[r],
            top_ps[r],
            pres[r],
            freq[r],
            hist_ids[hist_ptr[r] : hist_ptr[r + 1]],
            bias_ids[bias_ptr[r] : bias_ptr[r + 1]],
            bias_vals[bias_ptr[r] : bias_ptr[r + 1]],
            us[r],
            k,
            processed,
            need_lp,
            top_ids[r],
            top_lps[r],
            ws_f[t, 0],
            ws_f[t, 1],
            ws_i[t],
        )
        status[r] = st
        tokens[r] = tok
        raw[r] = cr
        mode[r] = cm
    return status, tokens, raw, mode, top_ids[:, :k], top_lps[:, :k]


@njit(cache=True)
def _sample_rows_serial(
    logits2d: np.ndarray,
    temps: np.ndarray,
    top_ps: np.ndarray,
    pres: np.ndarray,
    freq: np.ndarray,
    hist_ptr: np.ndarray,
    hist_ids: np.ndarray,
    bias_ptr: np.ndarray,
    bias_ids: np.ndarray,
    bias_vals: np.ndarray,
    us: np.ndarray,
    k: int,
    processed: bool,
    need_lp: bool,
    ws_f: np.ndarray,
    ws_i: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same as :func:`_sample_rows_parallel`, one row after another (small batches, one thread)."""
    B = logits2d.shape[0]
    status = np.zeros(B, np.int64)
    tokens = np.zeros(B, np.int64)
    raw = np.zeros(B, np.float64)
    mode = np.zeros(B, np.float64)
    kk = max(k, 1)
    top_ids = np.full((B, kk), -1, np.int64)
    top_lps = np.full((B, kk), -np.inf, np.float64)
    for r in range(B):
        t = 0
        st, tok, cr, cm = _sample_row(
            logits2d[r],
            temps[r],
            top_ps[r],
            pres[r],
            freq[r],
            hist_ids[hist_ptr[r] : hist_ptr[r + 1]],
            bias_ids[bias_ptr[r] : bias_ptr[r + 1]],
            bias_vals[bias_ptr[r] : bias_ptr[r + 1]],
            us[r],
            k,
            processed,
            need_lp,
            top_ids[r],
            top_lps[r],
            ws_f[t, 0],
            ws_f[t, 1],
            ws_i[t],
        )
        status[r] = st
        tokens[r] = tok
        raw[r] = cr
        mode[r] = cm
    return status, tokens, raw, mode, top_ids[:, :k], top_lps[:, :k]


def _raise_status(status: int, row: int, vocab_size: int) -> None:
    where = f" (row {row})"
    if status in _MESSAGES:
        raise InvalidLogits(_MESSAGES[status] + where)
    if status == ST_BIAS_ID:
        raise InvalidParameter("logit_bias", f"a token id is outside the vocabulary [0, {vocab_size}){where}")
    if status == ST_HIST_ID:
        raise ValueError(f"generated ids must lie in [0, {vocab_size}){where}")
    raise RuntimeError(f"unknown kernel status {status}{where}")  # pragma: no cover


def _as_logits2d(logits2d: np.ndarray) -> np.ndarray:
    a = np.asarray(logits2d)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.ndim != 2:
        raise InvalidLogits(f"logits must be two-dimensional (B, V), got shape {a.shape}")
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a


def _pack(
    params_list: Sequence[SamplingParams], histories: Sequence[Sequence[int]]
) -> tuple[np.ndarray, ...]:
    B = len(params_list)
    temps = np.array([p.temperature for p in params_list], np.float64)
    top_ps = np.array([p.top_p for p in params_list], np.float64)
    pres = np.array([p.presence_penalty for p in params_list], np.float64)
    freq = np.array([p.frequency_penalty for p in params_list], np.float64)
    hist_ptr = np.zeros(B + 1, np.int64)
    bias_ptr = np.zeros(B + 1, np.int64)
    for i in range(B):
        hist_ptr[i + 1] = hist_ptr[i] + len(histories[i])
        bias_ptr[i + 1] = bias_ptr[i] + len(params_list[i].logit_bias)
    hist_ids = (
        np.concatenate([np.asarray(h, np.int64).reshape(-1) for h in histories])
        if hist_ptr[-1]
        else np.zeros(0, np.int64)
    )
    bias_ids = np.zeros(int(bias_ptr[-1]), np.int64)
    bias_vals = np.zeros(int(bias_ptr[-1]), np.float64)
    for i, p in enumerate(params_list):
        bias: Mapping[int, float] = p.logit_bias
        s = int(bias_ptr[i])
        for off, (tid, val) in enumerate(bias.items()):
            bias_ids[s + off] = tid
            bias_vals[s + off] = val
    return temps, top_ps, pres, freq, hist_ptr, hist_ids, bias_ptr, bias_ids, bias_vals


_LOCAL = threading.local()


def workspace(slots: int, V: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's scratch: ``(slots, 2, V)`` float64 and ``(slots, V)`` int64, reused across calls.

    One slot per numba worker thread (the parallel kernel indexes it by ``get_thread_id()``); kept per
    Python thread so concurrent callers never share scratch.
    """
    ws = getattr(_LOCAL, "ws", None)
    if ws is None or ws[0].shape[0] < slots or ws[0].shape[2] < V:
        n = max(slots, ws[0].shape[0] if ws is not None else 0)
        ws = (np.empty((n, 2, V), np.float64), np.empty((n, V), np.int64))
        _LOCAL.ws = ws
    return ws


def use_parallel(batch: int, vocab_size: int, parallel: bool | None) -> bool:
    """Rows go to the ``prange`` kernel when asked, or by default when the batch is big enough to pay
    for the thread hand-off (``batch >= PARALLEL_MIN_BATCH`` and ``batch * V >= PARALLEL_MIN_WORK``)
    and numba has more than one thread. On an oversubscribed machine pass ``parallel=False``."""
    if parallel is not None:
        return parallel
    return batch >= PARALLEL_MIN_BATCH and batch * vocab_size >= PARALLEL_MIN_WORK and get_num_threads() > 1


def sample_batch_full(
    logits2d: np.ndarray,
    params_list: Sequence[SamplingParams],
    histories: Sequence[Sequence[int]],
    us: Sequence[float] | np.ndarray,
    top_k: int = 0,
    *,
    mode: str = "raw",
    logprobs: bool = True,
    parallel: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`sample_batch`, also returning the chosen token's raw logprob in either mode.

    Returns ``(tokens, chosen_raw_logprob, chosen_logprob_in_mode, top_ids, top_logprobs)``.
    """
    a = _as_logits2d(logits2d)
    B = a.shape[0]
    if len(params_list) != B or len(histories) != B or len(us) != B:
        raise ValueError(f"params_list, histories and us must each have {B} entries (one per row)")
    if mode not in ("raw", "processed"):
        raise ValueError(f"mode must be 'raw' or 'processed', got {mode!r}")
    if top_k < 0:
        raise ValueError("top_k must be >= 0")
    u = np.asarray(us, np.float64).reshape(B)
    if B and (not np.all(u >= 0.0) or not np.all(u < 1.0)):
        raise ValueError("every u must lie in [0, 1)")
    packed = _pack(params_list, histories)
    if use_parallel(B, a.shape[1], parallel):
        ws_f, ws_i = workspace(config.NUMBA_NUM_THREADS, a.shape[1])
        kernel = _sample_rows_parallel
    else:
        ws_f, ws_i = workspace(1, a.shape[1])
        kernel = _sample_rows_serial
    status, tokens, raw, chosen, top_ids, top_lps = kernel(
        a, *packed[:9], u, int(top_k), mode == "processed", logprobs, ws_f, ws_i
    )
    bad = np.nonzero(status)[0]
    if bad.size:
        _raise_status(int(status[bad[0]]), int(bad[0]), a.shape[1])
    return tokens, raw, chosen, top_ids, top_lps


def sample_batch(
    logits2d: np.ndarray,
    params_list: Sequence[SamplingParams],
    histories: Sequence[Sequence[int]],
    us: Sequence[float] | np.ndarray,
    top_k: int = 0,
    *,
    mode: str = "raw",
    logprobs: bool = True,
    parallel: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample one token per row of ``logits2d`` (B, V), rows in parallel.

    Row ``r`` uses ``params_list[r]``, the generated history ``histories[r]`` and uniform ``us[r]``.
    Returns ``(tokens[B], chosen_logprob[B], top_ids[B, top_k], top_logprobs[B, top_k])``; logprobs
    are raw (``log_softmax`` of the unmodified logits) unless ``mode="processed"``. Top entries are
    ordered by logprob desc, ties by id asc, padded with id ``-1`` / ``-inf`` when fewer exist.
    ``logprobs=False`` with ``top_k=0`` skips the raw normaliser (one exp pass) and returns NaN
    chosen logprobs; ``parallel`` picks the kernel (see :func:`use_parallel`).
    """
    tokens, raw, chosen, top_ids, top_lps = sample_batch_full(
        logits2d, params_list, histories, us, top_k, mode=mode, logprobs=logprobs, parallel=parallel
    )
    return tokens, (raw if mode == "raw" else chosen), top_ids, top_lps


def _row_workspace(V: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ws_f, ws_i = workspace(1, V)
    return ws_f[0, 0], ws_f[0, 1], ws_i[0]


def sample_next(logits: np.ndarray, params: SamplingParams, generated_ids: Sequence[int], u: float) -> int:
    """The token the contract draws for uniform ``u`` (equals ``reference.sample_reference``)."""
    a = np.asarray(logits)
    if a.ndim != 1:
        raise InvalidLogits(f"logits must be one-dimensional, got shape {a.shape}")
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must lie in [0, 1), got {u}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    _, _, _, _, _, hist_ids, _, bias_ids, bias_vals = _pack([params], [generated_ids])
    top_ids = np.full(1, -1, np.int64)
    top_lps = np.full(1, -np.inf, np.float64)
    st, tok, _, _ = _sample_row(
        a,
        params.temperature,
        params.top_p,
        params.presence_penalty,
        params.frequency_penalty,
        hist_ids,
        bias_ids,
        bias_vals,
        float(u),
        0,
        False,
        False,
        top_ids,
        top_lps,
        *_row_workspace(a.size),
    )
    if st != OK:
        _raise_status(st, 0, a.size)
    return int(tok)
