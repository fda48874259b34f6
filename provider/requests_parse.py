"""From a request body to a generation job: validation, defaults and server-side limits.

Order of checks (the first failure is the answer):

1. the body is a JSON object (``provider.body``); a ``ranges_clamped`` fault may rewrite it;
2. the generated request model (``generated.models.CreateCompletionRequest`` /
   ``CreateChatCompletionRequest``) validates types, ranges, enums, ``maxItems`` and the spec's
   ``x-oairef-rules``: a violation is a 400 naming the parameter (the error's ``loc[0]``);
3. the model must be the served one (404 ``model_not_found``);
4. ``sampler.SamplingParams`` validates the sampling fields (the same ranges; a 400 naming the param);
5. limits only the served model knows: ``logit_bias`` ids and prompt token ids in ``[0, vocab_size)``
   (400 naming ``logit_bias`` / ``prompt``); prompt tokens + ``max_tokens`` within the context
   (400 naming ``max_tokens``, or ``max_completion_tokens`` when that was the one given).

Defaults (choices marked in ``../shared/SEMANTICS.md``): completions ``max_tokens`` 16 (also when
null); chat ``max_completion_tokens`` wins over ``max_tokens``, and without either the completion
may use the rest of the context. A null ``prompt`` is the empty document. Chat ``logprobs: true``
without ``top_logprobs`` reports the chosen token's logprob with an empty ``top_logprobs``.
Not supported, answered with a 400 naming the field: a non-empty ``suffix`` and image content parts.
Accepted and ignored (they do not change sampling): ``user``, ``metadata``, ``store``,
``service_tier``, ``tools``, ``tool_choice``, ``parallel_tool_calls``, ``functions``,
``function_call``, ``response_format``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provider.errors import APIError, from_invalid_parameter, from_pydantic, invalid, model_not_found
from provider.faults import Fault
from sampler import InvalidParameter, SamplingParams

#: Completions' documented ``max_tokens`` default.
COMPLETIONS_MAX_TOKENS = 16

try:  # the generated models are the validators; see the module docstring
    from generated import models as _generated_models
except ImportError:  # pragma: no cover - only before codegen has run
    _generated_models = None


@dataclass(frozen=True)
class Job:
    """One validated request: what to generate and how to answer.

    ``prompts`` holds token-id lists (already tokenized); ``stop_leak`` holds the stop strings the
    server matches itself under the ``stop_leak`` fault (the engine then gets no ``stop``).
    """

    kind: str  # "completion" | "chat"
    model: str
    prompts: list[list[int]]
    prompt_texts: list[str | None]
    params: SamplingParams
    stream: bool
    include_usage: bool
    stop_leak: tuple[str, ...]


def generated_models_available() -> bool:
    """Whether requests are validated by the generated models (else by the fallback checks)."""
    return _generated_models is not None and hasattr(_generated_models, "CreateCompletionRequest")


def _validate_with_generated(schema: str, body: dict[str, Any]) -> None:
    from pydantic import ValidationError

    cls = getattr(_generated_models, schema)
    try:
        cls.model_validate(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fallback_checks(kind: str, body: dict[str, Any]) -> None:
    """Type checks and rules used only while ``generated/`` is unavailable (ranges are left to
    ``SamplingParams``)."""
    required = ("model", "prompt") if kind == "completion" else ("model", "messages")
    for name in required:
        if name not in body:
            raise invalid(name, f"you must provide a '{name}' parameter", code="missing_required_parameter")
    if not isinstance(body["model"], str):
        raise invalid("model", "model must be a string", code="invalid_type")
    for name in ("stream", "echo", "logprobs" if kind == "chat" else "stream"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise invalid(name, f"{name} must be a boolean", code="invalid_type")
    if body.get("stream_options") is not None:
        if not isinstance(body["stream_options"], dict):
            raise invalid("stream_options", "stream_options must be an object", code="invalid_type")
        if body.get("stream") is not True:
            raise invalid("stream_options", "stream_options is only allowed when stream is true")
    if kind == "chat":
        msgs = body["messages"]
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            raise invalid("messages", "messages must be a non-empty array of message objects")
        for m in msgs:
            if m.get("role") not in ("system", "user", "assistant", "tool", "function"):
                raise invalid("messages", f"unknown message role {m.get('role')!r}")
        if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
            raise invalid("top_logprobs", "logprobs must be set to true if top_logprobs is used")


def _validate(kind: str, body: dict[str, Any]) -> None:
    if generated_models_available():
        schema = "CreateCompletionRequest" if kind == "completion" else "CreateChatCompletionRequest"
        _validate_with_generated(schema, body)
    _fallback_checks(kind, body)


def _sampling(fields: dict[str, Any]) -> SamplingParams:
    allowed = SamplingParams.__dataclass_fields__
    try:
        return SamplingParams(**{k: v for k, v in fields.items() if k in allowed})
    except InvalidParameter as exc:
        raise from_invalid_parameter(exc) from None


def _opt(body: dict[str, Any], name: str, default: Any) -> Any:
    value = body.get(name)
    return default if value is None else value


def _common_fields(body: dict[str, Any], logprobs_mode: str) -> dict[str, Any]:
    return {
        "temperature": _opt(body, "temperature", 1.0),
        "top_p": _opt(body, "top_p", 1.0),
        "presence_penalty": _opt(body, "presence_penalty", 0.0),
        "frequency_penalty": _opt(body, "frequency_penalty", 0.0),
        "logit_bias": body.get("logit_bias"),
        "stop": body.get("stop"),
        "n": _opt(body, "n", 1),
        "seed": body.get("seed"),
        "stream": bool(body.get("stream")),
        "logprobs_mode": logprobs_mode,
    }


def _check_token_ids(param: str, ids: list[int], vocab: int) -> None:
    for t in ids:
        if not 0 <= t < vocab:
            raise invalid(param, f"token id {t} is outside the vocabulary [0, {vocab})")


def _check_context(model: Any, prompts: list[list[int]], max_tokens: int | None, param: str,
                   prompt_param: str) -> None:
    n_ctx = int(model.n_ctx)
    longest = max((len(p) for p in prompts), default=0)
    if longest > n_ctx:
        raise invalid(prompt_param, f"the prompt has {longest} tokens, more than the model's context "
                      f"length of {n_ctx}", code="context_length_exceeded")
    if max_tokens is not None and longest + max_tokens > n_ctx:
        raise invalid(param, f"this model's maximum context length is {n_ctx} tokens; the prompt has "
                      f"{longest} tokens and {param} is {max_tokens} ({longest + max_tokens} in total)",
                      code="context_length_exceeded")
    if max_tokens is None and longest >= n_ctx:
        raise invalid(prompt_param, f"the prompt fills the model's context of {n_ctx} tokens; no room "
                      "is left to generate", code="context_length_exceeded")


def _finish(model: Any, fault: Fault, fields: dict[str, Any]) -> tuple[SamplingParams, tuple[str, ...]]:
    """Apply the fault to the fields, check them, and split off a leaked stop."""
    fields = fault.params(fields)
    leak: tuple[str, ...] = ()
    if fault.stop_leak and fields.get("stop") is not None:
        stop = fields["stop"]
        leak = (stop,) if isinstance(stop, str) else tuple(s for s in stop if isinstance(s, str))
        _sampling(fields)  # the stop list is still validated
        fields = {**fields, "stop": None}
    params = _sampling(fields)
    vocab = int(model.vocab_size)
    for tid in params.logit_bias:
        if not 0 <= tid < vocab:
            raise invalid("logit_bias", f"logit_bias token id {tid} is outside the vocabulary [0, {vocab})")
    return params, leak


def _tokenize_prompts(model: Any, prompt: Any) -> tuple[list[list[int]], list[str | None]]:
    """Completions' four prompt forms -> token-id lists (and the text, when given as text)."""
    vocab = int(model.vocab_size)
    if prompt is None:
        prompt = ""
    if isinstance(prompt, str):
        return [list(model.tokenize(prompt))], [prompt]
    if not isinstance(prompt, list):
        raise invalid("prompt", "prompt must be a string, an array of strings, an array of token ids "
                      "or an array of arrays of token ids", code="invalid_type")
    if not prompt:
        raise invalid("prompt", "prompt must not be an empty array")
    if all(isinstance(p, str) for p in prompt):
        return [list(model.tokenize(p)) for p in prompt], list(prompt)
    if all(_is_int(t) for t in prompt):
        _check_token_ids("prompt", prompt, vocab)
        return [list(prompt)], [None]
    if all(isinstance(p, list) and p and all(_is_int(t) for t in p) for p in prompt):
        for p in prompt:
            _check_token_ids("prompt", p, vocab)
        return [list(p) for p in prompt], [None] * len(prompt)
    raise invalid("prompt", "prompt must be a string, an array of strings, an array of token ids or an "
                  "array of non-empty arrays of token ids", code="invalid_type")


def parse_completion(body: dict[str, Any], *, model: Any, model_id: str, fault: Fault,
                     logprobs_mode: str) -> Job:
    """Validate a ``POST /v1/completions`` body into a ``Job`` (raises ``APIError``)."""
    body = fault.request(body)
    _validate("completion", body)
    if body["model"] != model_id:
        raise model_not_found(body["model"])
    suffix = body.get("suffix")
    if suffix not in (None, ""):
        raise invalid("suffix", "suffix (insertion) is not supported by this model")
    fields = _common_fields(body, logprobs_mode)
    fields.update(
        max_tokens=_opt(body, "max_tokens", COMPLETIONS_MAX_TOKENS),
        best_of=body.get("best_of"),
        best_of_given=body.get("best_of") is not None,
        logprobs=body.get("logprobs"),
        echo=bool(body.get("echo")),
        max_logprobs=5,
    )
    params, leak = _finish(model, fault, fields)
    prompts, texts = _tokenize_prompts(model, body.get("prompt"))
    _check_context(model, prompts, params.max_tokens, "max_tokens", "prompt")
    return Job("completion", model_id, prompts, texts, params, params.stream,
               _include_usage(body), leak)


def _include_usage(body: dict[str, Any]) -> bool:
    opts = body.get("stream_options")
    return bool(body.get("stream")) and isinstance(opts, dict) and opts.get("include_usage") is True


def _message_text(index: int, content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if not isinstance(part, dict):
                raise invalid("messages", f"messages[{index}].content parts must be objects")
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif kind == "refusal" and isinstance(part.get("refusal"), str):
                parts.append(part["refusal"])
            else:
                raise invalid("messages", f"messages[{index}].content part of type {kind!r} is not "
                              "supported by this model (text only)")
        return "".join(parts)
    raise invalid("messages", f"messages[{index}].content must be a string or an array of parts")


def chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages reduced to ``{"role", "content": str}`` (plus ``name``) for a chat template."""
    out = []
    for i, m in enumerate(messages):
        msg: dict[str, Any] = {"role": m["role"], "content": _message_text(i, m.get("content"))}
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out


def parse_chat(body: dict[str, Any], *, model: Any, model_id: str, fault: Fault,
               logprobs_mode: str) -> Job:
    """Validate a ``POST /v1/chat/completions`` body into a ``Job`` (raises ``APIError``)."""
    body = fault.request(body)
    _validate("chat", body)
    if body["model"] != model_id:
        raise model_not_found(body["model"])
    if body.get("max_completion_tokens") is not None:
        max_tokens, mt_param = body["max_completion_tokens"], "max_completion_tokens"
    else:
        max_tokens, mt_param = body.get("max_tokens"), "max_tokens"
    want_logprobs = body.get("logprobs") is True
    fields = _common_fields(body, logprobs_mode)
    fields.update(
        max_tokens=max_tokens,
        logprobs=_opt(body, "top_logprobs", 0) if want_logprobs else None,
        max_logprobs=20,
    )
    if not want_logprobs and body.get("top_logprobs") is not None:
        raise invalid("top_logprobs", "logprobs must be set to true if top_logprobs is used")
    try:
        params, leak = _finish(model, fault, fields)
    except APIError as exc:
        if exc.param == "max_tokens":
            exc.param = mt_param
        raise
    try:
        text = model.apply_chat_template(chat_messages(body["messages"]))
    except APIError:
        raise
    except Exception as exc:  # a template's raise_exception() or a template bug: the request's fault
        raise invalid("messages", f"the model's chat template rejected these messages: {exc}") from None
    prompts = [list(model.tokenize(text))]
    _check_context(model, prompts, params.max_tokens, mt_param, "messages")
    return Job("chat", model_id, prompts, [text], params, params.stream, _include_usage(body), leak)
