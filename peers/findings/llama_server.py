"""llama.cpp's llama-server (the llama.cpp vendored in llama-cpp-python 0.3.36): each departure with the
source line that explains it. Paths are inside ``vendor/llama.cpp`` of that sdist (the tree built here)."""

from __future__ import annotations

from peers.findings import Finding

SRC = "llama.cpp vendored in llama-cpp-python 0.3.36"

NOTES = (
    "**How the validator reads it.** llama-server answers a completions `logprobs` request in the chat "
    "shape (`logprobs.content[]` of `{id, token, bytes, logprob, top_logprobs}`): `logprobs.shape` fails "
    "on that once, and every statistical check reads the chat shape, so they judge what temperature, top_p, "
    "logit_bias and the penalties do. Token ids come from its `POST /tokenize` (`content`, "
    "`add_special: false`). `n` is capped at the number of slots (`--parallel 4`): the sampling loops send "
    "`n = 4` per request.",
)

FINDINGS: dict[str, Finding] = {
    "schema.responses": Finding(
        "no refusal; chat-shaped completion logprobs",
        "Chat messages carry no `refusal` field and completions carry `logprobs.content[]` "
        f"(`tools/server/server-task.cpp:374-380`, `to_json_oaicompat`, {SRC}) where the completions "
        "schema has `tokens`/`token_logprobs`/`top_logprobs`/`text_offset`; extra fields (`timings`, "
        "`id_slot`) are harmless."),
    "errors.shape": Finding(
        "temperature 5 accepted",
        "Request fields are read by a schema table whose numeric fields mostly have no limits: `temperature` "
        f"is `field_num(\"temperature\", params.sampling.temp)` with no `set_hard_limits` "
        f"(`tools/server/server-schema.cpp:116`, {SRC}), so 5 is served, not refused."),
    "errors.ranges": Finding(
        "most bounds unchecked; n > 4 refused",
        "Only a few fields have hard limits (`n_predict` >= -1, `n` as `n_cmpl` in [1, n_parallel]: "
        f"`tools/server/server-schema.cpp:44-48`, `:62-65`, {SRC}); temperature, top_p, penalties, "
        "logit_bias values, stop count, logprobs and top_logprobs are not range-checked, and the errors it "
        "does give have no `param`."),
    "errors.unknown_model": Finding(
        "any model name served",
        "One model per server: the request's `model` is not looked up, the response names the loaded one "
        f"(`task.params.oaicompat_model = meta->model_name`, `tools/server/server-context.cpp:4310`, {SRC})."),
    "streaming.include_usage": Finding(
        "usage chunk carries choices",
        "The final streamed chunk that carries `usage` also carries the last choice delta "
        f"(`tools/server/server-task.cpp:462-510`, `to_json_oaicompat_chat_stream`, `if (include_usage)`, {SRC}) "
        "instead of a separate chunk with `choices: []`."),
    "best_of.ranking": Finding(
        "best_of ignored",
        "`best_of` is not read on /v1/completions, so the n choices are the first n candidates, not the n "
        "best by mean logprob (the check asks for n within the slot count: llama-server refuses `n` above it, "
        f"`field_num(\"n_cmpl\") ->set_hard_limits(1, params_base.n_parallel) ->add_alias(\"n\")`, "
        f"`tools/server/server-schema.cpp:62-65`, {SRC})."),
    "best_of.errors": Finding(
        "best_of ignored",
        "`oaicompat_completion_params_parse` would refuse `best_of` (\"Unsupported param: best_of\") and "
        f"`echo` (`tools/server/server-common.cpp:1036-1060`, {SRC}) but nothing calls it in this version "
        "(it is only declared in `server-common.h:334`): /v1/completions ignores `best_of`, so `best_of < n` "
        "and `best_of` with `stream` are accepted."),
    "logprobs.shape": Finding(
        "completion logprobs in the chat shape",
        "`to_json_oaicompat` writes completions logprobs as `{\"content\": probs_vector_to_json(...)}` "
        f"(`tools/server/server-task.cpp:374-380`, {SRC}), the chat shape, instead of "
        "`tokens`/`token_logprobs`/`top_logprobs`/`text_offset`."),
    "logprobs.echo": Finding(
        "echo ignored",
        "`echo` is only a chat-parser option here (`field_bool(\"echo\", params.chat_parser_params.echo)`, "
        f"`tools/server/server-schema.cpp:334`, {SRC}); the completions text never starts with the prompt, and "
        "the parser that refuses echo is never called (see best_of.errors)."),
    "sampling.top_p": Finding(
        "top_k 40 / min_p 0.05, top_p before temperature",
        "The default chain is penalties, dry, top_n_sigma, top_k, typical_p, top_p, min_p, xtc, temperature "
        f"(`common/common.h:263-273`, {SRC}) with `top_k = 40`, `min_p = 0.05` (`common/common.h:232-234`): "
        "top_p is taken over the 40 survivors of top_k, renormalised (so at T = 1, top_p 0.6153 keeps only "
        "' e', whose share among 40 tokens already crosses it: '\\n' is never sampled), before temperature "
        "(at T = 0.5 tokens outside the tempered nucleus are sampled), and min_p removes tokens under 5 % "
        "of the top one."),
    "sampling.logit_bias": Finding(
        "min_p 0.05 truncates",
        f"Default `min_p = 0.05` and `top_k = 40` (`common/common.h:232-234`, {SRC}) drop the tail the "
        "prediction keeps: a token below 5 % of the top one is never sampled, so the +2 test's rarer tokens "
        "are missing; the -100 ban and +100 force hold."),
    "sampling.temperature": Finding(
        "min_p 0.05 truncates",
        f"Default `min_p = 0.05`, `top_k = 40` (`common/common.h:232-234`, {SRC}) act at every temperature: "
        "at T = 1.5 tokens under 5 % of the top one are still never sampled."),
    "penalties.prompt_not_counted": Finding(
        "prompt tokens counted",
        "When a slot starts, every prompt token is fed to the sampler's history "
        f"(`common_sampler_accept(smpl.get(), id, false)` over `prompt.tokens`, "
        f"`tools/server/server-context.cpp:379-384`, {SRC}), and the penalties look at the last "
        "`penalty_last_n = 64` tokens (`common/common.h:241`): presence_penalty lowers tokens that appear only "
        "in the prompt."),
    "defaults.sampling": Finding(
        "T 0.8, top_k 40, top_p 0.95, min_p 0.05; no max_tokens limit",
        f"Defaults `temp = 0.80`, `top_k = 40`, `top_p = 0.95`, `min_p = 0.05` (`common/common.h:232-238`, {SRC}) "
        "instead of temperature 1 and top_p 1, and `n_predict = -1` (\"no limit\", `common/common.h:451`) "
        "instead of max_tokens 16: a completion without max_tokens runs to the end of the context."),
}
