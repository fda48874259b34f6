"""Where the fast path's time goes: ``python -m benchmarks.fastpath_profile``.

Each op of ``sampler/kernels.py:_sample_row`` is called on its own, in the kernel's order, on the
benchmark's logits and inputs (``benchmarks.configs``: ``top_p`` and ``full``), single-threaded:

- ``hot``: one row again and again (it stays in cache, as the B = 1 benchmark cells);
- ``cold``: the B = 32 matrix row after row (each row comes from L3/DRAM once, and the rows differ
  in how much of the vocabulary the top_p head holds, as the B = 32 cells).

Per op: the minimum over repeats (the machine is shared: minima are the stable statistic) in
milliseconds and in rooflines (numpy's float32 ``exp`` over the same row, the benchmark's
roofline), and the whole ``sample_batch`` call for comparison (the ops add a Python call each,
~2 us; the head's op also restores the scan's sample, ~1 us). The head's size (tokens with exact
weights) is reported too.

``batching`` compares per-row CPU seconds (``time.thread_time``, so another process on the core
does not count) of whole ``sample_batch`` calls: the B = 1 benchmark cell (row 0, its own inputs),
B = 1 on each of the B = 32 matrix's rows (each row again and again: hot, as a model's fresh output
would be), and B = 32 on one thread (``parallel=False``) divided by 32. The first over the second
is how much cheaper the B = 1 cell's row is than the average row; the third over the second is
what batching itself costs per row (rows from L3, ...); the third over the first bounds the
B = 32 / B = 1 throughput ratio at ``2 / that`` on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

OPS = ("scan", "penalties + bias + shift", "softmax sum S", "raw normaliser", "head (estimate + collect)",
       "top_p cut", "draw", "clear patch", "report (logprobs, top-k)")


def _tmin(fn: Callable[[], Any], n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _step_ops(row: np.ndarray, params: Any, hist: np.ndarray, bias_ids: np.ndarray, bias_vals: np.ndarray,
              k: int, ws: Any) -> tuple[list[tuple[str, Callable[[], Any]]], dict[str, Any]]:
    """The kernel's ops for one row as zero-argument calls, in order, each using what the previous
    left in the returned state dict."""
    from sampler.ops import logprobs as LP
    from sampler.ops import nucleus as N
    from sampler.ops import patch as P
    from sampler.ops import scan as SC
    from sampler.ops import softmax as SM

    top_ids, top_lps = np.full(max(k, 1), -1, np.int64), np.full(max(k, 1), -np.inf)
    state: dict[str, Any] = {}
    t, top_p, u = params.temperature, params.top_p, 0.5

    def scan() -> None:
        state["rmax"] = SC.scan(row, ws.lanes, ws.head.z)[1]
        state["sample"] = ws.head.z[:row.size // SC.LANES].copy()

    def patch() -> None:
        n = P.penalties(row, hist, params.presence_penalty, params.frequency_penalty, ws.patch)
        n = P.logit_bias(row, bias_ids, bias_vals, ws.patch, n)
        state["n"], state["zmax"] = n, P.softmax_shift(row, state["rmax"], ws.lanes, SM.inverse_temperature(t), ws.patch, n)

    def softmax() -> None:
        state["S"] = SM.softmax_sum(row, state["zmax"], SM.inverse_temperature(t), ws.patch, state["n"])

    def raw() -> None:
        state["raw"] = SM.raw_normaliser(row, state["rmax"]) if k else 1.0

    def head() -> None:
        ws.head.z[:state["sample"].size] = state["sample"]  # the scan's sample, which collect overwrites
        state["m"], state["m_top"] = N.head(row, state["zmax"], t, state["S"], top_p, u, 0, ws.lanes, ws.patch,
                                            state["n"], ws.head, k, top_ids, top_lps)

    def cut() -> None:
        state["cut"] = N.top_p_cut(ws.head, state["m"], top_p, state["S"])

    def draw() -> None:
        c, kept, wc = state["cut"]
        state["tok"] = N.draw(ws.head, state["m"], u, kept, c, wc)

    def clear() -> None:
        P.clear_patch(ws.patch, state["n"])

    def report() -> None:
        c, kept, wc = state["cut"]
        pick = LP.Pick(state["tok"][0], state["tok"][1], c, wc, kept)
        LP.report(row, state["rmax"], state["raw"], pick, False, False, k, ws.lanes, state["m_top"], ws.head,
                  state["m"], top_ids.copy(), top_lps.copy())

    return list(zip(OPS, (scan, patch, softmax, raw, head, cut, draw, clear, report), strict=True)), state


def _cpu_median(fn: Callable[[], Any], n: int) -> float:
    fn()
    ts = []
    for _ in range(n):
        c0 = time.thread_time()
        fn()
        ts.append(time.thread_time() - c0)
    return float(np.median(ts))


def batching(logits: np.ndarray, name: str, repeats: int) -> dict[str, float]:
    """Per-row CPU milliseconds of ``sample_batch``: the B = 1 cell, B = 1 on every row (hot, mean),
    B = ``len(logits)`` on one thread (per row)."""
    from benchmarks.configs import CONFIGS, make_inputs
    from benchmarks.peers.oairef_impls import _params
    from sampler import sample_batch

    cfg = CONFIGS[name]
    B, vocab = logits.shape
    k = cfg.logprobs
    one = make_inputs(cfg, np.ascontiguousarray(logits[:1]), seed=vocab + 1)
    many = make_inputs(cfg, logits, seed=vocab + B)
    p1, pb = _params(one), _params(many)
    cell = _cpu_median(lambda: sample_batch(one.logits, [p1], [one.histories[0]], one.uniforms, k,
                                            logprobs=bool(k)), repeats)
    rows = [_cpu_median(lambda r=r: sample_batch(logits[r:r + 1], [pb], [many.histories[r]], many.uniforms[r:r + 1],
                                                 k, logprobs=bool(k)), max(3, repeats // 4)) for r in range(B)]
    batch = _cpu_median(lambda: sample_batch(logits, [pb] * B, list(many.histories), many.uniforms, k,
                                             logprobs=bool(k), parallel=False), max(3, repeats // 8)) / B
    return {"b1_cell_ms": cell * 1e3, "b1_each_row_hot_ms": float(np.mean(rows)) * 1e3, "batch_per_row_ms": batch * 1e3}


def profile(vocab: int = 128_256, shape: str = "gaussian", repeats: int = 40, batch: int = 32) -> dict[str, Any]:
    """Per-op milliseconds and rooflines, ``hot`` and ``cold``, for configs ``top_p`` and ``full``."""
    import numba

    from benchmarks.configs import CONFIGS, make_inputs
    from benchmarks.logits import make_logits
    from benchmarks.peers.oairef_impls import OairefNumba, _params
    from sampler import kernels

    numba.set_num_threads(1)
    logits = make_logits(shape, batch, vocab)
    out32 = np.empty(vocab, np.float32)
    roof = _tmin(lambda: np.exp(logits[0], out=out32), repeats)
    b = kernels.buffers(vocab, 256)
    ws = kernels._views(b.f64, b.i64, b.slot, b.gflag, vocab, b.cap)
    res: dict[str, Any] = {"vocab": vocab, "shape": shape, "batch_for_cold": batch, "unit": "ms",
                           "roofline_ms": roof * 1e3, "configs": {}}
    for name in ("top_p", "full"):
        cfg = CONFIGS[name]
        inputs = make_inputs(cfg, logits, seed=vocab + batch)
        params = _params(inputs)
        bias_ids = np.array(list(params.logit_bias), np.int64)
        bias_vals = np.array(list(params.logit_bias.values()), np.float64)
        k = cfg.logprobs
        hot = {op: float("inf") for op in OPS}
        cold = {op: 0.0 for op in OPS}
        heads = []
        for _, fn in _step_ops(logits[0], params, inputs.histories[0], bias_ids, bias_vals, k, ws)[0]:
            fn()  # the first call of each op (dispatch, cache load) stays out of the timings
        for r in range(batch):
            calls, state = _step_ops(logits[r], params, inputs.histories[r], bias_ids, bias_vals, k, ws)
            for op, fn in calls:  # cold: each row once, ops in order
                t0 = time.perf_counter()
                fn()
                cold[op] += (time.perf_counter() - t0) / batch
            heads.append(int(state["m"]))
        calls, state = _step_ops(logits[0], params, inputs.histories[0], bias_ids, bias_vals, k, ws)
        for _ in range(repeats):  # hot: row 0 again and again
            for op, fn in calls:
                t0 = time.perf_counter()
                fn()
                hot[op] = min(hot[op], time.perf_counter() - t0)
        step = OairefNumba(1).prepare(make_inputs(cfg, np.ascontiguousarray(logits[:1]), seed=vocab + 1))
        res["configs"][name] = {
            "hot": {op: v * 1e3 for op, v in hot.items()},
            "cold": {op: v * 1e3 for op, v in cold.items()},
            "sample_batch_hot_ms": _tmin(step, repeats) * 1e3,
            "head_tokens_row0": heads[0],
            "token_row0_u_0.5": int(state["tok"][0]),
            "head_tokens_median": float(np.median(heads)),
            "batching": batching(logits, name, repeats),
        }
    return res


def to_markdown(res: dict[str, Any]) -> str:
    """Per-op tables (ms and rooflines, hot and cold) for each config."""
    roof = res["roofline_ms"]
    lines = [f"Fast-path profile, V = {res['vocab']:,}, {res['shape']} logits, 1 thread, minimum of repeats; "
             f"roofline (numpy float32 exp over the row) {roof:.4g} ms.", ""]
    for name, c in res["configs"].items():
        lines += [f"### {name}", "", "| op | hot ms | hot x roof | cold ms (B = "
                  f"{res['batch_for_cold']} rows) | cold x roof |", "|---|---|---|---|---|"]
        for op in OPS:
            h, cl = c["hot"][op], c["cold"][op]
            lines.append(f"| {op} | {h:.4g} | {h / roof:.2f} | {cl:.4g} | {cl / roof:.2f} |")
        th, tc = sum(c["hot"].values()), sum(c["cold"].values())
        lines.append(f"| **sum of ops** | {th:.4g} | {th / roof:.2f} | {tc:.4g} | {tc / roof:.2f} |")
        lines.append(f"| `sample_batch` / `sample_next` (row 0) | {c['sample_batch_hot_ms']:.4g} | "
                     f"{c['sample_batch_hot_ms'] / roof:.2f} | | |")
        lines += ["", f"Head (tokens given exact weights): {c['head_tokens_row0']} on row 0, median "
                      f"{c['head_tokens_median']:.0f} over the {res['batch_for_cold']} rows.", ""]
        bt = c["batching"]
        lines += [f"Per-row CPU ms of `sample_batch`: B = 1 cell (row 0) {bt['b1_cell_ms']:.4g}; B = 1 on each of the "
                  f"{res['batch_for_cold']} rows, hot (mean) {bt['b1_each_row_hot_ms']:.4g}; B = {res['batch_for_cold']} "
                  f"on one thread, per row {bt['batch_per_row_ms']:.4g} (batch / same rows "
                  f"{bt['batch_per_row_ms'] / bt['b1_each_row_hot_ms']:.2f}, batch / cell "
                  f"{bt['batch_per_row_ms'] / bt['b1_cell_ms']:.2f}).", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fastpath_profile", description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=128_256)
    ap.add_argument("--shape", choices=("gaussian", "peaked"), default="gaussian")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32, help="rows of the cold measurement (default 32)")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.vocab < 2 or args.repeats < 1 or args.batch < 1:
        ap.error("--vocab must be >= 2, --repeats and --batch >= 1")
    res = profile(args.vocab, args.shape, args.repeats, args.batch)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    sys.stdout.write(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
