"""Starting a peer server on a free loopback port, waiting for it (bounded) and stopping it reliably.

Rules:
- The port is one the OS hands out on 127.0.0.1; the server binds 127.0.0.1 only.
- The server runs in its own session (process group), so stopping it takes every worker it forked:
  SIGTERM to the group, SIGKILL after a grace period.
- Ready means ``GET <base>/models`` answers 200 (or, for a peer whose ``/models`` is broken, the
  readiness path it declares). The wait is bounded; a server that exits or does not answer in time is a
  :class:`StartError` quoting the end of its log.
- Output goes to ``logs/<name>.log`` in the cache folder.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from peers.cache import kill_group, tail

#: Seconds between readiness polls.
POLL_S = 1.0


class StartError(RuntimeError):
    """A peer server exited or did not become ready in time."""


@dataclass
class Running:
    """A started server: its ``/v1`` base URL, how long it took to become ready, and its log."""

    base_url: str
    port: int
    startup_s: float
    log: Path
    pid: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def serving(name: str, cmd: Sequence[str], port: int, log: Path, startup_timeout_s: float,
            env: Mapping[str, str] | None = None, ready_path: str = "/v1/models",
            cwd: Path | None = None) -> Iterator[Running]:
    """Run ``cmd`` (which must listen on 127.0.0.1:``port``) until the block ends; yield :class:`Running`."""
    from rich.console import Console

    console = Console(stderr=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    out.write(f"$ {' '.join(cmd)}\n".encode())
    out.flush()
    t0 = time.monotonic()
    proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
    root = f"http://127.0.0.1:{port}"
    try:
        with console.status(f"starting {name}") as status:
            while not _ready(root + ready_path):
                if proc.poll() is not None:
                    raise StartError(f"{name} exited with status {proc.returncode} before it was ready "
                                     f"(log {log}):\n{tail(log)}")
                elapsed = time.monotonic() - t0
                if elapsed > startup_timeout_s:
                    raise StartError(f"{name} was not ready within {startup_timeout_s:.0f} s (log {log}):\n"
                                     f"{tail(log)}")
                status.update(f"starting {name} [{elapsed:4.0f} s, log {log}]")
                time.sleep(POLL_S)
        startup = time.monotonic() - t0
        console.print(f"{name} ready at {root}/v1 after {startup:.1f} s", highlight=False)
        yield Running(root + "/v1", port, startup, log, proc.pid)
    finally:
        kill_group(proc)
        out.close()
