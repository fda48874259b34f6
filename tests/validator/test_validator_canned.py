"""Check logic against canned answers from a tiny real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from validator.checks import REGISTRY
from validator.checks.logprobs import completion_logprob_problems
from validator.client import Client
from validator.context import Context, Settings
from validator.runner import run_check

Handler = Callable[[str, dict[str, Any]], tuple[int, Any]]


def canned_server(handler: Handler) -> Iterator[str]:
    """Serve ``handler(path, body) -> (status, json_body)`` on a free 127.0.0.1 port; yield ``.../v1``."""

    class H(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(*handler(self.path, {}))

        def do_POST(self) -> None:  # noqa: N802
            n = int(self.headers.get("Content-Length", 0))
            self._answer(*handler(self.path, json.loads(self.rfile.read(n) or b"{}")))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def run_one(check_id: str, handler: Handler) -> Any:
    gen = canned_server(handler)
    url = next(gen)
    try:
        client = Client(url, concurrency=1, timeout_s=10)
        result = run_check(REGISTRY[check_id], Context(client, "m", Settings(samples=50, quick=True)))
        client.close()
        return result
    finally:
        next(gen, None)


def nested_error(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    if body.get("model") != "m":
        return 404, {"error": {"message": "no such model", "type": "invalid_request_error", "param": "model",
                               "code": "model_not_found"}}
    return 400, {"error": {"message": "temperature must be in [0, 2]", "type": "invalid_request_error",
                           "param": "temperature", "code": None}}


def flat_error(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return 400, {"message": "bad temperature", "type": "invalid_request_error", "param": "temperature", "code": None}


def test_error_shape_passes_the_documented_shape() -> None:
    assert run_one("errors.shape", nested_error).verdict == "pass"


def test_error_shape_fails_a_flat_body() -> None:
    r = run_one("errors.shape", flat_error)
    assert r.verdict == "fail" and 'not {"error"' in r.summary


def test_error_shape_fails_wrong_param() -> None:
    def wrong(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return 400, {"error": {"message": "x", "type": "invalid_request_error", "param": "top_p", "code": None}}

    r = run_one("errors.shape", wrong)
    assert r.verdict == "fail" and "expected 'temperature'" in r.summary


def test_unknown_model_needs_404_model_not_found() -> None:
    assert run_one("errors.unknown_model", nested_error).verdict == "pass"
    r = run_one("errors.unknown_model", lambda p, b: (200, {"choices": []}))
    assert r.verdict == "fail" and "expected 404" in r.summary


def test_a_4xx_on_a_documented_request_is_unsupported() -> None:
    def rejects(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return 422, {"detail": "n is not supported"}

    r = run_one("n.indices", rejects)
    assert r.verdict == "fail"  # n.indices records each case: a 422 on a documented value is a failure there
    r2 = run_one("seed.determinism", rejects)
    assert r2.verdict == "unsupported" and "422" in r2.summary


def test_a_500_is_a_failure_not_a_crash() -> None:
    r = run_one("logprobs.mode", lambda p, b: (500, {"error": "boom"}))
    assert r.verdict == "fail" and "500" in r.summary


def test_garbage_body_is_a_failure() -> None:
    r = run_one("sampling.greedy", lambda p, b: (200, ["not", "an", "object"]))
    assert r.verdict == "fail"


CHOICE = {
    "text": " a b",
    "logprobs": {"tokens": [" a", " b"], "token_logprobs": [-0.5, -1.0], "text_offset": [3, 5],
                 "top_logprobs": [{" a": -0.5}, {" x": -0.2, " b": -1.0}]},
}


def test_logprob_shape_accepts_a_documented_choice() -> None:
    assert completion_logprob_problems(CHOICE, 1, "abc", echo=False) == []


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c["logprobs"]["text_offset"].__setitem__(0, 0), "text_offset[0]"),
        (lambda c: c["logprobs"]["token_logprobs"].__setitem__(1, -0.7), "but token_logprobs[1]"),
        (lambda c: c["logprobs"]["top_logprobs"][0].update({" d": -3.0, " e": -4.0}), "more than logprobs + 1"),
        (lambda c: c["logprobs"]["top_logprobs"][0].update({" d": -3.0}), "although the chosen token is among"),
        (lambda c: c["logprobs"]["top_logprobs"][1].pop(" b"), "lacks the chosen token"),
        (lambda c: c.__setitem__("text", " a bc"), "tokens join"),
    ],
)
def test_logprob_shape_finds_each_defect(mutate: Callable[[dict[str, Any]], Any], needle: str) -> None:
    c = json.loads(json.dumps(CHOICE))
    mutate(c)
    problems = completion_logprob_problems(c, 1, "abc", echo=False)
    assert any(needle in p for p in problems), problems


def schema_server(drop_usage: bool) -> Handler:
    """Documented bodies without the fields added later (Model.created, the chat message's refusal, chat
    choices' logprobs); with ``drop_usage``, completions also lack usage, which the docs name."""

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "me"}]}
        if body.get("temperature") == 5:
            return 400, {"error": {"message": "temperature", "type": "invalid_request_error", "param": "temperature",
                                   "code": None}}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        if path.endswith("/chat/completions"):
            return 200, {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "usage": usage,
                         "choices": [{"index": 0, "finish_reason": "length",
                                      "message": {"role": "assistant", "content": "a"}}]}
        out = {"id": "c", "object": "text_completion", "created": 1, "model": "m", "usage": usage,
               "choices": [{"index": i, "text": "a", "logprobs": None, "finish_reason": "length"}
                           for i in range(body.get("n") or 1)]}
        if drop_usage:
            del out["usage"]
        return 200, out

    return handler


def run_schema(handler: Handler, strict: bool) -> Any:
    gen = canned_server(handler)
    url = next(gen)
    try:
        client = Client(url, concurrency=1, timeout_s=10)
        result = run_check(REGISTRY["schema.responses"], Context(client, "m", Settings(samples=50, strict=strict)))
        client.close()
        return result
    finally:
        next(gen, None)


def test_schema_reports_later_additions_without_failing() -> None:
    r = run_schema(schema_server(drop_usage=False), strict=False)
    assert r.verdict == "pass", r.summary
    later = json.dumps(r.outcome.details)
    for field in ("data.*.created", "choices.*.message.refusal", "choices.*.logprobs"):
        assert field in later
    assert "later additions missing" in r.summary


def test_schema_strict_fails_later_additions() -> None:
    r = run_schema(schema_server(drop_usage=False), strict=True)
    assert r.verdict == "fail" and any("--strict" in f and "refusal" in f for f in r.outcome.failures)


def test_schema_fails_a_missing_field_the_docs_name() -> None:
    r = run_schema(schema_server(drop_usage=True), strict=False)
    assert r.verdict == "fail"
    assert any("usage" in f and "Field required" in f for f in r.outcome.failures)
    assert not any("refusal" in f for f in r.outcome.failures)
