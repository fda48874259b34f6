"""llama-cpp-python's server (0.3.36): each departure with the source line that explains it. Paths are
inside the installed package ``llama_cpp/`` of that release."""

from __future__ import annotations

from peers.findings import Finding
from peers.llama_cpp_python import VARIES_BETWEEN_MACHINES

SRC = "llama-cpp-python 0.3.36"

NOTES = ("**Verdicts that vary between machines.** " + VARIES_BETWEEN_MACHINES,)

_CHAIN = (f"The server's request defaults are `temperature = 0.8`, `min_p = 0.05`, `top_k = 40`, "
          f"`repeat_penalty = 1.1` (`llama_cpp/server/types.py:26`, `:39-40`, `:57-58`, `:64-65`, {SRC}), and the "
          "chain is top_k, typical, top_p, min_p, temperature, dist (`llama_cpp/llama.py:784-789`, "
          "`Llama._init_sampler`)")

FINDINGS: dict[str, Finding] = {
    "schema.responses": Finding(
        "models lack created; no refusal",
        "`/v1/models` entries are `ModelData` with `id`, `object`, `owned_by`, `permissions` and no `created` "
        f"(`llama_cpp/server/types.py:271-275`, {SRC}); chat messages carry no `refusal`."),
    "errors.shape": Finding(
        "temperature 5 accepted",
        f"Request fields are pydantic fields with bounds that differ from the docs (`llama_cpp/server/types.py`, {SRC}); "
        "temperature 5 is served."),
    "errors.ranges": Finding(
        "many bounds unchecked or 500",
        f"Ranges in `llama_cpp/server/types.py` ({SRC}) do not follow the docs: out-of-range temperature, n, "
        "logit_bias, stop count, logprobs and top_logprobs are accepted; top_p, penalties and max_tokens -1 "
        "give 500."),
    "errors.unknown_model": Finding(
        "any model name served",
        "An unknown model name falls back to the default model: `if model not in self._model_settings_dict: "
        f"model = self._default_model_alias` (`llama_cpp/server/model.py:40-41`, {SRC})."),
    "streaming.framing": Finding(
        "same seed, other text (KV cache state)",
        "See *Verdicts that vary between machines* above (`llama_cpp/llama.py:916`, \"Check for kv cache prefix "
        f"match\", {SRC})."),
    "streaming.include_usage": Finding(
        "no usage chunk",
        "`stream_options` is not a field of its request models at all (no occurrence in `llama_cpp/`, "
        f"{SRC}): the option is dropped and no usage chunk is sent."),
    "n.indices": Finding(
        "n ignored",
        "`n` is excluded before the call: `exclude = {\"n\", \"best_of\", ...}` "
        f"(`llama_cpp/server/app.py:317-323`, {SRC}), so one choice comes back."),
    "best_of.ranking": Finding(
        "best_of ignored",
        f"`best_of` is excluded with `n` (`llama_cpp/server/app.py:317-323`, {SRC})."),
    "best_of.errors": Finding(
        "best_of ignored",
        f"`best_of` is excluded with `n` (`llama_cpp/server/app.py:317-323`, {SRC}), so nothing refuses it."),
    "logprobs.echo": Finding(
        "echo drops a token; max_tokens 0 generates",
        f"`Llama._create_completion` ({SRC}) builds echoed logprobs that lose the last generated token and treats "
        "`max_tokens: 0` as \"until the context ends\"."),
    "seed.determinism": Finding(
        "same seed, other text (KV cache state)",
        "See *Verdicts that vary between machines* above (`llama_cpp/llama.py:916`, \"Check for kv cache prefix "
        f"match\", {SRC})."),
    "sampling.temperature": Finding("min_p 0.05 truncates", _CHAIN + ": tokens under 5 % of the top one vanish."),
    "sampling.top_p": Finding("top_p before temperature", _CHAIN + ": top_p cuts the untempered distribution."),
    "sampling.logit_bias": Finding("min_p 0.05 truncates", _CHAIN + ": rare tokens never appear."),
    "penalties.presence": Finding("repeat_penalty 1.1 by default",
                                  _CHAIN + "; the default repeat penalty moves the repeated token too."),
    "penalties.frequency": Finding("repeat_penalty 1.1 by default",
                                   _CHAIN + "; the default repeat penalty moves the repeated token too."),
    "penalties.prompt_not_counted": Finding(
        "truncation raises x's share (not a prompt count)",
        _CHAIN + ": the request sets only presence_penalty and T = 1, so top_k 40 and min_p 0.05 still cut the "
                 "tail and x, a head token, comes up more often than its reported probability (higher, not lower: "
                 "prompt tokens are not what moves it)."),
    "defaults.sampling": Finding("T 0.8, top_k 40, min_p 0.05, repeat 1.1",
                                 _CHAIN + ": with no sampling field the distribution is not softmax(z)."),
}
