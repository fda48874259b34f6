"""A peer's own virtual environment in the cache folder, for peers whose pins clash with ours.

vLLM pins numba 0.65 (we use 0.68) and brings its own transformers, so it never goes into the project's
environment. :func:`ensure_venv` creates ``venvs/<name>`` with the base interpreter of this Python,
installs the pinned requirements with pip, removes the packages that break imports there, and writes a
marker: a second call with the same pins does nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from peers.cache import cache_dir, log_path, marker_matches, run_step, write_marker

#: Bound on one pip install of a peer (a fresh vLLM venv downloads ~1 GB of wheels).
PIP_TIMEOUT_S = 1800.0


def venv_python(name: str) -> Path:
    """The interpreter of ``venvs/<name>`` (which may not exist yet)."""
    return cache_dir("venvs") / name / "bin" / "python"


def ensure_venv(name: str, requirements: Sequence[str], remove: Sequence[str] = (),
                timeout_s: float = PIP_TIMEOUT_S) -> Path:
    """``venvs/<name>`` with ``requirements`` installed and ``remove`` uninstalled; its python."""
    root = cache_dir("venvs") / name
    marker = root / "oairef-installed.json"
    expected = {"requirements": list(requirements), "remove": list(remove),
                "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    python = venv_python(name)
    if python.exists() and marker_matches(marker, expected):
        return python
    log = log_path(f"install-{name}")
    base = getattr(sys, "_base_executable", sys.executable)
    if not python.exists():
        run_step(f"{name}: creating venv", [base, "-m", "venv", str(root)], log, 300)
    run_step(f"{name}: pip install {' '.join(requirements)}",
             [str(python), "-m", "pip", "install", "--progress-bar", "off", *requirements], log, timeout_s)
    if remove:
        run_step(f"{name}: pip uninstall {' '.join(remove)}",
                 [str(python), "-m", "pip", "uninstall", "-y", *remove], log, 300)
    write_marker(marker, expected)
    return python
