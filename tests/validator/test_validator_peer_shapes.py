"""How the validator meets real servers' ways: tokenizer endpoints (or none: ids learnt by bans),
chat-shaped completions logprobs, a cap on n, n > 1 refused at T = 0, seeded twins whose other fields
differ, a completion without max_tokens that never ends, prompt tokens all pushed down together, and a
kept-alive connection closed under the client — each against a real HTTP server on loopback that answers
the way the named peer does."""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from validator.checks import REGISTRY
from validator.checks.penalties import _x_among_all
from validator.client import Client
from validator.context import Context, Settings, Skipped
from validator.discovery import per_request
from validator.endpoints import ENDPOINTS
from validator.report import to_json, to_markdown
from validator.runner import run_check, run_checks, select
from validator.token_ids import learn_by_bans, token_id, tokenize, tokenizer_name

#: (status, body) or None to drop the connection without answering
Handler = Callable[[str, dict[str, Any]], tuple[int, Any] | None]
COMPLETIONS, CHAT = ENDPOINTS["completions"], ENDPOINTS["chat"]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                answer = handler(self.path.removeprefix("/v1"), json.loads(self.rfile.read(n) or b"{}"))
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

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (the deadline test) leaves a broken pipe: expected

        server = Quiet(("127.0.0.1", 0), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def context(url: str, timeout_s: float = 10, **settings: Any) -> Context:
    return Context(client=Client(url, concurrency=1, timeout_s=timeout_s), model="m",
                   settings=Settings(endpoints=("completions",), **settings))


VOCAB = {"Hello": 5, " e": 297, "\n": 198}


def llama_cpp_tokenize(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """llama-server's /tokenize: reads "content"; a body without it tokenizes the empty string."""
    if path != "/tokenize":
        return 404, {"error": "not found"}
    text = body.get("content", "")
    return 200, {"tokens": [VOCAB[text]] if text else []}


def vllm_tokenize(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """vLLM's /tokenize: reads "prompt"; BOS (1) unless add_special_tokens is false."""
    if path != "/tokenize":
        return 404, {}
    if "prompt" not in body:
        return 400, {"error": {"message": "prompt required"}}
    bos = [] if body.get("add_special_tokens") is False else [1]
    return 200, {"tokens": bos + ([VOCAB[body["prompt"]]] if body["prompt"] else []), "count": 1}


def test_llama_cpp_tokenize_is_found_after_vllm_shape_gives_nothing(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(llama_cpp_tokenize))
    assert token_id(ctx, COMPLETIONS, " e") == 297
    assert tokenizer_name(ctx) == "/tokenize (llama.cpp)"


def test_vllm_tokenize_without_special_tokens(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(vllm_tokenize))
    assert tokenize(ctx, "\n") == [198]
    assert tokenizer_name(ctx) == "/tokenize (vLLM)"


def test_no_tokenizer_and_no_prompt_to_learn_from_is_skipped(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(lambda path, body: (404, {"error": "no"})))
    with pytest.raises(Skipped, match="no tokenizer endpoint"):
        token_id(ctx, COMPLETIONS, " e")


def greedy_with_bans(vocab_size: int, order: list[int], texts: dict[int, str], honour_bias: bool = True) -> Handler:
    """An endpoint (either path) with no tokenizer whose T = 0 answer is the first id of ``order`` not banned
    by logit_bias (then the rest of the vocabulary in id order); ids outside the vocabulary are a 400 (as
    vLLM and oairef answer)."""

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path not in ("/completions", "/chat/completions"):
            return 404, {"error": {"message": "not found"}}
        bias = {int(k): v for k, v in (body.get("logit_bias") or {}).items()} if honour_bias else {}
        if any(not 0 <= int(k) < vocab_size for k in body.get("logit_bias") or {}):
            return 400, {"error": {"message": "logit_bias id out of range", "param": "logit_bias"}}
        best = next((i for i in order if bias.get(i, 0) > -100), None)
        if best is None:
            best = next(i for i in range(vocab_size) if bias.get(i, 0) > -100)
        text = texts.get(best, f"<{best}>")
        choice = {"index": 0, "message": {"role": "assistant", "content": text}} if path == "/chat/completions" \
            else {"index": 0, "text": text}
        return 200, {"choices": [choice]}

    return handler


@pytest.mark.parametrize("ep", [COMPLETIONS, CHAT], ids=lambda e: e.name)
def test_ids_are_learnt_by_bans_without_a_tokenizer(serve: Callable[[Handler], str], ep: Any) -> None:
    """The greedy order after the prompt is walked: each greedy token's id is found by a binary search
    over the vocabulary, then banned; every id learnt on the way is kept."""
    order = [40321, 7, 1234, *range(0, 50)]
    ctx = context(serve(greedy_with_bans(49152, order, {40321: " e", 7: "\n", 1234: " ="})))
    assert token_id(ctx, ep, " =", "a b c d") == 1234
    assert ctx.cache["token_ids"] == {" e": 40321, "\n": 7, " =": 1234}
    assert ctx.cache["vocab_bound"] == 49152
    sent = ctx.client.requests_sent
    assert token_id(ctx, ep, "\n", "a b c d") == 7 and ctx.client.requests_sent == sent  # cached


def test_bans_that_change_nothing_say_logit_bias_is_ignored(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(greedy_with_bans(100, [3, 4], {3: "x", 4: "y"}, honour_bias=False)))
    with pytest.raises(Skipped, match="logit_bias seems ignored"):
        learn_by_bans(ctx, COMPLETIONS, "p", "y")


def test_a_text_that_is_not_among_the_first_greedy_tokens_is_skipped(serve: Callable[[Handler], str]) -> None:
    ctx = context(serve(greedy_with_bans(64, list(range(20)), {i: f"t{i}" for i in range(64)})))
    with pytest.raises(Skipped, match="not among the first"):
        learn_by_bans(ctx, COMPLETIONS, "p", "t30")


CHAT_SHAPED = {"text": " e f", "logprobs": {"content": [
    {"id": 297, "token": " e", "bytes": [32, 101], "logprob": -0.54,
     "top_logprobs": [{"id": 297, "token": " e", "logprob": -0.54}, {"id": 198, "token": "\n", "logprob": -2.68}]},
    {"id": 275, "token": " f", "bytes": [32, 102], "logprob": -3.1,
     "top_logprobs": [{"id": 198, "token": "\n", "logprob": -0.2}]},
]}}


def test_chat_shaped_completion_logprobs_are_read() -> None:
    """llama-server answers completions logprobs as logprobs.content[]: the sampling checks still read it,
    the chosen token included among the alternatives; the completions shape is still read as before."""
    assert COMPLETIONS.tokens(CHAT_SHAPED) == [" e", " f"]
    assert COMPLETIONS.top(CHAT_SHAPED) == [{" e": -0.54, "\n": -2.68}, {"\n": -0.2, " f": -3.1}]
    assert COMPLETIONS.chosen_logprobs(CHAT_SHAPED) == [-0.54, -3.1]
    plain = {"logprobs": {"tokens": [" a"], "token_logprobs": [-1.0], "top_logprobs": [{" a": -1.0}],
                          "content": "ignored"}}
    assert COMPLETIONS.tokens(plain) == [" a"] and COMPLETIONS.top(plain) == [{" a": -1.0}]
    assert COMPLETIONS.tokens({"text": "x"}) is None


def test_the_chat_shape_still_fails_logprobs_shape(serve: Callable[[Handler], str]) -> None:
    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"choices": [{"index": 0, **CHAT_SHAPED, "finish_reason": "length"}]}

    result = run_check(REGISTRY["logprobs.shape"], context(serve(handler)))
    assert result.verdict == "fail"
    assert any("must all be lists" in f for f in result.outcome.failures)  # type: ignore[union-attr]


def capped_n(cap: int) -> Handler:
    """llama-server's way with n: honoured up to the slot count, a 400 above it."""

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        n = body.get("n", 1)
        if n > cap:
            return 400, {"error": {"message": f"Field 'n': Value must be between 1 <= value <= {cap}, but got {n}"}}
        return 200, {"choices": [{"index": i, "text": "x"} for i in range(n)]}

    return handler


@pytest.mark.parametrize("cap", [4, 16])
def test_n_per_request_halves_until_accepted(serve: Callable[[Handler], str], cap: int) -> None:
    assert per_request(context(serve(capped_n(cap))), COMPLETIONS) == cap


def test_greedy_is_judged_with_n_1_when_n_2_is_refused_at_t0(serve: Callable[[Handler], str]) -> None:
    top = {" upon": -0.1, " a": -2.5}

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        n = body.get("n", 1)
        if body.get("temperature") == 0 and n > 1:
            return 400, {"error": {"message": "n must be 1 when using greedy sampling, got 2."}}
        lp = {"tokens": [" upon"], "token_logprobs": [-0.1], "top_logprobs": [top], "text_offset": [16]}
        return 200, {"choices": [{"index": i, "text": " upon", "logprobs": lp, "finish_reason": "length"}
                                 for i in range(n)]}

    result = run_check(REGISTRY["sampling.greedy"], context(serve(handler)))
    assert result.verdict == "pass", result.summary
    assert "n = 1" in result.outcome.details["completions"]["notes"][0]  # type: ignore[union-attr]
    assert "n = 2 refused" in result.summary


def seeded_twins(vary_choices: bool) -> Handler:
    """Same seed, same choices — but a wall-clock ``timings`` object (llama-server) that differs every time;
    with ``vary_choices`` the text differs too."""
    calls = Counter[int]()

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        seed = body.get("seed", 0)
        calls[seed] += 1
        text = f"s{seed}" + (f"-{calls[seed]}" if vary_choices else "")
        return 200, {"choices": [{"index": i, "text": text, "finish_reason": "length"}
                                 for i in range(body.get("n", 1))],
                     "timings": {"predicted_ms": 1.0 + sum(calls.values())}}

    return handler


@pytest.mark.parametrize("vary", [False, True])
def test_seed_determinism_compares_the_choices_and_notes_other_fields(serve: Callable[[Handler], str],
                                                                     vary: bool) -> None:
    result = run_check(REGISTRY["seed.determinism"], context(serve(seeded_twins(vary))))
    assert result.verdict == ("fail" if vary else "pass")
    notes = result.outcome.details["completions"]["notes"]  # type: ignore[union-attr]
    assert any("['timings']" in n for n in notes)


def test_a_completion_without_max_tokens_that_never_ends_fails_only_that_part(
        serve: Callable[[Handler], str]) -> None:
    """llama-server's n_predict = -1: a request without max_tokens runs to the end of the context. It gets
    no answer within the deadline while a max_tokens 1 request does: a failure of the default, not an
    error of the whole check."""
    release = threading.Event()

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if "max_tokens" not in body:
            release.wait(5)
            return 200, {"choices": [{"index": 0, "text": "x" * 50, "finish_reason": "length"}]}
        return 200, {"choices": [{"index": 0, "text": "x", "finish_reason": "length"}],
                     "usage": {"completion_tokens": 1}}

    ctx = context(serve(handler), timeout_s=1.0)
    from validator.checks.defaults import _max_tokens_default

    details: dict[str, Any] = {}
    failures = _max_tokens_default(ctx, COMPLETIONS, "The", details)
    release.set()
    assert len(failures) == 1 and "no answer within the 1 s deadline" in failures[0]
    assert details["default_max_tokens_response"]["status"] == 0
    assert not ctx.client.stopped


def test_x_pushed_down_with_the_other_reported_tokens_is_caught_unconditionally() -> None:
    """llama-server's penalised prompt tokens: x's share among the reported tokens holds (the conditional
    test sees nothing), but x's count among all samples is far below exp(l_x)."""
    p_x = math.exp(-1.2)
    low = _x_among_all(Counter({" cat": 3, " dog": 5, "(other)": 292}), " cat", p_x, 1e-4)
    assert low.p_value < 1e-30 and low.statistic < 0 and "below" in low.detectable
    fair = _x_among_all(Counter({" cat": 92, "(other)": 208}), " cat", p_x, 1e-4)
    assert fair.p_value > 0.01
    truncated = _x_among_all(Counter({" cat": 200, "(other)": 100}), " cat", p_x, 1e-4)
    assert truncated.p_value > 0.5  # one-sided: a raised share (top_k, min_p truncation) is not a drop


def test_best_of_is_judged_with_as_many_candidates_as_n_allows(serve: Callable[[Handler], str]) -> None:
    """n above the slot count is refused: best_of's candidates are observed with the largest n accepted."""
    seen: list[tuple[int, int | None]] = []

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        n = body.get("n", 1)
        seen.append((n, body.get("best_of")))
        if n > 4 or (body.get("best_of") or 0) > 4:
            return 400, {"error": {"message": "n must be <= 4"}}
        lps = [-0.5, -1.0, -1.5, -2.0][:n]  # candidate i has mean logprob lps[i]: best first
        return 200, {"choices": [{"index": i, "text": f"c{i}", "finish_reason": "length",
                                  "logprobs": {"tokens": [f"c{i}"], "token_logprobs": [lps[i]],
                                               "top_logprobs": [{f"c{i}": lps[i]}], "text_offset": [0]}}
                                 for i in range(n)]}

    result = run_check(REGISTRY["best_of.ranking"], context(serve(handler)))
    assert result.verdict == "pass", result.summary
    assert result.outcome.details["completions"]["best_of"] == 4  # type: ignore[union-attr]
    assert (2, 4) in seen and (4, None) in seen


def test_a_dropped_keep_alive_connection_is_retried_once_and_reported(serve: Callable[[Handler], str]) -> None:
    calls = []

    def handler(path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
        calls.append(path)
        if len(calls) == 2:  # the second request, on the kept-alive connection of the first, is dropped
            return None
        return 200, {"choices": [{"index": i, "text": "x"} for i in range(body.get("n", 1))]}

    url = serve(handler)
    client = Client(url, concurrency=1, timeout_s=10)
    run = run_checks(client, "m", Settings(endpoints=("completions",)), select("n.indices"))
    client.close()
    assert len(client.transport_retries) == 1 and "/completions" in client.transport_retries[0]
    data = to_json(run)
    assert data["summary"]["transport_retries"] == 1 and data["summary"]["requests"] == len(calls) - 1
    assert data["checks"][0]["transport_retries"] == client.transport_retries
    assert "sent again on a fresh connection" in to_markdown(run)


def test_a_second_transport_failure_is_reported_not_retried_again(serve: Callable[[Handler], str]) -> None:
    calls = []

    def handler(path: str, body: dict[str, Any]) -> None:
        calls.append(path)

    client = Client(serve(handler), concurrency=1, timeout_s=10)
    ex = client.post("/completions", {"prompt": "x"})
    client.close()
    assert ex.status == 0 and "retried after" in ex.text and ex.retried and len(calls) == 2
    assert "retried_after" in ex.excerpt()
