"""The one cache folder of the peers, outside the clone, and idempotent, bounded, visible install steps.

Everything a peer needs that is not a Python package of ours lives under one root: the peers' own
virtual environments (``venvs/``), the llama.cpp source and build (``llama.cpp/``), the Hugging Face
folder converted from the GGUF (``models/``) and every log (``logs/``). The root is
``$OAIREF_PEERS_CACHE``, else ``~/.cache/oairef/peers``.

Rules:
- An install step is done once: it writes a JSON *marker* naming what it installed (versions, inputs);
  a later call whose marker matches does nothing. A step that fails leaves no marker.
- Every external command runs with a time bound, its output going to a log file in ``logs/``, while a
  spinner shows the step, the elapsed time and the log's last line; on time-out its whole process
  group is killed and :class:`InstallError` names the log.
- Nothing is fetched from a model hub: :func:`offline_env` sets ``HF_HUB_OFFLINE=1`` and
  ``TRANSFORMERS_OFFLINE=1`` for every peer process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Environment variable naming the cache root.
CACHE_ENV = "OAIREF_PEERS_CACHE"
#: Seconds between plain progress lines when the output is not a terminal (CI).
PLAIN_PROGRESS_S = 60.0
#: Lines of a failed step's log quoted in its error.
LOG_TAIL_LINES = 25


class InstallError(RuntimeError):
    """An install or build step failed or ran out of time; the message names its log."""


def cache_root() -> Path:
    """``$OAIREF_PEERS_CACHE`` or ``~/.cache/oairef/peers`` (created)."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "oairef" / "peers").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir(*parts: str) -> Path:
    """A folder under the cache root (created)."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(name: str) -> Path:
    """``logs/<name>.log`` under the cache root."""
    return cache_dir("logs") / f"{name}.log"


def offline_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with model-hub access switched off (plus ``extra``)."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                "DO_NOT_TRACK": "1", "VLLM_NO_USAGE_STATS": "1"})
    env.update(extra or {})
    return env


def marker_matches(path: Path, expected: Mapping[str, Any]) -> bool:
    """Whether the marker at ``path`` exists and records exactly ``expected``."""
    try:
        return json.loads(path.read_text(encoding="utf-8")) == dict(expected)
    except (OSError, ValueError):
        return False


def write_marker(path: Path, info: Mapping[str, Any]) -> None:
    """Record a finished step (written last, so a failed step leaves none)."""
    path.write_text(json.dumps(dict(info), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            lines = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:100] if lines else ""


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log (for error messages)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def kill_group(proc: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``), SIGKILL it after
    ``grace_s``; returns once ``proc`` has exited."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # workers that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=grace_s)


def run_step(description: str, cmd: Sequence[str], log: Path, timeout_s: float,
             cwd: Path | None = None, env: Mapping[str, str] | None = None) -> float:
    """Run ``cmd`` (bounded by ``timeout_s``), logging to ``log`` and showing progress; return seconds.

    Raises :class:`InstallError` (with the log's tail) when it fails or times out.
    """
    from rich.console import Console

    console = Console(stderr=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, env=dict(env) if env is not None else None, start_new_session=True)
        try:
            last_line_at = t0
            with console.status(description) as status:
                while proc.poll() is None:
                    now = time.monotonic()
                    elapsed = now - t0
                    if elapsed > timeout_s:
                        kill_group(proc, grace_s=5)
                        raise InstallError(f"{description}: no result within {timeout_s:.0f} s (log {log}):\n"
                                           + tail(log))
                    status.update(f"{description} [{elapsed:4.0f} s] {_last_line(log)}")
                    if not console.is_terminal and now - last_line_at >= PLAIN_PROGRESS_S:  # CI logs
                        console.print(f"{description} [{elapsed:4.0f} s] {_last_line(log)}", highlight=False)
                        last_line_at = now
                    time.sleep(1.0)
        finally:
            if proc.poll() is None:
                kill_group(proc, grace_s=5)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise InstallError(f"{description}: exit status {proc.returncode} (log {log}):\n" + tail(log))
    console.print(f"{description}: done in {seconds:.0f} s", highlight=False)
    return seconds
