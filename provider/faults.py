"""Test-only fault injection: ``oairef serve --fault NAME``.

Each fault is one small, named departure from the contract (``../shared/SEMANTICS.md``), so the
validator can prove that it notices that departure. A fault acts at one or more of these points:

- ``request``: the raw JSON body, before validation;
- ``params``: the validated sampling fields (a dict of ``SamplingParams`` keyword arguments plus
  ``n``, ``best_of``, ``seed``, ``stop``), before the engine sees them;
- ``count_prompt_in_penalties`` / ``logprobs_mode``: engine options;
- ``stop_leak`` / ``no_done`` / ``shape_error``: how the response is written.

The faults:

============================  =================================================================
``stop_leak``                 stop strings are matched by the server after generation and the
                              returned text *includes* the matched stop string (streamed too).
``temperature_rescaled``      the temperature used is ``temperature / 2`` (a [0, 2] -> [0, 1] map).
``top_p_ignored``             ``top_p`` is replaced by 1.
``logit_bias_ignored``        ``logit_bias`` is dropped.
``penalties_count_prompt``    penalty counts include the prompt's tokens (llama.cpp's behaviour).
``penalties_swapped``         ``presence_penalty`` and ``frequency_penalty`` are exchanged.
``best_of_ignored``           ``best_of`` is replaced by ``n`` (no candidates are ranked).
``n_ignored``                 ``n`` is replaced by 1 (and ``best_of`` by 1 unless it was given).
``seed_ignored``              ``seed`` is dropped: every request draws fresh entropy.
``ranges_clamped``            out-of-range values are clamped into range instead of a 400.
``flat_error``                error bodies are ``{"message", "type", "param", "code"}`` at top
                              level instead of nested under ``"error"``.
``no_done``                   streams end without the ``data: [DONE]`` line.
``processed_logprobs``        logprobs are reported in ``processed`` mode while the server claims
                              ``raw`` (the default).
============================  =================================================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
Bounds = tuple[float | None, float | None]


@dataclass(frozen=True)
class Limits:
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
def request_limits(kind: str) -> Limits:
    """The limits of a ``kind`` (``"completion"`` / ``"chat"``) request, read from the JSON schema of its
    generated request model (so from ``spec/openai.yaml``, never from a copy)."""
    from provider.requests_parse import REQUEST_MODELS

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
    return Limits(numbers, values, items)


def _identity(x: JSON) -> JSON:
    return x


def _same_body(kind: str, body: JSON) -> JSON:
    return body


@dataclass(frozen=True)
class Fault:
    """One named departure from the contract; the defaults change nothing."""

    name: str
    doc: str
    request: Callable[[str, JSON], JSON] = _same_body
    params: Callable[[JSON], JSON] = _identity
    count_prompt_in_penalties: bool = False
    logprobs_mode: str | None = None
    stop_leak: bool = False
    no_done: bool = False
    flat_error: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def shape_error(self, err: JSON) -> JSON:
        """The error body: OpenAI's nested shape, or the flat one under ``flat_error``."""
        return dict(err) if self.flat_error else {"error": err}


NO_FAULT = Fault("none", "the contract")


def _temperature_rescaled(p: JSON) -> JSON:
    if p.get("temperature") is not None:
        p = {**p, "temperature": float(p["temperature"]) / 2.0}
    return p


def _top_p_ignored(p: JSON) -> JSON:
    return {**p, "top_p": 1.0}


def _logit_bias_ignored(p: JSON) -> JSON:
    return {**p, "logit_bias": None}


def _penalties_swapped(p: JSON) -> JSON:
    return {**p, "presence_penalty": p.get("frequency_penalty"),
            "frequency_penalty": p.get("presence_penalty")}


def _best_of_ignored(p: JSON) -> JSON:
    return {**p, "best_of": p.get("n")}


def _n_ignored(p: JSON) -> JSON:
    best_of = p.get("best_of")
    return {**p, "n": 1, "best_of": best_of if p.get("best_of_given") else 1}


def _seed_ignored(p: JSON) -> JSON:
    return {**p, "seed": None}


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
    if isinstance(n, int) and isinstance(best_of, int) and best_of < n:
        # best_of must be >= n: raise it to n when that is in range, else drop it (defaults to n)
        high = limits.numbers["best_of"][1]
        out["best_of"] = n if high is None or n <= high else None
    return out


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("stop_leak", "the returned text includes the matched stop string", stop_leak=True),
        Fault("temperature_rescaled", "temperature is halved", params=_temperature_rescaled),
        Fault("top_p_ignored", "top_p is replaced by 1", params=_top_p_ignored),
        Fault("logit_bias_ignored", "logit_bias is dropped", params=_logit_bias_ignored),
        Fault("penalties_count_prompt", "penalty counts include prompt tokens",
              count_prompt_in_penalties=True),
        Fault("penalties_swapped", "presence and frequency penalties are exchanged",
              params=_penalties_swapped),
        Fault("best_of_ignored", "best_of is replaced by n", params=_best_of_ignored),
        Fault("n_ignored", "n is replaced by 1", params=_n_ignored),
        Fault("seed_ignored", "seed is dropped", params=_seed_ignored),
        Fault("ranges_clamped", "out-of-range values are clamped instead of rejected",
              request=clamp_request),
        Fault("flat_error", "error bodies are not nested under 'error'", flat_error=True),
        Fault("no_done", "streams end without 'data: [DONE]'", no_done=True),
        Fault("processed_logprobs", "logprobs are reported in processed mode", logprobs_mode="processed"),
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


def leak_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """``stop_leak``: ``text`` cut just *after* the earliest stop string, and whether one matched."""
    best: tuple[int, int] | None = None
    for s in stop:
        if not s:
            continue
        i = text.find(s)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, i + len(s))
    if best is None:
        return text, False
    return text[: best[1]], True
