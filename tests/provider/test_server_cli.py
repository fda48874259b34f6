"""``oairef serve`` as a user runs it: a real process on a loopback port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from oairef.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_serve_arguments() -> None:
    args = build_parser().parse_args(["serve", "--port", "9000", "--api-key", "a", "--api-key", "b",
                                      "--logprobs-mode", "processed", "--fault", "no_done"])
    assert (args.port, args.api_key, args.logprobs_mode, args.fault, args.model, args.host) == \
        (9000, ["a", "b"], "processed", "no_done", "tiny", "127.0.0.1")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--fault", "not_a_fault"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--logprobs-mode", "cooked"])


def test_limit_flags_default_to_the_named_limits() -> None:
    from provider.limits import Limits

    args = build_parser().parse_args(["serve"])
    assert Limits(max_body_bytes=args.max_body_bytes, max_json_depth=args.max_json_depth,
                  max_request_tokens=args.max_request_tokens, max_concurrency=args.max_concurrency,
                  max_queue=args.max_queue) == Limits()
    args = build_parser().parse_args(["serve", "--max-body-bytes", "10", "--max-json-depth", "3", "--max-queue", "0",
                                      "--max-request-tokens", "7", "--max-concurrency", "2"])
    assert (args.max_body_bytes, args.max_json_depth, args.max_queue, args.max_request_tokens,
            args.max_concurrency) == (10, 3, 0, 7, 2)
    for bad in (["--max-concurrency", "0"], ["--max-queue", "-1"], ["--max-body-bytes", "1e6"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *bad])


def test_building_the_parser_imports_no_heavy_package() -> None:
    """Every subcommand's options are built without importing numba, uvicorn, fastapi or the provider's
    faults (``--fault`` and ``--logprobs-mode`` are checked against their owners only when given)."""
    code = ("import sys; from oairef.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('numba', 'uvicorn', 'fastapi', 'provider.faults', 'sampler') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_serve_bad_model_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", "/nonexistent/model.gguf"]) == 2
    assert "GGUF file not found" in capsys.readouterr().err
    assert main(["serve", "--model", "gpt-4o"]) == 2
    assert "unknown model 'gpt-4o'" in capsys.readouterr().err


def test_serve_process_answers_and_stops() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "oairef", "serve", "--port", "0", "--api-key", "sk-cli",
                             "--log-level", "warning", "--served-model-name", "tiny", "--served-model-name", "alias",
                             "--max-body-bytes", "4096"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()  # "serving model tiny (...) at http://127.0.0.1:PORT/v1"
        match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", banner)
        assert match, banner
        url = match.group(0)
        assert httpx.get(url.removesuffix("/v1") + "/health", timeout=30).json()["status"] == "ok"
        r = httpx.get(url + "/models", headers={"Authorization": "Bearer sk-cli"}, timeout=30)
        assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == ["tiny", "alias"]
        r = httpx.post(url + "/completions", headers={"Authorization": "Bearer sk-cli"}, timeout=30,
                       json={"model": "alias", "prompt": "x" * 5000, "max_tokens": 1})
        assert r.status_code == 413  # --max-body-bytes reached the server
        assert httpx.get(url + "/models", timeout=5).status_code == 401
        r = httpx.post(url + "/completions", headers={"Authorization": "Bearer sk-cli"}, timeout=30,
                       json={"model": "tiny", "prompt": "The keeper", "max_tokens": 3, "seed": 1})
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode in (0, -15)
