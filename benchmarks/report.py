"""Serialising a run: JSON document, Markdown tables, target checks.

Times in Markdown are milliseconds per batched step (median, with the IQR after ``±``); ``x roof``
is the median over the roofline of the same (B, V) matrix. Targets (issue 7), evaluated at
V = 128,256, B = 1, configs ``top_p`` and ``full``, per shape:

- ``oairef-numba`` >= 10x faster than ``numpy-textbook``;
- ``oairef-numba`` >= 2x faster than ``llama.cpp``;
- ``oairef-numba`` within 3x of the roofline;
- B = 32 throughput (rows per wall second) >= 1.7x that of B = 1 on this machine's cores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.runner import RunOutput

TARGET_VOCAB = 128_256
FAST = "oairef-numba"


def _index(results: Iterable[dict[str, Any]]) -> dict[tuple[str, str, int, int, str], dict[str, Any]]:
    return {(r["impl"], r["config"], r["vocab"], r["batch"], r["shape"]): r for r in results}


def _t(idx: dict[tuple[str, str, int, int, str], dict[str, Any]], *key: Any) -> float | None:
    row = idx.get(key)  # type: ignore[arg-type]
    return None if row is None or row.get("status") != "ok" else float(row["median_s"])


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each issue-7 target that the results allow evaluating, with its value and whether it is met."""
    idx = _index(results)
    shapes = sorted({r["shape"] for r in results})
    out: list[dict[str, Any]] = []
    for shape in shapes:
        for config in ("top_p", "full"):
            fast = _t(idx, FAST, config, TARGET_VOCAB, 1, shape)
            if fast is None:
                continue
            where = {"shape": shape, "config": config, "vocab": TARGET_VOCAB}
            for peer, goal in (("numpy-textbook", 10.0), ("llama.cpp", 2.0)):
                other = _t(idx, peer, config, TARGET_VOCAB, 1, shape)
                if other is not None:
                    val = other / fast
                    out.append({"target": f"speed-up over {peer} (B=1)", **where, "batch": 1,
                                "value": val, "goal": f">= {goal:g}", "met": val >= goal})
            roof = idx[(FAST, config, TARGET_VOCAB, 1, shape)]["roofline_s"]
            val = fast / roof
            out.append({"target": "time / roofline (B=1)", **where, "batch": 1,
                        "value": val, "goal": "<= 3", "met": val <= 3.0})
            b32 = _t(idx, FAST, config, TARGET_VOCAB, 32, shape)
            if b32 is not None:
                val = 32 * fast / b32
                row1, row32 = idx[(FAST, config, TARGET_VOCAB, 1, shape)], idx[(FAST, config, TARGET_VOCAB, 32, shape)]
                cpu_ratio = None
                if row1.get("cpu_s") and row32.get("cpu_s"):
                    cpu_ratio = 32 * row1["cpu_s"] / row32["cpu_s"]
                out.append({"target": "B=32 throughput / B=1 throughput", **where, "batch": 32,
                            "value": val, "goal": ">= 1.7", "met": val >= 1.7,
                            "per_cpu_second_ratio": cpu_ratio})
    return out


def to_document(out: RunOutput) -> dict[str, Any]:
    """The ``--json`` document (validated by :data:`benchmarks.schema.BENCH_SCHEMA`)."""
    return {
        "machine": out.machine,
        "settings": out.settings,
        "results": out.results,
        "roofline": out.roofline,
        "first_call": out.first_call,
        "targets": targets(out.results),
        "notes": out.notes,
        "client": out.client,
        "numba_compile": out.numba_compile,
    }


def write_json(doc: dict[str, Any], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def _ms(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    if row.get("status") != "ok":
        return row["status"]
    return f"{row['median_s'] * 1e3:.3g} ± {row['iqr_s'] * 1e3:.2g}"


def results_table(doc: dict[str, Any], *, vocabs: Iterable[int] | None = None,
                  batches: Iterable[int] | None = None) -> str:
    """One Markdown table: a line per (shape, config, vocab, batch), a column per implementation."""
    results = doc["results"]
    impls = list(dict.fromkeys(r["impl"] for r in results))
    idx = _index(results)
    keep_v = set(vocabs) if vocabs is not None else None
    keep_b = set(batches) if batches is not None else None
    cells = list(dict.fromkeys((r["shape"], r["config"], r["vocab"], r["batch"], r["roofline_s"]) for r in results))
    head = ["shape", "config", "V", "B", "roofline ms", *[f"{i} ms" for i in impls], f"{FAST} x roof"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for shape, config, vocab, batch, roof in cells:
        if (keep_v is not None and vocab not in keep_v) or (keep_b is not None and batch not in keep_b):
            continue
        fast = idx.get((FAST, config, vocab, batch, shape))
        ratio = f"{fast['median_s'] / roof:.2f}" if fast and fast.get("status") == "ok" and roof else ""
        roof_s = f"{roof * 1e3:.3g}" if roof else ""
        vals = [_ms(idx.get((i, config, vocab, batch, shape))) for i in impls]
        lines.append("| " + " | ".join([shape, config, str(vocab), str(batch), roof_s, *vals, ratio]) + " |")
    return "\n".join(lines) + "\n"


def targets_table(doc: dict[str, Any]) -> str:
    lines = ["| target | shape | config | value | goal | met |", "|---|---|---|---|---|---|"]
    for t in doc.get("targets", []):
        extra = ""
        if t.get("per_cpu_second_ratio") is not None:
            extra = f" (per CPU-second {t['per_cpu_second_ratio']:.2f})"
        lines.append(f"| {t['target']} | {t['shape']} | {t['config']} | {t['value']:.2f}{extra} | {t['goal']} | "
                     f"{'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def client_table(client: dict[str, Any] | None) -> str:
    if not client:
        return "Client overhead: not measured.\n"
    if client.get("status") != "ok":
        return f"Client overhead: {client.get('status')} ({client.get('note', '')}).\n"
    lines = ["| client | wall ms / request (median) | IQR ms | wall x requests | client CPU ms / request | "
             "CPU x requests |", "|---|---|---|---|---|---|"]
    for c in client["clients"]:
        if c.get("status") == "ok":
            lines.append(f"| {c['client']} | {c['median_s'] * 1e3:.3g} | {c['iqr_s'] * 1e3:.2g} | "
                         f"{c['ratio_to_requests']:.2f} | {c['client_cpu_s'] * 1e3:.3g} | "
                         f"{c['cpu_ratio_to_requests']:.2f} |")
        else:
            lines.append(f"| {c['client']} | {c['status']}: {c.get('note', '')} | | | | |")
    return "\n".join(lines) + "\n"


def markdown(doc: dict[str, Any]) -> str:
    """The whole ``--markdown`` report."""
    m = doc["machine"]
    parts = [
        "# oairef sampling benchmarks\n",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('threads')} threads for numba/torch; "
        f"Python {m.get('python')}, numpy {m.get('numpy')}, numba {m.get('numba')}, torch {m.get('torch')}, "
        f"llama-cpp-python {m.get('llama_cpp_python')}; {m.get('date_utc')}.\n",
        "Times are milliseconds per batched sampling step: median ± IQR. `x roof` = oairef-numba's median "
        "over the roofline (one float32 read + exp pass over the same B x V logits).\n",
        "## Targets (V = 128,256)\n",
        targets_table(doc),
        "## Results\n",
        results_table(doc),
    ]
    slow_first = [r for r in doc["results"] if r.get("status") == "ok" and r.get("first_call_s", 0) > 0.5
                  and r["first_call_s"] > 10 * r["median_s"]]
    if slow_first:
        parts.append("Cells whose first call was slow (compilation on a cold numba cache, lazy initialisation): " +
                     "; ".join(f"{r['impl']} {r['config']} V={r['vocab']} B={r['batch']} {r['shape']}: "
                               f"{r['first_call_s']:.2f} s" for r in slow_first) + ".\n")
    if doc.get("first_call"):
        parts.append("## First call (compilation / lazy initialisation)\n")
        parts.append("| impl | prepare s | first call s | steady s |\n|---|---|---|---|\n" + "".join(
            f"| {f['impl']} | {f['prepare_s']:.3g} | {f['first_call_s']:.3g} | {f['steady_s']:.3g} |\n"
            for f in doc["first_call"]))
        parts.append("")
    nc = doc.get("numba_compile")
    if nc and nc.get("status") == "ok":
        parts.append("## numba compilation of the fast path (fresh interpreter)\n")
        parts.append("| cache | import s | first call s | second call s |\n|---|---|---|---|\n" + "".join(
            f"| {k} | {nc[k]['import_s']:.3g} | {nc[k]['first_call_s']:.3g} | {nc[k]['second_call_s']:.3g} |\n"
            for k in ("cold", "cached")))
    elif nc:
        parts.append(f"numba compilation: {nc.get('status')} ({nc.get('note', '')})\n")
    parts.append("## Client overhead (max_tokens = 1, reference provider)\n")
    parts.append(client_table(doc.get("client")))
    if doc.get("notes"):
        parts.append("## Notes\n")
        parts.append("".join(f"- {n}\n" for n in doc["notes"]))
    return "\n".join(parts)


def summary(doc: dict[str, Any], vocab: int = TARGET_VOCAB, batches: Iterable[int] = (1, 32)) -> str:
    """The compact tables for the README: V = ``vocab`` at ``batches``, the targets, the clients."""
    return "\n".join([
        results_table(doc, vocabs=[vocab], batches=batches),
        targets_table(doc),
        client_table(doc.get("client")),
    ])
