"""Validated sampling parameters.

Ranges are the documented ones (``../shared/SEMANTICS.md``, the API reference); ``RANGES`` states them
as data and ``tests/sampler/test_params_spec.py`` holds them equal to ``spec/openai.yaml``.

Rules (each violation raises :class:`InvalidParameter` naming the parameter and its range):

- ``temperature`` in [0, 2]; ``top_p`` in [0, 1]; ``presence_penalty``/``frequency_penalty`` in [-2, 2].
- ``logit_bias``: keys are token ids (ints, or decimal strings of ints as JSON object keys are),
  values in [-100, 100]. Ids ``>= vocab_size`` are checked by the engine, which knows the vocabulary.
- ``max_tokens``: an integer ``>= 0`` or ``None`` (None = the rest of the context).
- ``stop``: a string or a sequence of at most 4 strings. Empty strings are ignored **(choice)**: they
  would match before any text.
- ``n`` in [1, 128]; ``best_of`` in [1, 20], default ``n``; ``best_of < n`` is an error naming
  ``best_of``; ``best_of > 1`` with ``stream`` is an error naming ``best_of``.
- ``logprobs``: ``None`` (no logprobs) or an integer in [0, ``max_logprobs``]; ``max_logprobs`` is 5 for
  completions and 20 for chat's ``top_logprobs`` (pass ``max_logprobs=20``).
- ``seed``: ``None`` or an integer in [-2**63, 2**64); a negative seed is taken modulo 2**64 for the
  ``SeedSequence`` **(choice)**.
- ``logprobs_mode``: ``"raw"`` (log-softmax of the unmodified logits) or ``"processed"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import InvalidParameter

#: Documented inclusive ranges: parameter -> (minimum, maximum).
RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
    "logit_bias": (-100.0, 100.0),
    "n": (1, 128),
    "best_of": (1, 20),
    "logprobs": (0, 5),
    "top_logprobs": (0, 20),
}
#: At most this many stop strings.
MAX_STOP = 4
#: ``max_tokens`` lower bound (completions allow 0: with ``echo`` it scores the prompt).
MIN_MAX_TOKENS = 0
LOGPROBS_MODES = ("raw", "processed")
_SEED_MIN = -(2**63)
_SEED_MAX = 2**64 - 1


def _number(param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameter(param, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameter(param, f"must be a finite number, got {value}")
    return value


def _in_range(param: str, value: Any, key: str | None = None) -> float:
    lo, hi = RANGES[key or param]
    x = _number(param, value)
    if not lo <= x <= hi:
        raise InvalidParameter(param, f"must be between {lo:g} and {hi:g} inclusive, got {x:g}")
    return x


def _integer(param: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(param, f"must be an integer, got {type(value).__name__}")
    return int(value)


def _int_in_range(param: str, value: Any, lo: int, hi: int) -> int:
    x = _integer(param, value)
    if not lo <= x <= hi:
        raise InvalidParameter(param, f"must be between {lo} and {hi} inclusive, got {x}")
    return x


def _token_id(key: Any) -> int:
    if isinstance(key, bool):
        raise InvalidParameter("logit_bias", f"keys must be token ids, got {key!r}")
    if isinstance(key, int):
        tid = key
    elif isinstance(key, str) and key.strip().lstrip("+").isdigit():
        tid = int(key)
    else:
        raise InvalidParameter("logit_bias", f"keys must be token ids (non-negative integers), got {key!r}")
    if tid < 0:
        raise InvalidParameter("logit_bias", f"token id {tid} is negative")
    return tid


def check_logit_bias_ids(logit_bias: Mapping[int, float], vocab_size: int) -> None:
    """Every ``logit_bias`` key is a token id of the vocabulary: in ``[0, vocab_size)``.

    The one owner of this rule (``SamplingParams`` already rejects non-integer and negative keys, but
    only the model knows ``vocab_size``); raises ``InvalidParameter("logit_bias", ...)`` naming the id.
    """
    for tid in logit_bias:
        if not 0 <= int(tid) < vocab_size:
            raise InvalidParameter("logit_bias", f"token id {tid} is outside the vocabulary [0, {vocab_size})")


@dataclass(frozen=True)
class SamplingParams:
    """The documented sampling parameters of one request, validated on construction.

    ``best_of`` stays as given (``None`` = ``n``); use :attr:`candidates` for the effective count and
    :attr:`stops` for the stop strings as a tuple. ``logit_bias`` is normalised to a read-only
    ``{int: float}`` mapping.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: Mapping[int, float] = field(default_factory=dict)
    max_tokens: int | None = 16
    stop: str | tuple[str, ...] | None = None
    n: int = 1
    best_of: int | None = None
    logprobs: int | None = None
    echo: bool = False
    seed: int | None = None
    logprobs_mode: str = "raw"
    stream: bool = False
    max_logprobs: int = 5

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "temperature", _in_range("temperature", self.temperature))
        set_(self, "top_p", _in_range("top_p", self.top_p))
        set_(self, "presence_penalty", _in_range("presence_penalty", self.presence_penalty))
        set_(self, "frequency_penalty", _in_range("frequency_penalty", self.frequency_penalty))
        set_(self, "logit_bias", MappingProxyType(self._check_bias(self.logit_bias)))
        if self.max_tokens is not None:
            mt = _integer("max_tokens", self.max_tokens)
            if mt < MIN_MAX_TOKENS:
                raise InvalidParameter("max_tokens", f"must be >= {MIN_MAX_TOKENS}, got {mt}")
        set_(self, "stop", self._check_stop(self.stop))
        n = _int_in_range("n", self.n, int(RANGES["n"][0]), int(RANGES["n"][1]))
        if self.best_of is not None:
            lo, hi = RANGES["best_of"]
            best_of = _int_in_range("best_of", self.best_of, int(lo), int(hi))
            if best_of < n:
                raise InvalidParameter("best_of", f"must be greater than or equal to n ({n}), got {best_of}")
            if self.stream and best_of > 1:
                raise InvalidParameter("best_of", "results cannot be streamed when best_of > 1")
        ml = _integer("max_logprobs", self.max_logprobs)
        if ml < 0:
            raise InvalidParameter("max_logprobs", f"must be >= 0, got {ml}")
        if self.logprobs is not None:
            param = "top_logprobs" if ml == RANGES["top_logprobs"][1] else "logprobs"
            _int_in_range(param, self.logprobs, 0, ml)
        if not isinstance(self.echo, bool):
            raise InvalidParameter("echo", "must be a boolean")
        if not isinstance(self.stream, bool):
            raise InvalidParameter("stream", "must be a boolean")
        if self.seed is not None:
            _int_in_range("seed", self.seed, _SEED_MIN, _SEED_MAX)
        if self.logprobs_mode not in LOGPROBS_MODES:
            raise InvalidParameter("logprobs_mode", f"must be one of {LOGPROBS_MODES}, got {self.logprobs_mode!r}")

    @staticmethod
    def _check_bias(bias: Any) -> dict[int, float]:
        if bias is None:
            return {}
        if not isinstance(bias, Mapping):
            raise InvalidParameter("logit_bias", "must be an object mapping token ids to numbers")
        out: dict[int, float] = {}
        for key, value in bias.items():
            out[_token_id(key)] = _in_range("logit_bias", value)
        return out

    @staticmethod
    def _check_stop(stop: Any) -> tuple[str, ...] | str | None:
        if stop is None:
            return None
        if isinstance(stop, str):
            return stop
        if not isinstance(stop, Sequence):
            raise InvalidParameter("stop", "must be a string or a list of strings")
        items = tuple(stop)
        if len(items) > MAX_STOP:
            raise InvalidParameter("stop", f"at most {MAX_STOP} stop sequences are allowed, got {len(items)}")
        for s in items:
            if not isinstance(s, str):
                raise InvalidParameter("stop", f"stop sequences must be strings, got {type(s).__name__}")
        return items

    @property
    def candidates(self) -> int:
        """How many candidates are generated per prompt: ``best_of`` or, when unset, ``n``."""
        return self.n if self.best_of is None else self.best_of

    @property
    def stops(self) -> tuple[str, ...]:
        """The non-empty stop strings as a tuple (empty strings are ignored)."""
        if self.stop is None:
            return ()
        items = (self.stop,) if isinstance(self.stop, str) else self.stop
        return tuple(s for s in items if s)

    @property
    def greedy(self) -> bool:
        """``temperature == 0``: the argmax, ties to the lowest id."""
        return self.temperature == 0.0

    def seed_entropy(self) -> int | None:
        """The seed as a non-negative integer for ``SeedSequence`` (negative seeds modulo 2**64)."""
        return None if self.seed is None else self.seed % (2**64)
