"""A separate process that times ``GET /health`` while a test loads the server (a probe inside the test
process would mostly time the test's own threads). Usage: ``python health_probe.py HOST PORT``; it
probes every ``INTERVAL_S`` until its stdin closes (at most ``MAX_S``), then prints the latencies in
milliseconds as one JSON list."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

INTERVAL_S = 0.05
MAX_S = 300.0
TIMEOUT_S = 30.0


def health_ms(host: str, port: int) -> float:
    """One ``GET /health`` on a fresh connection, in milliseconds (raises unless it is a 200)."""
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"/health answered {data[:80]!r}")
    return (time.perf_counter() - start) * 1000


def main(host: str, port: int) -> None:
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    deadline = time.monotonic() + MAX_S
    latencies: list[float] = []
    while not done.is_set() and time.monotonic() < deadline:
        latencies.append(health_ms(host, port))
        done.wait(INTERVAL_S)
    print(json.dumps(latencies))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
