"""A real peer: llama.cpp's own llama-server (built from the llama-cpp-python sdist's vendor/llama.cpp by
``oairef peers install llama-server``, which ``.ci/run`` runs first), validated end to end.

Only what holds on every machine is asserted: departures that are decided by the server's code (response
shapes, refused or ignored fields) and statistical verdicts whose effect is so large that a machine's
rounding cannot move them (prompt tokens counted by the penalties: p ~ 1e-90 here with 300 samples, the
check fails at 1e-4; the full, not --quick, prompt search is used: its probe keeps enough samples among the
reported tokens, where the quick one's penalised tokens left as few as 26 and a pass by chance). Seeded texts are not compared: llama-server reuses the KV cache of a slot's previous
prompt (``cache_prompt``), so, as with llama-cpp-python, the same seed gives the same text only for the
same cache state.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from peers import llama_server
from validator.client import Client
from validator.context import Settings
from validator.runner import Run, run_checks, select

if not llama_server.binary_path().exists():
    pytest.skip("llama-server is not built here: run `oairef peers install llama-server` (.ci/run does)",
                allow_module_level=True)

CHECKS = ("errors.unknown_model,n.indices,best_of.errors,logprobs.shape,logprobs.echo,logprobs.mode,"
          "sampling.greedy,penalties.prompt_not_counted")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, str]]:
    with llama_server.start() as running:
        yield running.base_url, httpx.get(running.base_url + "/models", timeout=10).json()["data"][0]["id"]


@pytest.fixture(scope="module")
def peer_run(server: tuple[str, str]) -> Iterator[Run]:
    url, model = server
    client = Client(url, concurrency=4, timeout_s=60)
    try:
        yield run_checks(client, model, Settings(samples=300, seed=0, time_budget_s=60.0), select(CHECKS))
    finally:
        client.close()


def verdicts(run: Run) -> dict[str, str]:
    return {r.check.id: r.verdict for r in run.results}


def test_shape_departures_are_failed_once(peer_run: Run) -> None:
    v = verdicts(peer_run)
    shape = next(r for r in peer_run.results if r.check.id == "logprobs.shape")
    assert v["logprobs.shape"] == "fail"
    assert any("must all be lists" in f for f in shape.outcome.failures)  # type: ignore[union-attr]
    # ...and nothing else fails only because of it: the chat-shaped logprobs are read
    assert v["sampling.greedy"] == "pass"
    mode = next(r for r in peer_run.results if r.check.id == "logprobs.mode")
    assert mode.verdict == "pass" and mode.outcome is not None and mode.outcome.details["mode"] == "raw"


def test_ignored_fields_are_detected(peer_run: Run) -> None:
    v = verdicts(peer_run)
    assert v["errors.unknown_model"] == "fail"  # any model name is served
    assert v["best_of.errors"] == "fail"  # best_of is not read on /v1/completions
    assert v["logprobs.echo"] == "fail"  # echo is not read on /v1/completions
    assert v["n.indices"] == "pass"  # n (up to the slot count) is honoured


def test_prompt_tokens_are_penalised(peer_run: Run) -> None:
    """llama.cpp feeds the prompt into the penalties' window: the step-1 distribution already moves."""
    r = next(r for r in peer_run.results if r.check.id == "penalties.prompt_not_counted")
    assert r.verdict == "fail"
    assert r.outcome is not None and min(t.p_holm or 1.0 for t in r.outcome.tests) < 1e-12


def test_n_is_capped_at_the_slot_count(server: tuple[str, str]) -> None:
    url, model = server
    body = {"model": model, "prompt": "Hello", "max_tokens": 1}
    assert len(httpx.post(url + "/completions", json={**body, "n": 4}, timeout=60).json()["choices"]) == 4
    refused = httpx.post(url + "/completions", json={**body, "n": 5}, timeout=60)
    assert refused.status_code == 400 and "n" in refused.text
