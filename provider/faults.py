"""Test-only fault injection: ``oairef serve --fault NAME``.

Each fault is one small, named departure from the contract (``../shared/SEMANTICS.md``), so the
validator can prove that it notices that departure. This module owns every fault. A fault acts
only through the hooks of :class:`Fault`; each hook defaults to "change nothing", and the provider
calls each one at exactly one place without knowing which fault (if any) is behind it:

===============================  ==================================  ====================================
hook                             called by                           rewrites
===============================  ==================================  ====================================
``request(kind, body)``          the routes, before validation       the raw JSON request body
``sampling(kind, params)``       ``generation``, before the engine   the ``SamplingParams`` it runs with
``penalties(policy)``            ``generation``                      the engine's ``penalty_ids`` policy
``result(completion, job, m)``   ``generation``                      the engine's whole result
``deltas(deltas, job, m)``       ``generation``                      the engine's stream of deltas
``response(kind, obj)``          the routes                          each JSON object answered (a whole
                                                                     body or one streamed chunk)
``events(events)``               the routes                          the SSE text of a stream
``error(body)``                  ``errors`` and the stream's errors  each error body
===============================  ==================================  ====================================

``kind`` is ``"completion"`` or ``"chat"``: unless a hook looks at it, a fault acts on both endpoints.
Adding a fault is adding a :class:`Fault` to :data:`FAULTS` here (and the validator check meant to
catch it to ``tests/validator/test_validate_reference.py``).

The faults (each on ``/v1/completions`` and ``/v1/chat/completions`` alike, except ``best_of``,
which only completions have, and the ``chat_*`` faults, which break the chat path only):

============================  =================================================================
``stop_leak``                 stop strings are matched by the server after generation and the
                              returned text *includes* the matched stop string (streamed too).
``temperature_rescaled``      the temperature used is ``temperature / 2`` (a [0, 2] -> [0, 1] map).
``top_p_ignored``             ``top_p`` is replaced by 1.
``logit_bias_ignored``        ``logit_bias`` is dropped.
``penalties_count_prompt``    penalty counts include the prompt's tokens: the last 64 of prompt +
                              generated, as llama.cpp's server counts (``penalty_last_n``).
``penalties_swapped``         ``presence_penalty`` and ``frequency_penalty`` are exchanged.
``best_of_ignored``           ``best_of`` is replaced by ``n`` (no candidates are ranked).
``n_ignored``                 ``n`` is replaced by 1 (``best_of``, when given, still is).
``seed_ignored``              ``seed`` is dropped: every request draws fresh entropy.
``ranges_clamped``            out-of-range values are clamped into the spec's ranges instead of a 400.
``flat_error``                error bodies are ``{"message", "type", "param", "code"}`` at top
                              level instead of nested under ``"error"``.
``no_done``                   streams end without the ``data: [DONE]`` line.
``processed_logprobs``        logprobs are reported in ``processed`` mode while the server claims
                              ``raw`` (the default).
``chat_temperature_ignored``  chat samples at temperature 1 whatever was asked (in range; an
                              out-of-range value is still a 400). Completions stay correct.
``chat_top_p_ignored``        chat ignores ``top_p`` (completions stay correct).
``chat_logit_bias_ignored``   chat ignores ``logit_bias`` (completions stay correct).
``chat_stop_leak_stream``     chat *streams* include the matched stop string; non-streamed chat
                              and completions stay correct.
============================  =================================================================
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from provider.requests_parse import REQUEST_MODELS, Job
from provider.responses import DONE_EVENT
from sampler import Choice, Completion, Model, PenaltyIds, SamplingParams, StreamDelta
from sampler.engine import normalize_prompts

JSON = dict[str, Any]
Bounds = tuple[float | None, float | None]
T = TypeVar("T")


def _same(x: T) -> T:
    return x


def _same_for_kind(kind: str, obj: JSON) -> JSON:
    return obj


def _same_sampling(kind: str, params: SamplingParams) -> SamplingParams:
    return params


def _same_result(completion: Completion, job: Job, model: Model) -> Completion:
    return completion


def _same_deltas(deltas: Iterator[StreamDelta], job: Job, model: Model) -> Iterator[StreamDelta]:
    return deltas


@dataclass(frozen=True)
class Fault:
    """One named departure from the contract, made of hooks (see the module docstring); the defaults
    change nothing."""

    name: str
    doc: str
    request: Callable[[str, JSON], JSON] = _same_for_kind
    sampling: Callable[[str, SamplingParams], SamplingParams] = _same_sampling
    penalties: Callable[[PenaltyIds], PenaltyIds] = _same
    result: Callable[[Completion, Job, Model], Completion] = _same_result
    deltas: Callable[[Iterator[StreamDelta], Job, Model], Iterator[StreamDelta]] = _same_deltas
    response: Callable[[str, JSON], JSON] = _same_for_kind
    events: Callable[[AsyncGenerator[str, None]], AsyncIterator[str]] = _same
    error: Callable[[JSON], JSON] = _same


NO_FAULT = Fault("none", "the contract")


# ---------------------------------------------------------------------- sampling parameters
def _any_kind(rewrite: Callable[[SamplingParams], SamplingParams]) -> Callable[[str, SamplingParams], SamplingParams]:
    """A sampling rewrite applied on both endpoints."""
    return lambda kind, params: rewrite(params)


def _chat_only(rewrite: Callable[[SamplingParams], SamplingParams]) -> Callable[[str, SamplingParams], SamplingParams]:
    """A sampling rewrite applied on ``/v1/chat/completions`` only (after the request was validated, so
    out-of-range values are still refused)."""
    return lambda kind, params: rewrite(params) if kind == "chat" else params


def _temperature_rescaled(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, temperature=p.temperature / 2.0)


def _temperature_ignored(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, temperature=1.0)


def _top_p_ignored(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, top_p=1.0)


def _logit_bias_ignored(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, logit_bias={})


def _penalties_swapped(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, presence_penalty=p.frequency_penalty, frequency_penalty=p.presence_penalty)


def _best_of_ignored(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, best_of=None)


def _n_ignored(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, n=1)  # best_of stays as given (None: as many as n)


def _seed_ignored(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, seed=None)


def _processed_logprobs(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, logprobs_mode="processed")


# ---------------------------------------------------------------------------------- penalties
#: llama.cpp's server counts penalties over this many last tokens of prompt + generated.
PENALTY_WINDOW = 64


def llama_cpp_penalty_ids(prompt_ids: Sequence[int], generated_ids: Sequence[int]) -> Sequence[int]:
    """``penalties_count_prompt``: the last ``PENALTY_WINDOW`` ids of prompt + generated."""
    return [*prompt_ids, *generated_ids][-PENALTY_WINDOW:]


def _penalties_count_prompt(policy: PenaltyIds) -> PenaltyIds:
    return llama_cpp_penalty_ids


# --------------------------------------------------------------------------------- request body
@dataclass(frozen=True)
class SpecBounds:
    """The documented limits of one kind of request body, as its generated request model states them.

    ``numbers``: numeric property -> ``(minimum, maximum)`` (``None`` where the spec has no bound);
    ``values``: object property -> the bounds of its values (``logit_bias``);
    ``items``: array property -> its ``maxItems`` (``stop``).
    """

    numbers: Mapping[str, Bounds]
    values: Mapping[str, Bounds]
    items: Mapping[str, int]


def _variants(node: JSON, defs: JSON) -> Iterator[JSON]:
    """The schemas ``node`` may be: itself, or through ``$ref`` and ``anyOf``/``oneOf`` each alternative."""
    if "$ref" in node:
        yield from _variants(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        for alt in alternatives:
            yield from _variants(alt, defs)
    else:
        yield node


def _bounds(node: JSON, defs: JSON) -> Bounds | None:
    for v in _variants(node, defs):
        if v.get("type") in ("integer", "number") and ("minimum" in v or "maximum" in v):
            return v.get("minimum"), v.get("maximum")
    return None


@functools.cache
def request_limits(kind: str) -> SpecBounds:
    """The limits of a ``kind`` (``"completion"`` / ``"chat"``) request, read from the JSON schema of its
    generated request model (so from ``spec/openai.yaml``, never from a copy)."""
    schema = REQUEST_MODELS[kind].model_json_schema()
    defs = schema.get("$defs", {})
    numbers: dict[str, Bounds] = {}
    values: dict[str, Bounds] = {}
    items: dict[str, int] = {}
    for name, prop in schema["properties"].items():
        bounds = _bounds(prop, defs)
        if bounds is not None:
            numbers[name] = bounds
        for v in _variants(prop, defs):
            extra = v.get("additionalProperties")
            if v.get("type") == "object" and isinstance(extra, dict) and (vb := _bounds(extra, defs)):
                values[name] = vb
            if v.get("type") == "array" and "maxItems" in v:
                items[name] = int(v["maxItems"])
    return SpecBounds(numbers, values, items)


def _clamp_number(value: Any, bounds: Bounds) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    low, high = bounds
    clamped = value if low is None else max(value, low)
    clamped = clamped if high is None else min(clamped, high)
    return type(value)(clamped) if isinstance(value, int) and float(clamped).is_integer() else clamped


def clamp_request(kind: str, body: JSON) -> JSON:
    """``ranges_clamped``: clamp every documented numeric range, the values of ``logit_bias`` and the
    number of ``stop`` strings into the limits of a ``kind`` request (:func:`request_limits`)."""
    limits = request_limits(kind)
    out = dict(body)
    for name, bounds in limits.numbers.items():
        if name in out:
            out[name] = _clamp_number(out[name], bounds)
    for name, bounds in limits.values.items():
        if isinstance(out.get(name), dict):
            out[name] = {k: _clamp_number(v, bounds) for k, v in out[name].items()}
    for name, most in limits.items.items():
        if isinstance(out.get(name), list):
            out[name] = out[name][:most]
    n, best_of = out.get("n"), out.get("best_of")
    if isinstance(n, int) and isinstance(best_of, int) and best_of < n and "best_of" in limits.numbers:
        # (chat has no best_of: the request is left for the parser to refuse as an unknown field)
        # best_of must be >= n: raise it to n when that is in range, else drop it (defaults to n)
        high = limits.numbers["best_of"][1]
        out["best_of"] = n if high is None or n <= high else None
    return out


# ------------------------------------------------------------------------------------ stop_leak
def _without_stop(p: SamplingParams) -> SamplingParams:
    return dataclasses.replace(p, stop=None)  # the server matches the stop strings itself


def leak_point(text: str, stops: Sequence[str]) -> int | None:
    """``stop_leak``: where ``text`` is cut — just *after* the earliest stop string — or ``None``."""
    found = [(i, i + len(s)) for s in stops if s and (i := text.find(s)) >= 0]
    return min(found)[1] if found else None


def _prompt_lengths(job: Job, model: Model) -> list[int]:
    """Characters of each prompt's text: what ``echo`` puts before its choices' completions."""
    return [len(tp.text) for tp in normalize_prompts(model, job.prompt)]


def _leak_choice(choice: Choice, stops: Sequence[str], prompt_len: int, echo: bool) -> Choice:
    echo_len = prompt_len if echo else 0
    end = leak_point(choice.text[echo_len:], stops)
    if end is None:
        return choice
    logprobs = choice.logprobs
    if logprobs is not None:  # entries whose text starts before the cut (offsets count from the prompt's start)
        logprobs = [e for e in logprobs if e.logprob is None or e.text_offset < prompt_len + end]
    return dataclasses.replace(choice, text=choice.text[:echo_len + end], finish_reason="stop", logprobs=logprobs)


def _stop_leak_result(completion: Completion, job: Job, model: Model) -> Completion:
    if not job.params.stops:
        return completion
    prompts = _prompt_lengths(job, model)
    choices = [_leak_choice(c, job.params.stops, prompts[c.index // job.params.n], job.params.echo)
               for c in completion.choices]
    return dataclasses.replace(completion, choices=choices)


def _stop_leak_deltas(deltas: Iterator[StreamDelta], job: Job, model: Model) -> Iterator[StreamDelta]:
    """Pass text through until a stop string has appeared in a choice's completion (its echoed
    prompt is not searched), then emit up to the stop string's end, finish the choice with ``stop``
    and drop the rest of it."""
    if not job.params.stops:
        yield from deltas
        return
    echoed = [length if job.params.echo else 0 for length in _prompt_lengths(job, model)]
    text: dict[int, str] = {}
    done: set[int] = set()
    for d in deltas:
        if d.index in done:
            continue
        before = text.get(d.index, "")
        full = before + d.text
        skip = echoed[d.index // job.params.n]
        end = leak_point(full[skip:], job.params.stops)
        if end is None:
            text[d.index] = full
            yield d
            continue
        done.add(d.index)
        yield StreamDelta(d.index, full[:skip + end][len(before):], d.logprobs, "stop")


def _chat_stream_without_stop(kind: str, p: SamplingParams) -> SamplingParams:
    return _without_stop(p) if kind == "chat" and p.stream else p


def _chat_stop_leak_deltas(deltas: Iterator[StreamDelta], job: Job, model: Model) -> Iterator[StreamDelta]:
    """``chat_stop_leak_stream``: a chat stream leaks its stop string; completions and non-streamed chat
    stay correct."""
    return _stop_leak_deltas(deltas, job, model) if job.kind == "chat" else deltas


# ------------------------------------------------------------------------------ wire and errors
async def _without_done(events: AsyncGenerator[str, None]) -> AsyncIterator[str]:
    """``no_done``: every event but ``data: [DONE]``."""
    try:
        async for event in events:
            if event != DONE_EVENT:
                yield event
    finally:
        await events.aclose()


def _flat_error(body: JSON) -> JSON:
    """``flat_error``: the inner error object at top level."""
    return dict(body["error"])


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("stop_leak", "the returned text includes the matched stop string", sampling=_any_kind(_without_stop),
              result=_stop_leak_result, deltas=_stop_leak_deltas),
        Fault("temperature_rescaled", "temperature is halved", sampling=_any_kind(_temperature_rescaled)),
        Fault("top_p_ignored", "top_p is replaced by 1", sampling=_any_kind(_top_p_ignored)),
        Fault("logit_bias_ignored", "logit_bias is dropped", sampling=_any_kind(_logit_bias_ignored)),
        Fault("penalties_count_prompt", "penalty counts include prompt tokens", penalties=_penalties_count_prompt),
        Fault("penalties_swapped", "presence and frequency penalties are exchanged", sampling=_any_kind(_penalties_swapped)),
        Fault("best_of_ignored", "best_of is replaced by n", sampling=_any_kind(_best_of_ignored)),
        Fault("n_ignored", "n is replaced by 1", sampling=_any_kind(_n_ignored)),
        Fault("seed_ignored", "seed is dropped", sampling=_any_kind(_seed_ignored)),
        Fault("ranges_clamped", "out-of-range values are clamped instead of rejected", request=clamp_request),
        Fault("flat_error", "error bodies are not nested under 'error'", error=_flat_error),
        Fault("no_done", "streams end without 'data: [DONE]'", events=_without_done),
        Fault("processed_logprobs", "logprobs are reported in processed mode", sampling=_any_kind(_processed_logprobs)),
        # chat-path faults: completions stay correct, and out-of-range values are still refused
        Fault("chat_temperature_ignored", "chat samples at temperature 1 whatever was asked",
              sampling=_chat_only(_temperature_ignored)),
        Fault("chat_top_p_ignored", "chat ignores top_p", sampling=_chat_only(_top_p_ignored)),
        Fault("chat_logit_bias_ignored", "chat ignores logit_bias", sampling=_chat_only(_logit_bias_ignored)),
        Fault("chat_stop_leak_stream", "chat streams include the matched stop string",
              sampling=_chat_stream_without_stop, deltas=_chat_stop_leak_deltas),
    )
}


def get_fault(name: str | None) -> Fault:
    """The fault called ``name`` (``None`` or ``"none"``: no fault); ``ValueError`` names the choices."""
    if name is None or name == "none":
        return NO_FAULT
    try:
        return FAULTS[name]
    except KeyError:
        raise ValueError(f"unknown fault {name!r}; choose one of: {', '.join(sorted(FAULTS))}") from None
