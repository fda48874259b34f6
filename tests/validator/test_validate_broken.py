"""A verdict on a broken provider, with bounded work: real misbehaving servers on 127.0.0.1.

Every run writes the JSON and Markdown reports, prints no traceback, exits 1 (judged and failed) or
2 (could not judge), and waits out at most a few exchange deadlines — asserted as counts of requests
and verdicts, never as seconds (``python -m tests.validator.broken_providers`` measures the time).
A short ``--timeout`` keeps the tests quick; the bound is the same in deadlines at any timeout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oairef.cli import main
from tests.validator.broken_providers import PROXIES, broken
from validator.checks import REGISTRY
from validator.client import MAX_CONSECUTIVE_FAILURES

TIMEOUT = "1.5"


def validate(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str,
             timeout: str = TIMEOUT) -> tuple[int, dict[str, Any]]:
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    model = "tiny" if name in PROXIES else "m"
    with broken(name) as url:
        code = main(["validate", "--base-url", url, "--model", model, "--timeout", timeout, "--json", str(js),
                     "--markdown", str(md), *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert md.read_text(encoding="utf-8").startswith("# oairef validate report")
    data = json.loads(js.read_text(encoding="utf-8"))
    if "--checks" not in extra:
        assert sorted(c["id"] for c in data["checks"]) == sorted(REGISTRY)
    assert data["summary"]["exit_status"] == code
    return code, data


def verdicts(data: dict[str, Any]) -> set[str]:
    return {c["verdict"] for c in data["checks"]}


@pytest.mark.parametrize("name", ["silent", "drip", "hangup"])
@pytest.mark.parametrize("quick", [True, False])
def test_a_provider_that_never_answers_in_full_is_not_judged_after_one_deadline(
        name: str, quick: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = validate(name, tmp_path, capsys, *(["--quick"] if quick else []))
    assert code == 2
    assert verdicts(data) == {"error"}
    assert data["summary"]["requests"] == 1  # GET /models, ended by its deadline or the hang-up
    assert all("unreachable" in c["summary"] for c in data["checks"])


def test_a_provider_that_stops_answering_ends_every_remaining_check_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = validate("stops_answering", tmp_path, capsys, "--quick")
    assert code == 2 and verdicts(data) == {"error"}
    # the deadlines waited out: the breaker's count (GET /models answered, then one per failed POST)
    assert data["summary"]["requests"] <= 1 + MAX_CONSECUTIVE_FAILURES
    assert sum(c["requests"] for c in data["checks"]) <= MAX_CONSECUTIVE_FAILURES
    stopped = [c for c in data["checks"] if "stopped answering" in c["summary"]]
    assert len(stopped) >= len(REGISTRY) - MAX_CONSECUTIVE_FAILURES


@pytest.mark.parametrize(("name", "needle"), [
    ("huge", "byte cap"),
    ("invalid_json", "Invalid JSON"),
    ("wrong_shape", ""),
])
def test_a_provider_that_answers_wrongly_is_judged_failed(name: str, needle: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, data = validate(name, tmp_path, capsys, "--quick")
    assert code == 1
    assert "pass" not in {c["verdict"] for c in data["checks"] if c["id"].startswith(("sampling.", "penalties."))}
    schema = next(c for c in data["checks"] if c["id"] == "schema.responses")
    assert schema["verdict"] == "fail" and needle in json.dumps(schema)
    # every check stopped at the first wrong answer: no sampling loop ran on garbage
    assert data["summary"]["requests"] <= 10 * len(REGISTRY)


def test_a_stream_without_end_is_cut_and_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the proxied answers come from a real provider: a deadline that a loaded machine cannot miss; the
    # endless streams arrive as fast as the socket takes them and are cut by the event cap, not by it
    code, data = validate("endless_stream", tmp_path, capsys, "--quick", "--checks", "streaming.*,stop.sequences",
                          timeout="20")
    assert code == 1
    framing = next(c for c in data["checks"] if c["id"] == "streaming.framing")
    assert framing["verdict"] == "fail"
    assert {p["endpoint"] for p in framing["parts"]} == {"completions", "chat"}
    assert all("did not end within" in p["summary"] for p in framing["parts"])
    assert all(e.get("failure", "").startswith("the stream did not end") for e in framing["evidence"]
               if e["body"] and e["body"].get("stream"))
    stop = next(c for c in data["checks"] if c["id"] == "stop.sequences")
    assert stop["verdict"] == "fail" and "did not end within" in json.dumps(stop["failures"])


def test_a_line_without_end_is_cut_at_the_byte_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stream that never sends a newline is counted as it arrives (it was buffered whole: 200 MB held
    until the deadline): cut at the client's byte cap, failed, never an error or the deadline."""
    code, data = validate("endless_line", tmp_path, capsys, "--quick", "--checks", "streaming.framing", timeout="20")
    assert code == 1
    framing = next(c for c in data["checks"] if c["id"] == "streaming.framing")
    assert framing["verdict"] == "fail" and all("byte cap" in p["summary"] for p in framing["parts"])
    streamed = [e for e in framing["evidence"] if e["body"] and e["body"].get("stream")]
    assert streamed and all("byte cap" in e.get("failure", "") for e in streamed)


def test_a_busy_provider_is_waited_out_not_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """429 with retry-after-ms on the first sight of every request: each is sent again after the wait it
    asks for (listed as a retry), and the reference provider behind it passes as it does directly."""
    code, data = validate("busy", tmp_path, capsys, "--quick", "--checks", "errors.*,sampling.temperature,n.indices",
                          timeout="20")
    assert code == 0 and verdicts(data) == {"pass"}
    posts = sum(c["requests"] for c in data["checks"])
    assert data["summary"]["transport_retries"] >= posts
    assert all("HTTP 429" in r for c in data["checks"] for r in c["transport_retries"])
