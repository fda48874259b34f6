"""Endpoint discovery and selection: a provider without /v1/completions is validated on chat alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oairef.cli import main
from provider.app import create_app, run_in_thread
from validator.checks import REGISTRY
from validator.client import Client
from validator.context import Settings
from validator.runner import run_checks, select


@pytest.fixture(scope="module")
def chat_only_url() -> Iterator[str]:
    """The reference provider behind an ASGI layer that answers 404 on /v1/completions (a real server
    without that endpoint, as many chat-only providers are)."""
    inner = create_app("tiny")

    async def chat_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/completions":
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"detail": "Not Found"}'})
            return
        await inner(scope, receive, send)

    with run_in_thread(app=chat_only) as url:  # type: ignore[arg-type]
        yield url


@pytest.mark.parametrize("logprobs", ["auto", "never"])
def test_a_provider_without_completions_is_judged_on_chat_alone(chat_only_url: str, logprobs: str) -> None:
    client = Client(chat_only_url, concurrency=2)
    try:
        run = run_checks(client, "tiny", Settings(samples=600, seed=2, quick=True, logprobs=logprobs), select(None))
    finally:
        client.close()
    for r in run.results:
        assert r.outcome is not None, (r.check.id, r.summary)
        parts = {p.endpoint: p for p in r.outcome.parts}
        assert parts["completions"].verdict == "unsupported", r.check.id
        assert "no /completions" in parts["completions"].summary and "404" in parts["completions"].summary
        covers_chat = "chat" in REGISTRY[r.check.id].endpoints
        assert r.verdict == ("pass" if covers_chat else "unsupported"), (r.check.id, r.verdict, r.summary)
        if covers_chat:
            assert parts["chat"].verdict == "pass"
    assert not run.failed


def test_endpoints_option_selects_and_the_report_names_them(tmp_path: Path) -> None:
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    with run_in_thread("tiny") as url:
        code = main(["validate", "--base-url", url, "--quick", "--endpoints", "chat", "--checks",
                     "sampling.temperature,best_of.errors,stop.sequences", "--json", str(js), "--markdown", str(md)])
    data = json.loads(js.read_text())
    by_id = {c["id"]: c for c in data["checks"]}
    assert data["settings"]["endpoints"] == ["chat"]
    assert [p["endpoint"] for p in by_id["sampling.temperature"]["parts"]] == ["chat"]
    assert by_id["sampling.temperature"]["parts"][0]["method"] == "logprobs"
    assert by_id["best_of.errors"]["verdict"] == "skipped"  # completions only, not selected
    assert code == 0
    assert all(t["name"].startswith("chat: ") for t in by_id["sampling.temperature"]["tests"])
    text = md.read_text()
    assert "chat: pass (logprobs)" in text and "| requests |" in text


@pytest.mark.parametrize("value", ["", "completions,embeddings", "chat;completions"])
def test_bad_endpoints_option_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--endpoints", value]) == 2
    assert "--endpoints" in capsys.readouterr().err


@pytest.fixture(scope="module")
def no_logprobs_url() -> Iterator[str]:
    """The reference provider behind an ASGI layer that drops logprobs and top_logprobs from every request
    (as transformers' ``serve`` does): it answers, with logprobs null."""
    inner = create_app("tiny")

    async def drop_logprobs(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await inner(scope, receive, send)
            return
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        body = json.loads(raw or b"{}")
        if isinstance(body, dict):
            body.pop("logprobs", None)
            body.pop("top_logprobs", None)
        data = json.dumps(body).encode()
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}

        await inner({**scope, "headers": headers}, replay, send)

    with run_in_thread(app=drop_logprobs) as url:  # type: ignore[arg-type]
        yield url


STATS = "sampling.temperature,sampling.logit_bias,penalties.presence,defaults.sampling"


def test_a_provider_that_omits_logprobs_is_judged_from_samples(no_logprobs_url: str) -> None:
    client = Client(no_logprobs_url, concurrency=2)
    try:
        run = run_checks(client, "tiny", Settings(samples=600, seed=3, quick=True), select(STATS))
    finally:
        client.close()
    for r in run.results:
        assert r.verdict == "pass", (r.check.id, r.summary)
        assert r.outcome is not None and {p.method for p in r.outcome.parts} == {"samples"}


def test_logprobs_require_makes_the_statistics_unsupported(no_logprobs_url: str) -> None:
    client = Client(no_logprobs_url, concurrency=2)
    try:
        run = run_checks(client, "tiny", Settings(samples=600, seed=3, quick=True, logprobs="require"), select(STATS))
    finally:
        client.close()
    for r in run.results:
        assert r.verdict == "unsupported", (r.check.id, r.summary)
        assert "omits the top logprobs" in r.summary and "--logprobs require" in r.summary
