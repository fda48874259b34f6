"""``oairef serve`` as a user runs it: a real process on a loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conformance.server import free_port
from oairef.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_serve_arguments() -> None:
    args = build_parser().parse_args(["serve", "--port", "9000", "--api-key", "a", "--api-key", "b",
                                      "--logprobs-mode", "processed", "--fault", "no_done"])
    assert (args.port, args.api_key, args.logprobs_mode, args.fault, args.model, args.host) == \
        (9000, ["a", "b"], "processed", "no_done", "tiny", "127.0.0.1")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--fault", "not_a_fault"])


def test_serve_bad_model_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", "/nonexistent/model.gguf"]) == 2
    assert "GGUF file not found" in capsys.readouterr().err
    assert main(["serve", "--model", "gpt-4o"]) == 2
    assert "unknown built-in model" in capsys.readouterr().err


def test_serve_process_answers_and_stops() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "oairef", "serve", "--port", str(port), "--api-key", "sk-cli",
                             "--log-level", "warning"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                r = httpx.get(url + "/models", headers={"Authorization": "Bearer sk-cli"}, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "oairef serve did not start"
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["data"][0]["id"] == "tiny"
        assert httpx.get(url + "/models", timeout=5).status_code == 401
        r = httpx.post(url + "/completions", headers={"Authorization": "Bearer sk-cli"}, timeout=30,
                       json={"model": "tiny", "prompt": "The keeper", "max_tokens": 3, "seed": 1})
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode in (0, -15)
