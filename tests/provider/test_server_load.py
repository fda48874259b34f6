"""Memory stays flat and ``/health`` stays quick under hostile load, on a real ``oairef serve`` process.

Each round sends ``PER_ROUND`` requests at once: two thirds valid (JSON completions and chat, streams
read to the end, streams dropped after their first event) and a third hostile (malformed JSON, JSON
nested 5,000 deep, 2 MB prompts on both endpoints, a 3 MB body, a request over the token budget). After
``WARMUP_ROUNDS`` the server's resident memory may grow by at most ``RSS_GROWTH_MB`` over the
remaining rounds, and ``/health``, timed from a separate process (``health_probe.py``) throughout
those rounds, must answer with a median under ``HEALTH_MEDIAN_MS`` and never slower than
``HEALTH_MAX_MS``.

Before the fixes of issue 14 the same rounds grew the server from 502 MB to 915 MB (+410 MB after the
first round; the issue saw 277 -> 498 MB) and ``/health`` took 100-170 ms at the median and over 1 s
at worst; after them, +3 MB and 2-25 ms (docs/serve.md, "Behaviour under load").
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("health_probe.py")
ROUNDS = 8
WARMUP_ROUNDS = 2
PER_ROUND = 48
#: Growth allowed after warm-up: well above what the fixed server shows (+3 MB), well below the leak (+220 MB).
RSS_GROWTH_MB = 40.0
#: /health latency bounds (a busy 2-core machine shared with the load generator and other work).
HEALTH_MEDIAN_MS = 100.0
HEALTH_MAX_MS = 2000.0
EOS = "2048"

JSON = {"Content-Type": "application/json"}
BIG_PROMPT = json.dumps({"model": "tiny", "prompt": "the keeper " * 180_000, "max_tokens": 1}).encode()  # 1.98 MB
BIG_CHAT = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "the keeper " * 180_000}]}).encode()
HUGE_BODY = json.dumps({"model": "tiny", "prompt": "x" * 3_000_000}).encode()  # over the 2 MiB body limit
DEEP = b"[" * 5000 + b"]" * 5000
MALFORMED = b'{"model": "tiny", "prompt": '
OVER_BUDGET = json.dumps({"model": "tiny", "prompt": "x", "n": 128, "max_tokens": 2000}).encode()
VALID = json.dumps({"model": "tiny", "prompt": "The keeper", "max_tokens": 24, "seed": 1}).encode()
CHAT = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 24}).encode()
STREAM = json.dumps({"model": "tiny", "prompt": "The keeper", "max_tokens": 48, "stream": True}).encode()
DROPPED = json.dumps({"model": "tiny", "prompt": "The keeper", "max_tokens": 2000, "stream": True,
                      "logit_bias": {EOS: -100}}).encode()


def post(http: httpx.Client, url: str, body: bytes) -> int:
    return http.post(url, content=body, headers=JSON).status_code


def stream_to_end(http: httpx.Client, url: str, body: bytes) -> int:
    with http.stream("POST", url, content=body, headers=JSON) as r:
        lines = list(r.iter_lines())
        assert lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]", lines[-3:]
        return r.status_code


def drop_after_first_event(http: httpx.Client, url: str, body: bytes) -> int:
    with http.stream("POST", url, content=body, headers=JSON) as r:
        next(line for line in r.iter_lines() if line.startswith("data: "))
        return r.status_code


#: (name, path, body, how, expected status); a round cycles through them (a third are hostile).
KINDS: list[tuple[str, str, bytes, Callable[[httpx.Client, str, bytes], int], int]] = [
    ("valid", "/completions", VALID, post, 200),
    ("chat", "/chat/completions", CHAT, post, 200),
    ("stream", "/completions", STREAM, stream_to_end, 200),
    ("dropped stream", "/completions", DROPPED, drop_after_first_event, 200),
    ("valid", "/completions", VALID, post, 200),
    ("chat", "/chat/completions", CHAT, post, 200),
    ("stream", "/completions", STREAM, stream_to_end, 200),
    ("dropped stream", "/completions", DROPPED, drop_after_first_event, 200),
    ("valid", "/completions", VALID, post, 200),
    ("stream", "/completions", STREAM, stream_to_end, 200),
    ("dropped stream", "/completions", DROPPED, drop_after_first_event, 200),
    ("chat", "/chat/completions", CHAT, post, 200),
    ("malformed", "/completions", MALFORMED, post, 400),
    ("deep", "/chat/completions", DEEP, post, 400),
    ("2 MB prompt", "/completions", BIG_PROMPT, post, 400),
    ("3 MB body", "/completions", HUGE_BODY, post, 413),
    ("over budget", "/completions", OVER_BUDGET, post, 400),
    ("2 MB chat", "/chat/completions", BIG_CHAT, post, 400),
]
EXPECTED = {name: status for name, _, _, _, status in KINDS}
HOSTILE = {name for name, status in EXPECTED.items() if status != 200}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``oairef serve`` as a user starts it, on a free loopback port; yields ``(base_url, pid)``. Its
    stderr goes to a file (a pipe nobody drains would block the server once its log filled the buffer)."""
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "oairef", "serve", "--port", "0", "--log-level", "warning"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink, text=True,
                                env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 300  # bounded: a cold numba cache compiles before the banner
        while (match := re.search(r"http://127\.0\.0\.1:(\d+)/v1", log.read_text())) is None:
            assert proc.poll() is None and time.monotonic() < deadline, f"no banner: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        yield match.group(0), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still draining requests: stop it for good
            proc.kill()
            proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """The process's resident set size (``VmRSS``) in MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024  # type: ignore[union-attr]


def one_round(http: httpx.Client, url: str) -> Counter[tuple[str, int]]:
    def one(i: int) -> tuple[str, int]:
        name, path, body, how, _ = KINDS[i % len(KINDS)]
        return name, how(http, url + path, body)

    with ThreadPoolExecutor(PER_ROUND) as pool:
        return Counter(pool.map(one, range(PER_ROUND)))


@pytest.mark.slow
def test_memory_stays_flat_and_health_stays_quick_under_hostile_load(server: tuple[str, int]) -> None:
    url, pid = server
    answered: Counter[tuple[str, int]] = Counter()
    rss = [rss_mb(pid)]
    limits = httpx.Limits(max_connections=PER_ROUND * 2, max_keepalive_connections=PER_ROUND)
    with httpx.Client(timeout=120, limits=limits) as http:
        for _ in range(WARMUP_ROUNDS):
            answered += one_round(http, url)
            rss.append(rss_mb(pid))
        host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
        probe = subprocess.Popen([sys.executable, str(PROBE), host, port], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            for _ in range(ROUNDS - WARMUP_ROUNDS):
                answered += one_round(http, url)
                rss.append(rss_mb(pid))
        finally:
            out, _ = probe.communicate(input="", timeout=120)
        assert post(http, url + "/completions", VALID) == 200  # still serving
    latencies = json.loads(out)
    wrong = {k: n for k, n in answered.items() if k[1] != EXPECTED[k[0]]}
    assert wrong == {}, f"unexpected statuses: {wrong}"
    assert sum(n for (name, _), n in answered.items() if name in HOSTILE) >= ROUNDS * PER_ROUND // 4
    growth = max(rss[WARMUP_ROUNDS:]) - rss[WARMUP_ROUNDS]
    median, worst = statistics.median(latencies), max(latencies)
    print(f"\nRSS per round (MB): {[round(x) for x in rss]}; growth after warm-up {growth:.1f} MB; "
          f"/health over {len(latencies)} probes: median {median:.1f} ms, max {worst:.0f} ms")
    assert growth <= RSS_GROWTH_MB, f"RSS grew {growth:.1f} MB after warm-up: {rss}"
    assert len(latencies) >= 10
    assert median <= HEALTH_MEDIAN_MS and worst <= HEALTH_MAX_MS, (median, worst)
