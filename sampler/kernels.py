"""The numba fast path: the contract of ``reference.py`` without sorting the vocabulary.

:func:`_sample_row` is one step of ``../shared/SEMANTICS.md`` for one row, one op per step in the
contract's order (the ops live in :mod:`sampler.ops`, each naming its step):

========================  =====================================================================
:func:`scan`              NaN / ``+inf`` / all ``-inf`` are model errors; the raw maximum
:func:`penalties`         step 1, sparse: only the history's ids are patched (the row is never copied)
:func:`logit_bias`        step 2, sparse: only the biased ids
:func:`greedy`            step 3 with ``T == 0``: argmax, ties to the lowest id
:func:`softmax_sum`       step 3 with ``T > 0``: the normaliser ``S`` of ``p = w / S`` (after
                          :func:`softmax_shift`, the stable shift)
:func:`head`              the tokens steps 4-5 can reach, with their exact weights
:func:`top_p_cut`         step 4: the token crossing ``top_p``, the kept mass
:func:`draw`              step 5: inverse CDF over the kept tokens with the row's ``u``
:func:`report`            reported logprobs, ``raw`` (:func:`raw_normaliser`) or ``processed``
========================  =====================================================================

The row loop :func:`_sample_rows` is compiled once per logit dtype (``nogil``; the orchestrator is
inlined into it, so numba builds one library for both instead of optimising the whole program twice);
:func:`sample_batch_full` runs it on the calling thread or, for big batches, on several threads at
once, every copy taking the next row from one atomic counter (a descheduled thread on a busy machine
delays one row, not half the batch). Each thread has its own scratch (four flat buffers, cut into
:class:`Workspace` views inside the kernel), allocated once and reused: fresh megabyte buffers would
cost more in page faults than the sampling.

Compilation (numba, ~15 s on a 2-core AVX2 machine with an empty cache, then loaded from numba's
on-disk cache in well under a second) happens on first use, or ahead of it: :func:`warm_up_in_background`
is started by code that is about to sample (the provider, when it builds its app), never by an import.
One kernel serves: float64 logits whose values are all float32 values (llama.cpp's logits, copied)
are read as float32 (:func:`kernel_logits`), so the float64 kernel is compiled only for logits that
need it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit

from .errors import InvalidLogits
from .ops.bits import fetch_add
from .ops.greedy import greedy
from .ops.logprobs import Pick, report
from .ops.nucleus import NBINS, QUARTERS, Head, draw, head, top_p_cut
from .ops.patch import (
    GROUP,
    ST_HISTORY,
    Patch,
    clear_patch,
    ids_in_vocabulary,
    logit_bias,
    patched_max,
    penalties,
    softmax_shift,
)
from .ops.scan import LANES, MESSAGES, OK, scan
from .ops.softmax import inverse_temperature, raw_normaliser, softmax_sum
from .params import LOGPROBS_MODES, SamplingParams, check_logit_bias_ids

#: default smallest batch sent to several threads
PARALLEL_MIN_BATCH = 2
#: ... and the smallest number of logits (B * V) worth the thread hand-off (~0.05 ms). Two threads
#: against one here (AVX2, 2 cores): B = 2 at V = 32,000 (64k logits) 0.83x for top_p; 128k-256k
#: logits 1.03-1.75x; B = 8 at V = 128,256 1.85x, which the old bound (1M) left on one thread
PARALLEL_MIN_WORK = 1 << 17
#: columns of the per-row parameter matrix
T, TOP_P, PRESENCE, FREQUENCY, U = range(5)


class Step(NamedTuple):
    """One row's request as the kernel sees it."""

    temperature: float
    top_p: float
    presence: float
    frequency: float
    u: float
    top_k: int
    processed: bool
    logprobs: bool


class Workspace(NamedTuple):
    """One thread's scratch: the scan's lane maxima, the row's patch, its head."""

    lanes: np.ndarray
    patch: Patch
    head: Head


class FullSample(NamedTuple):
    """:func:`sample_batch_full`'s result, one entry (or row of ``top_k``) per logit row."""

    tokens: np.ndarray
    raw_logprobs: np.ndarray
    logprobs: np.ndarray
    top_ids: np.ndarray
    top_logprobs: np.ndarray


class Sample(NamedTuple):
    """:func:`sample_batch`'s result: logprobs in the requested mode."""

    tokens: np.ndarray
    logprobs: np.ndarray
    top_ids: np.ndarray
    top_logprobs: np.ndarray


@njit(cache=True, inline="always")
def _sample_row(row: np.ndarray, s: Step, hist: np.ndarray, bias_ids: np.ndarray, bias_vals: np.ndarray,
                ws: Workspace, top_ids: np.ndarray, top_lps: np.ndarray) -> tuple[int, int, float, float]:
    """One sampling step of SEMANTICS.md: ``(status, token, raw logprob, logprob in the mode)``; the
    logprobs are NaN when neither they nor a top-k are asked for."""
    top_ids[:], top_lps[:] = -1, -np.inf
    status, rmax = scan(row, ws.lanes, ws.head.z)                            # model errors
    if status == OK and not ids_in_vocabulary(hist, row.size):
        status = ST_HISTORY
    if status != OK:
        return status, -1, np.nan, np.nan
    pt, hd = ws.patch, ws.head
    n = penalties(row, hist, s.presence, s.frequency, pt)                    # step 1
    n = logit_bias(row, bias_ids, bias_vals, pt, n)                           # step 2
    S, m, m_top = 1.0, np.int64(0), np.int64(0)
    if s.temperature == 0.0:
        tok = greedy(row, patched_max(row, rmax, pt, n), pt, n)              # step 3, T == 0
        pick = Pick(tok, 1.0, tok, 1.0, 1.0)  # the greedy token alone, all the kept mass
    else:
        inv_t = inverse_temperature(s.temperature)
        shift = softmax_shift(row, rmax, ws.lanes, inv_t, pt, n)
        S = softmax_sum(row, shift, inv_t, pt, n)                            # step 3, T > 0
        m, m_top = head(row, shift, s.temperature, S, s.top_p, s.u, s.top_k if s.processed else 0, ws.lanes, pt,
                        n, hd, 0 if s.processed else s.top_k, top_ids, top_lps)
        cut, kept, w_cut = top_p_cut(hd, m, s.top_p, S)                      # step 4
        tok, w_tok = draw(hd, m, s.u, kept, cut, w_cut)                      # step 5
        pick = Pick(tok, w_tok, cut, w_cut, kept)
    clear_patch(pt, n)
    if not (s.logprobs or s.top_k > 0):
        return OK, pick.token, np.nan, np.nan
    raw_sum = S if s.temperature == 1.0 and n == 0 else raw_normaliser(row, rmax)
    raw, mode = report(row, rmax, raw_sum, pick, s.temperature == 0.0, s.processed, s.top_k, ws.lanes, m_top,
                       hd, m, top_ids, top_lps)
    return OK, pick.token, raw, mode


@njit(cache=True)
def _views(f64: np.ndarray, i64: np.ndarray, slot: np.ndarray, gflag: np.ndarray, V: int, cap: int) -> Workspace:
    """Cut a thread's four flat buffers into the named scratch arrays."""
    f, i = 0, 0
    lanes = f64[f:f + LANES]
    f += LANES
    patch = Patch(slot, gflag, i64[i:i + cap], f64[f:f + cap], i64[i + cap:i + 2 * cap])
    f += cap
    i += 2 * cap
    fv = f64[f:f + 3 * V + NBINS + QUARTERS + 256]
    iv = i64[i:i + 2 * V + 256 + V // GROUP + 2]
    hd = Head(ids=iv[:V], z=fv[:V], w=fv[V:2 * V], groups=iv[2 * V + 256:], mass=fv[3 * V:3 * V + NBINS],
              sample_mass=fv[3 * V + NBINS:3 * V + NBINS + QUARTERS], sel_ids=iv[V:2 * V], sel_w=fv[2 * V:3 * V],
              radix_count=iv[2 * V:2 * V + 256], radix_mass=fv[3 * V + NBINS + QUARTERS:])
    return Workspace(lanes, patch, hd)


def _buffer_sizes(V: int, cap: int) -> tuple[int, int]:
    """Lengths of the float64 and int64 buffers :func:`_views` cuts."""
    return LANES + cap + 3 * V + NBINS + QUARTERS + 256, 2 * cap + 2 * V + 256 + V // GROUP + 2


class Batch(NamedTuple):
    """A batch's parameters as the kernel takes them (CSR for the variable-length history and bias)."""

    params: np.ndarray
    flags: np.ndarray
    hist_ptr: np.ndarray
    hist_ids: np.ndarray
    bias_ptr: np.ndarray
    bias_ids: np.ndarray
    bias_vals: np.ndarray


class Buffers(NamedTuple):
    """One thread's scratch: float64, int64, the zeroed ``slot`` (int32) and ``gflag`` (uint8), and the
    largest number of patched ids per row it holds room for."""

    f64: np.ndarray
    i64: np.ndarray
    slot: np.ndarray
    gflag: np.ndarray
    cap: int


class Outputs(NamedTuple):
    """What the kernel writes per row: (status, token), (raw logprob, logprob), the top lists."""

    ints: np.ndarray
    floats: np.ndarray
    top_ids: np.ndarray
    top_lps: np.ndarray


@njit(cache=True, nogil=True)
def _sample_rows(logits2d: np.ndarray, batch: Batch, buf: Buffers, out: Outputs, next_row: np.ndarray) -> None:
    """The row loop: takes the next row from the shared counter ``next_row[0]`` (atomically) until
    none is left, so one thread runs every row or several threads, each with its own scratch ``buf``,
    run this same loop at once (the GIL is released). ``batch.params`` holds per row (T, top_p,
    presence, frequency, u), ``batch.flags`` (top_k, processed, logprobs); results go to ``out``."""
    ws = _views(buf.f64, buf.i64, buf.slot, buf.gflag, logits2d.shape[1], buf.cap)
    k, processed, logprobs = batch.flags[0], batch.flags[1] != 0, batch.flags[2] != 0
    hp, bp = batch.hist_ptr, batch.bias_ptr
    r = fetch_add(next_row, 0, np.int64(1))
    while r < logits2d.shape[0]:
        p = batch.params[r]
        s = Step(p[T], p[TOP_P], p[PRESENCE], p[FREQUENCY], p[U], k, processed, logprobs)
        out.ints[0, r], out.ints[1, r], out.floats[0, r], out.floats[1, r] = _sample_row(
            logits2d[r], s, batch.hist_ids[hp[r]:hp[r + 1]], batch.bias_ids[bp[r]:bp[r + 1]],
            batch.bias_vals[bp[r]:bp[r + 1]], ws, out.top_ids[r], out.top_lps[r])
        r = fetch_add(next_row, 0, np.int64(1))


_LOCAL = threading.local()
_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def buffers(vocab_size: int, patch_capacity: int) -> Buffers:
    """This thread's scratch for rows of ``vocab_size`` logits with up to ``patch_capacity`` patched
    ids: grown when a call needs more, otherwise reused (``slot``/``gflag`` are zero between rows)."""
    b: Buffers | None = getattr(_LOCAL, "buffers", None)
    if b is not None and b.slot.size >= vocab_size and b.cap >= patch_capacity:
        return b
    V = max(vocab_size, b.slot.size if b is not None else 0)
    cap = max(patch_capacity, b.cap if b is not None else 0, 64)
    nf, ni = _buffer_sizes(V, cap)
    b = Buffers(np.empty(nf), np.empty(ni, np.int64), np.zeros(V, np.int32), np.zeros(V // GROUP + 1, np.uint8),
                cap)
    _LOCAL.buffers = b
    return b


def _pool(workers: int) -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL or _POOL[0]._max_workers < workers:  # noqa: SLF001 - sized once, grown rarely
            if _POOL:
                _POOL.pop().shutdown(wait=False)
            _POOL.append(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oairef-sampler"))
        return _POOL[0]


def use_parallel(batch: int, vocab_size: int, parallel: bool | None) -> bool:
    """Rows go to several threads when asked, or by default when the batch is big enough to pay for
    the hand-off (``batch >= PARALLEL_MIN_BATCH`` and ``batch * V >= PARALLEL_MIN_WORK``) and numba
    allows more than one thread (``numba.set_num_threads`` / ``NUMBA_NUM_THREADS``). On an
    oversubscribed machine pass ``parallel=False``."""
    if parallel is not None:
        return parallel
    return batch >= PARALLEL_MIN_BATCH and batch * vocab_size >= PARALLEL_MIN_WORK and get_num_threads() > 1


def _run_rows(a: np.ndarray, batch: Batch, capacity: int, out: Outputs, threads: int) -> None:
    """Every row of ``a``: the row loop on this thread, and on ``threads - 1`` more at once, all
    taking rows from one counter."""
    B, V = a.shape
    next_row = np.zeros(1, np.int64)

    def work() -> None:
        _sample_rows(a, batch, buffers(V, capacity), out, next_row)

    helpers = [_pool(threads - 1).submit(work) for _ in range(min(threads, B) - 1)]
    work()
    for f in helpers:
        f.result()


def kernel_logits(a: np.ndarray) -> np.ndarray:
    """The logits as the kernel reads them: float32 as given; float64 as float32 when every value
    (NaN and infinities included) is a float32 value, so the narrowing is exact and the result is the
    contract's either way; other float64 as given (the float64 kernel, compiled on first need)."""
    if a.dtype == np.float64 and a.size:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            narrow = a.astype(np.float32)
        if np.array_equal(narrow, a, equal_nan=True):
            return narrow
    return a


def _as_logits2d(logits2d: np.ndarray) -> np.ndarray:
    a = np.asarray(logits2d)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.ndim != 2:
        raise InvalidLogits(f"logits must be two-dimensional (B, V), got shape {a.shape}")
    a = kernel_logits(a)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a


def pack_batch(
    params_list: Sequence[SamplingParams], histories: Sequence[Sequence[int]], us: np.ndarray, vocab_size: int,
    top_k: int, processed: bool, logprobs: bool,
) -> tuple[Batch, int]:
    """The batch's parameters as arrays, and the largest number of ids one row patches. Checks the
    bias ids (``check_logit_bias_ids``, once per parameters object: a request's candidates share
    one); the kernel checks the history ids (status ``ST_HISTORY``)."""
    checked: set[int] = set()
    hist_ptr, bias_ptr, rows, hs, bias_ids, bias_vals = [0], [0], [], [], [], []
    capacity = 0
    for i, p in enumerate(params_list):
        if id(p) not in checked:
            check_logit_bias_ids(p.logit_bias, vocab_size)
            checked.add(id(p))
        h = histories[i]
        if not (isinstance(h, np.ndarray) and h.dtype == np.int64 and h.ndim == 1):
            h = np.asarray(h, np.int64).reshape(-1)
        hs.append(h)
        hist_ptr.append(hist_ptr[-1] + h.size)
        nb = len(p.logit_bias)
        if nb:
            bias_ids.extend(p.logit_bias.keys())
            bias_vals.extend(p.logit_bias.values())
        bias_ptr.append(bias_ptr[-1] + nb)
        capacity = max(capacity, h.size + nb)
        rows.append((p.temperature, p.top_p, p.presence_penalty, p.frequency_penalty, us[i]))
    hist_ids = hs[0] if len(hs) == 1 else (np.concatenate(hs) if hs else np.zeros(0, np.int64))
    params = np.array(rows, np.float64).reshape(-1, 5)
    batch = Batch(params, np.array([top_k, processed, logprobs], np.int64), np.array(hist_ptr, np.int64), hist_ids,
                  np.array(bias_ptr, np.int64), np.array(bias_ids, np.int64), np.array(bias_vals, np.float64))
    return batch, capacity


def _outputs(B: int, k: int) -> Outputs:
    """Uninitialised outputs: the kernel writes every field of every row."""
    kk = max(k, 1)
    return Outputs(np.empty((2, B), np.int64), np.empty((2, B)), np.empty((B, kk), np.int64), np.empty((B, kk)))


def _raise_status(out: Outputs, vocab_size: int) -> None:
    if out.ints[0].any():
        r = int(np.argmax(out.ints[0] != 0))
        if out.ints[0, r] == ST_HISTORY:
            raise ValueError(f"generated ids must lie in [0, {vocab_size}) (row {r})")
        raise InvalidLogits(f"{MESSAGES[int(out.ints[0, r])]} (row {r})")


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
) -> FullSample:
    """Like :func:`sample_batch`, also returning the chosen token's raw logprob in either mode:
    ``FullSample(tokens, raw_logprobs, logprobs (in mode), top_ids, top_logprobs)``."""
    a = _as_logits2d(logits2d)
    B, V = a.shape
    if len(params_list) != B or len(histories) != B or len(us) != B:
        raise ValueError(f"params_list, histories and us must each have {B} entries (one per row)")
    if mode not in LOGPROBS_MODES:
        raise ValueError(f"mode must be one of {LOGPROBS_MODES}, got {mode!r}")
    if top_k < 0:
        raise ValueError("top_k must be >= 0")
    u = np.asarray(us, np.float64).reshape(B)
    if not all(0.0 <= x < 1.0 for x in u.tolist()):
        raise ValueError("every u must lie in [0, 1)")
    k = int(top_k)
    batch, capacity = pack_batch(params_list, histories, u, V, k, mode == "processed", bool(logprobs))
    out = _outputs(B, k)
    _run_rows(a, batch, capacity, out, get_num_threads() if use_parallel(B, V, parallel) else 1)
    _raise_status(out, V)
    return FullSample(out.ints[1], out.floats[0], out.floats[1], out.top_ids[:, :k], out.top_lps[:, :k])


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
) -> Sample:
    """Sample one token per row of ``logits2d`` (B, V).

    Row ``r`` uses ``params_list[r]``, the generated history ``histories[r]`` and uniform ``us[r]``.
    Returns ``Sample(tokens[B], logprobs[B], top_ids[B, top_k], top_logprobs[B, top_k])``; logprobs
    are raw (``log_softmax`` of the unmodified logits) unless ``mode="processed"``. Top entries are
    ordered by logprob desc, ties by id asc, padded with id ``-1`` / ``-inf`` when fewer exist.
    ``logprobs=False`` with ``top_k=0`` skips the raw normaliser (one exp pass) and returns NaN
    logprobs; ``parallel`` picks one or several threads (see :func:`use_parallel`).
    """
    full = sample_batch_full(logits2d, params_list, histories, us, top_k, mode=mode, logprobs=logprobs,
                             parallel=parallel)
    chosen = full.raw_logprobs if mode == "raw" else full.logprobs
    return Sample(full.tokens, chosen, full.top_ids, full.top_logprobs)


def sample_next(logits: np.ndarray, params: SamplingParams, generated_ids: Sequence[int], u: float) -> int:
    """The token the contract draws for uniform ``u`` (equals ``reference.sample_reference``)."""
    a = np.asarray(logits)
    if a.ndim != 1:
        raise InvalidLogits(f"logits must be one-dimensional, got shape {a.shape}")
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must lie in [0, 1), got {u}")
    batch, capacity = pack_batch([params], [generated_ids], np.array([float(u)]), a.size, 0, False, False)
    out = _outputs(1, 0)
    _run_rows(_as_logits2d(a.reshape(1, -1)), batch, capacity, out, 1)
    _raise_status(out, a.size)
    return int(out.ints[1, 0])


#: set to 0 to keep :func:`warm_up_in_background` from compiling (a process that samples then compiles
#: on its first call)
WARM_UP_ENV = "OAIREF_SAMPLER_WARMUP"
_WARMING: list[threading.Thread] = []


def warm_up(dtypes: Sequence[type] = (np.float32,)) -> None:
    """Compile the kernel for logits of each dtype now (or load it from numba's on-disk cache, which
    takes well under a second once a first run has filled it). float32 is the kernel every model of
    this project is served with (:func:`kernel_logits`)."""
    for dt in dtypes:
        sample_batch_full(np.zeros((1, 4), dt), [SamplingParams(temperature=0.5, top_p=0.9)], [[1]], [0.5], 1)


def warm_up_in_background() -> threading.Thread | None:
    """:func:`warm_up` on a daemon thread, started once per process by code about to sample (the
    provider when it builds its app); returns the thread, or None when ``OAIREF_SAMPLER_WARMUP=0``.
    A sampling call made meanwhile waits for that compilation (numba's compiler lock) instead of
    starting its own; :func:`wait_for_warm_up` waits for it."""
    if os.environ.get(WARM_UP_ENV, "1") == "0":
        return None
    with _POOL_LOCK:
        if not _WARMING:
            t = threading.Thread(target=_warm_up_quietly, name="oairef-sampler-warm-up", daemon=True)
            t.start()
            _WARMING.append(t)
        return _WARMING[0]


def wait_for_warm_up(timeout: float | None = None) -> bool:
    """Wait up to ``timeout`` seconds for the background warm-up, if one was started; True when none
    is running any more."""
    with _POOL_LOCK:
        t = _WARMING[0] if _WARMING else None
    if t is not None:
        t.join(timeout)
        return not t.is_alive()
    return True


def _warm_up_quietly() -> None:
    with contextlib.suppress(Exception):  # a real call compiles again and raises where it is seen
        warm_up()
