"""Runs the benchmark plan: every (shape, vocab, batch, config, implementation) cell.

Logits are generated once per (shape, vocab) at the largest batch and sliced, so a row is the
same at every batch size. Histories, biases and uniforms come from :func:`make_inputs` with a
fixed seed, identical for every implementation. Each cell yields one result row; an
implementation that is not installed yields an ``absent`` row, one that is skipped for a cell
(e.g. the numpy reference past ``max_reference_elems``) a ``skipped`` row, one that fails an
``error`` row — every row carries a ``note`` saying why.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.configs import CONFIGS, StepInputs, make_inputs
from benchmarks.logits import HEAD, ShapeUnavailable, make_logits
from benchmarks.peers.base import Impl
from benchmarks.timing import measure, roofline


@dataclass
class Settings:
    """What to run and how long to time each cell."""

    impls: Sequence[str]
    configs: Sequence[str]
    vocabs: Sequence[int]
    batches: Sequence[int]
    shapes: Sequence[str]
    budget_s: float = 1.0
    min_repeats: int = 5
    max_repeats: int = 200
    threads: int = 2
    max_reference_elems: int = 4_000_000
    mode: str = "custom"
    #: implementations whose B > 1 cells are also timed on the same rows one call per row (the
    #: batching target's B = 1 side: the same work, not row 0 alone)
    one_at_a_time: Sequence[str] = ("oairef-numba",)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "impls": list(self.impls),
            "configs": list(self.configs),
            "vocabs": list(self.vocabs),
            "batches": list(self.batches),
            "shapes": list(self.shapes),
            "budget_s": self.budget_s,
            "min_repeats": self.min_repeats,
            "max_repeats": self.max_repeats,
            "threads": self.threads,
            "max_reference_elems": self.max_reference_elems,
            "one_at_a_time": list(self.one_at_a_time),
        }


@dataclass
class RunOutput:
    """Everything a run produced (serialised by :mod:`benchmarks.report`)."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    roofline: list[dict[str, Any]] = field(default_factory=list)
    first_call: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    client: dict[str, Any] | None = None
    numba_compile: dict[str, Any] | None = None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


#: the CPU features that change the roofline (numpy's exp is 8 float32 lanes under AVX2, 16 under AVX-512)
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl")


def cpu_description() -> tuple[str, list[str]]:
    """The CPU's model name and which of :data:`SIMD_FLAGS` it has (``/proc/cpuinfo``)."""
    cpu, flags = platform.processor() or "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                if flags and cpu:
                    break
    except OSError:
        pass
    return cpu, [f for f in SIMD_FLAGS if f in flags]


def simd_summary(flags: list[str]) -> str:
    """``"AVX2 + FMA, no AVX-512"``-style summary of :func:`cpu_description`'s flags."""
    if not flags:
        return "SIMD flags unknown"
    top = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else ("AVX" if "avx" in flags else "SSE"))
    fma = " + FMA" if "fma" in flags else ""
    return f"{top}{fma}" + ("" if top == "AVX-512" else ", no AVX-512")


def machine_info(threads: int) -> dict[str, Any]:
    """The machine and library versions the numbers belong to."""
    import os

    cpu, flags = cpu_description()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "simd": simd_summary(flags),
        "cores": os.cpu_count(),
        "threads": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "torch": _version("torch"),
        "llama_cpp_python": _version("llama_cpp_python"),
        "loadavg_at_start": load,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _row(impl: str, config: str, vocab: int, batch: int, shape: str, roof: float | None) -> dict[str, Any]:
    return {
        "impl": impl,
        "config": config,
        "vocab": vocab,
        "batch": batch,
        "shape": shape,
        "median_s": None,
        "iqr_s": None,
        "roofline_s": roof,
        "status": "ok",
        "note": "",
    }


def run_plan(
    settings: Settings,
    impls: Sequence[Impl],
    progress: Any | None = None,
    checkpoint: Callable[[RunOutput], None] | None = None,
) -> RunOutput:
    """Run every cell of ``settings`` over ``impls`` (already filtered to the requested names).

    ``progress`` is an optional ``rich.progress.Progress``; one task advances per cell.
    ``checkpoint`` is called with the partial output after every (shape, vocab, batch) group, so a
    long run that is interrupted still leaves its measured rows behind.
    """
    out = RunOutput(machine=machine_info(settings.threads), settings=settings.as_dict())
    out.notes.append(
        f"peaked: SmolLM2-135M-Instruct next-token logits (llama-cpp-python), head of {HEAD} kept, "
        "tail resampled from the real tail, ids permuted with a fixed seed"
    )
    absent = {impl.name: impl.unavailable() for impl in impls}
    for name, why in absent.items():
        if why:
            out.notes.append(f"{name}: absent ({why})")
    n_cells = len(settings.shapes) * len(settings.vocabs) * len(settings.batches) * len(settings.configs) * len(impls)
    task = progress.add_task("benchmark", total=n_cells) if progress is not None else None
    bmax = max(settings.batches)
    first_seen: set[str] = set()
    for shape in settings.shapes:
        for vocab in settings.vocabs:
            try:
                full = make_logits(shape, bmax, vocab)
            except ShapeUnavailable as exc:
                out.notes.append(f"shape {shape}: unavailable ({exc})")
                for batch in settings.batches:
                    for cname in settings.configs:
                        for impl in impls:
                            row = _row(impl.name, cname, vocab, batch, shape, None)
                            row.update(status="absent", note=f"shape unavailable: {exc}")
                            out.results.append(row)
                            if progress is not None:
                                progress.advance(task)
                continue
            for batch in settings.batches:
                logits = np.ascontiguousarray(full[:batch])
                roof = roofline(logits, budget_s=min(0.2, settings.budget_s))
                out.roofline.append({"vocab": vocab, "batch": batch, "shape": shape, **roof})
                for cname in settings.configs:
                    inputs = make_inputs(CONFIGS[cname], logits, seed=vocab + batch)
                    for impl in impls:
                        if progress is not None:
                            progress.update(task, description=f"{impl.name:>16} {cname:>11} V={vocab} B={batch} {shape}")
                        row = _row(impl.name, cname, vocab, batch, shape, roof["roofline_s"])
                        why = absent[impl.name] or None
                        skip = None if why else impl.skip_reason(inputs)
                        if impl.name == "oairef-reference" and not why and batch * vocab > settings.max_reference_elems:
                            skip = f"skipped: B*V > {settings.max_reference_elems} (the numpy reference is too slow there)"
                        if why:
                            row.update(status="absent", note=why)
                        elif skip:
                            row.update(status="skipped", note=skip)
                        else:
                            row["loadavg"] = _load1()
                            t_cell = time.perf_counter()
                            try:
                                t_prep = time.perf_counter()
                                step = impl.prepare(inputs)
                                prep_s = time.perf_counter() - t_prep
                                t = measure(step, budget_s=settings.budget_s, min_repeats=settings.min_repeats, max_repeats=settings.max_repeats)
                            except Exception as exc:  # a peer failing must not end the run
                                row.update(status="error", note=f"{type(exc).__name__}: {exc}")
                            else:
                                row.update(
                                    median_s=t.median_s,
                                    iqr_s=t.iqr_s,
                                    min_s=t.min_s,
                                    cpu_s=t.cpu_s,
                                    repeats=t.repeats,
                                    per_row_s=t.median_s / batch,
                                    roofline_ratio=t.median_s / roof["roofline_s"],
                                    cell_wall_s=time.perf_counter() - t_cell,
                                    first_call_s=t.first_s,
                                )
                                if batch > 1 and impl.name in settings.one_at_a_time:
                                    row.update(_one_at_a_time(impl, inputs, settings))
                                if impl.name not in first_seen:
                                    first_seen.add(impl.name)
                                    out.first_call.append({
                                        "impl": impl.name, "config": cname, "vocab": vocab, "batch": batch,
                                        "shape": shape, "prepare_s": prep_s, "first_call_s": t.first_s,
                                        "steady_s": t.median_s,
                                        "warmup_s": max(0.0, prep_s + t.first_s - t.median_s),
                                    })
                        out.results.append(row)
                        if progress is not None:
                            progress.advance(task)
                if checkpoint is not None:
                    checkpoint(out)
    out.machine["loadavg_at_end"] = _load1()
    return out


def row_inputs(inputs: StepInputs, r: int) -> StepInputs:
    """Row ``r`` of a batched step as a B = 1 step (its logits, history and uniform; the same bias)."""
    return StepInputs(inputs.config, inputs.logits[r : r + 1], inputs.histories[r : r + 1], inputs.bias,
                      inputs.uniforms[r : r + 1])


def _one_at_a_time(impl: Impl, inputs: StepInputs, settings: Settings) -> dict[str, Any]:
    """The same B rows sampled by B single-row calls: what batching is measured against.

    A B = 1 cell times row 0 alone; rows differ in cost (a flat row's top_p head is longer), so
    B x (row 0's time) over the batched time mixes batching with the luck of row 0.
    """
    steps = [impl.prepare(row_inputs(inputs, r)) for r in range(inputs.batch)]

    def each_row() -> None:
        for step in steps:
            step()

    t = measure(each_row, budget_s=settings.budget_s, min_repeats=settings.min_repeats,
                max_repeats=settings.max_repeats)
    return {"one_at_a_time_s": t.median_s, "one_at_a_time_iqr_s": t.iqr_s, "one_at_a_time_cpu_s": t.cpu_s}


def _load1() -> float | None:
    """The 1-minute load average (None where the OS has none): what else was running."""
    import os

    try:
        return os.getloadavg()[0]
    except OSError:
        return None
