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
)

FINDINGS: dict[str, Finding] = {
    "schema.responses": Finding("/v1/models 500 offline", "`/v1/models` lists the Hugging Face hub cache "
                                "(`transformers/cli/serving/model_manager.py:473`, `get_gen_models`, "
                                f"{SRC}); offline and without a cache it answers HTTP 500."),
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
