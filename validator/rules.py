"""The documentation rules the checks test, quoted from the API docs in ``shared/seeds/``.

``001`` is the Chinese API reference (``001_2feb87e23d4fc5df.txt``: completions, chat, "parameter
details"), ``000`` the Japanese completions page (``000_a07a2e7d069649cf.txt``). Each quote is given
in the original with an English gloss. Where the docs are silent the rule comes from oairef's
contract (``SEMANTICS.md``) and says so.
"""

from __future__ import annotations

TEMPERATURE = (
    '001 completions/chat, temperature: "使用哪个采样温度，在0和2之间。较高的值，如0.8会使输出更随机，'
    '而较低的值，如0.2会使其更加集中和确定性。" (sampling temperature between 0 and 2; higher is more '
    "random, lower more focused and deterministic). Contract: p = softmax(z / T); T = 0 is greedy."
)
TOP_P = (
    '001, top_p: "一种替代温度采样的方法叫做核心采样，模型会考虑到具有 top_p 概率质量的标记结果。因此，0.1 '
    '表示只考虑组成前 10% 概率质量的标记。" (nucleus sampling: only the tokens making up the top_p '
    "probability mass are considered). Contract: applied after temperature; the crossing token is kept."
)
PENALTIES = (
    '001 "参数细节 / 频率和存在惩罚": "c[j] 是在当前位置之前采样该标记的次数 … 存在惩罚是一次性的加法贡献，'
    '适用于所有已经被采样至少一次的标记，并且频率惩罚是与特定标记已经被采样多少次成比例的贡献。" '
    "(mu[j] -= c[j] * alpha_frequency + float(c[j] > 0) * alpha_presence, where c[j] counts how often "
    "token j was *sampled* before the current position: presence is a one-off contribution, frequency "
    "is proportional to the count). Range: \"在-2.0和2.0之间的数字\" (between -2.0 and 2.0)."
)
LOGIT_BIAS = (
    '001, logit_bias: "接受一个JSON对象，将令牌(由GPT分词器中的令牌ID指定)映射到从-100到100的相关偏差值 … '
    '在数学上，在采样之前，模型生成的logits会添加偏差。" (a JSON object mapping token ids to a bias from '
    "-100 to 100, added to the logits before sampling; -100/100 ban or force the token)."
)
STOP = (
    '001, stop: "最多生成4个序列，API将停止生成更多的标记。返回的文本不包含停止序列。" (up to 4 sequences '
    "where the API stops generating; the returned text does not contain the stop sequence). "
    "Contract: matched across token boundaries, cut at the earliest occurrence, never streamed."
)
MAX_TOKENS = (
    '001, max_tokens (completions, default 16): "在完成中生成的最大标记数。您的提示文本和 max_tokens 的令牌数'
    '不能超过模型的上下文长度。" (the maximum number of tokens to generate; prompt + max_tokens may not '
    'exceed the context length). 000 sample response: "finish_reason": "length".'
)
N = (
    '001, n (default 1): "每个提示生成多少完成次数。" (how many completions to generate for each prompt). '
    "Contract: n in [1, 128]; choice index = prompt_index * n + j."
)
BEST_OF = (
    '001, best_of: "生成best_of完成服务器端的计算并返回“最佳”结果（每个标记具有最高对数概率）。结果无法流式传输。'
    '当与n一起使用时，best_of控制候选完成的数量，n指定要返回多少个" (generates best_of completions '
    "server-side and returns the best — highest log probability per token; cannot be streamed; with n, "
    "best_of is the number of candidates and n how many are returned). Contract: best_of in [1, 20], "
    "best_of < n and best_of > 1 with stream are 400s naming best_of."
)
LOGPROBS = (
    '001, logprobs (max 5): "在上面包括对数概率logprobs最有可能的标记，以及所选的标记 … API将始终返回logprob'
    '被抽样的标记，因此可能会有多达logprobs+1响应中的元素。" (include the log probabilities of the '
    "logprobs most likely tokens and of the chosen token; so up to logprobs+1 elements). "
    "Contract: text_offset counts characters from the start of the prompt."
)
ECHO = '001, echo: "除了完成之外，还要回显提示。" (echo back the prompt in addition to the completion).'
#: The reporting modes the contract names (SEMANTICS.md, "Reported log-probabilities"); the default first.
#: The validator's own reading of the contract: it judges from outside and never imports the sampler
#: (whose ``sampler.params.LOGPROBS_MODES`` is the provider's; a test holds the two equal).
LOGPROBS_MODES = ("raw", "processed")
LOGPROBS_MODE = (
    "Docs are silent on whether logprobs reflect sampling parameters; contract (SEMANTICS.md, "
    '"Reported log-probabilities"): default mode raw = log_softmax of the unmodified model logits, '
    "before penalties, bias, temperature and top_p (as vLLM V1 and llama.cpp do)."
)
STREAM = (
    '001, stream: "如果设置，令牌将作为数据服务器推送事件随着它们变得可用而被发送，… 流被终止data: [DONE]信息。" '
    "(tokens are sent as data-only server-sent events as they become available; the stream is "
    "terminated by a data: [DONE] message). Contract: streamed text equals the non-streamed text "
    "for the same seed; one finish_reason per choice."
)
INCLUDE_USAGE = (
    "Not in the seed docs (added to the API later): stream_options.include_usage adds a final chunk "
    "with usage and empty choices before [DONE]; every other chunk has usage null."
)
SEED = (
    "Not in the seed docs; contract (SEMANTICS.md, \"Randomness and seed\"): the same request with the "
    "same seed gives an identical response body except id and created."
)
ERRORS = (
    "Ranges are the documented ones (001: temperature \"在0和2之间\", top_p probability mass, "
    "penalties \"在-2.0和2.0之间\", logit_bias \"从-100到100\", logprobs \"最大值为logprobs是5\", stop "
    "\"最多…4个序列\"). Contract (SEMANTICS.md, \"Errors\"): any value outside them is HTTP 400 with "
    '{"error": {"message", "type": "invalid_request_error", "param", "code"}} naming the parameter.'
)
UNKNOWN_MODEL = (
    '001, model: "要使用的模型ID。" (ID of the model to use). Contract: an unknown model is HTTP 404 with '
    'error.code "model_not_found".'
)
SCHEMA = (
    "000 response body: id, object, created, model, choices[] {text, index, logprobs, finish_reason}, "
    "usage {prompt_tokens, completion_tokens, total_tokens}; 001: chat choices carry a message and a "
    "finish_reason; models list each model's owner. Checked with the generated pydantic models "
    "(spec/openai.yaml): a missing field the docs name fails; a missing field only the spec carries (added "
    "to the API later, e.g. chat's message.refusal) is reported, and fails with --strict."
)
DEFAULTS = (
    '001: "temperature 数字 可选的 默认为1", "top_p 数字 可选项 默认为1", "presence_penalty … 默认为0", '
    '"frequency_penalty … 默认为0", "max_tokens 整数 可选项 默认为16" (defaults: temperature 1, top_p 1, '
    "no penalties, completions max_tokens 16). A provider that adds top_k, min_p or a repetition "
    "penalty by default departs from them."
)
GREEDY = (
    TEMPERATURE + " At temperature 0 the token is the argmax of the logits (ties to the lowest id)."
)

#: Response fields the seed docs name, per response schema (``*`` is any list index). A spec-required
#: field missing from a body is a failure when it is named here; when it is not (a later addition the
#: spec carries, e.g. chat's ``message.refusal`` or ``choices[].logprobs``, or ``Model.created``), it is
#: reported, and fails only with ``--strict``.
#: - completions: 000's response body listing (id, object, created, model, choices[] {text, index,
#:   logprobs, finish_reason}, usage {prompt_tokens, completion_tokens, total_tokens}); streamed chunks
#:   share the shape (001 stream: "data-only server-sent events"), usage aside;
#: - chat: 001 "发出请求" (a chat completion whose choices carry a message and finish_reason "stop"; n
#:   messages) in the same envelope and usage as completions;
#: - models: 001 "列出模型" (each model's basic information, "例如所有者" — e.g. its owner);
#: - errors: the contract (SEMANTICS.md "Errors"), every field.
_ENVELOPE = {"id", "object", "created", "model", "choices", "choices.*.index", "choices.*.finish_reason"}
_USAGE = {"usage", "usage.prompt_tokens", "usage.completion_tokens", "usage.total_tokens"}
#: by body kind: the schema name, or "<schema> chunk" for a streamed chunk
DOC_FIELDS: dict[str, frozenset[str]] = {
    "CreateCompletionResponse": frozenset(_ENVELOPE | _USAGE | {"choices.*.text", "choices.*.logprobs"}),
    "CreateCompletionResponse chunk": frozenset(_ENVELOPE | {"choices.*.text"}),
    "CreateChatCompletionResponse": frozenset(_ENVELOPE | _USAGE | {"choices.*.message", "choices.*.message.role",
                                                                    "choices.*.message.content"}),
    "CreateChatCompletionStreamResponse chunk": frozenset(_ENVELOPE | {"choices.*.delta"}),
    "ListModelsResponse": frozenset({"object", "data", "data.*.id", "data.*.object", "data.*.owned_by"}),
    "ErrorResponse": frozenset({"error", "error.message", "error.type", "error.param", "error.code"}),
}
