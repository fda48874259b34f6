"""Streaming, pagination, multipart uploads and binary responses against the scripted server."""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from generated import APIError, BinaryResponse, OpenAI, Page, Stream, models
from tests.codegen.scripted_server import Recorded, Reply, ScriptedServer


def _chunk(i: int, content: str, finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m1",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish, "logprobs": None}]}


def _frames(*payloads: Any, done: bool = True) -> list[str]:
    frames = [f"data: {json.dumps(p)}\n\n" for p in payloads]
    return frames + (["data: [DONE]\n\n"] if done else [])


MESSAGES = [{"role": "user", "content": "hi"}]


def test_stream_yields_typed_chunks_until_done(client: OpenAI, server: ScriptedServer) -> None:
    frames = _frames(_chunk(0, "Hel"), _chunk(1, "lo", "stop"))
    frames.append("data: " + json.dumps(_chunk(2, "after done")) + "\n\n")  # must never be read as a chunk
    server.add("POST", "/v1/chat/completions", Reply(sse=frames))
    stream = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    assert isinstance(stream, Stream)
    chunks = list(stream)
    assert all(isinstance(c, models.CreateChatCompletionStreamResponse) for c in chunks)
    assert "".join(c.choices[0].delta.content for c in chunks) == "Hello"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert stream.closed
    assert server.requests[0].headers["accept"] == "text/event-stream"
    assert json.loads(server.requests[0].body)["stream"] is True


def test_stream_unknown_finish_reason_and_fields_do_not_fail(client: OpenAI, server: ScriptedServer) -> None:
    chunk = _chunk(0, "x", "brand_new_reason")
    chunk["choices"][0]["delta"]["future"] = {"a": 1}
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(chunk)))
    (only,) = list(client.chat.completions.create(model="m1", messages=MESSAGES, stream=True))
    assert only.choices[0].finish_reason == "brand_new_reason"
    assert only.choices[0].delta.model_extra == {"future": {"a": 1}}


def test_completions_stream_uses_the_completion_model(client: OpenAI, server: ScriptedServer) -> None:
    chunk = {"id": "x", "object": "text_completion", "created": 1, "model": "m1",
             "choices": [{"index": 0, "text": "ab", "finish_reason": None, "logprobs": None}]}
    server.add("POST", "/v1/completions", Reply(sse=["event: message\r\n", "data: " + json.dumps(chunk) + "\r\n\r\n",
                                                     ": comment\n\n", "data: [DONE]\n\n"]))
    (only,) = list(client.completions.create(model="m1", prompt="x", stream=True))
    assert isinstance(only, models.CreateCompletionResponse)
    assert only.choices[0].text == "ab"


def test_mid_stream_error_event_raises_api_error(client: OpenAI, server: ScriptedServer) -> None:
    error = {"error": {"message": "the model crashed", "type": "server_error", "param": None, "code": "boom"}}
    frames = _frames(_chunk(0, "a"), done=False) + [f"event: error\ndata: {json.dumps(error)}\n\n"]
    server.add("POST", "/v1/chat/completions", Reply(sse=frames))
    received: list[Any] = []
    stream = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    with pytest.raises(APIError) as info:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 1
    assert "the model crashed" in info.value.message
    assert info.value.code == "boom"
    assert stream.closed


def test_error_object_in_a_data_event_raises(client: OpenAI, server: ScriptedServer) -> None:
    frames = _frames({"error": {"message": "quota", "type": "insufficient_quota"}}, done=False)
    server.add("POST", "/v1/chat/completions", Reply(sse=frames))
    with pytest.raises(APIError, match="quota"):
        list(client.chat.completions.create(model="m1", messages=MESSAGES, stream=True))


def test_breaking_out_of_a_stream_closes_the_connection(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), _chunk(1, "b"), done=False),
                                                     trickle=250))
    stream = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    assert stream.closed
    assert server.hung_up.wait(timeout=10)
    assert not server.stream_finished.is_set()


def test_stream_as_context_manager_closes_the_connection(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/chat/completions", Reply(sse=_frames(_chunk(0, "a"), done=False), trickle=250))
    with client.chat.completions.create(model="m1", messages=MESSAGES, stream=True) as stream:
        first = next(stream)
        assert first.choices[0].delta.content == "a"
    assert stream.closed
    assert server.hung_up.wait(timeout=10)


def test_without_stream_the_same_endpoint_returns_the_model(client: OpenAI, server: ScriptedServer) -> None:
    body = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m1",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "hi", "refusal": None}}]}
    server.add("POST", "/v1/chat/completions", Reply(json=body))
    result = client.chat.completions.create(model="m1", messages=MESSAGES)
    assert isinstance(result, models.CreateChatCompletionResponse)
    assert result.choices[0].message.content == "hi"


def _event(i: int) -> dict[str, Any]:
    return {"id": f"ev-{i}", "object": "fine_tuning.job.event", "created_at": i, "level": "info", "message": f"m{i}"}


def test_pages_auto_iterate_across_after_and_has_more(client: OpenAI, server: ScriptedServer) -> None:
    def pages(rec: Recorded) -> Reply:
        start = int(rec.query["after"][0].split("-")[1]) + 1 if "after" in rec.query else 0
        items = [_event(i) for i in range(start, min(start + 2, 5))]
        return Reply(json={"object": "list", "data": items, "has_more": start + 2 < 5})

    server.add("GET", "/v1/fine_tuning/jobs/job-1/events", pages)
    page = client.fine_tuning.jobs.list_events("job-1", limit=2)
    assert isinstance(page, Page)
    assert [e.id for e in page.data] == ["ev-0", "ev-1"]
    assert page.has_more and page.object == "list"
    assert [e.message for e in page] == ["m0", "m1", "m2", "m3", "m4"]
    assert [r.query.get("after") for r in server.requests] == [None, ["ev-1"], ["ev-3"]]
    assert all(r.query["limit"] == ["2"] for r in server.requests)
    assert all(isinstance(e, models.FineTuningJobEvent) for e in page)


def test_pages_prefer_last_id_and_stop_on_a_repeating_cursor(client: OpenAI, server: ScriptedServer) -> None:
    user = {"object": "organization.project.user", "id": "u1", "name": "n", "email": "e", "role": "owner",
            "added_at": 1}
    server.add("GET", "/v1/organization/projects/p1/users",
               Reply(json={"object": "list", "data": [user], "first_id": "u1", "last_id": "cursor-a",
                           "has_more": True}))
    page = client.organization.projects.users.list("p1")
    assert page.next_cursor() == "cursor-a"
    with pytest.raises(APIError, match="repeated"):
        list(page)
    assert len(server.requests) == 2  # the second page repeats cursor-a: no third request
    assert server.requests[1].query["after"] == ["cursor-a"]


def test_usage_pages_follow_next_page(client: OpenAI, server: ScriptedServer) -> None:
    def bucket(i: int) -> dict[str, Any]:
        return {"object": "bucket", "start_time": i, "end_time": i + 1, "result": []}

    server.add("GET", "/v1/organization/costs",
               Reply(json={"object": "page", "data": [bucket(0)], "has_more": True, "next_page": "pg2"}),
               Reply(json={"object": "page", "data": [bucket(1)], "has_more": False, "next_page": None}))
    assert [b.start_time for b in client.organization.costs(start_time=0)] == [0, 1]
    assert server.requests[1].query["page"] == ["pg2"]


def test_models_list_is_a_single_page(client: OpenAI, server: ScriptedServer) -> None:
    data = [{"id": f"m{i}", "object": "model", "created": i, "owned_by": "o"} for i in range(3)]
    server.add("GET", "/v1/models", Reply(json={"object": "list", "data": data}))
    assert [m.id for m in client.models.list()] == ["m0", "m1", "m2"]
    assert len(server.requests) == 1


def _multipart_echo(rec: Recorded) -> Reply:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + rec.headers["content-type"].encode() + b"\r\n\r\n" + rec.body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = {"filename": part.get_filename(), "type": part.get_content_type(),
                        "content": part.get_payload(decode=True).decode("latin-1")}
    file = fields["file"]
    return Reply(json={"id": "file-1", "object": "file", "bytes": len(file["content"]), "created_at": 1,
                       "filename": file["filename"], "purpose": fields["purpose"]["content"],
                       "status": "uploaded", "echo": fields})


@pytest.mark.parametrize("kind", ["path", "bytes", "fileobj", "tuple"])
def test_multipart_uploads_from_every_input_form(client: OpenAI, server: ScriptedServer, tmp_path: Path,
                                                 kind: str) -> None:
    content = b'{"prompt": "a"}\n{"prompt": "b\xc3\xa9"}\n'
    path = tmp_path / "train.jsonl"
    path.write_bytes(content)
    file_arg: Any = {"path": path, "bytes": content, "fileobj": io.BytesIO(content),
                     "tuple": ("named.jsonl", content, "application/jsonl")}[kind]
    server.add("POST", "/v1/files", _multipart_echo)
    result = client.files.create(file=file_arg, purpose="fine-tune")
    assert isinstance(result, models.OpenAIFile)
    echo = result.model_extra["echo"]
    assert echo["file"]["content"].encode("latin-1") == content
    assert echo["purpose"]["content"] == "fine-tune"
    expected_name = {"path": "train.jsonl", "bytes": "upload", "fileobj": "upload", "tuple": "named.jsonl"}[kind]
    assert result.filename == expected_name
    if kind == "tuple":
        assert echo["file"]["type"] == "application/jsonl"
    assert server.requests[0].headers["content-type"].startswith("multipart/form-data")


def test_multipart_upload_is_resent_whole_on_retry(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/files", Reply(503, json={"error": {"message": "busy"}}, headers={"retry-after-ms": "1"}),
               _multipart_echo)
    result = client.files.create(file=io.BytesIO(b"abc"), purpose="batch")
    assert result.model_extra["echo"]["file"]["content"] == "abc"
    assert len(server.requests) == 2


def test_upload_of_a_missing_path_names_the_parameter(client: OpenAI, server: ScriptedServer, tmp_path: Path) -> None:
    from generated import InvalidRequestParameterError

    with pytest.raises(InvalidRequestParameterError) as info:
        client.files.create(file=tmp_path / "nope.jsonl", purpose="batch")
    assert info.value.param == "file"
    assert server.requests == []


def test_binary_responses_have_content_and_write_to_file(client: OpenAI, server: ScriptedServer,
                                                          tmp_path: Path) -> None:
    blob = bytes(range(256)) * 10
    server.add("GET", "/v1/files/file-1/content", Reply(body=blob, headers={"Content-Type": "application/octet-stream"}))
    server.add("POST", "/v1/audio/speech", Reply(body=b"ID3fake-mp3", headers={"Content-Type": "audio/mpeg"}))
    content = client.files.content("file-1")
    assert isinstance(content, BinaryResponse)
    assert content.content == blob
    content.write_to_file(tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == blob
    speech = client.audio.speech.create(model="tts-1", input="hello", voice="alloy")
    assert speech.content == b"ID3fake-mp3"
    assert speech.content_type == "audio/mpeg"
    assert json.loads(server.requests[1].body) == {"model": "tts-1", "input": "hello", "voice": "alloy"}


def test_union_json_response_picks_the_best_model_and_text_is_returned_as_str(
        client: OpenAI, server: ScriptedServer) -> None:
    verbose = {"text": "hello", "language": "en", "duration": 1.5, "words": []}
    server.add("POST", "/v1/audio/transcriptions", Reply(json=verbose),
               Reply(body=b"hello", headers={"Content-Type": "text/plain; charset=utf-8"}))
    result = client.audio.transcriptions.create(file=b"RIFF....", model="whisper-1",
                                                response_format="verbose_json", timestamp_granularities=["word"])
    assert isinstance(result, models.CreateTranscriptionResponseVerboseJson)
    assert result.duration == 1.5
    plain = client.audio.transcriptions.create(file=b"RIFF....", model="whisper-1", response_format="text")
    assert plain == "hello"
    first = _multipart_echo_fields(server.requests[0])
    assert first["timestamp_granularities[]"]["content"] == "word"
    assert first["response_format"]["content"] == "verbose_json"


def _multipart_echo_fields(rec: Recorded) -> dict[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + rec.headers["content-type"].encode() + b"\r\n\r\n" + rec.body)
    return {part.get_param("name", header="content-disposition"): {"content": part.get_content()}
            for part in message.iter_parts()}


def test_stream_request_refused_by_status_raises_before_iterating(client: OpenAI, server: ScriptedServer) -> None:
    server.add("POST", "/v1/chat/completions",
               Reply(400, json={"error": {"message": "bad n", "type": "invalid_request_error", "param": "n",
                                          "code": None}}))
    from generated import BadRequestError

    with pytest.raises(BadRequestError) as info:
        client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    assert info.value.param == "n"


def test_with_options_copies_the_client(client: OpenAI, server: ScriptedServer) -> None:
    server.add("GET", "/v1/models/m1", Reply(500, json={"error": {"message": "x"}}))
    quick = client.with_options(max_retries=0)
    assert quick.max_retries == 0 and client.max_retries == 2
    from generated import InternalServerError

    with pytest.raises(InternalServerError):
        quick.models.retrieve("m1")
    assert len(server.requests) == 1


def test_a_json_answer_to_a_stream_request_is_an_error_not_an_empty_stream(
        client: OpenAI, server: ScriptedServer) -> None:
    from generated import APIResponseValidationError

    server.add("POST", "/v1/chat/completions", Reply(json={"id": "c1", "object": "chat.completion"}))
    with pytest.raises(APIResponseValidationError, match="JSON body"):
        list(client.chat.completions.create(model="m1", messages=MESSAGES, stream=True))
