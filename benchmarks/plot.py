"""The ``--plot`` PNG: time per step against vocabulary (log-log) and batch speed-up.

Left: median seconds per step at B = 1 against V, one line per implementation (solid gaussian,
dashed peaked) plus the roofline, for one config (``full`` when measured). Right: throughput
speed-up ``B * t(B=1) / t(B)`` against B at V = 128,256 (or the largest measured V), and, dotted,
where the same rows were also timed one call each, that time over ``t(B)`` (the batching target's
measure; the B = 1 cell times row 0 alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pick_config(results: list[dict[str, Any]]) -> str:
    configs = [r["config"] for r in results if r.get("status") == "ok"]
    for c in ("full", "top_p", "temperature", "greedy"):
        if c in configs:
            return c
    return configs[0] if configs else "full"


def plot(doc: dict[str, Any], path: str | Path) -> None:
    """Write the two-panel PNG for ``doc`` (a ``--json`` document) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r for r in doc["results"] if r.get("status") == "ok"]
    config = _pick_config(results)
    impls = list(dict.fromkeys(r["impl"] for r in doc["results"]))
    colors = {name: f"C{i}" for i, name in enumerate(impls)}
    styles = {"gaussian": "-", "peaked": "--"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))

    for shape, ls in styles.items():
        roof = sorted({(r["vocab"], r["roofline_s"]) for r in results if r["batch"] == 1 and r["shape"] == shape
                       and r["config"] == config and r["roofline_s"]})
        if roof:
            ax1.plot([v for v, _ in roof], [t for _, t in roof], ls, color="black", marker="x",
                     label=f"roofline ({shape})")
        for impl in impls:
            pts = sorted((r["vocab"], r["median_s"]) for r in results
                         if r["impl"] == impl and r["batch"] == 1 and r["shape"] == shape and r["config"] == config)
            if pts:
                ax1.plot([v for v, _ in pts], [t for _, t in pts], ls, color=colors[impl], marker="o",
                         label=f"{impl} ({shape})")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("vocabulary size V")
    ax1.set_ylabel("seconds per step (B = 1, median)")
    ax1.set_title(f"time per sampling step, config '{config}'")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7)

    vocabs = sorted({r["vocab"] for r in results})
    vocab = 128_256 if 128_256 in vocabs else (vocabs[-1] if vocabs else 0)
    for shape, ls in styles.items():
        for impl in impls:
            rows = {r["batch"]: r["median_s"] for r in results if r["impl"] == impl and r["vocab"] == vocab
                    and r["shape"] == shape and r["config"] == config}
            if 1 not in rows or len(rows) < 2:
                continue
            bs = sorted(rows)
            ax2.plot(bs, [b * rows[1] / rows[b] for b in bs], ls, color=colors[impl], marker="o",
                     label=f"{impl} ({shape})")
            same = {r["batch"]: r["one_at_a_time_s"] / r["median_s"] for r in results if r["impl"] == impl
                    and r["vocab"] == vocab and r["shape"] == shape and r["config"] == config
                    and r.get("one_at_a_time_s")}
            if same:
                bs = sorted(same)
                ax2.plot([1, *bs], [1.0, *[same[b] for b in bs]], ":", color=colors[impl], marker="s",
                         label=f"{impl} ({shape}), against the same rows one call each")
    ax2.axhline(1.0, color="grey", lw=0.8)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("batch size B")
    ax2.set_ylabel("throughput speed-up  B·t(1) / t(B)")
    ax2.set_title(f"batching speed-up, V = {vocab:,}, config '{config}'")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    m = doc.get("machine", {})
    load = m.get("loadavg_at_start")
    load_s = f", load average {load[0]:.1f} at the start" if load else ""
    fig.suptitle(f"oairef bench — {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('simd', 'SIMD unknown')} "
                 f"(shared, noisy{load_s}); {m.get('date_utc', '')}", fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
