"""SamplingParams: documented ranges accepted at their bounds, everything else names the parameter."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sampler import InvalidParameter, SamplingParams
from sampler.params import check_logit_bias_ids, check_token_ids


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 0},
        {"temperature": 2},
        {"top_p": 0},
        {"top_p": 1},
        {"presence_penalty": -2, "frequency_penalty": 2},
        {"presence_penalty": 2, "frequency_penalty": -2},
        {"logit_bias": {0: -100, 5: 100}},
        {"logit_bias": {"17": 3}},
        {"n": 128},
        {"n": 3, "best_of": 20},
        {"logprobs": 0},
        {"logprobs": 5},
        {"logprobs": 20, "max_logprobs": 20},
        {"max_tokens": 0},
        {"max_tokens": None},
        {"stop": ["a", "b", "c", "d"]},
        {"stop": "\n"},
        {"seed": -(2**63)},
        {"seed": 2**64 - 1},
        {"logprobs_mode": "processed"},
        {"n": 2, "stream": True},
    ],
)
def test_bounds_are_accepted(kwargs: dict[str, Any]) -> None:
    SamplingParams(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "param", "needle"),
    [
        ({"temperature": -0.01}, "temperature", "between 0 and 2"),
        ({"temperature": 2.01}, "temperature", "between 0 and 2"),
        ({"temperature": math.nan}, "temperature", "finite"),
        ({"temperature": "hot"}, "temperature", "number"),
        ({"top_p": 1.0001}, "top_p", "between 0 and 1"),
        ({"top_p": -1e-9}, "top_p", "between 0 and 1"),
        ({"presence_penalty": 2.5}, "presence_penalty", "between -2 and 2"),
        ({"frequency_penalty": -2.5}, "frequency_penalty", "between -2 and 2"),
        ({"logit_bias": {1: 100.5}}, "logit_bias", "between -100 and 100"),
        ({"logit_bias": {"x": 1}}, "logit_bias", "token ids"),
        ({"logit_bias": {-3: 1}}, "logit_bias", "negative"),
        ({"logit_bias": [1, 2]}, "logit_bias", "object"),
        ({"n": 0}, "n", "between 1 and 128"),
        ({"n": 129}, "n", "between 1 and 128"),
        ({"n": True}, "n", "integer"),
        ({"best_of": 21}, "best_of", "between 1 and 20"),
        ({"n": 3, "best_of": 2}, "best_of", "greater than or equal to n"),
        ({"best_of": 2, "stream": True}, "best_of", "streamed"),
        ({"logprobs": 6}, "logprobs", "between 0 and 5"),
        ({"logprobs": 21, "max_logprobs": 20}, "top_logprobs", "between 0 and 20"),
        ({"logprobs": -1}, "logprobs", "between 0 and 5"),
        ({"max_tokens": -1}, "max_tokens", ">= 0"),
        ({"max_tokens": 1.5}, "max_tokens", "integer"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"stop": [1]}, "stop", "strings"),
        ({"seed": 2**64}, "seed", "between"),
        ({"logprobs_mode": "cooked"}, "logprobs_mode", "raw"),
    ],
)
def test_invalid_values_name_the_parameter(kwargs: dict[str, Any], param: str, needle: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        SamplingParams(**kwargs)
    assert info.value.param == param
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_normalisation() -> None:
    p = SamplingParams(logit_bias={"5": 1, 7: -2.5}, stop=["x", "", "yz"], n=2)
    assert dict(p.logit_bias) == {5: 1.0, 7: -2.5}
    assert p.stops == ("x", "yz")
    assert p.candidates == 2
    assert SamplingParams(n=2, best_of=5).candidates == 5
    assert SamplingParams(stop="ab").stops == ("ab",)
    assert SamplingParams(seed=-1).seed_entropy() == 2**64 - 1
    with pytest.raises(TypeError):
        p.logit_bias[3] = 1.0  # type: ignore[index]


def test_token_ids_lie_in_the_vocabulary() -> None:
    check_token_ids("prompt", [0, 4, 9], 10)
    check_logit_bias_ids({0: 1.0, 9: -100.0}, 10)
    for bad in (10, -1, 10**6):
        with pytest.raises(InvalidParameter) as info:
            check_logit_bias_ids({3: 1.0, bad: 2.0}, 10)
        assert info.value.param == "logit_bias"
        assert info.value.message == f"token id {bad} is outside the vocabulary [0, 10)"
    with pytest.raises(InvalidParameter) as info:
        check_token_ids("tokens", [1, 2, 12], 10)
    assert (info.value.param, info.value.message) == ("tokens", "token id 12 is outside the vocabulary [0, 10)")
