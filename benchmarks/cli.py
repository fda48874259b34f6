"""``oairef bench`` / ``python -m benchmarks``: sampling speed against the samplers users pick instead.

Modes: the default runs the full grid (4 configs x 5 vocabularies x 4 batch sizes x 2 shapes x 5
implementations, numba's compilation, then the client-overhead measurement); ``--quick`` (CI) runs
V = 128,256, B in {1, 32}, configs ``top_p`` and ``full``, both shapes, and numba's cold compile (with
the provider's first request on a cold cache);
``--smoke`` is a seconds-long check of the machinery (V = 32,000, B in {1, 2}, config ``full``);
``--client`` runs only the client-overhead measurement. ``--impl/--config/--vocab/--batch/--shape`` narrow any mode.
Outputs: ``--json``, ``--markdown``, ``--plot``; a summary is printed either way.
Heavy imports (numba, torch, llama_cpp, matplotlib) happen inside :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from benchmarks.configs import BATCHES, CONFIGS, QUICK_BATCHES, QUICK_CONFIGS, QUICK_VOCABS, SHAPES, VOCABS

IMPLS = ("oairef-numba", "oairef-reference", "numpy-textbook", "torch", "llama.cpp")


def _csv(kind: type, choices: tuple[Any, ...] | None, name: str):  # noqa: ANN202 - argparse type factory
    def parse(text: str) -> list[Any]:
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{name}: empty list")
        out = []
        for s in items:
            try:
                v = kind(s)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{name}: {s!r} is not a valid {kind.__name__}") from None
            if choices is not None and v not in choices:
                raise argparse.ArgumentTypeError(f"{name}: {s!r} is not one of {', '.join(map(str, choices))}")
            if kind is int and v < 1:
                raise argparse.ArgumentTypeError(f"{name}: {v} must be >= 1")
            out.append(v)
        return out

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``oairef bench``."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="CI grid: V=128256, B in {1,32}, top_p+full, both shapes, numba's cold compile")
    mode.add_argument("--smoke", action="store_true", help="seconds-long check: V=32000, B in {1,2}, full")
    mode.add_argument("--client", action="store_true", help="only the client-overhead measurement")
    parser.add_argument("--impl", type=_csv(str, IMPLS, "--impl"), help=f"comma list of {', '.join(IMPLS)}")
    parser.add_argument("--config", type=_csv(str, tuple(CONFIGS), "--config"), help="comma list of configs")
    parser.add_argument("--vocab", type=_csv(int, None, "--vocab"), help="comma list of vocabulary sizes")
    parser.add_argument("--batch", type=_csv(int, None, "--batch"), help="comma list of batch sizes")
    parser.add_argument("--shape", type=_csv(str, SHAPES, "--shape"), help="comma list of gaussian, peaked")
    parser.add_argument("--budget", type=float, default=None, help="seconds of repeats per cell (default 0.2)")
    parser.add_argument("--threads", type=int, default=None, help="numba/torch threads (default: all cores)")
    parser.add_argument("--client-requests", type=int, default=200, help="requests per client (default 200)")
    parser.add_argument("--no-client", action="store_true", help="skip the client-overhead measurement")
    parser.add_argument("--compile-time", action=argparse.BooleanOptionalAction, default=None,
                        help="measure numba's cold compile in fresh interpreters, and the reference provider's first "
                             "request on a cold cache (default: quick and full modes)")
    parser.add_argument("--json", metavar="PATH", help="write results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write results as Markdown")
    parser.add_argument("--plot", metavar="PATH", help="write a PNG plot (matplotlib)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _settings(args: argparse.Namespace) -> Any:
    from benchmarks.runner import Settings

    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    if args.quick:
        s = Settings(IMPLS, QUICK_CONFIGS, QUICK_VOCABS, QUICK_BATCHES, SHAPES, budget_s=0.2,
                     min_repeats=3, max_repeats=100, threads=threads, mode="quick", max_reference_elems=200_000)
    elif args.smoke:
        s = Settings(IMPLS, ("full",), (32_000,), (1, 2), SHAPES, budget_s=0.05,
                     min_repeats=2, max_repeats=10, threads=threads, mode="smoke")
    else:
        s = Settings(IMPLS, tuple(CONFIGS), VOCABS, BATCHES, SHAPES, budget_s=0.2, min_repeats=3,
                     max_repeats=50, threads=threads, mode="full")
    for attr, opt in (("impls", "impl"), ("configs", "config"), ("vocabs", "vocab"), ("batches", "batch"),
                      ("shapes", "shape")):
        if getattr(args, opt):
            setattr(s, attr, tuple(getattr(args, opt)))
            s.mode = f"{s.mode}+narrowed"
    if args.budget is not None:
        if not args.budget > 0:
            raise ValueError(f"--budget must be > 0 seconds, got {args.budget}")
        s.budget_s = args.budget
    if any(v < 2 for v in s.vocabs):
        raise ValueError("--vocab: every vocabulary size must be >= 2")
    return s


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns 0, or 2 on bad options."""
    from rich.console import Console

    from sampler.kernels import WARM_UP_ENV

    # the timed cells start at once: a background compilation in this process would run beside them
    # (each cell's first call, compilation or cache load included, is reported apart anyway)
    os.environ.setdefault(WARM_UP_ENV, "0")
    console = Console(stderr=True, quiet=args.quiet)
    try:
        settings = _settings(args)
        if args.client_requests < 1:
            raise ValueError(f"--client-requests must be >= 1, got {args.client_requests}")
    except ValueError as exc:
        print(f"oairef bench: {exc}", file=sys.stderr)
        return 2

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks.peers import all_impls
    from benchmarks.report import markdown, results_table, targets_table, to_document, write_json
    from benchmarks.runner import RunOutput, machine_info, run_plan

    impls = [i for i in all_impls(settings.threads) if i.name in settings.impls]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=args.quiet) as progress:
        if args.client:
            out = RunOutput(machine=machine_info(settings.threads), settings={"mode": "client"})
        else:
            def checkpoint(partial: RunOutput) -> None:
                if args.json:
                    write_json(to_document(partial), args.json)
                if not console.is_terminal:  # a log line instead of the live bar
                    console.print(f"{len(partial.results)} rows measured", markup=False, highlight=False)

            out = run_plan(settings, impls, progress, checkpoint)
        want_compile = (args.compile_time if args.compile_time is not None
                        else settings.mode.startswith(("full", "quick")))
        if want_compile and not args.client and "oairef-numba" in settings.impls:
            from benchmarks.compile_time import measure_compile

            task = progress.add_task("numba compile (fresh interpreters)", total=None)
            out.numba_compile = measure_compile()
            progress.update(task, total=1, completed=1)
        want_client = args.client or (settings.mode.startswith("full") and not args.no_client)
        if want_client:
            from benchmarks.client_overhead import measure_clients

            out.client = measure_clients(args.client_requests, progress)
    doc = to_document(out)
    if args.json:
        write_json(doc, args.json)
    if args.markdown:
        from pathlib import Path

        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(markdown(doc), encoding="utf-8")
    if args.plot and doc["results"]:
        from benchmarks.plot import plot

        plot(doc, args.plot)
    if not args.quiet:
        if doc["results"]:
            print(results_table(doc))
            print(targets_table(doc))
        if doc.get("client"):
            from benchmarks.report import client_table

            print(client_table(doc["client"]))
        for note in doc["notes"]:
            console.print(f"note: {note}", markup=False, highlight=False)
    return 0
