"""One picture per statistical check: observed against predicted counts per token, with the p-value.

Each statistical test of a check (up to :data:`MAX_PANELS`) is one panel: for every token the test
binned, a bar of the count observed and a bar of the count the documented semantics predict
(probability x the samples the test counted); samples outside the tested tokens (``(other)``) are drawn
observed-only when the test has no prediction for them. The panel's title carries the test's name and
its Holm-adjusted p-value; a red title marks a rejection at the run's alpha.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_PANELS = 4
MAX_LABEL = 14


def _label(token: str) -> str:
    shown = token.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "\u2423") or "(end)"  # visible spaces
    return shown if len(shown) <= MAX_LABEL else shown[: MAX_LABEL - 1] + "…"


def predicted_counts(test: dict[str, Any]) -> tuple[list[str], list[int], list[float | None]]:
    """``(tokens, observed, predicted)`` of one test record; predicted ``None`` where there is none."""
    observed: dict[str, int] = test.get("observed") or {}
    expected: dict[str, float] = test.get("expected") or {}
    tested = sum(v for k, v in observed.items() if k in expected)
    total_p = sum(expected.values()) or 1.0
    tokens = list(expected) + [k for k in observed if k not in expected]
    obs = [int(observed.get(t, 0)) for t in tokens]
    pred = [expected[t] / total_p * tested if t in expected else None for t in tokens]
    return tokens, obs, pred


def plot_check(check: dict[str, Any], alpha: float, path: Path, title: str) -> Path | None:
    """Draw the check's tests into ``path`` (PNG); ``None`` when no test has counts to draw."""
    tests = [t for t in check.get("tests", []) if t.get("observed")][:MAX_PANELS]
    if not tests:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tests), 1, figsize=(7.5, 2.6 * len(tests)), squeeze=False)
    for ax, t in zip(axes[:, 0], tests, strict=True):
        tokens, obs, pred = predicted_counts(t)
        xs = range(len(tokens))
        ax.bar([x - 0.2 for x in xs], obs, width=0.4, label="observed", color="#4477aa")
        ax.bar([x + 0.2 for x in xs], [p if p is not None else 0 for p in pred], width=0.4,
               label="predicted (docs)", color="#ee8866")
        ax.set_xticks(list(xs), [_label(tok) for tok in tokens], fontsize=8)
        ax.set_ylabel("count", fontsize=8)
        p_holm = t.get("p_holm", t.get("p_value"))
        rejected = p_holm is not None and p_holm <= alpha
        name = t["name"] if len(t["name"]) <= 70 else t["name"][:69] + "…"
        ax.set_title(f"{name}\nn = {t['n']}, Holm p = {p_holm:.3g}" if p_holm is not None else name,
                     fontsize=8, color="#bb0000" if rejected else "black")
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path
