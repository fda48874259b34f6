"""Where the fast path's time goes at one (V, config): ``python -m benchmarks.fastpath_profile``.

Measured, single-threaded, minimum over repeats (the machine is shared, minima are the stable
statistic here):

- ``sample_next`` end to end (config ``top_p``: T = 0.8, top_p = 0.9) and the minor page faults
  it takes per call (``getrusage``): per-call scratch arrays that the allocator returns to the OS
  are faulted in again on every call;
- ``sampler.kernels._crossing`` (the radix-select used for the top_p cut and for the draw) on the
  real softmax numerators, and its exponent-histogram pass alone;
- stand-alone numba loops shaped like the kernel's passes: widen + max; the softmax-numerator pass
  with libm ``exp`` (as written: two ``exp`` per element, ``w`` and the raw log-sum-exp; and one);
  the same pass with a vectorisable polynomial ``exp`` (Cody-Waite reduction + degree-12 Taylor,
  ``2**k`` through the exponent bits; relative error ~1e-14, inside the 1e-12 contract tolerance);
- the roofline (numpy ``np.exp`` over the float32 row).

The stand-alone loops are *proposals and measurements*, not the sampler: they show what each pass
costs and what a change would buy.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

LN2HI = 6.93147180369123816490e-01
LN2LO = 1.90821492927058770002e-10
INVLN2 = 1.44269504088896338700e00


def _tmin(fn: Callable[[], Any], n: int) -> float:
    fn()
    fn()
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _faults(fn: Callable[[], Any], n: int) -> float:
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


def _kernels() -> dict[str, Callable[..., Any]]:
    from numba import njit

    @njit(cache=True)
    def widen_max(row: np.ndarray, w: np.ndarray) -> float:
        m = -np.inf
        for j in range(row.size):
            x = float(row[j])
            w[j] = x
            if x > m:
                m = x
        return m

    @njit(cache=True)
    def exp_libm_two(row: np.ndarray, w: np.ndarray, zmax: float, t: float) -> float:
        s = 0.0
        r = 0.0
        for j in range(row.size):
            e = np.exp((w[j] - zmax) / t)
            w[j] = e
            s += e
            r += np.exp(float(row[j]) - zmax)
        return s + r

    @njit(cache=True)
    def exp_libm_one(w: np.ndarray, zmax: float, t: float) -> float:
        s = 0.0
        for j in range(w.size):
            e = np.exp((w[j] - zmax) / t)
            w[j] = e
            s += e
        return s

    @njit(cache=True, fastmath=True)
    def exp_poly(w: np.ndarray, zmax: float, inv_t: float, kb: np.ndarray) -> float:
        n = w.size
        for j in range(n):
            x = max((w[j] - zmax) * inv_t, -708.0)
            k = np.floor(x * INVLN2 + 0.5)
            r = x - k * LN2HI - k * LN2LO
            p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
                1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (
                    1 / 3628800 + r * (1 / 39916800 + r * (1 / 479001600))))))))))))
            w[j] = p
            kb[j] = (np.int64(k) + 1023) << 52
        sc = kb.view(np.float64)
        s = 0.0
        for j in range(n):
            e = w[j] * sc[j]
            w[j] = e
            s += e
        return s

    @njit(cache=True)
    def exponent_histogram(w: np.ndarray) -> float:
        bits = w.view(np.uint64)
        cnt = np.zeros(2048, np.int64)
        mass = np.zeros(2048, np.float64)
        for j in range(w.size):
            x = w[j]
            if x > 0.0:
                b = bits[j] >> np.uint64(52)
                cnt[b] += 1
                mass[b] += x
        return float(cnt[0]) + mass[0]

    return {"widen_max": widen_max, "exp_libm_two": exp_libm_two, "exp_libm_one": exp_libm_one,
            "exp_poly": exp_poly, "exponent_histogram": exponent_histogram}


def profile(vocab: int = 128_256, shape: str = "gaussian", repeats: int = 40) -> dict[str, Any]:
    """Milliseconds per pass (minimum over ``repeats``) and page faults per ``sample_next`` call."""
    import numba

    from benchmarks.logits import make_logits
    from sampler.params import SamplingParams

    try:
        from sampler import sample_next
    except ImportError:
        from sampler.kernels import sample_next
    from sampler import kernels as sk

    numba.set_num_threads(1)
    k = _kernels()
    z = make_logits(shape, 1, vocab)[0]
    params = SamplingParams(temperature=0.8, top_p=0.9)
    w = np.empty(vocab)
    kb = np.empty(vocab, np.int64)
    out32 = np.empty(vocab, np.float32)
    res: dict[str, Any] = {"vocab": vocab, "shape": shape, "config": "top_p (T=0.8, top_p=0.9)", "unit": "ms"}
    res["sample_next"] = _tmin(lambda: sample_next(z, params, (), 0.5), repeats) * 1e3
    res["sample_next_minor_faults_per_call"] = _faults(lambda: sample_next(z, params, (), 0.5), repeats)
    base = _tmin(lambda: k["widen_max"](z, w), repeats)
    res["widen_max_pass"] = base * 1e3
    m = float(z.max())

    def libm_two() -> None:
        k["widen_max"](z, w)
        k["exp_libm_two"](z, w, m, 0.8)

    def libm_one() -> None:
        k["widen_max"](z, w)
        k["exp_libm_one"](w, m, 0.8)

    def poly() -> None:
        k["widen_max"](z, w)
        k["exp_poly"](w, m, 1 / 0.8, kb)

    res["exp_pass_libm_two_exps"] = (_tmin(libm_two, repeats) - base) * 1e3
    res["exp_pass_libm_one_exp"] = (_tmin(libm_one, repeats) - base) * 1e3
    res["exp_pass_vectorised_polynomial"] = (_tmin(poly, repeats) - base) * 1e3
    k["widen_max"](z, w)
    total = k["exp_libm_one"](w, m, 0.8)
    ref = np.exp((z.astype(np.float64) - m) / 0.8)
    w2 = z.astype(np.float64)
    k["exp_poly"](w2, m, 1 / 0.8, kb)
    res["polynomial_exp_max_rel_error"] = float(np.max(np.abs(w2 - ref) / ref))
    cand = np.empty(vocab, np.int64)
    try:  # private kernel: current signature (shared exponent histogram) first, then the first one
        cnt, mass = np.zeros(2048, np.int64), np.zeros(2048, np.float64)
        sk._exponent_histogram(w, cnt, mass)
        res["crossing_top_p_cut"] = _tmin(lambda: sk._crossing(w, cnt, mass, 0.9 * total, False, cand), repeats) * 1e3
        res["crossing_draw"] = _tmin(lambda: sk._crossing(w, cnt, mass, 0.45 * total, True, cand), repeats) * 1e3
        res["crossing_note"] = "histogram shared; crossing times exclude it"
    except (AttributeError, TypeError):
        try:
            res["crossing_top_p_cut"] = _tmin(lambda: sk._crossing(w, 0.9 * total, False, cand), repeats) * 1e3
            res["crossing_draw"] = _tmin(lambda: sk._crossing(w, 0.45 * total, True, cand), repeats) * 1e3
            res["crossing_note"] = "each crossing builds its own histogram"
        except (AttributeError, TypeError) as exc:
            res["crossing_note"] = f"sampler.kernels._crossing not profiled ({type(exc).__name__})"
    res["exponent_histogram_pass"] = _tmin(lambda: k["exponent_histogram"](w), repeats) * 1e3
    res["roofline_np_exp_f32"] = _tmin(lambda: np.exp(z, out=out32), repeats) * 1e3
    return res


def to_markdown(res: dict[str, Any]) -> str:
    lines = [f"Fast-path profile, V = {res['vocab']:,}, {res['shape']} logits, config {res['config']}, "
             "1 thread, minimum of repeats (ms):", "", "| pass | ms |", "|---|---|"]
    for key, val in res.items():
        if key in ("vocab", "shape", "config", "unit"):
            continue
        lines.append(f"| {key} | {val:.4g} |" if isinstance(val, float) else f"| {key} | {val} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fastpath_profile", description=__doc__)
    ap.add_argument("--vocab", type=int, default=128_256)
    ap.add_argument("--shape", choices=("gaussian", "peaked"), default="gaussian")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.vocab < 2 or args.repeats < 1:
        ap.error("--vocab must be >= 2 and --repeats >= 1")
    res = profile(args.vocab, args.shape, args.repeats)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    sys.stdout.write(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
