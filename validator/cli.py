"""``oairef validate``: check a provider against the documented sampling semantics.

Examples::

    oairef validate                                   # the embedded reference provider (tiny model)
    oairef validate --quick                           # fewer samples (~10 s against the tiny model)
    oairef validate --base-url URL --endpoints chat --logprobs never   # chat only, from samples alone
    oairef validate --base-url http://127.0.0.1:8080/v1 --checks 'sampling.*,penalties.*' --json out.json

Exit status: 0 when every check passed; 1 when the provider was judged and failed a check (with
``--strict``, ``unsupported`` counts as a failure); 2 when it could not be judged — a usage error, an
unreachable provider, or a check that ended in ``error`` because the provider stopped answering. The
JSON and Markdown reports asked for are written in every case but a usage error.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from validator.client import DEFAULT_TIMEOUT_S
from validator.context import LOGPROBS_CHOICES, Settings
from validator.endpoints import parse_endpoints

if TYPE_CHECKING:
    from rich.console import Console

    from validator.checks.base import Check
    from validator.client import Client
    from validator.runner import Result, Run

#: The run-wide defaults (one owner: :class:`validator.context.Settings`).
DEFAULTS = Settings()
DEFAULT_SAMPLES = DEFAULTS.samples
QUICK_SAMPLES = 600
#: Bounds of ``--samples`` (``oairef peers report`` takes the same).
SAMPLES_RANGE = (10, 1_000_000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``oairef validate``."""
    parser.add_argument("--base-url", default=None,
                        help="provider base URL ending in /v1 (default: start the embedded reference provider)")
    parser.add_argument("--api-key", default=None, help="bearer key for the provider")
    parser.add_argument("--model", default=None, help="model to validate (default: the first of GET /models)")
    parser.add_argument("--checks", default=None, metavar="GLOB",
                        help="comma-separated globs of check ids, e.g. 'sampling.*,stop.*' (default: all)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--quick", action="store_true",
                        help=f"fewer samples ({QUICK_SAMPLES} per test unless --samples) and fewer sub-tests")
    parser.add_argument("--samples", type=int, default=None,
                        help=f"samples per statistical test (default {DEFAULT_SAMPLES}; {QUICK_SAMPLES} with --quick)")
    parser.add_argument("--alpha", type=float, default=DEFAULTS.alpha,
                        help=f"significance level per check (default {DEFAULTS.alpha:g})")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed,
                        help=f"seed for every request the validator sends (default {DEFAULTS.seed})")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--max-requests", type=int, default=DEFAULTS.max_requests_per_check,
                        help=f"bound on sampling requests per statistical check (default {DEFAULTS.max_requests_per_check})")
    parser.add_argument("--time-budget", type=float, default=DEFAULTS.time_budget_s,
                        help=f"seconds a single sampling loop may take (default {DEFAULTS.time_budget_s:g})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"total deadline of one exchange in seconds, first byte sent to last byte read "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--endpoints", default=",".join(DEFAULTS.endpoints), metavar="LIST",
                        help="endpoints to validate, comma-separated subset of 'completions,chat' (default both; "
                        "one the provider lacks is reported unsupported)")
    parser.add_argument("--logprobs", default=DEFAULTS.logprobs, choices=LOGPROBS_CHOICES,
                        help="statistics from reported logprobs when the provider has them (auto, default), only "
                        "from them (require), or from samples alone (never)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the machine-readable report here")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="write a Markdown report here")
    parser.add_argument("--strict", action="store_true",
                        help="treat 'unsupported' (a documented parameter rejected) as a failure, and fail "
                        "schema.responses on missing fields the API added after the docs")


def samples_and_seed_problems(samples: int | None, seed: int) -> list[str]:
    """What is wrong with ``--samples`` and ``--seed`` (shared with ``oairef peers report``)."""
    low, high = SAMPLES_RANGE
    problems = []
    if samples is not None and not low <= samples <= high:
        problems.append(f"--samples must be in [{low}, {high}], got {samples}")
    if seed < 0:
        problems.append(f"--seed must be >= 0, got {seed}")
    return problems


def checks_problems(globs: str | None) -> list[str]:
    """A ``--checks`` selection that matches no check (shared with ``oairef peers report``)."""
    from validator.runner import select

    return [] if select(globs) else [f"--checks {globs!r} matches no check (see oairef validate --list)"]


def usage_problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with the options (empty: nothing); checked before any provider is started."""
    problems = samples_and_seed_problems(args.samples, args.seed) + checks_problems(args.checks)
    if not 0 < args.alpha < 1:
        problems.append(f"--alpha must be in (0, 1), got {args.alpha}")
    if not 1 <= args.concurrency <= 64:
        problems.append(f"--concurrency must be in [1, 64], got {args.concurrency}")
    if not 1 <= args.max_requests <= 100_000:
        problems.append(f"--max-requests must be in [1, 100000], got {args.max_requests}")
    if not 0 < args.time_budget <= 3600:
        problems.append(f"--time-budget must be in (0, 3600], got {args.time_budget}")
    if not 0 < args.timeout <= 3600:
        problems.append(f"--timeout must be in (0, 3600], got {args.timeout}")
    try:
        parse_endpoints(args.endpoints)
    except ValueError as exc:
        problems.append(str(exc))
    if args.base_url is not None and not args.base_url.startswith(("http://", "https://")):
        problems.append(f"--base-url must start with http:// or https://, got {args.base_url!r}")
    return problems


def run(args: argparse.Namespace) -> int:
    """Validate; print a live progress bar and the results table; write the reports asked for."""
    from rich.console import Console

    from validator.client import Client
    from validator.context import Settings
    from validator.report import (
        SUMMARY_MIN_WIDTH,
        findings,
        results_table,
        table_console,
        write_json,
        write_markdown,
    )
    from validator.runner import select

    err = Console(stderr=True)
    out = table_console()
    checks = select(args.checks)
    if args.list:
        for c in select(args.checks):
            out.print(f"{c.id:32} {c.title}")
        return 0
    problems = usage_problems(args)
    if problems:
        for p in problems:
            err.print(f"oairef validate: {p}", markup=False)
        return 2
    samples = args.samples if args.samples is not None else (QUICK_SAMPLES if args.quick else DEFAULT_SAMPLES)
    settings = Settings(samples=samples, alpha=args.alpha, seed=args.seed, quick=args.quick,
                        max_requests_per_check=args.max_requests, time_budget_s=args.time_budget,
                        endpoints=parse_endpoints(args.endpoints), logprobs=args.logprobs, strict=args.strict)
    url = args.base_url
    if url is None:  # `oairef validate` fills it in with the embedded provider's URL
        err.print("oairef validate: --base-url is required here")
        return 2
    client = Client(url, api_key=args.api_key, timeout_s=args.timeout, concurrency=args.concurrency)
    try:
        result = _judge(client, args, settings, checks, err)
    finally:
        client.close()
    out.print(results_table(result, width=out.width))
    if out.width < SUMMARY_MIN_WIDTH:
        for line in findings(result):
            out.print(line, markup=False)
    counts = {v: sum(1 for r in result.results if result.effective(r) == v) for v in ("fail", "error")}
    out.print(f"{counts['fail']} failed, {counts['error']} not judged, {result.requests_sent} requests, "
              f"{result.duration_s:.1f} s")
    try:
        if args.json:
            write_json(result, args.json)
        if args.markdown:
            write_markdown(result, args.markdown)
    except OSError as exc:
        err.print(f"oairef validate: cannot write report: {exc}", markup=False)
        return 2
    return result.exit_status


def _judge(client: Client, args: argparse.Namespace, settings: Settings, checks: list[Check],
           err: Console) -> Run:
    """Find the model and run the checks; a provider that cannot be reached or names no model gives a
    run whose every check is ``error`` (so the reports are still written)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from validator.client import ProviderUnreachable, probe
    from validator.runner import not_judged, run_checks

    t0 = time.perf_counter()
    try:
        models = probe(client)
    except ProviderUnreachable as exc:
        err.print(f"oairef validate: provider unreachable: {exc}", markup=False)
        run = not_judged(client.base_url, args.model or "?", settings, checks, f"provider unreachable: {exc}",
                         args.strict)
        run.duration_s, run.requests_sent = time.perf_counter() - t0, client.requests_sent
        return run
    model = args.model or _first_model(models.json())
    if model is None:
        reason = (f"GET {client.base_url}/models answered HTTP {models.status} without a model "
                  f"({(models.failure or models.text)[:120]!r}); pass --model")
        err.print(f"oairef validate: {reason}", markup=False)
        run = not_judged(client.base_url, "?", settings, checks, reason, args.strict)
        run.duration_s, run.requests_sent = time.perf_counter() - t0, client.requests_sent
        return run
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("{task.fields[detail]}"), console=err,
                  transient=False) as progress:
        task = progress.add_task("validating", total=len(checks), detail="")

        def on_start(c: Check) -> None:
            progress.update(task, description=c.id, detail="")

        def on_done(r: Result) -> None:
            progress.update(task, advance=1, detail=r.verdict)

        def on_progress(msg: str) -> None:
            progress.update(task, detail=msg)

        run = run_checks(client, model, settings, checks, strict=args.strict, on_start=on_start,
                         on_done=on_done, on_progress=on_progress)
    run.duration_s = time.perf_counter() - t0
    run.requests_sent = client.requests_sent
    return run


def _first_model(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("data"), list) and data["data"]:
        first = data["data"][0]
        if isinstance(first, dict) and isinstance(first.get("id"), str):
            return first["id"]
    return None
