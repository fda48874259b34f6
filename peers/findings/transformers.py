"""Hugging Face transformers ``serve`` (transformers 5.19.0, from vLLM's venv): each departure with the
source line that explains it. Paths are inside the installed package ``transformers/cli/``."""

from __future__ import annotations

from peers.findings import Finding

SRC = "transformers 5.19.0"
UNUSED = (f"`UNUSED_LEGACY_COMPLETION_FIELDS = {{best_of, echo, logprobs, n, presence_penalty, stream_options, "
          f"user}}` (`transformers/cli/serving/completion.py:52-60`, {SRC}) are dropped with a warning, \"Ignoring "
          "unsupported fields in the request\" (`transformers/cli/serving/utils.py:1110-1112`)")
GREEDY = ("temperature is copied into the generation config but `do_sample` is only ever set to False "
          f"(`if float(body[\"temperature\"]) == 0.0: generation_config.do_sample = False`, "
          f"`transformers/cli/serving/utils.py:1175-1178`, {SRC}); the model's generation config has no "
          "`do_sample`, so generation is greedy at every temperature")
NO_LOGPROBS = ("without logprobs the validator has no reported distribution to predict from; " + UNUSED)

NOTES = (
    "**What can be judged here.** transformers serve drops `logprobs`, so every check that predicts a "
    "distribution from the peer's reported logprobs fails at its first probe (\"no logprobs.top_logprobs\"); "
    "a logprob-free validator (issue 12) would show what its temperature does. It samples greedily whatever the "
    "temperature: " + GREEDY + ". Its `/v1/models` lists the hub cache, empty offline (HTTP 500), so the "
    "validator sends the pinned folder's path as the model name; there is no tokenizer endpoint.",
    "**`errors.ranges` is not run here.** One of its cases, `max_tokens: 100000000` with four short stop "
    "strings (a context overflow the docs make a 400), is accepted and had not answered after 40 s "
    "(`max_new_tokens = int(body[\"max_tokens\"])` unbounded, `transformers/cli/serving/completion.py:268`, "
    f"{SRC}); the server answers one request at a time, so every later request of the run waited behind it "
    "and timed out. `max_tokens: -1` is an HTTP 500. The other range cases were not judged.",
)

FINDINGS: dict[str, Finding] = {
    "schema.responses": Finding("/v1/models 500 offline", "`/v1/models` lists the Hugging Face hub cache "
                                "(`transformers/cli/serving/model_manager.py:473`, `get_gen_models`, "
                                f"{SRC}); offline and without a cache it answers HTTP 500."),
    "errors.shape": Finding(
        "temperature 5 accepted", "Request values are copied into the generation config without range checks "
        f"(`generation_config.temperature = float(body[\"temperature\"])`, `transformers/cli/serving/utils.py:1175`, "
        f"{SRC}); nothing answers 400 with an OpenAI error object."),
    "errors.unknown_model": Finding(
        "400 'Server is pinned', FastAPI detail body", "A pinned server refuses another model with "
        "`HTTPException(status_code=400, detail=\"Server is pinned to ...\")` "
        f"(`transformers/cli/serving/utils.py:1129-1133`, {SRC}): HTTP 400 and `{{\"detail\": ...}}`, not 404 "
        "with `error.code: model_not_found`."),
    "streaming.framing": Finding(
        "no [DONE]", "The SSE generators write only `data: <chunk>` events (`chunk_to_sse`, "
        f"`transformers/cli/serving/utils.py:1115-1119`; `StreamingResponse(sse_gen(), ...)`, "
        f"`completion.py:178`, `chat_completion.py:279`, {SRC}); no `data: [DONE]` ends the stream."),
    "stop.sequences": Finding(
        "not judged: logprobs dropped", "The check reads token boundaries from the reported logprobs, which "
        "are dropped: " + UNUSED + ". (`stop` itself is mapped to `stop_strings`, `completion.py:272-273`.)"),
    "stop.max_tokens": Finding("not judged: logprobs dropped", "The check reads the reported tokens: " + UNUSED + "."),
    "n.indices": Finding("n ignored", UNUSED + "."),
    "best_of.ranking": Finding("best_of, logprobs ignored", UNUSED + "."),
    "best_of.errors": Finding("best_of ignored", UNUSED + "."),
    "logprobs.shape": Finding("logprobs dropped", UNUSED + "."),
    "logprobs.echo": Finding("echo, logprobs dropped", UNUSED + "."),
    "logprobs.mode": Finding("logprobs dropped", UNUSED + "."),
    "streaming.include_usage": Finding("stream_options dropped", UNUSED + "."),
    "seed.determinism": Finding("n ignored", UNUSED + "; one choice comes back for n = 3."),
    "sampling.greedy": Finding("logprobs dropped", NO_LOGPROBS + "."),
    "sampling.temperature": Finding("greedy at every T; no logprobs", GREEDY + "; and " + NO_LOGPROBS + "."),
    "sampling.top_p": Finding("greedy at every T; no logprobs", GREEDY + "; and " + NO_LOGPROBS + "."),
    "sampling.logit_bias": Finding("no logprobs, no tokenizer", NO_LOGPROBS + "; there is no tokenizer endpoint."),
    "penalties.presence": Finding("presence_penalty dropped", UNUSED + "."),
    "penalties.frequency": Finding(
        "mapped to repetition_penalty", "`frequency_penalty` becomes a multiplicative repetition penalty, "
        "`generation_config.repetition_penalty = 1.0 + float(body[\"frequency_penalty\"])` "
        f"(`transformers/cli/serving/completion.py:270-271`, {SRC}), not the documented additive "
        "count-proportional shift; and " + NO_LOGPROBS + "."),
    "penalties.prompt_not_counted": Finding("presence_penalty dropped; no logprobs", UNUSED + "."),
    "defaults.sampling": Finding(
        "greedy; max_tokens default 1024", GREEDY + "; and a request without max_tokens gets "
        "`max_new_tokens = 1024` (`transformers/cli/serving/utils.py:1170-1172`), not 16."),
}
