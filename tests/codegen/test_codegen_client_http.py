"""The generated client against a real scripted HTTP server: retries, errors, timeouts, env config."""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time

import pytest

from generated import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidRequestParameterError,
    NotFoundError,
    OpenAI,
    OpenAIError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    models,
)
from tests.codegen.scripted_server import API_KEY, Recorded, Reply, ScriptedServer, closed_port

MODEL = {"id": "m1", "object": "model", "created": 1, "owned_by": "me"}
COMPLETION = {
    "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m1",
    "choices": [{"index": 0, "text": "hi", "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def _error(message: str, type_: str = "invalid_request_error", param: str | None = None,
           code: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    found = [re.search(r"in ([0-9.]+) seconds", r.getMessage()) for r in caplog.records]
    return [float(m.group(1)) for m in found if m]


def test_retrieve_parses_the_response_model(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(json={**MODEL, "brand_new_field": [1, 2]}))
    model = client.models.retrieve("m1")
    assert isinstance(model, models.Model)
    assert model.id == "m1"
    assert model.model_extra == {"brand_new_field": [1, 2]}  # forward-compatible: unknown fields kept
    assert server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_path_parameters_are_quoted_and_must_not_be_empty(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/ft%3Aa%2Fb", Reply(json=MODEL))
    client.models.retrieve("ft:a/b")
    assert server.requests[-1].path == "/v1/models/ft%3Aa%2Fb"
    with pytest.raises(InvalidRequestParameterError) as info:
        client.models.retrieve("")
    assert info.value.param == "model"
    assert len(server.requests) == 1


def test_429_with_retry_after_seconds_is_retried_after_that_wait(
        client: OpenAI, server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    server.add("POST", "/v1/completions",
               Reply(429, json=_error("slow down", "rate_limit_error"), headers={"Retry-After": "1"}),
               Reply(json=COMPLETION))
    with caplog.at_level(logging.INFO, logger="generated"):
        result = client.completions.create(model="m1", prompt="x")
    assert result.choices[0].text == "hi"
    assert len(server.requests) == 2
    assert _retry_delays(caplog) == [1.0]


def test_retry_after_ms_and_http_date(client: OpenAI, server: ScriptedServer,
                                      caplog: pytest.LogCaptureFixture) -> None:
    date = email.utils.formatdate(time.time() + 3, usegmt=True)  # whole seconds: 2-3 s ahead
    server.add("GET", "/v1/models/m1",
               Reply(503, json=_error("busy", "server_error"), headers={"retry-after-ms": "50"}),
               Reply(429, json=_error("busy", "rate_limit_error"), headers={"Retry-After": date}),
               Reply(json=MODEL))
    with caplog.at_level(logging.INFO, logger="generated"):
        client.models.retrieve("m1")
    delays = _retry_delays(caplog)
    assert delays[0] == pytest.approx(0.05)
    # the date's wait, not the fallback backoff (0.75-1 s for a second retry)
    assert 1.5 < delays[1] <= 3.0
    assert len(server.requests) == 3


def test_500_then_200_succeeds_and_backoff_starts_at_half_a_second(
        client: OpenAI, server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    server.add("GET", "/v1/models/m1", Reply(500, json=_error("oops", "server_error")), Reply(json=MODEL))
    with caplog.at_level(logging.INFO, logger="generated"):
        assert client.models.retrieve("m1").id == "m1"
    (delay,) = _retry_delays(caplog)
    assert 0.375 <= delay <= 0.5  # 0.5 s less at most 25 % jitter


def test_retries_exhausted_raise_the_status_error(server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(500, json=_error("down", "server_error"),
                                             headers={"retry-after-ms": "1", "x-request-id": "req_9"}))
    client = OpenAI(api_key=API_KEY, base_url=server.url, max_retries=2)
    with pytest.raises(InternalServerError) as info:
        client.models.retrieve("m1")
    assert len(server.requests) == 3
    err = info.value
    assert (err.status_code, err.type, err.request_id) == (500, "server_error", "req_9")
    assert "down" in err.message


def test_max_retries_zero_sends_once(server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(503, json=_error("down", "server_error")))
    with pytest.raises(InternalServerError):
        OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0).models.retrieve("m1")
    assert len(server.requests) == 1


@pytest.mark.parametrize(("status", "cls", "retried"), [
    (400, BadRequestError, False), (401, AuthenticationError, False), (403, PermissionDeniedError, False),
    (404, NotFoundError, False), (409, ConflictError, True), (422, UnprocessableEntityError, False),
    (429, RateLimitError, True), (418, APIStatusError, False), (502, InternalServerError, True),
])
def test_status_errors_map_to_classes_and_only_retryable_ones_retry(
        server: ScriptedServer, status: int, cls: type[APIStatusError], retried: bool) -> None:
    server.add("POST", "/v1/completions", Reply(status, json=_error("bad temperature", param="temperature",
                                                                    code="invalid_value"),
                                                headers={"retry-after-ms": "1"}))
    client = OpenAI(api_key=API_KEY, base_url=server.url, max_retries=1)
    with pytest.raises(cls) as info:
        client.completions.create(model="m1", prompt="x")
    assert type(info.value) is cls
    assert isinstance(info.value, OpenAIError)
    assert info.value.status_code == status
    assert (info.value.param, info.value.code) == ("temperature", "invalid_value")
    assert info.value.body == _error("bad temperature", param="temperature", code="invalid_value")["error"]
    assert len(server.requests) == (2 if retried else 1)


def test_x_should_retry_false_disables_the_retry(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(500, json=_error("no"), headers={"x-should-retry": "false"}))
    with pytest.raises(InternalServerError):
        client.models.retrieve("m1")
    assert len(server.requests) == 1


def test_connection_refused_is_retried_then_raises(caplog: pytest.LogCaptureFixture) -> None:
    client = OpenAI(api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=1)
    with caplog.at_level(logging.INFO, logger="generated"), pytest.raises(APIConnectionError) as info:
        client.models.list()
    assert not isinstance(info.value, APITimeoutError)
    assert len(_retry_delays(caplog)) == 1


def test_timeout_raises_api_timeout_error(server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(json=MODEL, delay=1.0))
    client = OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0, timeout=0.2)
    with pytest.raises(APITimeoutError):
        client.models.retrieve("m1")
    # a per-call timeout overrides the client's
    server.add("GET", "/v1/models/m1", Reply(json=MODEL, delay=0.3))
    assert client.models.retrieve("m1", timeout=5.0).id == "m1"


def test_out_of_range_arguments_are_refused_before_sending(client: OpenAI, server: ScriptedServer) -> None:
    cases = [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"n": 0}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"logit_bias": {"50256": 101}}, "logit_bias"),
        ({"logit_bias": {"hello": 5}}, "logit_bias"),
        ({"best_of": 2, "n": 3}, "best_of"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ]
    for kwargs, param in cases:
        with pytest.raises(InvalidRequestParameterError) as info:
            client.completions.create(model="m1", prompt="x", **kwargs)
        assert info.value.param == param, kwargs
        assert param in str(info.value)
    with pytest.raises(InvalidRequestParameterError) as info:
        client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}], top_logprobs=2)
    assert info.value.param == "top_logprobs"
    assert "logprobs must be set to true" in info.value.message
    with pytest.raises(InvalidRequestParameterError) as info:
        client.chat.completions.create(model="m1", messages=[{"role": "wizard", "content": "hi"}])
    assert info.value.param == "messages"
    assert server.requests == []


def test_query_parameter_ranges_are_refused_before_sending(client: OpenAI, server: ScriptedServer) -> None:
    with pytest.raises(InvalidRequestParameterError) as info:
        client.fine_tuning.jobs.list(limit=0)
    assert info.value.param == "limit"
    assert server.requests == []


def test_body_matches_the_arguments_and_extra_body_is_merged(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/completions", Reply(json=COMPLETION))
    client.completions.create(model="m1", prompt="x", temperature=0.0, seed=None, extra_body={"vendor_knob": 3},
                              extra_headers={"X-Trace": "t1"}, extra_query={"q": "1"})
    sent = server.requests[0]
    assert json.loads(sent.body) == {"model": "m1", "prompt": "x", "temperature": 0.0, "seed": None, "vendor_knob": 3}
    assert sent.headers["x-trace"] == "t1"
    assert sent.query == {"q": ["1"]}


def test_environment_configures_the_client(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
    server.add("GET", "/v1/models/m1", Reply(json=MODEL))
    OpenAI().models.retrieve("m1")
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer sk-env"
    assert headers["openai-organization"] == "org-1"
    assert headers["openai-project"] == "proj-1"
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(OpenAIError, match="api_key"):
        OpenAI()


def test_api_key_never_in_repr_logs_or_errors(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    def echo_auth(rec: Recorded) -> Reply:  # a hostile server echoing the credentials back
        return Reply(401, json=_error(f"Incorrect API key provided: {rec.headers['authorization']}",
                                      "invalid_request_error", code="invalid_api_key"),
                     headers={"retry-after-ms": "1"})

    server.add("GET", "/v1/models/m1", echo_auth)
    server.add("GET", "/v1/models/m2", Reply(500, json=_error(f"boom {API_KEY}"), headers={"retry-after-ms": "1"}))
    client = OpenAI(api_key=API_KEY, base_url=server.url, max_retries=1)
    assert API_KEY not in repr(client) and API_KEY not in str(vars(client).get("base_url"))
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(AuthenticationError) as auth:
            client.models.retrieve("m1")
        with pytest.raises(InternalServerError) as internal:
            client.models.retrieve("m2")
    for err in (auth.value, internal.value):
        for text in (str(err), repr(err), err.message, json.dumps(err.body)):
            assert API_KEY not in text
    assert "***" in auth.value.message
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert any("Retrying" in r.getMessage() for r in caplog.records)


def test_invalid_max_retries_is_refused() -> None:
    with pytest.raises(InvalidRequestParameterError) as info:
        OpenAI(api_key=API_KEY, max_retries=-1)
    assert info.value.param == "max_retries"


def test_bad_base_url_and_unencodable_bodies_fail_at_once(caplog: pytest.LogCaptureFixture) -> None:
    client = OpenAI(api_key=API_KEY, base_url="no-scheme.invalid/v1")
    with caplog.at_level(logging.INFO, logger="generated"), pytest.raises(APIConnectionError) as info:
        client.models.list()
    assert "MissingSchema" in str(info.value)
    assert _retry_delays(caplog) == []  # not retried
    bad_key = OpenAI(api_key=API_KEY + "\n", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(APIConnectionError) as header_error:
        bad_key.models.list()
    assert API_KEY not in str(header_error.value)
    with pytest.raises(InvalidRequestParameterError) as nan:
        client.completions.create(model="m1", prompt="x", extra_body={"temperature": float("nan")})
    assert nan.value.param == "body"


def test_multipart_and_other_endpoints_refuse_out_of_range_arguments(client: OpenAI, server: ScriptedServer) -> None:
    calls = [
        (lambda: client.audio.transcriptions.create(file=b"x", model="whisper-1", temperature=5), "temperature"),
        (lambda: client.images.generate(prompt="x", n=11), "n"),
        (lambda: client.audio.speech.create(model="tts-1", input="x", voice="alloy", speed=10), "speed"),
        (lambda: client.embeddings.create(model="m", input="x", encoding_format="hex"), "encoding_format"),
    ]
    for call, param in calls:
        with pytest.raises(InvalidRequestParameterError) as info:
            call()
        assert info.value.param == param
    assert server.requests == []


def test_default_headers_default_query_and_an_injected_session(server: ScriptedServer) -> None:
    import requests

    session = requests.Session()
    session.headers["X-From-Session"] = "yes"
    server.add("GET", "/v1/models/m1", Reply(json=MODEL))
    client = OpenAI(api_key=API_KEY, base_url=server.url, http_client=session,
                    default_headers={"X-Default": "d", "X-Keep": "k"}, default_query={"dq": True, "gone": None})
    assert client.http_client is session
    client.models.retrieve("m1", extra_query={"eq": "1"})
    merged = client.with_options(default_headers={"X-Default": "override"}, default_query={"more": 2})
    merged.models.retrieve("m1")
    replaced = client.with_options(set_default_headers={"X-Only": "o"}, set_default_query={})
    replaced.models.retrieve("m1")
    client.close()  # an injected session is the caller's to close
    client.models.retrieve("m1")
    first, second, third, _ = server.requests
    assert (first.headers["x-from-session"], first.headers["x-default"]) == ("yes", "d")
    assert first.query == {"dq": ["true"], "eq": ["1"]}
    assert (second.headers["x-default"], second.headers["x-keep"]) == ("override", "k")
    assert second.query == {"dq": ["true"], "more": ["2"]}
    assert third.headers["x-only"] == "o" and "x-default" not in third.headers and third.query == {}
    assert merged.http_client is session and client.default_headers["X-Default"] == "d"
    with pytest.raises(InvalidRequestParameterError) as info:
        OpenAI(api_key=API_KEY, http_client=object())  # type: ignore[arg-type]
    assert info.value.param == "http_client"
    with pytest.raises(TypeError, match="unknown client option"):
        client.with_options(max_retry=1)
