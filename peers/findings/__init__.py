"""Why each peer departs where it does: per check, a few words for the matrix and the evidence — the
peer's own documentation, issue or source line — for its report.

One module per peer (``findings/<peer>.py``) holds ``FINDINGS: dict[check id, Finding]`` and ``NOTES``
(paragraphs that hold for the whole report). A failing check without a finding is reported as
*untriaged*, so a new departure cannot hide.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A triaged verdict: ``words`` for the matrix cell, ``why`` (with its cited source) for the report."""

    words: str
    why: str


def for_peer(name: str) -> tuple[dict[str, Finding], tuple[str, ...]]:
    """``(FINDINGS, NOTES)`` of peer ``name`` (empty when it has no findings module)."""
    try:
        mod = importlib.import_module(f"peers.findings.{name.replace('-', '_')}")
    except ModuleNotFoundError:
        return {}, ()
    return dict(mod.FINDINGS), tuple(getattr(mod, "NOTES", ()))
