"""One picture per statistical check: observed against predicted counts per token, with the p-value.

Each statistical test of a check is one panel — a test over several arms (the logprob-free method: one
fitted base distribution explains every arm, each under its own setting) one panel per arm — up to
:data:`MAX_PANELS`: for every token the test binned, a bar of the count observed and a bar of the count
the documented semantics predict (probability x the samples the panel counted; for an arm, the fitted
base under that arm's setting); samples outside the tested tokens (``(other)``) are drawn observed-only
when the test has no prediction for them. The panel's title carries the test's name and its
Holm-adjusted p-value; a red title marks a rejection at the run's alpha.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_PANELS = 6
MAX_LABEL = 14


def _label(token: str) -> str:
    shown = token.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "\u2423") or "(end)"  # visible spaces
    return shown if len(shown) <= MAX_LABEL else shown[: MAX_LABEL - 1] + "…"


def panels(test: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(title suffix, observed, expected)`` per panel of one test record: one, or one per arm."""
    observed: dict[str, Any] = test.get("observed") or {}
    expected: dict[str, Any] = test.get("expected") or {}
    if observed and all(isinstance(v, dict) for v in observed.values()):
        return [(f" — {arm}", counts, expected.get(arm) or {}) for arm, counts in observed.items()]
    return [("", observed, expected)]


def predicted_counts(observed: dict[str, int], expected: dict[str, float]
                     ) -> tuple[list[str], list[int], list[float | None]]:
    """``(tokens, observed, predicted)`` of one panel; predicted ``None`` where there is none."""
    tested = sum(v for k, v in observed.items() if k in expected)
    total_p = sum(expected.values()) or 1.0
    tokens = list(expected) + [k for k in observed if k not in expected]
    obs = [int(observed.get(t, 0)) for t in tokens]
    pred = [expected[t] / total_p * tested if t in expected else None for t in tokens]
    return tokens, obs, pred


def plot_check(check: dict[str, Any], alpha: float, path: Path, title: str) -> Path | None:
    """Draw the check's tests into ``path`` (PNG); ``None`` when no test has counts to draw."""
    drawn = [(t, suffix, obs, exp) for t in check.get("tests", []) if t.get("observed")
             for suffix, obs, exp in panels(t)][:MAX_PANELS]
    if not drawn:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(drawn), 1, figsize=(7.5, 2.6 * len(drawn)), squeeze=False)
    for ax, (t, suffix, observed, expected) in zip(axes[:, 0], drawn, strict=True):
        tokens, obs, pred = predicted_counts(observed, expected)
        xs = range(len(tokens))
        ax.bar([x - 0.2 for x in xs], obs, width=0.4, label="observed", color="#4477aa")
        ax.bar([x + 0.2 for x in xs], [p if p is not None else 0 for p in pred], width=0.4,
               label="predicted (docs)", color="#ee8866")
        ax.set_xticks(list(xs), [_label(tok) for tok in tokens], fontsize=8)
        ax.set_ylabel("count", fontsize=8)
        p_holm = t.get("p_holm", t.get("p_value"))
        rejected = p_holm is not None and p_holm <= alpha
        name = t["name"] if len(t["name"]) <= 70 else t["name"][:69] + "…"
        name += suffix
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
