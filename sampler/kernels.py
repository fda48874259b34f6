"""The numba fast path: the contract of ``reference.py`` without sorting the vocabulary.

Per row (``V`` logits, float32 or float64 read in place, arithmetic in float64):

1. one pass: widen into a float64 scratch ``w``, reject NaN/+inf/all ``-inf``, raw max;
2. penalties and ``logit_bias`` touch only the ids in the history / the bias map (sparse);
3. ``T == 0``: argmax, ties to the lowest id. Otherwise one pass ``w = exp((z - max) / T)`` and its
   sum ``S`` (plus the raw log-sum-exp for the reported logprobs);
4. the top_p cut and the inverse-CDF draw are both *weighted selections* in the order
   (``w`` desc, id asc): "the first token whose prefix mass reaches a target". :func:`_crossing`
   finds it without sorting: ``w >= 0`` so the IEEE-754 bit patterns of ``w`` order like the values;
   a 2048-bin histogram over the exponent bits (count + mass per bin) locates the bin where the
   prefix mass crosses the target, then the few candidates of that bin are refined by 8 mantissa
   bits at a time (radix select, 256 bins, only over the survivors), and at most ``_SMALL`` survivors
   are insertion-sorted. Expected cost O(V) with small constants; exact ties end up in id order.
   Unlike llama.cpp's bucket sort it never sorts the kept set, and unlike pivot bisection
   (FlashInfer) it needs one histogram pass instead of ~32 mass passes;
5. top-k logprobs by an insertion selection (k <= 20), ties by id.

Floating-point sums are accumulated in a different order than numpy's, so the fast path may
differ from the reference only when ``u`` (or ``top_p``) lies within ~1e-12 of a cumulative boundary.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence

import numpy as np
from numba import config, get_num_threads, get_thread_id, njit, prange

from .errors import InvalidLogits, InvalidParameter
from .params import SamplingParams

_SMALL = 32
#: default smallest batch sent to the parallel kernel
PARALLEL_MIN_BATCH = 4
#: ... and the smallest number of logits (B * V) worth the parallel kernel
PARALLEL_MIN_WORK = 1 << 20
_NEXP = 2048

OK, ST_NAN, ST_POSINF, ST_ALLNEG, ST_BIAS_ID, ST_HIST_ID, ST_EMPTY = 0, 1, 2, 3, 4, 5, 6
_MESSAGES = {
    ST_NAN: "logits contain NaN",
    ST_POSINF: "logits contain +inf",
    ST_ALLNEG: "every logit is -inf: no token can be drawn",
    ST_EMPTY: "logits are empty",
}


# exp(x) for x <= 0 as 2**k * poly(r): a Cody-Waite reduction r = x - k ln2 (|r| <= ln2 / 2) and the
# degree-13 Taylor polynomial (truncation < 5e-18), then k is added to the exponent bits in a second
# vectorisable pass. Accuracy ~1 ulp (numpy's exp is also ~1 ulp); results below the normal range
# (k < -1021) are scaled by ldexp (one rounding). LLVM vectorises both passes (libm's exp it cannot).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_C = tuple(1.0 / math.factorial(i) for i in range(14))
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = _C[2:]


@njit(cache=True)
def _exp_poly(x: float) -> tuple[float, float]:
    kf = np.floor(x * _INV_LN2 + 0.5)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    p = p * r + 1.0
    return p, kf


@njit(cache=True)
def _exp_shifted(src: np.ndarray, shift: float, temperature: float, out: np.ndarray, kk: np.ndarray) -> None:
    """``out[j] = exp((src[j] - shift) / temperature)`` for ``src[j] <= shift`` (``-inf`` gives 0).

    ``out`` may be ``src`` (float64); ``kk`` is int64 scratch of the same length.
    """
    n = src.size
    for j in range(n):
        x = max((float(src[j]) - shift) / temperature, -800.0)
        p, kf = _exp_poly(x)
        out[j] = p
        kk[j] = int(kf)
    bits = out.view(np.int64)
    slow = 0
    for j in range(n):
        k = kk[j]
        ok = k >= -1021
        bits[j] = bits[j] + ((k if ok else 0) << 52)
        slow += 0 if ok else 1
    if slow:
        for j in range(n):
            if kk[j] < -1021:
                out[j] = math.ldexp(out[j], kk[j])  # one rounding into the subnormal range (or 0)


@njit(cache=True)
def _widen(row: np.ndarray, w: np.ndarray) -> int:
    """``w = float64(row)``; returns how many entries are NaN or ``+inf``."""
    bad = 0
    for j in range(row.size):
        x = float(row[j])
        w[j] = x
        bad += (x != x) | (x == np.inf)
    return bad


@njit(cache=True, fastmath={"nnan", "nsz", "reassoc"})
def _max(a: np.ndarray) -> float:
    """The maximum of ``a`` (no NaN: checked by :func:`_widen` first; ``-inf`` allowed)."""
    m = -np.inf
    for j in range(a.size):
        x = a[j]
        m = x if x > m else m
    return m


@njit(cache=True, fastmath={"reassoc"})
def _sum(a: np.ndarray) -> float:
    """A vectorised (reassociated) sum."""
    s = 0.0
    for j in range(a.size):
        s += a[j]
    return s


@njit(cache=True)
def _before(w: np.ndarray, a: int, b: int) -> bool:
    """True when token ``a`` precedes ``b`` in the nucleus order (w desc, id asc)."""
    return w[a] > w[b] or (w[a] == w[b] and a < b)


@njit(cache=True)
def _exponent_histogram(w: np.ndarray, cnt: np.ndarray, mass: np.ndarray) -> None:
    """Count and mass of the positive ``w`` per IEEE-754 exponent (``bits >> 52``; ``w >= 0``)."""
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
    V = w.size
    bits = w.view(np.uint64)
    cum = 0.0
    found = -1
    last = -1
    for b in range(_NEXP - 1, -1, -1):
        if cnt[b] > 0:
            last = b
            nxt = cum + mass[b]
            if nxt > target or (not strict and nxt == target):
                found = b
                break
            cum = nxt
    if found < 0:
        found = last
        cum -= mass[last]
    m = 0
    fb = np.uint64(found)
    for j in range(V):
        if (bits[j] >> np.uint64(52)) == fb and w[j] > 0.0:
            cand[m] = j
            m += 1
    # radix refinement over the mantissa, 8 bits at a time, only over the survivors
    shift = 44
    c2 = np.zeros(256, np.int64)
    s2 = np.zeros(256, np.float64)
    while m > _SMALL and shift >= 0:
        c2[:] = 0
        s2[:] = 0.0
        sh = np.uint64(shift)
        for i in range(m):
            j = cand[i]
            b = (bits[j] >> sh) & np.uint64(255)
            c2[b] += 1
            s2[b] += w[j]
        found = -1
        last = -1
        for b in range(255, -1, -1):
            if c2[b] > 0:
                last = b
                nxt = cum + s2[b]
                if nxt > target or (not strict and nxt == target):
                    found = b
                    break
                cum = nxt
        if found < 0:
            found = last
            cum -= s2[last]
        fb = np.uint64(found)
        k = 0
        for i in range(m):
            j = cand[i]
            if ((bits[j] >> sh) & np.uint64(255)) == fb:
                cand[k] = j
                k += 1
        m = k
        shift = shift - 8 if shift > 4 else (0 if shift == 4 else -1)
    # insertion sort of the survivors (stable: ids arrive ascending)
    for i in range(1, m):
        j = cand[i]
        x = w[j]
        p = i - 1
        while p >= 0 and w[cand[p]] < x:
            cand[p + 1] = cand[p]
            p -= 1
        cand[p + 1] = j
    for i in range(m):
        nxt = cum + w[cand[i]]
        if nxt > target or (not strict and nxt == target):
            return cand[i], nxt
        cum = nxt
    return cand[m - 1], cum


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
    w = ws_z[:V]
    ibuf = ibuf[:V]
    if _widen(row, w):
        for j in range(V):
            if w[j] != w[j]:
                return ST_NAN, -1, 0.0, 0.0
        return ST_POSINF, -1, 0.0, 0.0
    rmax = _max(w)
    if rmax == -np.inf:
        return ST_ALLNEG, -1, 0.0, 0.0
    touched = False
    # 1. penalties, from the generated history only (sparse: counts kept in the int scratch at the
    #    history's ids only, so the cost is O(len(history)), never O(V))
    if hist.size > 0 and (presence != 0.0 or frequency != 0.0):
        for i in range(hist.size):
            t = hist[i]
            if t < 0 or t >= V:
                return ST_HIST_ID, -1, 0.0, 0.0
            ibuf[t] = 0
        for i in range(hist.size):
            ibuf[hist[i]] += 1
        for i in range(hist.size):
            t = hist[i]
            c = ibuf[t]
            if c > 0:
                w[t] = w[t] - (float(c) * frequency + presence)
                ibuf[t] = 0  # applied once per distinct id
        touched = True
    # 2. logit_bias
    for i in range(bias_ids.size):
        t = bias_ids[i]
        if t < 0 or t >= V:
            return ST_BIAS_ID, -1, 0.0, 0.0
        w[t] = w[t] + bias_vals[i]
        touched = True
    zmax = _max(w) if touched else rmax
    need_raw = need_lp or k > 0
    tmp_buf = ws_e[:V]
    rsum = 1.0
    Wk = 1.0
    cut = -1
    if temperature == 0.0:
        # 3. greedy: argmax, ties to the lowest id (the first entry equal to the maximum)
        tok = 0
        while w[tok] != zmax:
            tok += 1
    else:
        # 3. softmax numerators (into a fresh buffer: in-place aliasing would block vectorisation);
        # the logits buffer becomes scratch for the raw normaliser below
        e = ws_e[:V]
        _exp_shifted(w, zmax, temperature, e, ibuf)
        tmp_buf = w
        w = e
        S = _sum(w)
        if need_raw and not touched and temperature == 1.0:
            rsum = S
            need_raw = False
        cnt = np.empty(_NEXP, np.int64)
        mass = np.empty(_NEXP, np.float64)
        _exponent_histogram(w, cnt, mass)
        # 4. top_p cut: the first token whose prefix mass reaches top_p * S
        if top_p < 1.0:
            cut, Wk = _crossing(w, cnt, mass, top_p * S, False, ibuf)
        else:
            Wk = S
        # 5. inverse CDF: the first token whose prefix mass exceeds u * Wk
        tok, _ = _crossing(w, cnt, mass, u * Wk, True, ibuf)
        if cut >= 0 and _before(w, cut, tok):
            tok = cut
    if need_raw:
        _exp_shifted(row, rmax, 1.0, tmp_buf, ibuf)
        rsum = _sum(tmp_buf)
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
            for j in range(V):
                v = float(row[j])
                if v > -np.inf and (m < k or v > top_lps[m - 1]):
                    m = _insert_top(top_ids, top_lps, m, k, j, v)
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
