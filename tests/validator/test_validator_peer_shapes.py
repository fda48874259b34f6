"""How the validator meets real servers' ways: tokenizer endpoints, chat-shaped completions logprobs, a cap on
n, n > 1 refused at T = 0, and a kept-alive connection closed under it — each against a real HTTP server
on loopback that answers the way the named peer does."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from validator.checks import REGISTRY
from validator.client import Client
from validator.context import Context, Settings, Skipped
from validator.probing import choice_token_logprobs, choice_tokens, choice_top, n_cap
from validator.runner import run_check
from validator.token_ids import learn_id_by_bans, token_id, tokenize, tokenizer_name

#: (status, body) or None to drop the connection without answering
Handler = Callable[[str, dict[str, Any]], tuple[int, Any] | None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                answer = handler(self.path, json.loads(self.rfile.read(n) or b"{}"))
                if answer is None:
                    self.close_connection = True
                    return
                data = json.dumps(answer[1]).encode()
                self.send_response(answer[0])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def context(url: str, **settings: Any) -> Context:
    return Context(client=Client(url, concurrency=1, timeout_s=10), model="m", settings=Settings(**settings))


VOCAB = {"Hello": 5, " e": 297, "\n": 198}


def llama_cpp_tokenize(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """llama-server's /tokenize: reads "content"; a body without it tokenizes the empty string."""
    if path != "/tokenize":
        return 404, {"error": "not found"}
    text = body.get("content", "")
    return 200, {"tokens": [VOCAB[text]] if text else []}


def vllm_tokenize(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """vLLM's /tokenize: reads "prompt"; BOS (1) unless add_special_tokens is false."""
    if path != "/tokenize" or "prompt" not in body:
        return (404, {}) if path != "/tokenize" else (400, {"error": {"message": "prompt required"}})
    bos = [] if body.get("add_special_tokens") is False else [1]
    return 200, {"tokens": bos + ([VOCAB[body["prompt"]]] if body["prompt"] else []), "count": 1}


def test_llama_cpp_tokenize_is_found_after_vllm_shape_gives_nothing(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(llama_cpp_tokenize))
    assert token_id(ctx, " e") == 297
    assert tokenizer_name(ctx) == "/tokenize (llama.cpp)"


def test_vllm_tokenize_without_special_tokens(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(vllm_tokenize))
    assert tokenize(ctx, "\n") == [198]
    assert tokenizer_name(ctx) == "/tokenize (vLLM)"


def test_no_tokenizer_and_no_greedy_hint_is_skipped(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(lambda path, body: (404, {"error": "no"})))
    with pytest.raises(Skipped, match="no tokenizer endpoint"):
        token_id(ctx, " e")


def greedy_with_bans(vocab_size: int, order: list[int], texts: dict[int, str]) -> Handler:
    """A completions endpoint whose T = 0 answer is the first id of ``order`` not banned by logit_bias;
    ids outside the vocabulary are a 400 (as vLLM and oairef answer)."""

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        bias = {int(k): v for k, v in (body.get("logit_bias") or {}).items()}
        if any(not 0 <= k < vocab_size for k in bias):
            return 400, {"error": {"message": "logit_bias id out of range", "param": "logit_bias"}}
        best = next((i for i in order if bias.get(i, 0) > -100), None)
        if best is None:  # the rest of the vocabulary, in id order
            best = next(i for i in range(vocab_size) if bias.get(i, 0) > -100)
        return 200, {"choices": [{"index": 0, "text": texts.get(best, f"<{best}>")}]}

    return handler


def test_ids_learnt_by_bans_without_a_tokenizer(serve: Callable[[Handler], str]) -> None:
    order = [40321, 7, 1234, *range(0, 50)]
    ctx = context(serve(greedy_with_bans(49152, order, {40321: " e", 7: "\n", 1234: " ="})))
    assert learn_id_by_bans(ctx, " e", "a b c d", []) == 40321
    assert learn_id_by_bans(ctx, " =", "a b c d", [40321, 7]) == 1234
    assert ctx.cache["vocab_bound"] == 49152


def test_bans_search_refuses_a_token_that_is_not_greedy(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(greedy_with_bans(100, [3, 4], {3: "x", 4: "y"})))
    with pytest.raises(Skipped, match="not the greedy token"):
        learn_id_by_bans(ctx, "y", "p", [])


CHAT_SHAPED = {"text": " e f", "logprobs": {"content": [
    {"id": 297, "token": " e", "bytes": [32, 101], "logprob": -0.54,
     "top_logprobs": [{"id": 297, "token": " e", "logprob": -0.54}, {"id": 198, "token": "\n", "logprob": -2.68}]},
    {"id": 275, "token": " f", "bytes": [32, 102], "logprob": -3.1,
     "top_logprobs": [{"id": 198, "token": "\n", "logprob": -0.2}]},
]}}


def test_chat_shaped_completion_logprobs_are_read() -> None:
    """llama-server answers completions logprobs as logprobs.content[]: the sampling checks still read it,
    the chosen token included among the alternatives."""
    assert choice_tokens(CHAT_SHAPED) == [" e", " f"]
    assert choice_top(CHAT_SHAPED) == [{" e": -0.54, "\n": -2.68}, {"\n": -0.2, " f": -3.1}]
    assert choice_token_logprobs(CHAT_SHAPED) == [-0.54, -3.1]


def test_the_chat_shape_still_fails_logprobs_shape(serve: Callable[[Handler], str]) -> None:
    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path == "/chat/completions":
            return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                      "logprobs": {"content": []}, "finish_reason": "length"}]}
        return 200, {"choices": [{"index": 0, **CHAT_SHAPED, "finish_reason": "length"}]}

    result = run_check(REGISTRY["logprobs.shape"], context(serve(handler)))
    assert result.verdict == "fail"
    assert any("must all be lists" in f for f in result.outcome.failures)  # type: ignore[union-attr]


def test_n_cap_halves_until_accepted(serve: Callable[[Handler], str]) -> None:
    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        n = body.get("n", 1)
        if n > 4:
            return 400, {"error": {"message": f"Field 'n': Value must be between 1 <= value <= 4, but got {n}"}}
        return 200, {"choices": [{"index": i, "text": "x"} for i in range(n)]}

    assert n_cap(context(serve(handler))) == 4


def test_greedy_is_judged_with_n_1_when_n_2_is_refused(serve: Callable[[Handler], str]) -> None:
    top = {" upon": -0.1, " a": -2.5}

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("temperature") == 0 and body.get("n", 1) > 1:
            return 400, {"error": {"message": "n must be 1 when using greedy sampling, got 2."}}
        lp = {"tokens": [" upon"], "token_logprobs": [-0.1], "top_logprobs": [top], "text_offset": [16]}
        return 200, {"choices": [{"index": 0, "text": " upon", "logprobs": lp, "finish_reason": "length"}]}

    result = run_check(REGISTRY["sampling.greedy"], context(serve(handler)))
    assert result.verdict == "pass"
    assert "n = 1" in result.outcome.details["notes"][0]  # type: ignore[union-attr]


def test_a_dropped_keep_alive_connection_is_retried_once(serve: Callable[[Handler], str]) -> None:
    calls = []

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
        calls.append(path)
        return None if len(calls) == 1 else (200, {"ok": True})

    client = Client(serve(handler), concurrency=1, timeout_s=10)
    ex = client.post("/completions", {"prompt": "x"})
    assert ex.status == 200 and ex.retried and len(client.transport_retries) == 1
    assert "retried_after" in ex.excerpt()
    client.close()


def test_a_second_transport_failure_is_reported_not_retried_again(serve: Callable[[Handler], str]) -> None:
    calls = []

    def handler(path: str, body: dict[str, Any]) -> None:
        calls.append(path)
        return None

    client = Client(serve(handler), concurrency=1, timeout_s=10)
    ex = client.post("/completions", {"prompt": "x"})
    assert ex.status == 0 and "retried after" in ex.text and len(calls) == 2
    client.close()
