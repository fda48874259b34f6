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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

#: Documented numeric ranges that ``ranges_clamped`` clamps into (parameter -> (low, high)).
CLAMP_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "n": (1, 128),
    "best_of": (1, 20),
    "logprobs": (0, 5),
    "top_logprobs": (0, 20),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
LOGIT_BIAS_RANGE = (-100.0, 100.0)
MAX_STOP_STRINGS = 4


def _identity(x: JSON) -> JSON:
    return x


@dataclass(frozen=True)
class Fault:
    """One named departure from the contract; the defaults change nothing."""

    name: str
    doc: str
    request: Callable[[JSON], JSON] = _identity
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


def _clamp_number(value: Any, low: float, high: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    clamped = min(max(value, low), high)
    return type(value)(clamped) if isinstance(value, int) and float(clamped).is_integer() else clamped


def clamp_request(body: JSON) -> JSON:
    """``ranges_clamped``: clamp every documented numeric range, logit_bias values and stop count."""
    out = dict(body)
    for name, (low, high) in CLAMP_RANGES.items():
        if name in out:
            out[name] = _clamp_number(out[name], low, high)
    bias = out.get("logit_bias")
    if isinstance(bias, dict):
        out["logit_bias"] = {k: _clamp_number(v, *LOGIT_BIAS_RANGE) for k, v in bias.items()}
    stop = out.get("stop")
    if isinstance(stop, list):
        out["stop"] = stop[:MAX_STOP_STRINGS]
    n, best_of = out.get("n"), out.get("best_of")
    if isinstance(n, int) and isinstance(best_of, int) and best_of < n:
        # best_of must be >= n: raise it to n when that is in range, else drop it (defaults to n)
        out["best_of"] = n if n <= CLAMP_RANGES["best_of"][1] else None
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
