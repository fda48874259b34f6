"""From a request body to a generation job. The provider owns no rule here: it hands each rule to
its one owner and maps the owner's refusal to an OpenAI-shaped 400.

Order of checks (the first failure is the answer):

1. the body is a JSON object (``provider.body``) — which a test fault's ``request`` hook may have
   rewritten before it gets here (``provider.faults``; this module knows no fault);
2. the generated request model (``generated.models.CreateCompletionRequest`` /
   ``CreateChatCompletionRequest``, from ``spec/openai.yaml``) enforces strict JSON types, ranges, enums,
   ``maxItems`` and the spec's ``x-oairef-rules`` (``best_of >= n``, ``top_logprobs`` requires
   ``logprobs``, ...): a 400 naming the parameter (the error's ``loc[0]``);
3. the model must be one of the served names (404 ``model_not_found``); the job, and so every
   response, carries the name the request used;
4. ``sampler.SamplingParams`` takes the sampling fields (the sampler's own contract);
5. what needs the served model — token ids in ``[0, vocab_size)`` (``prompt``, ``logit_bias``) and
   the context length — the engine checks when the job starts (``sampler.engine``).

A sampler ``InvalidParameter`` (steps 4-5) is a 400 naming the request's field (:meth:`Job.refusal`):
chat's prompt is its ``messages``, and its ``max_tokens`` is ``max_completion_tokens`` when that
was the one given. A prompt too long for the context has ``code: "context_length_exceeded"``.

Defaults: a field that is absent or null takes the spec's default (the generated model's field
default: completions ``max_tokens`` 16, ``temperature`` 1, ...). Choices (``../shared/SEMANTICS.md``):
chat ``max_completion_tokens`` wins over ``max_tokens``, and without either the completion may use
the rest of the context. A null ``prompt`` is the empty document. Chat ``logprobs: true``
without ``top_logprobs`` reports the chosen token's logprob with an empty ``top_logprobs``.
Not supported, answered with a 400 naming the field: a non-empty ``suffix`` and image content parts.
Accepted and ignored (they do not change sampling): ``user``, ``metadata``, ``store``,
``service_tier``, ``tools``, ``tool_choice``, ``parallel_tool_calls``, ``functions``,
``function_call``, ``response_format``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from generated import models as request_models
from provider.errors import APIError, from_invalid_parameter, from_pydantic, invalid, model_not_found
from sampler import InvalidParameter, Model, SamplingParams
from sampler.engine import Prompt
from sampler.params import RANGES

#: The endpoint a job came from.
Kind = Literal["completion", "chat"]
#: The generated model that validates each kind of request body.
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "completion": request_models.CreateCompletionRequest,
    "chat": request_models.CreateChatCompletionRequest,
}


@dataclass(frozen=True)
class Job:
    """One validated request: what to generate and how to answer.

    ``prompt`` is what the engine tokenizes: completions' prompt as given (null: ``""``), or chat's
    messages rendered by the model's chat template. ``params`` are the sampling parameters as the
    request asked for them. ``fields`` maps a sampler parameter name to the request field it came
    from where the two differ.
    """

    kind: Kind
    model: str
    prompt: Prompt
    params: SamplingParams
    include_usage: bool
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> bool:
        return self.params.stream

    def refusal(self, exc: InvalidParameter) -> APIError:
        """The 400 for the sampler's ``InvalidParameter``, naming the request's own field."""
        return from_invalid_parameter(exc, self.fields)


def validate_body(kind: Kind, body: dict[str, Any]) -> None:
    """Step 2: the generated request model accepts ``body``, else a 400 naming the parameter.

    Strictly: a JSON value of the wrong type is refused, never coerced (``"yes"`` is not a boolean,
    ``1.0`` not an integer).
    """
    try:
        REQUEST_MODELS[kind].model_validate(body, strict=True)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _value(kind: Kind, body: dict[str, Any], name: str) -> Any:
    """The body's ``name``, or — absent or null — the spec's default for it (the generated model's)."""
    value = body.get(name)
    return REQUEST_MODELS[kind].model_fields[name].default if value is None else value


def _sampling(kind: Kind, body: dict[str, Any], logprobs_mode: str, names: Mapping[str, str],
              **fields: Any) -> SamplingParams:
    """Step 4: the fields both endpoints share, plus ``fields``, as ``SamplingParams``."""
    shared = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logit_bias", "stop", "n",
              "seed", "stream")
    try:
        return SamplingParams(**{name: _value(kind, body, name) for name in shared},
                              logprobs_mode=logprobs_mode, **fields)
    except InvalidParameter as exc:
        raise from_invalid_parameter(exc, names) from None


def _served_model(body: dict[str, Any], served: Collection[str]) -> str:
    """Step 3: the body's ``model``, one of the ``served`` names (404 otherwise)."""
    if body["model"] not in served:
        raise model_not_found(body["model"])
    return str(body["model"])


def parse_completion(body: dict[str, Any], *, served: Collection[str], logprobs_mode: str) -> Job:
    """Validate a ``POST /v1/completions`` body into a ``Job`` (raises ``APIError``)."""
    validate_body("completion", body)
    model_id = _served_model(body, served)
    suffix = body.get("suffix")
    if suffix not in (None, ""):
        raise invalid("suffix", "suffix (insertion) is not supported by this model")
    params = _sampling("completion", body, logprobs_mode, {},
                       max_tokens=_value("completion", body, "max_tokens"),
                       best_of=body.get("best_of"),
                       logprobs=body.get("logprobs"),
                       echo=_value("completion", body, "echo"),
                       max_logprobs=RANGES["logprobs"][1])
    prompt = body.get("prompt")
    return Job("completion", model_id, "" if prompt is None else prompt, params, _include_usage(body))


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


def parse_chat(body: dict[str, Any], *, model: Model, served: Collection[str], logprobs_mode: str) -> Job:
    """Validate a ``POST /v1/chat/completions`` body into a ``Job`` (raises ``APIError``)."""
    validate_body("chat", body)
    model_id = _served_model(body, served)
    names = {"prompt": "messages"}
    if body.get("max_completion_tokens") is not None:
        max_tokens = body["max_completion_tokens"]
        names["max_tokens"] = "max_completion_tokens"
    else:
        max_tokens = body.get("max_tokens")
    want_logprobs = body.get("logprobs") is True
    params = _sampling("chat", body, logprobs_mode, names,
                       max_tokens=max_tokens,
                       logprobs=(body.get("top_logprobs") or 0) if want_logprobs else None,
                       max_logprobs=RANGES["top_logprobs"][1])
    try:
        text = model.apply_chat_template(chat_messages(body["messages"]))
    except APIError:
        raise
    except Exception as exc:  # a template's raise_exception() or a template bug: the request's fault
        raise invalid("messages", f"the model's chat template rejected these messages: {exc}") from None
    return Job("chat", model_id, text, params, _include_usage(body), names)
