"""Per-request overhead of the generated client against the official ``openai`` package and plain
``requests``, on oairef's reference provider (``provider.app.run_in_thread``, tiny model).

Every client sends the same completion request (``max_tokens = 1``, ``temperature = 0``) to the same
server. Each client first sends ``WARMUP`` requests; then rounds of ``ROUND`` requests per client
alternate between the clients (so drift in machine load hits all of them alike) until each has
sent ``n`` timed requests. Reported per client: median and IQR seconds per request, the ratio of its
median to plain ``requests``' median, and the difference (its overhead over a bare HTTP call).
Because the server runs in a thread of this process, the client's own cost is also measured
directly: ``time.thread_time()`` of the calling thread per request (CPU the client spends building
the request, sending it, parsing and validating the response), which server work in the other
thread does not inflate; ``cpu_ratio_to_requests`` compares those.
A client that cannot be imported or built (``openai`` is a test extra) is reported with status
``absent`` and the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

WARMUP = 10
ROUND = 10
PROMPT = "Hello"


def _requests_client(base: str, model: str) -> Callable[[], Any]:
    import requests

    session = requests.Session()
    url = f"{base}/completions"
    headers = {"Authorization": "Bearer sk-bench"}
    body = {"model": model, "prompt": PROMPT, "max_tokens": 1, "temperature": 0}

    def call() -> Any:
        r = session.post(url, json=body, headers=headers, timeout=30)
        r.raise_for_status()
        return r.json()

    return call


def _openai_client(base: str, model: str) -> Callable[[], Any]:
    import openai

    client = openai.OpenAI(base_url=base, api_key="sk-bench", max_retries=0, timeout=30)

    def call() -> Any:
        return client.completions.create(model=model, prompt=PROMPT, max_tokens=1, temperature=0)

    return call


def _generated_client(base: str, model: str) -> Callable[[], Any]:
    import generated

    client = generated.OpenAI(base_url=base, api_key="sk-bench", max_retries=0)

    def call() -> Any:
        return client.completions.create(model=model, prompt=PROMPT, max_tokens=1, temperature=0)

    return call


CLIENTS: dict[str, Callable[[str, str], Callable[[], Any]]] = {
    "requests": _requests_client,
    "openai": _openai_client,
    "oairef-generated": _generated_client,
}


def measure_clients(n: int, progress: Any | None = None) -> dict[str, Any]:
    """Measure every client with ``n`` timed requests each (see module docstring).

    Returns ``{"status": "error", "note": ...}`` when the reference provider cannot be started.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    from provider.app import run_in_thread

    try:
        return _measure(run_in_thread, n, progress)
    except Exception as exc:  # the run goes on; the report says why there are no numbers
        return {"status": "error", "note": f"{type(exc).__name__}: {exc}"}


def _measure(run_in_thread: Any, n: int, progress: Any | None) -> dict[str, Any]:
    import requests

    with run_in_thread("tiny") as base:
        model = requests.get(f"{base}/models", headers={"Authorization": "Bearer sk-bench"}, timeout=30).json()
        model_id = model["data"][0]["id"]
        calls: dict[str, Callable[[], Any]] = {}
        rows: dict[str, dict[str, Any]] = {}
        for name, make in CLIENTS.items():
            try:
                call = make(base, model_id)
                for _ in range(WARMUP):
                    call()
            except Exception as exc:  # an unavailable client is reported, not fatal
                rows[name] = {"client": name, "status": "absent", "note": f"{type(exc).__name__}: {exc}"}
            else:
                calls[name] = call
        times: dict[str, list[float]] = {name: [] for name in calls}
        cpu: dict[str, list[float]] = {name: [] for name in calls}
        task = progress.add_task("client overhead", total=n * len(calls)) if progress is not None else None
        while calls and min(len(t) for t in times.values()) < n:
            for name, call in calls.items():
                for _ in range(min(ROUND, n - len(times[name]))):
                    c0 = time.thread_time()
                    t0 = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.thread_time() - c0)
                    if progress is not None:
                        progress.advance(task)
    base_med = float(np.median(times["requests"])) if "requests" in times else None
    base_cpu = float(np.median(cpu["requests"])) if "requests" in cpu else None
    for name, ts in times.items():
        q1, med, q3 = np.percentile(np.asarray(ts), [25, 50, 75])
        cpu_med = float(np.median(cpu[name]))
        rows[name] = {
            "client": name,
            "status": "ok",
            "requests": len(ts),
            "median_s": float(med),
            "iqr_s": float(q3 - q1),
            "ratio_to_requests": float(med) / base_med if base_med else None,
            "overhead_over_requests_s": float(med) - base_med if base_med is not None else None,
            "client_cpu_s": cpu_med,
            "cpu_ratio_to_requests": cpu_med / base_cpu if base_cpu else None,
        }
    return {
        "status": "ok",
        "server": "oairef reference provider (tiny model), in-process uvicorn thread on 127.0.0.1",
        "request": {"prompt": PROMPT, "max_tokens": 1, "temperature": 0},
        "clients": [rows[name] for name in CLIENTS if name in rows],
    }
