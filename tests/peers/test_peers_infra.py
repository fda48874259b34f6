"""peers/ infrastructure on every machine, without any peer installed: the cache folder, idempotent and
bounded install steps, starting/stopping a real server process group on loopback, the pictures, the
matrix and the command line."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from peers import cache, matrix, plots, process
from peers.cli import main as peers_main
from peers.registry import PEERS, get


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_root_is_the_environment_variable(own_cache: Path) -> None:
    assert cache.cache_root() == own_cache and own_cache.is_dir()
    assert cache.log_path("x") == own_cache / "logs" / "x.log"


def test_offline_env_switches_hubs_off() -> None:
    env = cache.offline_env({"A": "1"})
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1" and env["A"] == "1"


def test_marker_records_exactly_what_was_installed(tmp_path: Path) -> None:
    m = tmp_path / "m.json"
    assert not cache.marker_matches(m, {"v": 1})
    cache.write_marker(m, {"v": 1, "pins": ["a==1"]})
    assert cache.marker_matches(m, {"v": 1, "pins": ["a==1"]})
    assert not cache.marker_matches(m, {"v": 1, "pins": ["a==2"]})
    m.write_text("{not json")
    assert not cache.marker_matches(m, {"v": 1})


def test_run_step_logs_and_raises_with_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    cache.run_step("ok", [sys.executable, "-c", "print('hello from the step')"], log, 60)
    assert "hello from the step" in log.read_text()
    with pytest.raises(cache.InstallError, match="exit status 3") as err:
        cache.run_step("bad", [sys.executable, "-c", "print('broken thing'); raise SystemExit(3)"], log, 60)
    assert "broken thing" in str(err.value)


def test_run_step_is_bounded_and_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        time.sleep(120)
    """)
    t0 = time.monotonic()
    with pytest.raises(cache.InstallError, match="no result within"):
        cache.run_step("slow", [sys.executable, "-c", code], tmp_path / "slow.log", 3)
    assert time.monotonic() - t0 < 30
    assert _gone_within(int(pidfile.read_text()), 10.0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


SERVER = textwrap.dedent("""
    import http.server, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    open(sys.argv[2], "w").write(str(child.pid))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def test_serving_waits_for_ready_and_stops_the_whole_group(tmp_path: Path) -> None:
    port = process.free_port()
    pidfile = tmp_path / "worker.pid"
    cmd = [sys.executable, "-c", SERVER, str(port), str(pidfile)]
    with process.serving("toy", cmd, port, tmp_path / "toy.log", 60) as run:
        assert run.base_url == f"http://127.0.0.1:{port}/v1"
        worker = int(pidfile.read_text())
        assert _alive(run.pid) and _alive(worker)
    assert not _alive(run.pid)
    assert _gone_within(worker, 10.0)  # SIGKILL to the group is delivered asynchronously


def test_a_server_that_exits_is_a_start_error_quoting_its_log(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "print('model file is corrupt'); raise SystemExit(1)"]
    with pytest.raises(process.StartError, match="model file is corrupt"), \
            process.serving("dies", cmd, process.free_port(), tmp_path / "dies.log", 60):
        pass


def test_a_server_that_never_answers_is_bounded(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(120)"]
    t0 = time.monotonic()
    with pytest.raises(process.StartError, match="not ready within 2 s"), \
            process.serving("mute", cmd, process.free_port(), tmp_path / "mute.log", 2):
        pass
    assert time.monotonic() - t0 < 30


TEST = {"name": "T=1.5", "n": 100, "p_value": 1e-9, "p_holm": 2e-9,
        "observed": {" e": 60, "\n": 30, "(other)": 10}, "expected": {" e": 0.5, "\n": 0.5}}


def test_predicted_counts_scale_by_the_tested_samples() -> None:
    tokens, obs, pred = plots.predicted_counts(TEST["observed"], TEST["expected"])  # type: ignore[arg-type]
    assert tokens == [" e", "\n", "(other)"] and obs == [60, 30, 10]
    assert pred == [45.0, 45.0, None]


#: a logprob-free test (validator.sampled.arms_test): counts and the fitted base's prediction per arm
ARMS = {"name": "T=1 and T=0.5 explained by one p", "n": 300, "p_value": 0.3, "p_holm": 0.3,
        "observed": {"T=1": {" e": 60, "\n": 40}, "T=0.5": {" e": 150, "\n": 50}},
        "expected": {"fitted base p": {" e": 0.6, "\n": 0.4}, "T=1": {" e": 0.6, "\n": 0.4},
                     "T=0.5": {" e": 0.6923, "\n": 0.3077}}}


def test_a_test_over_arms_is_one_panel_per_arm_with_that_arms_prediction() -> None:
    got = plots.panels(ARMS)
    assert [suffix for suffix, _, _ in got] == [" — T=1", " — T=0.5"]
    _, obs, exp = got[1]
    tokens, counts, pred = plots.predicted_counts(obs, exp)
    assert tokens == [" e", "\n"] and counts == [150, 50]
    assert pred[0] == pytest.approx(0.6923 * 200, rel=1e-3)
    assert plots.panels(TEST) == [("", TEST["observed"], TEST["expected"])]


def test_plot_is_a_png_and_none_without_counts(tmp_path: Path) -> None:
    path = plots.plot_check({"tests": [TEST, ARMS]}, 1e-4, tmp_path / "c.png", "peer: sampling.temperature")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.plot_check({"tests": [{"name": "x", "n": 3}]}, 1e-4, tmp_path / "d.png", "t") is None


def _report(verdicts: dict[str, str], findings: dict[str, dict[str, str]]) -> dict[str, object]:
    checks = [{"id": k, "verdict": v} for k, v in verdicts.items()]
    counts = {v: list(verdicts.values()).count(v) for v in ("pass", "fail", "unsupported", "skipped")}
    return {"checks": checks, "summary": {**counts, "requests": 5},
            "peer": {"version": "x 1", "start_s": 1.0, "validate_s": 2.0, "findings": findings}}


def test_matrix_cells_carry_verdicts_and_words(tmp_path: Path) -> None:
    (tmp_path / "vllm.json").write_text(json.dumps(_report(
        {"sampling.greedy": "pass", "best_of.ranking": "fail"}, {"best_of.ranking": {"words": "best_of ignored"}})))
    (tmp_path / "llama-server.json").write_text(json.dumps(_report(
        {"sampling.greedy": "pass", "best_of.ranking": "fail"}, {})))
    md = matrix.matrix_markdown(matrix.load_reports(tmp_path))
    assert "| `best_of.ranking` | **fail** — best_of ignored | **fail** — untriaged |" in md
    assert "| `sampling.greedy` | pass | pass |" in md
    assert md.index("[vllm]") < md.index("[llama-server]")  # registry order


def test_readme_is_changed_only_between_the_markers(tmp_path: Path) -> None:
    (tmp_path / "oairef.json").write_text(json.dumps(_report({"sampling.greedy": "pass"}, {})))
    readme = tmp_path / "README.md"
    readme.write_text(f"# top\nkeep me\n{matrix.BEGIN}\nold table\n{matrix.END}\nafter\n")
    assert matrix.update_readme(readme, tmp_path)
    text = readme.read_text()
    assert text.startswith("# top\nkeep me\n") and text.endswith(f"{matrix.END}\nafter\n")
    assert "old table" not in text and "| `sampling.greedy` | pass |" in text
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert not matrix.update_readme(plain, tmp_path) and plain.read_text() == "no markers\n"


def test_every_peer_module_can_install_start_and_say_its_version() -> None:
    for peer in PEERS.values():
        mod = peer.load()
        assert callable(mod.install) and callable(mod.start) and callable(mod.version), peer.name
    with pytest.raises(KeyError, match="known: oairef, vllm"):
        get("sglang")


def test_cli_lists_the_peers_and_refuses_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert peers_main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PEERS)
    assert peers_main(["report", "sglang"]) == 2


@pytest.mark.parametrize("argv", [["serve", "all"], ["report", "oairef", "--checks", "nomatch.*"],
                                  ["report", "oairef", "--seed", "-1"], ["report", "all", "--samples", "5"]])
def test_cli_usage_errors_exit_2_before_anything_starts(argv: list[str], own_cache: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert peers_main(argv) == 2
    assert "oairef peers" in capsys.readouterr().err
    assert not (own_cache / "logs").exists() or not any((own_cache / "logs").iterdir())  # nothing was started


def test_a_partial_report_goes_to_the_cache_and_leaves_the_committed_ones(own_cache: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``--checks`` runs a real peer (oairef serve, SmolLM2) but must not overwrite docs/reports/ or the matrix."""
    committed = [PEERS["oairef"].report_md, PEERS["oairef"].report_json, matrix.ROOT / "README.md"]
    before = [p.read_bytes() for p in committed]
    assert peers_main(["report", "oairef", "--checks", "errors.shape"]) == 0
    assert [p.read_bytes() for p in committed] == before
    data = json.loads((own_cache / "reports" / "oairef.json").read_text())
    assert [c["id"] for c in data["checks"]] == ["errors.shape"] and data["checks"][0]["verdict"] == "pass"
    assert "partial run" in capsys.readouterr().out
