"""`oairef validate` end to end: exit codes, reports, usage errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from oairef.cli import main
from provider.app import run_in_thread
from validator.checks import REGISTRY


def test_default_run_starts_the_embedded_provider_and_writes_reports(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    code = main(["validate", "--quick", "--seed", "3", "--json", str(js), "--markdown", str(md)])
    assert code == 0, capsys.readouterr().out[-3000:]
    data = json.loads(js.read_text())
    assert data["schema_version"] == 1
    assert set(data) >= {"provider", "settings", "summary", "checks"}
    assert data["summary"]["fail"] == 0 and data["summary"]["pass"] == len(REGISTRY)
    ids = [c["id"] for c in data["checks"]]
    assert sorted(ids) == sorted(REGISTRY)
    for c in data["checks"]:
        assert set(c) >= {"id", "title", "verdict", "summary", "rule", "method", "tests", "evidence", "failures"}
        assert c["rule"] and c["method"]
    temp = next(c for c in data["checks"] if c["id"] == "sampling.temperature")
    assert temp["tests"] and all({"p_value", "p_holm", "min_detectable_w", "n"} <= set(t) for t in temp["tests"])
    text = md.read_text()
    assert "| `sampling.temperature` | **pass** |" in text and "Holm p" in text


def test_a_failing_provider_exits_1(tmp_path: Path) -> None:
    with run_in_thread("tiny", fault="flat_error") as url:
        code = main(["validate", "--base-url", url, "--checks", "errors.*", "--json", str(tmp_path / "r.json")])
    assert code == 1
    data = json.loads((tmp_path / "r.json").read_text())
    shape = next(c for c in data["checks"] if c["id"] == "errors.shape")
    assert shape["verdict"] == "fail" and shape["evidence"]


def test_unreachable_provider_exits_2_with_a_message_and_the_reports(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    code = main(["validate", "--base-url", f"http://127.0.0.1:{port}/v1", "--checks", "errors.*",
                 "--json", str(js), "--markdown", str(md)])
    err = capsys.readouterr().err
    assert code == 2 and "unreachable" in err and "Traceback" not in err
    data = json.loads(js.read_text())
    assert data["summary"]["exit_status"] == 2 and data["summary"]["error"] == 3
    assert {c["verdict"] for c in data["checks"]} == {"error"}
    assert "| `errors.shape` | **error** |" in md.read_text()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--alpha", "2"], "--alpha"),
        (["--samples", "1"], "--samples"),
        (["--concurrency", "0"], "--concurrency"),
        (["--checks", "nothing.*"], "matches no check"),
        (["--base-url", "localhost:8000"], "--base-url"),
        (["--timeout", "0"], "--timeout"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *argv]) == 2
    assert needle in capsys.readouterr().err


def test_strict_turns_unsupported_into_failure() -> None:
    from validator.context import UNSUPPORTED, Settings
    from validator.runner import Result, Run

    r = Result(REGISTRY["seed.determinism"], UNSUPPORTED, "seed rejected", 0.0)
    assert not Run("u", "m", Settings(), [r], 0.0, 0, strict=False).failed
    assert Run("u", "m", Settings(), [r], 0.0, 0, strict=True).failed


def test_list_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(cid in out for cid in REGISTRY)


@pytest.mark.parametrize("columns", [80, 200])
def test_the_results_table_fits_the_console_and_names_what_failed(columns: int, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """One line per check at any width; the endpoint whose verdict differs is named in the verdict cell; an
    80-column console drops the summary column and lists each finding under the table instead."""
    monkeypatch.setenv("COLUMNS", str(columns))
    with run_in_thread("tiny", fault="chat_top_p_ignored") as url:
        code = main(["validate", "--base-url", url, "--quick", "--checks", "sampling.top_p,sampling.greedy"])
    out = capsys.readouterr().out
    assert code == 1
    assert max(len(line) for line in out.splitlines()) <= columns
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│ sampling.")}
    assert set(rows) == {"sampling.top_p", "sampling.greedy"}
    assert "fail (completions" in rows["sampling.top_p"] and "│ pass " in rows["sampling.greedy"]
    findings = [line for line in out.splitlines() if line.startswith("sampling.top_p: fail — ")]
    assert ("summary" in out) == (columns >= 110) and len(findings) == (columns < 110)
