"""The validator against the reference provider: no false alarm (five seeds, both endpoints, with and
without logprobs), every fault caught by its own check (with and without logprobs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provider.app import run_in_thread
from validator.checks import REGISTRY
from validator.client import Client
from validator.context import Settings
from validator.runner import run_checks, select

#: fault -> the check meant to catch it
FAULT_CHECKS = {
    "stop_leak": "stop.sequences",
    "temperature_rescaled": "sampling.temperature",
    "top_p_ignored": "sampling.top_p",
    "logit_bias_ignored": "sampling.logit_bias",
    "penalties_count_prompt": "penalties.prompt_not_counted",
    "penalties_swapped": "penalties.frequency",
    "best_of_ignored": "best_of.ranking",
    "n_ignored": "n.indices",
    "seed_ignored": "seed.determinism",
    "ranges_clamped": "errors.ranges",
    "flat_error": "errors.shape",
    "no_done": "streaming.framing",
    "processed_logprobs": "logprobs.mode",
    "chat_temperature_ignored": "sampling.temperature",
    "chat_top_p_ignored": "sampling.top_p",
    "chat_logit_bias_ignored": "sampling.logit_bias",
    "chat_stop_leak_stream": "stop.sequences",
}


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    with run_in_thread("tiny") as url:
        yield url


#: faults whose check differs without logprobs: samples carry no absolute logit scale, so a temperature
#: rescaled at every T is indistinguishable from a logit_bias of the wrong size (sampling.logit_bias)
FAULT_CHECKS_NEVER = {**FAULT_CHECKS, "temperature_rescaled": "sampling.logit_bias"}
STATISTICAL_FAULTS = sorted(f for f, c in FAULT_CHECKS.items() if REGISTRY[c].statistical or c == "sampling.greedy")


@pytest.mark.parametrize("logprobs", ["auto", "never"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_reference_provider_passes_every_check(reference_url: str, seed: int, logprobs: str) -> None:
    client = Client(reference_url, concurrency=2)
    try:
        run = run_checks(client, "tiny", Settings(samples=600, seed=seed, quick=True, logprobs=logprobs),
                         select(None))
    finally:
        client.close()
    verdicts = {r.check.id: r.verdict for r in run.results}
    assert set(verdicts) == set(REGISTRY)
    bad = {r.check.id: (r.verdict, r.summary) for r in run.results if r.verdict != "pass"}
    assert not bad, bad
    want = "logprobs" if logprobs == "auto" else "samples"
    for r in run.results:
        assert r.outcome is not None
        parts = {p.endpoint: p for p in r.outcome.parts}
        assert set(parts) - {"models"} == set(REGISTRY[r.check.id].endpoints), r.check.id
        if r.check.statistical:
            assert {p.method for p in parts.values()} == {want}, r.check.id
            assert {t.endpoint for t in r.outcome.tests} == {"completions", "chat"}, r.check.id
            assert all(t.name.startswith(t.endpoint + ": ") for t in r.outcome.tests)
    stats = [t for r in run.results if r.outcome for t in r.outcome.tests]
    assert len(stats) >= 20 and all(t.p_holm is not None and t.p_holm > 1e-4 for t in stats)


def test_every_fault_has_a_check() -> None:
    from provider.faults import FAULTS

    assert set(FAULT_CHECKS) == set(FAULTS)
    assert set(FAULT_CHECKS.values()) <= set(REGISTRY)


def run_fault(fault: str, check_id: str, settings: Settings) -> list[str]:
    """The endpoints on which ``check_id`` failed against the provider with ``fault``."""
    with run_in_thread("tiny", fault=fault) as url:
        client = Client(url, concurrency=2)
        try:
            run = run_checks(client, "tiny", settings, select(check_id))
        finally:
            client.close()
    (result,) = run.results
    assert result.verdict == "fail", (fault, result.summary)
    assert result.outcome is not None
    return [p.endpoint for p in result.outcome.parts if p.verdict == "fail"]


def _expected_endpoints(fault: str, failed: list[str]) -> None:
    """A chat-path fault is failed on chat and only there: the report names the endpoint that departs."""
    if fault.startswith("chat_"):
        assert failed == ["chat"], (fault, failed)
    else:
        assert failed, fault


@pytest.mark.parametrize("fault", sorted(FAULT_CHECKS))
def test_fault_is_caught_by_its_check(fault: str) -> None:
    _expected_endpoints(fault, run_fault(fault, FAULT_CHECKS[fault], Settings(samples=600, seed=7, quick=True)))


@pytest.mark.parametrize("fault", STATISTICAL_FAULTS)
def test_fault_is_caught_without_logprobs(fault: str) -> None:
    failed = run_fault(fault, FAULT_CHECKS_NEVER[fault], Settings(samples=4000, seed=7, quick=True, logprobs="never"))
    _expected_endpoints(fault, failed)
