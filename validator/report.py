"""Rendering a run: a rich table, JSON with a stable schema, and Markdown.

JSON schema (``schema_version`` 1; fields and verdict values are only ever added)::

    {
      "schema_version": 1,
      "tool": "oairef validate",
      "provider": {"base_url": str, "model": str},
      "settings": {"samples": int, "alpha": float, "seed": int, "quick": bool,
                   "max_requests_per_check": int, "time_budget_s": float, "strict": bool,
                   "endpoints": [str], "logprobs": "auto"|"require"|"never"},
      "summary": {"pass": int, "fail": int, "unsupported": int, "skipped": int, "error": int,
                  "failed": bool, "exit_status": int, "duration_s": float, "requests": int,
                  "transport_retries": int},
      "checks": [{
          "id": str, "title": str, "verdict": "pass"|"fail"|"unsupported"|"skipped"|"error",
          "summary": str, "rule": str, "method": str, "statistical": bool, "duration_s": float,
          "requests": int, "transport_retries": [str],
          "parts": [{"endpoint": str, "verdict": str, "summary": str, "method"?: "logprobs"|"samples"}],
          "failures": [str],
          "tests": [{"name", "statistic", "df", "p_value", "p_holm", "n", "endpoint"?, "method"?,
                     "min_detectable_w"?, "min_detectable_rate"?, "detectable"?, "observed"?, "expected"?,
                     "note"?}],
          "details": {...check-specific, per endpoint...},
          "evidence": [{"request": str, "body": obj|null, "status": int, "response": str, "events"?: int,
                        "failure"?: str, "retried_after"?: str}]
      }]
    }

``verdict`` is the check's own verdict; with ``strict`` the summary counts ``unsupported`` as ``fail``.
``error`` means the check could not be judged (the provider gave no usable answer). ``transport_retries``
lists the exchanges sent again on a fresh connection after a transport error (``validator.client``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validator.context import VERDICTS
from validator.runner import Run

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

SCHEMA_VERSION = 1
COLOURS = {"pass": "green", "fail": "bold red", "unsupported": "yellow", "skipped": "dim", "error": "magenta"}


def to_json(run: Run) -> dict[str, Any]:
    counts = Counter(run.effective(r) for r in run.results)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "oairef validate",
        "provider": {"base_url": run.base_url, "model": run.model},
        "settings": {**run.settings.__dict__, "endpoints": list(run.settings.endpoints), "strict": run.strict},
        "summary": {**{v: counts.get(v, 0) for v in VERDICTS}, "failed": run.failed,
                    "exit_status": run.exit_status, "duration_s": round(run.duration_s, 2),
                    "requests": run.requests_sent, "transport_retries": len(run.transport_retries)},
        "checks": [r.as_dict() for r in run.results],
    }


def write_json(run: Run, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_json(run), indent=2, default=str) + "\n", encoding="utf-8")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def parts_text(parts: list[dict[str, Any]]) -> str:
    """``completions: pass (logprobs), chat: unsupported`` — each endpoint's verdict and method."""
    return ", ".join(f"{p['endpoint']}: {p['verdict']}" + (f" ({p['method']})" if p.get("method") else "")
                     for p in parts) or "-"


def to_markdown(run: Run, title: str = "oairef validate report", preface: str = "") -> str:
    data = to_json(run)
    s = data["summary"]
    lines = [
        f"# {title}",
        "",
        *([preface, ""] if preface else []),
        f"Provider `{run.base_url}`, model `{run.model}`. "
        f"{s['pass']} pass, {s['fail']} fail, {s['unsupported']} unsupported, {s['skipped']} skipped, "
        f"{s['error']} error ({s['requests']} requests, {s['duration_s']} s). Settings: samples "
        f"{run.settings.samples}, alpha {run.settings.alpha:g} per check (Holm within a check), seed "
        f"{run.settings.seed}, endpoints {', '.join(run.settings.endpoints)}, logprobs {run.settings.logprobs}"
        f"{', quick' if run.settings.quick else ''}{', strict' if run.strict else ''}.",
        "",
        *([f"{len(run.transport_retries)} exchange(s) were sent again on a fresh connection after a transport "
           f"error (first: {_cell(run.transport_retries[0])[:200]}); each check lists its own.", ""]
          if run.transport_retries else []),
        "| check | verdict | per endpoint (method) | requests | summary |",
        "|---|---|---|---|---|",
    ]
    for c in data["checks"]:
        lines.append(f"| `{c['id']}` | **{c['verdict']}** | {parts_text(c['parts'])} | {c['requests']} "
                     f"| {_cell(c['summary'])[:300]} |")
    lines += ["", "## Details", ""]
    for c in data["checks"]:
        lines += [f"### `{c['id']}` — {c['verdict']}", "", f"*{c['title']}.*", "",
                  f"- **Rule:** {_cell(c['rule'])}", f"- **Method:** {_cell(c['method'])}",
                  f"- **Requests:** {c['requests']}"]
        for p in c["parts"]:
            lines.append(f"- **{p['endpoint']}** — {p['verdict']}" + (f", method {p['method']}" if p.get("method")
                                                                     else "") + f": {_cell(p['summary'])[:400]}")
        if not c["parts"]:
            lines.append(f"- **Result:** {_cell(c['summary'])}")
        for f in c["failures"][:8]:
            lines.append(f"  - {_cell(str(f))[:400]}")
        if c["tests"]:
            lines += ["", "| test | method | n | statistic | df | p | Holm p | detectable (99 % power) |",
                      "|---|---|---|---|---|---|---|---|"]
            for t in c["tests"]:
                mde = (f"w = {t['min_detectable_w']}" if "min_detectable_w" in t else
                       f"rate = {t['min_detectable_rate']}" if "min_detectable_rate" in t else "-")
                if t.get("detectable"):
                    mde += f"; {t['detectable']}"
                lines.append(f"| {_cell(t['name'])} | {t.get('method', '-')} | {t['n']} | {t['statistic']} | {t['df']} | {_fmt_p(t['p_value'])} "
                             f"| {_fmt_p(t.get('p_holm'))} | {mde} |")
            obs = [t for t in c["tests"] if "observed" in t]
            for t in obs[:8]:
                lines.append(f"\n<sub>{_cell(t['name'])}: observed {json.dumps(t['observed'], ensure_ascii=False)}; "
                             f"predicted {json.dumps(t.get('expected', {}), ensure_ascii=False)}</sub>")
        if c["evidence"]:
            ev = c["evidence"][0]
            body = json.dumps(ev.get("body"), ensure_ascii=False)[:300]
            lines += ["", f"<details><summary>evidence ({len(c['evidence'])} exchanges; first shown)</summary>", "",
                      "```", f"{ev['request']} {body}", f"-> {ev['status']} {ev['response'][:400]}", "```", "</details>"]
        lines.append("")
    return "\n".join(lines)


def write_markdown(run: Run, path: str | Path, title: str = "oairef validate report", preface: str = "") -> None:
    Path(path).write_text(to_markdown(run, title, preface), encoding="utf-8")


def verdict_cell(verdict: str, parts: list[dict[str, Any]]) -> str:
    """The check's verdict, and the endpoints' own only where they differ from it: ``fail (completions
    pass)`` — the terminal's short form of :func:`parts_text`."""
    others = [f"{p['endpoint']} {p['verdict']}" for p in parts if p["verdict"] != verdict]
    return verdict + (f" ({', '.join(others)})" if others else "")


def methods_cell(parts: list[dict[str, Any]]) -> str:
    """How the statistics were computed: ``logprobs``, ``samples`` or both (``-`` for other checks)."""
    methods = sorted({p["method"] for p in parts if p.get("method")})
    return ", ".join(methods) or "-"


def table_console(stderr: bool = False) -> Console:
    """A rich Console for the results table: the terminal's width, or 160 columns when the output is a
    file or a pipe (rich would assume 80 there; ``COLUMNS`` still wins)."""
    import os

    from rich.console import Console

    console = Console(stderr=stderr)
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(stderr=stderr, width=160)


SUMMARY_MIN_WIDTH = 110  # narrower consoles get the table without summaries, then one line per finding


def results_table(run: Run, width: int = 160) -> Table:
    """A rich Table of the run's results, one line per check where ``width`` allows: the endpoints are
    named only where their verdicts differ, and the summary column is left out below
    ``SUMMARY_MIN_WIDTH`` columns (:func:`findings` then lists what did not pass). The Markdown report
    has every part."""
    from rich.table import Table

    with_summary = width >= SUMMARY_MIN_WIDTH
    table = Table(title=f"oairef validate — {run.base_url} ({run.model})")
    table.add_column("check", no_wrap=True)
    table.add_column("verdict", min_width=7)
    table.add_column("method", no_wrap=True)
    table.add_column("requests", justify="right", no_wrap=True)
    table.add_column("min Holm p", justify="right", no_wrap=True)
    if with_summary:
        table.add_column("summary")
    for r in run.results:
        v = run.effective(r)
        tests = r.outcome.tests if r.outcome else []
        pmin = min((t.p_holm for t in tests if t.p_holm is not None), default=None)
        parts = [p.as_dict() for p in r.outcome.parts] if r.outcome else []
        cells = [r.check.id, f"[{COLOURS[v]}]{verdict_cell(v, parts)}[/]", methods_cell(parts), str(r.requests),
                 _fmt_p(pmin)]
        table.add_row(*cells, *([_short(r.summary, 160)] if with_summary else []))
    return table


def findings(run: Run) -> list[str]:
    """``check: verdict — summary`` and its first failure, for every check that did not pass: what a narrow
    console shows under the table."""
    lines = []
    for r in run.results:
        if run.effective(r) != "pass":
            first = r.outcome.failures[:1] if r.outcome else []
            lines.append(f"{r.check.id}: {run.effective(r)} — {r.summary}" + "".join(f"; first failure: {_short(f, 300)}"
                                                                                   for f in first))
    return lines
